"""The FastAPI application of ``nlptasks serve`` (:func:`create_app`).

Endpoints: ``POST /v1/{task}`` (records in, outputs out: the task plugin's ``predict``), ``GET /v1/tasks``,
``POST /v1/chat/completions`` (the OpenAI chat-completions shape, for the chat task), ``GET /health``,
``GET /ready``, ``GET /metrics`` (Prometheus text), ``GET /`` (the playground page), ``/docs``.
Errors are JSON ``{"error": {"type", "message"[, "field"]}}``; a traceback never leaves the server.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import InputError, ModelLoadError, NlpTasksError, UnknownNameError
from ..registry import TASKS
from ..urls import mask_url
from .playground import render as render_playground
from .batcher import QueueFull, TaskBatcher
from .config import ServeConfig
from .metrics import Metrics
from .middleware import BearerAuth, BodyLimit, JsonByDefault, RequestMetrics
from .tasks import ServedTask

log = logging.getLogger("nlptasks")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"inputs": ["a fine film"], "options": {}},
                     {"inputs": [{"question": "Who?", "context": "Ann wrote it."}], "options": {"top_k": 2}}]})
    inputs: list[Any] = Field(description="records (objects with the task's input fields) or strings "
                                          "(the task's main input field)")
    options: dict[str, Any] = Field(default_factory=dict, description="the task's options (GET /v1/tasks)")


class PredictResponse(BaseModel):
    task: str
    model: str
    outputs: list[dict[str, Any]]
    cost: dict[str, Any]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[dict[str, Any]], None] = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: Optional[str] = None
    messages: list[ChatMessage]
    max_tokens: Optional[int] = Field(default=None, ge=1)
    max_completion_tokens: Optional[int] = Field(default=None, ge=1)
    temperature: Optional[float] = Field(default=None, ge=0)
    top_p: Optional[float] = Field(default=None, gt=0, le=1)
    n: int = 1
    stream: bool = False
    seed: Optional[int] = None


class ServerState:
    """What the endpoints share: the served tasks, their batchers, the metrics."""

    def __init__(self, config: ServeConfig, served: dict[str, ServedTask]):
        from ..cost import CostTracker

        self.config = config
        self.served = served
        self.metrics = Metrics()
        self.batchers: dict[str, TaskBatcher] = {}
        self._tracker_cls = CostTracker
        for name, st in served.items():
            b = TaskBatcher(name, self._runner(st), batching=config.batching,
                            max_wait_s=config.max_wait_ms / 1000.0, max_items=config.max_batch_items,
                            max_queue_items=config.max_queue_items,
                            on_batch=lambda items, reqs, cost, n=name: self.metrics.batch(n, items, reqs, cost))
            self.batchers[name] = b
            self.metrics.queue_depth[name] = b.queue_depth

    def _runner(self, st: ServedTask):
        from ..backend.inference import pad_to_multiple

        def run(key, records):  # on the task's worker thread
            pad_to_multiple(self.config.pad_multiple)  # few batch shapes: memory stays flat (see inference.py)
            task = st.variant(key)
            with self._tracker_cls(grid_intensity=self.config.grid_intensity, country=self.config.country) as tr:
                outputs = task.predict(records)
            st.loaded = True
            return outputs, tr.result()
        return run

    def resolve(self, name: str) -> ServedTask:
        try:
            canonical = TASKS.get(name).name
        except UnknownNameError:
            canonical = None
        if canonical not in self.served:
            raise LookupError(f"task {name!r} is not served here; served: {', '.join(self.served)}")
        return self.served[canonical]

    def task_label(self, path: str) -> str:
        part = path[len("/v1/"):].split("/", 1)[0]
        if part == "chat" and path.rstrip("/").endswith("/completions"):
            return "chat"
        try:
            canonical = TASKS.get(part).name
        except UnknownNameError:
            return "-"
        return canonical if canonical in self.served else "-"

    def stop(self) -> None:
        for b in self.batchers.values():
            b.stop(timeout=self.config.drain_s)


def error(status: int, kind: str, message: str, field: str | None = None, headers: dict | None = None):
    body: dict = {"type": kind, "message": mask_url(message)}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def create_app(config: ServeConfig | None = None, served: dict[str, ServedTask] | None = None) -> FastAPI:
    """The application for ``config`` (checked here; models load lazily unless ``served`` tasks were
    loaded by the caller, as ``serve(preload=True)`` does)."""
    config = config or ServeConfig()
    config.check()
    if served is None:
        served = build_tasks(config)
    state = ServerState(config, served)

    @asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.get_running_loop().run_in_executor(None, state.stop)  # queued jobs finish first

    app = FastAPI(title="nlptasks", version=__version__, lifespan=lifespan,
                  description="The nlptasks tasks behind an HTTP API with dynamic batching.")
    app.state.nlptasks = state

    # -- errors: JSON, one line, never a traceback ------------------------------------------------------
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p != "body"]
        field = ".".join(loc) or "body"
        msg = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            field, msg = "body", f"invalid JSON ({first.get('ctx', {}).get('error', 'cannot parse')})"
        return error(422, "invalid_request", f"{field}: {msg}", field)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            # FastAPI's answer to a body that is not UTF-8 (json.loads fails before parsing): malformed JSON
            return error(422, "invalid_request", "body: invalid JSON (not UTF-8 text)", "body")
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.error("serve: internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal_error", "internal server error (details are in the server log)")

    # -- the API --------------------------------------------------------------------------------------------
    @app.get("/health", summary="liveness")
    async def health():
        return {"status": "ok"}

    @app.get("/ready", summary="readiness: every served model is loaded")
    async def ready():
        loaded = {n: st.loaded for n, st in state.served.items()}
        return JSONResponse({"ready": all(loaded.values()), "loaded": loaded},
                            status_code=200 if all(loaded.values()) else 503)

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics():
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page():
        return HTMLResponse(render_playground([st.info() for st in state.served.values()],
                                             auth=config.api_key is not None))

    @app.get("/v1/tasks", summary="served tasks, their models and request options")
    async def tasks():
        return {"tasks": [st.info() for st in state.served.values()]}

    @app.post("/v1/chat/completions", summary="OpenAI chat completions (the chat task)")
    async def chat_completions(body: ChatCompletionRequest):
        if "chat" not in state.served:
            return error(404, "not_found", "the chat task is not served here")
        if body.stream:
            return error(422, "invalid_request", "stream: streaming is not supported; send stream=false", "stream")
        if body.n != 1:
            return error(422, "invalid_request", "n: only n=1 is supported", "n")
        turns = []
        for i, m in enumerate(body.messages):
            if m.role not in ("user", "assistant"):
                continue  # system/developer prompts and tool results have no place in the chat task's record
            text = m.content if isinstance(m.content, str) else " ".join(
                str(p.get("text", "")) for p in (m.content or []) if p.get("type") == "text")
            if not text.strip():
                return error(422, "invalid_request", f"messages.{i}.content: empty", f"messages.{i}.content")
            turns.append(text)
        if not turns or body.messages[-1].role != "user":
            return error(422, "invalid_request", "messages: the last message must be the user's", "messages")
        st = state.served["chat"]
        allowed = {o.dest for o in st.request_options()}
        options: dict = {}
        limit = body.max_completion_tokens or body.max_tokens
        if limit is not None and "max_new_tokens" in allowed:
            options["max_new_tokens"] = limit
        if body.temperature and "do_sample" in allowed:
            options.update(do_sample=True, temperature=body.temperature)
            if body.top_p is not None:
                options["top_p"] = body.top_p
        result = await _predict(state, st, [{"history": turns}], options)
        if isinstance(result, JSONResponse):
            return result
        outputs, cost = result
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": st.model_name, "system_fingerprint": f"nlptasks-{__version__}",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": outputs[0]["response"]},
                             "finish_reason": "stop", "logprobs": None}],
                "cost": cost}

    @app.post("/v1/{task}", response_model=PredictResponse, summary="predict with a task",
              responses={413: {"description": "body or item count over the limit"},
                         422: {"description": "malformed body or records; the field is named"},
                         503: {"description": "queue full (Retry-After) or model unavailable"},
                         504: {"description": "the request took longer than the server's timeout"}})
    async def predict(task: str, body: PredictRequest):
        try:
            st = state.resolve(task)
        except LookupError as exc:
            return error(404, "not_found", str(exc))
        if len(body.inputs) > config.max_items:
            return error(413, "too_large", f"inputs: {len(body.inputs)} items, over the limit of "
                                           f"{config.max_items} per request", "inputs")
        if not body.inputs:
            return error(422, "invalid_request", "inputs: must not be empty", "inputs")
        records = []
        for i, x in enumerate(body.inputs):
            if isinstance(x, str):
                kind = st.cls.field_kinds.get(st.cls.text_field, "str")
                records.append({st.cls.text_field: [x] if kind == "turns" else x})
            elif isinstance(x, dict):
                records.append(dict(x))
            else:
                return error(422, "invalid_request", f"inputs.{i}: must be a string or an object, got "
                                                     f"{type(x).__name__}", f"inputs.{i}")
        result = await _predict(state, st, records, body.options)
        if isinstance(result, JSONResponse):
            return result
        outputs, cost = result
        return JSONResponse({"task": st.name, "model": st.model_name, "outputs": outputs, "cost": cost})

    app.add_middleware(JsonByDefault)
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    app.add_middleware(BearerAuth, key=config.api_key)
    app.add_middleware(RequestMetrics, metrics=state.metrics, task_of=state.task_label)
    return app


async def _predict(state: ServerState, st: ServedTask, records: list[dict], options: dict):
    """Validate, queue, wait: ``(outputs, cost)`` or the error response."""
    t0 = time.monotonic()
    try:
        st.base.validate(records)
        key = st.parse_options(options)
        st.variant(key)  # option values that are wrong together are refused here, before queueing
    except NlpTasksError as exc:
        msg = str(exc)
        field = msg.split(":", 1)[0] if msg.startswith("options.") else "inputs"
        return error(422, "invalid_request", msg if msg.startswith("options.") else f"inputs: {msg}", field)
    try:
        future = state.batchers[st.name].submit(records, key)
    except QueueFull as exc:
        return error(503, "overloaded", f"server busy: {exc}; retry later", headers={"Retry-After": "1"})
    left = state.config.timeout_s - (time.monotonic() - t0)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(left, 0.001))
    except asyncio.TimeoutError:
        future.cancel()  # dropped if still queued
        return error(504, "timeout", f"no answer within {state.config.timeout_s:g} s")
    except ModelLoadError as exc:
        return error(503, "model_unavailable", f"{st.name} model: {exc}")
    except NlpTasksError as exc:
        return error(422, "invalid_request", f"inputs: {exc}", "inputs")


def build_tasks(config: ServeConfig) -> dict[str, ServedTask]:
    """The served tasks (model names checked, nothing loaded); aliases become the tasks' names."""
    served: dict[str, ServedTask] = {}
    for name in config.tasks:
        cls = TASKS.get(name)
        if cls.name in served:
            continue
        served[cls.name] = ServedTask(cls.name, config.models.get(cls.name) or _model_for(config.models, cls),
                                      config.model_kwargs, config.task_options.get(cls.name, {}),
                                      max_variants=config.max_variants)
    unknown = [m for m in config.models if _canonical(m) not in served]
    if unknown:
        raise InputError(f"--model {unknown[0]}=...: task {unknown[0]!r} is not served (--task)")
    return served


def _canonical(name: str) -> str | None:
    try:
        return TASKS.get(name).name
    except UnknownNameError:
        return None


def _model_for(models: dict, cls) -> str | None:
    for key, value in models.items():
        if _canonical(key) == cls.name:
            return value
    return None
