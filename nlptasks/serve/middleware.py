"""ASGI middleware of the server: request metrics, Bearer-token auth and the body size limit.

Plain ASGI callables (no framework base class), so each is small and runs before FastAPI parses a body.
"""
from __future__ import annotations

import json
import time

from .auth import OPEN_PATHS, authorized

ERROR_KINDS = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "bad_request",
               413: "too_large", 422: "bad_request", 500: "internal", 503: "unavailable", 504: "timeout"}


async def send_error(send, status: int, kind: str, message: str, headers: dict | None = None) -> None:
    body = json.dumps({"error": {"type": kind, "message": message}}).encode("utf-8")
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class RequestMetrics:
    """Counts requests to ``/v1/...`` by task and status code, and their latency."""

    def __init__(self, app, metrics, task_of):
        self.app, self.metrics, self.task_of = app, metrics, task_of

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = {"code": 500}

        async def sending(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            code = status["code"]
            self.metrics.request(self.task_of(scope["path"]), code, time.perf_counter() - t0,
                                 ERROR_KINDS.get(code, "other") if code >= 400 else None)


class BearerAuth:
    """With a key: every path except the open ones (health, readiness, the page, the API docs) needs
    ``Authorization: Bearer KEY``; otherwise 401, saying nothing about what was wrong."""

    def __init__(self, app, key: str | None):
        self.app, self.key = app, key

    async def __call__(self, scope, receive, send):
        if self.key is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if not authorized(header, self.key):
            return await send_error(send, 401, "unauthorized", "missing or invalid API key",
                                    {"WWW-Authenticate": "Bearer"})
        return await self.app(scope, receive, send)


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413 (by its Content-Length at once, else while
    reading it); the body read is handed on to the app unchanged."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = f"request body over the limit of {self.limit} bytes"
        if declared is not None:
            try:
                if int(declared) > self.limit:
                    return await send_error(send, 413, "too_large", too_big)
            except ValueError:
                return await send_error(send, 400, "bad_request", "invalid Content-Length")
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                return await send_error(send, 413, "too_large", too_big)
            if not message.get("more_body"):
                break

        async def replay():
            if messages:
                return messages.pop(0)
            return await receive()

        return await self.app(scope, replay, send)


class JsonByDefault:
    """``POST /v1/...`` bodies are JSON whatever the Content-Type says: ``curl -d '{...}'`` sends
    ``application/x-www-form-urlencoded``, and a missing type is common in scripts."""

    FORM = (b"application/x-www-form-urlencoded", b"text/plain")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/v1/"):
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
            given = dict(scope.get("headers") or []).get(b"content-type")
            if given is None or given.split(b";")[0].strip().lower() in self.FORM:
                scope = {**scope, "headers": headers + [(b"content-type", b"application/json")]}
        return await self.app(scope, receive, send)
