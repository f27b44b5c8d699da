"""`nlptasks serve` through FastAPI's TestClient: every endpoint, the error contract (413/422/401/404/
500/503/504), the OpenAI chat-completions shape (with the `openai` client), and dynamic batching of
concurrent requests (merged, and each caller gets its own outputs in order). Packaged models only."""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from nlptasks.api import run
from nlptasks.errors import NlpTasksError
from nlptasks.serve import ServeConfig, create_app
from nlptasks.serve.auth import read_api_key

RECORDS = {"sentiment": {"text": "a wonderful, moving film"},
           "translate": {"text": "A man is riding a bike."},
           "summarize": {"document": "The council met on Monday. It approved the new budget. Taxes will not rise. "
                                     "The mayor thanked the staff."},
           "qa": {"question": "Who wrote the book?", "context": "The book was written by Ann Smith in 1990."},
           "chat": {"history": ["Hello, how are you today?"]}}


def close(a, b) -> bool:
    """Equal, floats within 1e-4 (relative) or 1e-6."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == pytest.approx(b, rel=1e-4, abs=1e-6)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def client():
    app = create_app(ServeConfig(max_wait_ms=1.0))  # all five tasks, packaged models, loaded on first use
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("task", list(RECORDS))
def test_each_task_answers_as_run_does(client, task):
    rec = RECORDS[task]
    r = client.post(f"/v1/{task}", json={"inputs": [rec]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task"] == task and len(body["outputs"]) == 1
    expected = run(task, [rec])  # the task plugin's predict, the same as `nlptasks run`
    # the same up to float rounding: the server pads its forward batches to a multiple of 16 tokens
    assert close(body["outputs"], expected), (body["outputs"], expected)
    cost = body["cost"]
    assert cost["batch_items"] >= 1 and cost["energy_kwh"] > 0 and cost["co2e_g"] > 0


def test_strings_options_and_aliases(client):
    r = client.post("/v1/sentiment-analysis", json={"inputs": ["a dull, lifeless film", "a joy"],
                                                    "options": {"all_scores": True}})
    assert r.status_code == 200, r.text
    outs = r.json()["outputs"]
    assert [o["label"] for o in outs] == ["negative", "positive"]
    assert set(outs[0]["scores"]) == {"negative", "neutral", "positive"}  # the three-class default
    r = client.post("/v1/chat", json={"inputs": ["Hello, how are you today?"]})  # a string: one turn
    assert r.json()["outputs"] == run("chat", [RECORDS["chat"]])


def test_tasks_health_ready_docs_page(client):
    tasks = {t["name"]: t for t in client.get("/v1/tasks").json()["tasks"]}
    assert set(tasks) == set(RECORDS)
    assert tasks["sentiment"]["model"] == "minilm-sentiment3-lora"
    assert "all_scores" in {o["name"] for o in tasks["sentiment"]["options"]}
    assert "engine" not in {o["name"] for o in tasks["translate"]["options"]}      # a server setting
    assert "context_file" not in {o["name"] for o in tasks["qa"]["options"]}       # a server file
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code in (200, 503) and set(ready.json()["loaded"]) == set(RECORDS)
    assert "/v1/{task}" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/").text
    assert all(f'data-task="{t}"' in page for t in RECORDS) and "<script" in page and "http" not in \
        page.split("<script>")[1]  # no CDN: the script is inline and loads nothing


def test_ready_once_models_are_loaded():
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}))
    with TestClient(app) as c:
        assert c.get("/ready").status_code == 503
        assert c.post("/v1/sentiment", json={"inputs": ["x"]}).status_code == 200
        assert c.get("/ready").json() == {"ready": True, "loaded": {"sentiment": True}}


def test_metrics_prometheus_text(client):
    client.post("/v1/sentiment", json={"inputs": ["fine", "bad"]})
    client.post("/v1/sentiment", json={"inputs": [1]})
    text = client.get("/metrics").text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
    assert float(lines['nlptasks_requests_total{task="sentiment",code="200"}']) >= 1
    assert float(lines['nlptasks_requests_total{task="sentiment",code="422"}']) >= 1
    assert float(lines['nlptasks_request_errors_total{task="sentiment",kind="bad_request"}']) >= 1
    assert float(lines['nlptasks_request_latency_seconds_count{task="sentiment"}']) >= 2
    assert float(lines['nlptasks_batch_items_bucket{task="sentiment",le="+Inf"}']) >= 1
    assert float(lines['nlptasks_energy_kwh_total{task="sentiment"}']) > 0
    assert float(lines['nlptasks_co2e_grams_total{task="sentiment"}']) > 0
    assert 'nlptasks_queue_depth{task="translate"}' in lines
    assert "# TYPE nlptasks_request_latency_seconds histogram" in text


def test_chat_completions_with_the_openai_client(client):
    openai = pytest.importorskip("openai")
    oc = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client)
    reply = oc.chat.completions.create(model="whatever", messages=[
        {"role": "system", "content": "Be nice."}, {"role": "user", "content": "Hello, how are you today?"}])
    assert reply.object == "chat.completion" and reply.model == "minilm-retrieval"
    assert reply.choices[0].message.role == "assistant"
    assert reply.choices[0].message.content == run("chat", [RECORDS["chat"]])[0]["response"]


def test_chat_completions_shape_and_refusals(client):
    r = client.post("/v1/chat/completions", json={"messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "How are you today?"}]}]})
    body = r.json()
    assert r.status_code == 200 and body["id"].startswith("chatcmpl-") and body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"] == run(
        "chat", [{"history": ["Hi", "Hello!", "How are you today?"]}])[0]["response"]
    bad = client.post("/v1/chat/completions", json={"messages": [{"role": "assistant", "content": "x"}]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "messages"
    assert client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}],
                                                      "stream": True}).status_code == 422
    r = client.post("/v1/chat/completions", json={"messages": [{"role": "robot", "content": "x"}]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "messages.0.role"


@pytest.mark.parametrize("body,field", [
    (b'{"inputs": ["a fine film"', "body"),                         # malformed JSON
    (b'{"inputs": "a fine film"}', "inputs"),                       # not a list
    (b'{"inputs": [42]}', "inputs.0"),                              # neither a string nor a record
    (b'{"inputs": [{"txt": "x"}]}', "inputs"),                      # a record without its field
    (b'{"inputs": [{"text": 5}]}', "inputs"),                       # a field of the wrong type
    (b'{"inputs": []}', "inputs"),
    (b'{"inputs": ["x"], "options": {"all_scores": "yes"}}', "options.all_scores"),
    (b'{"inputs": ["x"], "options": {"stride": -1}}', "options.stride"),
    (b'{"inputs": ["x"], "options": {"nope": 1}}', "options.nope"),
    (b'{"inputs": ["x"], "extra": 1}', "extra"),
    (b'{"inputs": ["\xff\xfe"]}', "body"),                          # not UTF-8 (FastAPI's own answer is 400)
])
def test_bad_bodies_are_422_naming_the_field(client, body, field):
    r = client.post("/v1/sentiment", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == field and err["message"] and "Traceback" not in r.text


def test_server_options_and_files_are_not_request_options(client):
    r = client.post("/v1/translate", json={"inputs": ["x"], "options": {"engine": "ctranslate2"}})
    assert r.status_code == 422 and "server setting" in r.json()["error"]["message"]
    r = client.post("/v1/qa", json={"inputs": [RECORDS["qa"]], "options": {"context_file": "/etc/passwd"}})
    assert r.status_code == 422 and "passwd" not in r.text.replace("/etc/passwd", "", 1)


def test_unknown_task_and_route(client):
    r = client.post("/v1/parse", json={"inputs": ["x"]})
    assert r.status_code == 404 and "served" in r.json()["error"]["message"]
    assert client.get("/nowhere").status_code == 404


def test_limits_413():
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}, max_items=3,
                                 max_queue_items=10, max_body_bytes=200))
    with TestClient(app) as c:
        assert c.post("/v1/sentiment", json={"inputs": ["a"] * 3}).status_code == 200
        r = c.post("/v1/sentiment", json={"inputs": ["a"] * 4})
        assert r.status_code == 413 and r.json()["error"]["field"] == "inputs"
        r = c.post("/v1/sentiment", json={"inputs": ["a" * 300]})
        assert r.status_code == 413 and "200 bytes" in r.json()["error"]["message"]

        def chunks():  # no Content-Length: counted while read
            for _ in range(10):
                yield b" " * 50
        r = c.post("/v1/sentiment", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def slow_app(monkeypatch, delay, **cfg):
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}, **cfg))
    st = app.state.nlptasks.served["sentiment"]
    real = st.base.predict

    def slow(records):
        time.sleep(delay)
        return real(records)
    monkeypatch.setattr(st.base, "predict", slow)
    return app


def test_timeout_504(monkeypatch):
    app = slow_app(monkeypatch, 1.0, timeout_s=0.2)
    with TestClient(app) as c:
        t0 = time.monotonic()
        r = c.post("/v1/sentiment", json={"inputs": ["x"]})
        assert r.status_code == 504 and r.json()["error"]["type"] == "timeout"
        assert time.monotonic() - t0 < 0.9


def test_full_queue_503_with_retry_after(monkeypatch):
    app = slow_app(monkeypatch, 0.6, max_queue_items=2, max_items=2, max_wait_ms=0.0)

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            first = asyncio.create_task(ac.post("/v1/sentiment", json={"inputs": ["a"]}))
            await asyncio.sleep(0.2)              # the worker runs it; the queue is empty
            second = asyncio.create_task(ac.post("/v1/sentiment", json={"inputs": ["b", "c"]}))
            await asyncio.sleep(0.05)             # queued: 2 items, the limit
            third = await ac.post("/v1/sentiment", json={"inputs": ["d"]})
            return await first, await second, third

    first, second, third = asyncio.run(go())
    assert (first.status_code, second.status_code) == (200, 200)
    assert third.status_code == 503 and third.headers["retry-after"] == "1"
    app.state.nlptasks.stop()


def test_internal_errors_are_500_without_a_traceback(monkeypatch):
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}))
    st = app.state.nlptasks.served["sentiment"]

    def broken(records):
        raise RuntimeError("secret detail /srv/models/x")
    monkeypatch.setattr(st.base, "predict", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/sentiment", json={"inputs": ["x"]})
    assert r.status_code == 500 and r.json()["error"]["type"] == "internal_error"
    assert "secret" not in r.text and "Traceback" not in r.text and "RuntimeError" not in r.text


def test_api_key(tmp_path):
    key = "k" * 20 + "-Secret"
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}, api_key=key))
    with TestClient(app) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {key}"},
                        {"Authorization": key}, {"Authorization": f"Bearer {key}x"}):
            r = c.post("/v1/sentiment", json={"inputs": ["x"]}, headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.json() == {"error": {"type": "unauthorized", "message": "missing or invalid API key"}}
        assert c.get("/metrics").status_code == 401
        assert c.get("/health").status_code == 200
        ok = c.post("/v1/sentiment", json={"inputs": ["x"]}, headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
    f = tmp_path / "key"
    f.write_text(key + "\n")
    f.chmod(0o600)
    assert read_api_key(str(f)) == key
    f.write_text("short\n")
    with pytest.raises(NlpTasksError, match="at least 16"):
        read_api_key(str(f))


def test_non_loopback_host_needs_a_key():
    with pytest.raises(NlpTasksError, match="api-key-file"):
        create_app(ServeConfig(host="0.0.0.0", tasks=("sentiment",)))
    with pytest.raises(NlpTasksError, match="api-key-file"):
        create_app(ServeConfig(host="example.org", tasks=("sentiment",)))
    create_app(ServeConfig(host="::1", tasks=("sentiment",))).state.nlptasks.stop()
    create_app(ServeConfig(host="0.0.0.0", api_key="x" * 16, tasks=("sentiment",))).state.nlptasks.stop()


def test_concurrent_requests_are_merged_and_each_gets_its_own_outputs():
    texts = [["a wonderful film"], ["a dreadful, boring mess", "pure joy"], ["awful acting"],
             ["I loved every minute", "tedious", "brilliant"], ["bad"], ["great fun"]]
    expected = [run("sentiment", t) for t in texts]
    app = create_app(ServeConfig(tasks=("sentiment",), max_wait_ms=300.0))
    state = app.state.nlptasks
    state.served["sentiment"].load()

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60) as ac:
            return await asyncio.gather(*(ac.post("/v1/sentiment", json={"inputs": t}) for t in texts))

    try:
        responses = asyncio.run(go())
    finally:
        state.stop()
    assert [r.status_code for r in responses] == [200] * len(texts)
    got = [r.json()["outputs"] for r in responses]
    for g, e in zip(got, expected):
        assert [o["label"] for o in g] == [o["label"] for o in e]
        assert [o["score"] for o in g] == pytest.approx([o["score"] for o in e], abs=1e-4)
    assert state.metrics.max_batch_requests("sentiment") > 1
    assert max(r.json()["cost"]["batch_requests"] for r in responses) > 1


@pytest.mark.parametrize("multiple", [16, 1])
def test_forward_batches_padded_to_the_multiple_with_unchanged_outputs(monkeypatch, multiple):
    """The server pads each forward batch to a multiple of --pad-multiple tokens (few distinct shapes, so
    memory stays flat); the outputs are those of `nlptasks run`, whose padding is untouched."""
    import nlptasks.backend.inference as inference

    texts = ["a wonderful, moving film", "dull", "the plot is thin but the acting carries every single scene"]
    widths: list[tuple[str, int]] = []
    real = inference._pad

    def recording(tokenizer, items, device, padding_side=None, multiple=None):
        batch = real(tokenizer, items, device, padding_side=padding_side, multiple=multiple)
        widths.append((threading.current_thread().name, batch["input_ids"].shape[1],
                       max(len(it["input_ids"]) for it in items)))
        return batch
    monkeypatch.setattr(inference, "_pad", recording)
    expected = run("sentiment", texts)  # in this thread: padded to the longest item only
    assert widths and all(w == longest for _, w, longest in widths)
    assert any(longest % 16 for _, _, longest in widths)  # the texts do not hit a multiple by chance
    widths.clear()
    app = create_app(ServeConfig(tasks=("sentiment",), pad_multiple=multiple))
    with TestClient(app) as c:
        r = c.post("/v1/sentiment", json={"inputs": texts})
    assert r.status_code == 200, r.text
    served = [(w, longest) for name, w, longest in widths if name.startswith("nlptasks-serve-")]
    assert served
    for w, longest in served:
        assert w == (-(-longest // 16) * 16 if multiple == 16 else longest)
    got = r.json()["outputs"]
    assert [o["label"] for o in got] == [o["label"] for o in expected]
    assert [o["score"] for o in got] == pytest.approx([o["score"] for o in expected], abs=2e-3)


def test_no_batching_runs_requests_alone():
    app = create_app(ServeConfig(tasks=("sentiment",), models={"sentiment": "majority"}, batching=False,
                                 max_wait_ms=300.0))
    state = app.state.nlptasks

    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            return await asyncio.gather(*(ac.post("/v1/sentiment", json={"inputs": ["x"]}) for _ in range(6)))

    try:
        assert [r.status_code for r in asyncio.run(go())] == [200] * 6
    finally:
        state.stop()
    assert state.metrics.max_batch_requests("sentiment") == 1


def test_cli_serve_refuses_bad_settings(cli):
    r = cli("serve", "--host", "0.0.0.0", "--task", "sentiment")
    assert r.returncode != 0 and "api-key-file" in r.stderr and "Traceback" not in r.stderr
    r = cli("serve", "--model", "sentiment", "--task", "sentiment")
    assert r.returncode != 0 and "TASK=NAME" in r.stderr
    r = cli("serve", "--task", "parse")
    assert r.returncode != 0 and "sentiment" in r.stderr and "Traceback" not in r.stderr


def test_factory_for_uvicorn_workers(monkeypatch, tmp_path):
    from nlptasks.serve import factory

    monkeypatch.setenv("NLPTASKS_SERVE_TASKS", "sentiment")
    monkeypatch.setenv("NLPTASKS_SERVE_MODELS", "sentiment=majority")
    with TestClient(factory.app()) as c:
        assert c.post("/v1/sentiment", json={"inputs": ["x"]}).json()["model"] == "majority"
    monkeypatch.setenv("NLPTASKS_SERVE_HOST", "0.0.0.0")
    with pytest.raises(NlpTasksError, match="api-key-file"):
        factory.app()
