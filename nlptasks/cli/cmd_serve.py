"""`nlptasks serve`: the tasks behind an HTTP API with dynamic batching (see docs/guide/serve.md)."""
from __future__ import annotations

import argparse

from ..errors import InputError
from .common import add_grid_args, add_model_args, model_kwargs, positive_int


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the tasks over HTTP (dynamic batching, playground, metrics)",
                       description="Serve tasks over HTTP: POST /v1/TASK, POST /v1/chat/completions, GET /v1/tasks, "
                                   "/health, /ready, /metrics (Prometheus), the playground at / and the API docs "
                                   "at /docs. Needs `pip install 'nlptasks[serve]'`.")
    g = p.add_argument_group("what to serve")
    g.add_argument("--task", "-t", action="append", default=None, metavar="TASK",
                   help="a task to serve (repeatable; default: sentiment, translate, summarize, qa, chat)")
    g.add_argument("--preload", action="store_true",
                   help="load every model before accepting requests (default: on first use; /ready says when)")
    g.add_argument("--engine", default=None, choices=["transformers", "ctranslate2"],
                   help="generation engine of the tasks that have one (translate, summarize)")
    add_model_args(p, repeat_model=True,
                   model_help="TASK=NAME: the model of a task (repeatable; default: each task's own)")
    n = p.add_argument_group("network and security")
    n.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; any other needs --api-key-file)")
    n.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    n.add_argument("--api-key-file", default=None, metavar="FILE",
                   help="file holding the API key; requests must send `Authorization: Bearer KEY`")
    n.add_argument("--max-body-bytes", type=positive_int, default=1 << 20, help="largest request body (default 1 MiB)")
    n.add_argument("--max-items", type=positive_int, default=256, help="most inputs per request (default 256)")
    n.add_argument("--timeout", type=float, default=60.0, metavar="S",
                   help="seconds a request may take, queueing included (default 60; 504 after)")
    n.add_argument("--drain", type=float, default=30.0, metavar="S",
                   help="on SIGTERM/Ctrl-C: seconds in-flight requests may still take (default 30)")
    n.add_argument("--access-log", action="store_true", help="log every request on stderr")
    b = p.add_argument_group("dynamic batching")
    b.add_argument("--no-batching", action="store_true", help="run each request alone (for comparison)")
    b.add_argument("--max-wait-ms", type=float, default=5.0,
                   help="how long a request waits for others to share its batch (default 5 ms)")
    b.add_argument("--max-batch-items", type=positive_int, default=64,
                   help="most items per merged batch (default 64; --max-tokens then splits it by tokens)")
    b.add_argument("--max-queue", type=positive_int, default=1024,
                   help="items waiting per task before requests get 503 + Retry-After (default 1024)")
    b.add_argument("--pad-multiple", type=positive_int, default=16, metavar="N",
                   help="pad each forward batch to a multiple of N tokens (default 16): few distinct batch "
                        "shapes, so memory stays flat under load; 1 pads to the longest item only")
    add_grid_args(p.add_argument_group("cost"))
    p.set_defaults(func=main)


def parse_models(values: list[str] | None) -> dict[str, str]:
    models: dict[str, str] = {}
    for value in values or []:
        task, sep, name = value.partition("=")
        if not sep or not task.strip() or not name.strip():
            raise InputError(f"--model {value!r}: give TASK=NAME, e.g. --model sentiment=minilm-sst2")
        models[task.strip()] = name.strip()
    return models


def main(args: argparse.Namespace) -> int:
    from ..serve import DEFAULT_TASKS, ServeConfig, serve
    from ..serve.auth import read_api_key

    kwargs = model_kwargs(args)
    engine = {"engine": args.engine} if args.engine else {}
    tasks = tuple(args.task or DEFAULT_TASKS)
    config = ServeConfig(
        tasks=tasks, models=parse_models(args.model), model_kwargs=kwargs,
        task_options={t: dict(engine) for t in tasks} if engine else {},
        host=args.host, port=args.port,
        api_key=read_api_key(args.api_key_file) if args.api_key_file else None,
        preload=args.preload, batching=not args.no_batching, max_wait_ms=args.max_wait_ms,
        max_batch_items=args.max_batch_items, max_queue_items=args.max_queue, max_items=args.max_items,
        max_body_bytes=args.max_body_bytes, timeout_s=args.timeout, drain_s=args.drain, pad_multiple=args.pad_multiple,
        grid_intensity=args.grid_intensity, country=args.country)
    return serve(config, access_log=args.access_log, log_level="info" if args.verbose else "warning")
