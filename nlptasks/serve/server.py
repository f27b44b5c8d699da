"""Running the application on uvicorn: checks, optional preloading, graceful shutdown."""
from __future__ import annotations

import logging
import signal
import sys
import threading

from ..errors import NlpTasksError
from .config import ServeConfig

log = logging.getLogger("nlptasks")


def require_extra() -> None:
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise NlpTasksError(f"serve needs FastAPI and uvicorn ({exc.name} is missing): "
                            f"pip install 'nlptasks[serve]'") from None


def _exit_cleanly(signum, frame):
    raise SystemExit(0)


def run(config: ServeConfig, log_level: str = "warning", access_log: bool = False) -> int:
    config.check()
    require_extra()
    import uvicorn

    from .app import build_tasks, create_app

    served = build_tasks(config)  # model names checked before anything loads
    if config.preload:
        for name, st in served.items():
            print(f"nlptasks: loading {name} ({st.model_name})", file=sys.stderr)
            st.load()
    app = create_app(config, served)
    where = f"http://{'[' + config.host + ']' if ':' in config.host else config.host}:{config.port}"
    print(f"nlptasks: serving {', '.join(served)} on {where} (playground {where}/, API docs {where}/docs; "
          f"{'models load on first use' if not config.preload else 'models loaded'}; "
          f"{'API key required' if config.api_key else 'no API key'})", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level=log_level,
                                           access_log=access_log, timeout_graceful_shutdown=config.drain_s,
                                           server_header=False, lifespan="on"))
    # uvicorn answers SIGTERM by draining (timeout_graceful_shutdown), then raises the signal again for the
    # handler found before it: this one makes that a clean exit (0) instead of death by signal
    previous = signal.signal(signal.SIGTERM, _exit_cleanly) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        server.run()
    except SystemExit:  # after SIGTERM, or uvicorn's own exit when it cannot bind (after logging why)
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not server.started:
        raise NlpTasksError(f"serve: could not listen on {config.host}:{config.port} (in use, or not an "
                            f"address of this machine?)")
    return 0
