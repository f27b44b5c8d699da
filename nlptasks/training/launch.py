"""``--num-processes N``: re-launch the same command under ``accelerate launch`` (data-parallel).

Multi-node: run the same command on every machine with ``--num-machines M --machine-rank R
--main-process-ip IP [--main-process-port P]``; ``--num-processes`` is the total over all machines
(accelerate's convention). FSDP / DeepSpeed: ``--accelerate-config FILE`` (made by ``accelerate config``).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

LAUNCH_FLAGS = ("num_processes", "num_machines", "machine_rank", "main_process_ip", "main_process_port",
                "accelerate_config")


def add_launch_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("distributed (re-launches itself with `accelerate launch`)")
    g.add_argument("--num-processes", type=int, default=None,
                   help="train data-parallel on N processes in all (one per GPU; CPU processes use gloo)")
    g.add_argument("--num-machines", type=int, default=None, help="machines taking part (multi-node)")
    g.add_argument("--machine-rank", type=int, default=None, help="rank of this machine (0 = main)")
    g.add_argument("--main-process-ip", default=None, help="address of the machine of rank 0")
    g.add_argument("--main-process-port", type=int, default=None, help="port on the machine of rank 0")
    g.add_argument("--accelerate-config", default=None,
                   help="an `accelerate config` file (FSDP, DeepSpeed, mixed precision...)")


def already_launched() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_LAUNCHED" in os.environ or "RANK" in os.environ


def wants_launch(args: argparse.Namespace) -> bool:
    if already_launched():
        return False
    return bool((args.num_processes and args.num_processes > 1) or args.num_machines or args.accelerate_config)


def command_argv(args: argparse.Namespace, parser: argparse.ArgumentParser, command: str) -> list[str]:
    """Rebuild this command's argv from ``args`` without the launch flags."""
    argv: list[str] = [command]
    for action in parser._actions:
        if not action.option_strings and action.dest not in ("help",) and action.nargs != 0:
            if action.dest in vars(args) and not isinstance(action, argparse._SubParsersAction):
                argv.append(str(getattr(args, action.dest)))
    for action in parser._actions:
        if not action.option_strings or action.dest in LAUNCH_FLAGS or action.dest == "help":
            continue
        value = getattr(args, action.dest, None)
        flag = max(action.option_strings, key=len)
        if isinstance(action, argparse._StoreTrueAction):
            if value:
                argv.append(flag)
        elif value is not None and value != action.default:
            argv += [flag, *(map(str, value) if isinstance(value, list) else [str(value)])]
    return argv


def launch(args: argparse.Namespace, parser: argparse.ArgumentParser, command: str) -> int:
    import torch

    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if args.accelerate_config:
        cmd += ["--config_file", args.accelerate_config]
    elif not (args.num_machines and args.num_machines > 1) or torch.cuda.is_available():
        # without a config file: DDP (torchrun underneath); on CPU-only machines the ranks use gloo
        cmd += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
    for dest in ("num_processes", "num_machines", "machine_rank", "main_process_ip", "main_process_port"):
        value = getattr(args, dest)
        if value is not None:
            cmd += [f"--{dest}", str(value)]
    if args.num_machines is None and not args.accelerate_config:
        cmd += ["--num_machines", "1"]
    verbosity = ["-v"] * (args.verbose or 0) + (["-q"] if args.quiet else [])
    cmd += ["-m", "nlptasks", *verbosity, *command_argv(args, parser, command)]
    print("nlptasks: launching: " + " ".join(cmd[2:]), file=sys.stderr, flush=True)
    env = {**os.environ, "ACCELERATE_LAUNCHED": "1"}
    return subprocess.call(cmd, env=env)
