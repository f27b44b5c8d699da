"""``nlptasks serve``: the tasks behind an HTTP API with dynamic batching (FastAPI on uvicorn).

Needs the ``serve`` extra (``pip install 'nlptasks[serve]'``); importing this package does not import
the web framework, only :func:`create_app` and :func:`serve` do.

>>> from nlptasks.serve import ServeConfig, serve          # doctest: +SKIP
>>> serve(ServeConfig(tasks=("sentiment",), port=8000))   # doctest: +SKIP
"""
from __future__ import annotations

from .config import DEFAULT_TASKS, ServeConfig, is_loopback

__all__ = ["DEFAULT_TASKS", "ServeConfig", "create_app", "is_loopback", "serve"]


def create_app(config: ServeConfig | None = None, served=None):
    """The ASGI application (FastAPI) for ``config``: mount it in any ASGI server."""
    from .server import require_extra

    require_extra()
    from .app import create_app as make

    return make(config, served)


def serve(config: ServeConfig | None = None, *, log_level: str = "warning", access_log: bool = False) -> int:
    """Serve until SIGTERM/SIGINT (in-flight requests are answered first). Returns the exit code."""
    from .server import run

    return run(config or ServeConfig(), log_level=log_level, access_log=access_log)
