"""Argument groups shared by several commands (model selection, devices, batching)."""
from __future__ import annotations

import argparse

from ..optypes import positive_int  # noqa: F401  (re-exported for the commands)


def add_model_args(p: argparse.ArgumentParser, *, model_help: str | None = None, repeat_model: bool = False) -> None:
    """``repeat_model``: ``--model`` may be given several times (a list; ``serve``'s ``TASK=NAME``)."""
    g = p.add_argument_group("model")
    g.add_argument("--model", "-m", default=None, action="append" if repeat_model else "store",
                   help=model_help or "hub id, local model directory, or embedded model name (default: the task's)")
    g.add_argument("--revision", default=None, help="hub revision (branch, tag or commit) of --model")
    g.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    g.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="weights/compute precision (auto: bfloat16 on CUDA with bf16, and for the packaged models on "
                        "CPUs with AMX; else float32)")
    g.add_argument("--quantize", default=None, choices=["int8"], help="dynamic int8 quantization (CPU)")
    g.add_argument("--trust-remote-code", action="store_true",
                   help="allow model repositories to run their own Python code (off by default)")
    g.add_argument("--batch-size", type=positive_int, default=None, help="items per batch (default: task-specific)")
    g.add_argument("--max-tokens", type=positive_int, default=None,
                   help="padded tokens per batch (token budget); an item longer than the budget runs alone")
    g.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def add_placement_args(p: argparse.ArgumentParser) -> None:
    """--device-map/--max-memory/--offload-folder: models bigger than one device (accelerate big-model
    inference, ``nlptasks.api_placement``)."""
    g = p.add_argument_group("models bigger than one device")
    g.add_argument("--device-map", default=None, metavar="MAP",
                   help="spread the model's layers over the GPUs, then CPU memory, then disk: auto, balanced, "
                        "balanced_low_0 or sequential (accelerate's big-model inference)")
    g.add_argument("--max-memory", default=None, metavar="DEV=SIZE,...",
                   help="with --device-map: memory each device may hold, e.g. 0=20GiB,1=20GiB,cpu=60GiB "
                        "(what does not fit goes to disk)")
    g.add_argument("--offload-folder", default=None, metavar="DIR",
                   help="with --device-map: where layers offloaded to disk are kept (default: a temporary folder)")


def placement_of(args: argparse.Namespace):
    """The checked placement of --device-map/--max-memory/--offload-folder (None without --device-map)."""
    from ..api_placement import check_placement

    return check_placement(args.device_map, args.max_memory, args.offload_folder)


def model_kwargs(args: argparse.Namespace) -> dict:
    return dict(revision=args.revision, device=args.device, dtype=args.dtype, quantize=args.quantize,
                trust_remote_code=args.trust_remote_code, batch_size=args.batch_size,
                max_tokens=args.max_tokens, seed=args.seed)


def add_grid_args(g, *, prefix: str = "") -> None:
    """--country / --grid-intensity: the grid carbon intensity that turns measured energy into CO2e."""
    g.add_argument("--country", default=None, help=f"{prefix}grid carbon intensity of this country (ISO code)")
    g.add_argument("--grid-intensity", type=float, default=None, metavar="G",
                   help=f"{prefix}grid carbon intensity in gCO2e/kWh (default: world average)")


def add_task_options(p: argparse.ArgumentParser, task_cls) -> None:
    if not task_cls.options:
        return
    g = p.add_argument_group(f"{task_cls.name} options")
    for o in task_cls.options:
        kw = {"dest": o.dest, "default": o.default, "help": o.help}
        if o.action:
            kw["action"] = o.action
        else:
            kw["type"] = o.type
            if o.choices:
                kw["choices"] = o.choices
        g.add_argument(o.flag, **kw)


def task_options(args: argparse.Namespace, task_cls) -> dict:
    return {o.dest: getattr(args, o.dest) for o in task_cls.options if hasattr(args, o.dest)}
