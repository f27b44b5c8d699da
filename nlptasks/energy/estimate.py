"""The fallback when no energy counter can be read: wall time × an assumed power draw.

The default assumption is documented and deliberately simple:

* CPU: 4 W per logical CPU available to this process (the same per-thread figure codecarbon uses when
  it cannot identify a CPU; a 16-thread desktop part at ~65 W TDP is in that range);
* GPU: 300 W per CUDA device in use (a typical data-centre board under inference load; an H100 SXM
  can draw up to 700 W, a T4 70 W — set the real figure when you know it).

``power_watts`` (``--power-watts``) or the ``NLPTASKS_POWER_WATTS`` environment variable replace the
whole figure. Results made this way carry ``energy_is_estimate: true``.
"""
from __future__ import annotations

import os

from ..errors import NlpTasksError

WATTS_PER_CPU_THREAD = 4.0
WATTS_PER_GPU = 300.0
ENV_VAR = "NLPTASKS_POWER_WATTS"


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _positive(value, what: str) -> float:
    try:
        watts = float(value)
    except (TypeError, ValueError):
        raise NlpTasksError(f"{what}: expected a power in watts, got {value!r}") from None
    if not watts > 0 or watts == float("inf"):
        raise NlpTasksError(f"{what}: power must be a positive number of watts, got {value!r}")
    return watts


def assumed_power_watts(power_watts: float | None = None, gpus: int = 0) -> tuple[float, str]:
    """The power figure to multiply wall time by, and a note saying where it came from."""
    if power_watts is not None:
        return _positive(power_watts, "power_watts"), "user"
    env = os.environ.get(ENV_VAR)
    if env:
        return _positive(env, ENV_VAR), f"env {ENV_VAR}"
    threads = cpu_threads()
    watts = threads * WATTS_PER_CPU_THREAD + gpus * WATTS_PER_GPU
    note = f"default: {threads} CPU threads x {WATTS_PER_CPU_THREAD:g} W"
    if gpus:
        note += f" + {gpus} GPU x {WATTS_PER_GPU:g} W"
    return watts, note
