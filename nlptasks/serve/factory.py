"""An application factory for ASGI servers that manage processes themselves, e.g.
``uvicorn --factory nlptasks.serve.factory:app --workers 4``. Settings come from the environment:

- ``NLPTASKS_SERVE_TASKS``: comma-separated tasks (default: all five);
- ``NLPTASKS_SERVE_MODELS``: comma-separated ``TASK=NAME`` pairs;
- ``NLPTASKS_SERVE_API_KEY_FILE``: the API key file;
- ``NLPTASKS_SERVE_HOST``: the address uvicorn was told to bind (the factory cannot see it): anything
  but loopback requires the key file, as ``nlptasks serve --host`` does;
- ``NLPTASKS_SERVE_PRELOAD=1``: load every model when the worker starts.
"""
from __future__ import annotations

import os

from .config import DEFAULT_TASKS, ServeConfig


def config_from_env(env=os.environ) -> ServeConfig:
    from ..errors import InputError
    from .auth import read_api_key

    tasks = tuple(t.strip() for t in env.get("NLPTASKS_SERVE_TASKS", "").split(",") if t.strip()) or DEFAULT_TASKS
    models = {}
    for pair in filter(None, (p.strip() for p in env.get("NLPTASKS_SERVE_MODELS", "").split(","))):
        task, sep, name = pair.partition("=")
        if not sep:
            raise InputError(f"NLPTASKS_SERVE_MODELS: {pair!r} is not TASK=NAME")
        models[task.strip()] = name.strip()
    key_file = env.get("NLPTASKS_SERVE_API_KEY_FILE")
    return ServeConfig(tasks=tasks, models=models, host=env.get("NLPTASKS_SERVE_HOST", "127.0.0.1"),
                       api_key=read_api_key(key_file) if key_file else None,
                       preload=env.get("NLPTASKS_SERVE_PRELOAD") == "1")


def app():
    """The ASGI application for this worker process."""
    from . import create_app
    from .app import build_tasks

    config = config_from_env()
    config.check()
    served = build_tasks(config)
    if config.preload:
        for st in served.values():
            st.load()
    return create_app(config, served)
