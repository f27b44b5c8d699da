"""The Python API for data-parallel and multi-node runs: ``--num-processes N`` (and the other launch
options) re-run a command in every process under ``accelerate launch``, as ``nlptasks eval``,
``finetune`` and ``distill`` do.

>>> how = launch_settings({"num_processes": 2})          # doctest: +SKIP
>>> how.wanted() and launch(how, ["eval", "sst2_local"])  # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .training.launch import Launch

def launch_options() -> tuple[str, ...]:
    """The launch options by keyword (each is the flag ``--name`` with dashes): ``num_processes``,
    ``num_machines``, ``machine_rank``, ``main_process_ip``, ``main_process_port``, ``accelerate_config``."""
    from dataclasses import fields

    from .training.launch import Launch

    return tuple(f.name for f in fields(Launch))


def launch_settings(options: Mapping[str, Any]) -> "Launch":
    """The launch settings among ``options`` (a mapping holding every :func:`launch_options` name, e.g.
    a command's parsed arguments); ``.wanted()`` says whether to re-launch (more than one process
    asked for, and not already a launched process)."""
    from .training.launch import Launch

    return Launch(**{name: options[name] for name in launch_options()})


def launch(how: "Launch", argv: list[str]) -> int:
    """Run ``python -m nlptasks ARGV`` in every process ``how`` describes; returns the exit status."""
    from .training.launch import launch as _launch

    return _launch(how, argv)
