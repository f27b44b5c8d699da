"""`nlptasks serve` as a real process on 127.0.0.1 (uvicorn): a plain HTTP request as curl sends it, and
SIGTERM while a request is in flight: the request is answered, then the process exits 0."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from nlptasks.api import run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict, timeout: float = 120) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")  # curl -d: no JSON type
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_healthy(base: str, proc, limit: float = 120) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        assert proc.poll() is None, proc.stderr.read()
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not come up")


def test_sigterm_drains_the_request_in_flight(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "nlptasks", "serve", "--task", "sentiment", "--port", str(port),
                             "--drain", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)
    try:
        wait_healthy(base, proc)
        assert proc.poll() is None
        # the first request loads the packaged model (torch, transformers, weights): seconds in flight
        result: dict = {}
        texts = ["a fine film"] + [f"a dull film, scene {i}" for i in range(63)]
        t = threading.Thread(target=lambda: result.update(zip(("code", "body"), post(base + "/v1/sentiment",
                                                                                   {"inputs": texts}))))
        t.start()
        time.sleep(0.7)
        assert t.is_alive(), f"the request finished before SIGTERM: the test proves nothing ({result})"
        proc.send_signal(signal.SIGTERM)
        t.join(120)
        rc = proc.wait(60)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert result["code"] == 200, result
    got, expected = result["body"]["outputs"], run("sentiment", texts)  # equal up to float rounding: the
    assert [o["label"] for o in got] == [o["label"] for o in expected]     # server pads to a multiple of 16
    assert [o["score"] for o in got] == pytest.approx([o["score"] for o in expected], abs=1e-4)
    assert rc == 0, err
    assert "Traceback" not in err
    try:  # gone: nothing listens any more
        urllib.request.urlopen(base + "/health", timeout=2)
        raise AssertionError("still serving after SIGTERM")
    except OSError:
        pass
