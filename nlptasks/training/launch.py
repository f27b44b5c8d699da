"""``--num-processes N``: re-launch the same command under ``accelerate launch`` (data-parallel).

Multi-node: run the same command on every machine with ``--num-machines M --machine-rank R
--main-process-ip IP [--main-process-port P]``; ``--num-processes`` is the total over all machines
(accelerate's convention). FSDP / DeepSpeed: ``--accelerate-config FILE`` (made by ``accelerate config``).

The command each process runs is rebuilt from plain data (the command, the task and its settings by
name), not from the parser that read it: a setting ``name`` is the flag ``--name`` with dashes for
underscores, the convention of every ``nlptasks finetune``/``distill`` flag.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Launch:
    """Where and how many processes to start (accelerate's launch settings)."""

    num_processes: int | None = None
    num_machines: int | None = None
    machine_rank: int | None = None
    main_process_ip: str | None = None
    main_process_port: int | None = None
    accelerate_config: str | None = None

    def wanted(self) -> bool:
        """Whether to re-launch: more than one process asked for, and not already a launched process."""
        if already_launched():
            return False
        return bool((self.num_processes and self.num_processes > 1) or self.num_machines or self.accelerate_config)

    def accelerate_argv(self) -> list[str]:
        """``accelerate launch`` options (after ``python -m accelerate.commands.launch``)."""
        import torch

        argv: list[str] = []
        if self.accelerate_config:
            argv += ["--config_file", self.accelerate_config]
        elif not (self.num_machines and self.num_machines > 1) or torch.cuda.is_available():
            # without a config file: DDP (torchrun underneath); on CPU-only machines the ranks use gloo
            argv += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
        for name in ("num_processes", "num_machines", "machine_rank", "main_process_ip", "main_process_port"):
            value = getattr(self, name)
            if value is not None:
                argv += [f"--{name}", str(value)]
        if self.num_machines is None and not self.accelerate_config:
            argv += ["--num_machines", "1"]
        return argv


def already_launched() -> bool:
    return "LOCAL_RANK" in os.environ or "ACCELERATE_LAUNCHED" in os.environ or "RANK" in os.environ


def command_argv(command: str, task: str, options: dict, defaults: dict | None = None) -> list[str]:
    """``[command, task, --flag value, ...]`` for ``options`` (setting name -> value). Left out: None,
    False and values equal to their ``defaults``; True is a bare flag; a list is comma-separated."""
    argv = [command, task]
    for name, value in options.items():
        if value is None or value is False or (defaults and name in defaults and value == defaults[name]):
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        else:
            argv += [flag, ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)]
    return argv


def launch(how: Launch, argv: list[str]) -> int:
    """Run ``python -m nlptasks ARGV`` in every process ``how`` describes; returns the exit status."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *how.accelerate_argv(), "-m", "nlptasks", *argv]
    print("nlptasks: launching: " + " ".join(cmd[2:]), file=sys.stderr, flush=True)
    env = {**os.environ, "ACCELERATE_LAUNCHED": "1"}
    return subprocess.call(cmd, env=env)
