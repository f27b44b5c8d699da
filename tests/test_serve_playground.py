"""The playground page (`/`) in a real headless Chromium: type a text into the sentiment form, press the
button, read the answer and its cost from the page. The server runs on 127.0.0.1 in this process.

Needs the Debian ``chromium`` package (``apt-get install -y chromium``); skipped when absent, failing
instead with ``NLPTASKS_REQUIRE_BROWSER=1`` (CI; tests/optional.py). A probe
script added to a copy of the page (served from the same origin, so its requests are the page's own)
types and clicks the way a user does and writes what it saw into the DOM, which ``--dump-dom`` returns.
"""
from __future__ import annotations

import html
import json
import re
import socket
import subprocess
import threading
import time

import pytest
from fastapi.responses import HTMLResponse
from optional import browser

from nlptasks.api import run
from nlptasks.serve import ServeConfig, create_app
from nlptasks.serve import playground

BROWSER = browser()  # skips this module, or fails it in CI (NLPTASKS_REQUIRE_BROWSER=1)

PROBE = """
<script>
(function(){
  var form = document.querySelector('form[data-task="sentiment"]');
  var box = form.querySelector('textarea[data-field="text"]');
  box.focus(); box.value = %s; box.dispatchEvent(new Event('input', {bubbles: true}));
  form.querySelector('button[type="submit"]').click();
  var t0 = Date.now();
  (function poll(){
    var state = form.getAttribute('data-state');
    if((state === 'done' || state === 'error') || Date.now() - t0 > 60000){
      var pre = document.createElement('pre'); pre.id = 'probe-result';
      pre.textContent = JSON.stringify({state: state, output: form.querySelector('pre.output').textContent,
                                        cost: form.querySelector('p.cost').textContent,
                                        forms: document.querySelectorAll('form.task-form').length});
      document.body.appendChild(pre);
      return;
    }
    setTimeout(poll, 50);
  })();
})();
</script>
"""


def test_playground_answers_in_chromium(tmp_path):
    text = "a warm, funny and beautifully acted film"
    app = create_app(ServeConfig(tasks=("sentiment", "qa")))
    state = app.state.nlptasks

    @app.get("/probe", include_in_schema=False)
    async def probe():  # the real page plus the probe, from the same origin
        page = playground.render([st.info() for st in state.served.values()], auth=False)
        return HTMLResponse(page.replace("</body>", PROBE % json.dumps(text) + "</body>"))

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        while not server.started and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        state.served["sentiment"].load()
        cmd = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=60000",
               "--dump-dom", f"http://127.0.0.1:{port}/probe"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        server.should_exit = True
        thread.join(30)
    m = re.search(r'<pre id="probe-result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"probe did not finish; chromium rc={proc.returncode}, stderr tail: {proc.stderr[-800:]}"
    seen = json.loads(html.unescape(m.group(1)))
    assert seen["state"] == "done", seen
    assert seen["forms"] == 2
    shown = json.loads(seen["output"])
    expected = run("sentiment", [text])[0]
    assert shown["label"] == expected["label"] == "positive"
    assert shown["score"] == pytest.approx(expected["score"], abs=1e-4)
    assert "Wh" in seen["cost"] and "gCO2e" in seen["cost"] and "batch of 1 item" in seen["cost"]
