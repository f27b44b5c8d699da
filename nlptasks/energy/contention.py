"""How much of the machine other processes used while a block ran: the honesty check beside every timing.

A speed or energy figure measured while another job shares the CPUs is not the model's cost. The share is
read from the kernel's counters, not assumed: ``/proc/stat`` gives the busy CPU time of the whole machine,
``resource.getrusage`` the CPU time of this process (and its waited-for children); what is left, divided by
wall time × CPUs, is the share of the machine that *other* processes used. Linux only; ``None`` elsewhere.
"""
from __future__ import annotations

import os
import resource
import time

# above this share of the CPUs used by other processes, time and energy figures are marked as shared
SHARED_MACHINE_SHARE = 0.25

_IDLE_FIELDS = (3, 4)  # idle, iowait in the "cpu" line of /proc/stat (after the label)


def _machine_busy_s() -> tuple[float, int] | None:
    """(busy CPU seconds of the whole machine since boot, number of CPUs), or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    total = None
    ncpu = 0
    for line in lines:
        if line.startswith("cpu "):
            total = [int(x) for x in line.split()[1:]]
        elif line.startswith("cpu") and line[3:4].isdigit():
            ncpu += 1
    if total is None or ncpu == 0:
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    busy = sum(v for i, v in enumerate(total[:8]) if i not in _IDLE_FIELDS)  # guest time is inside user
    return busy / hz, ncpu


def _own_cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class ContentionMeter:
    """``start()`` then ``stop()`` → the share (0–1) of the machine's CPUs that other processes used in
    between, or None where the counters cannot be read or the block was too short to tell (< 0.2 s)."""

    def __init__(self) -> None:
        self._start: tuple[float, float, float, int] | None = None

    def start(self) -> None:
        m = _machine_busy_s()
        self._start = None if m is None else (time.perf_counter(), m[0], _own_cpu_s(), m[1])

    def stop(self) -> float | None:
        if self._start is None:
            return None
        m = _machine_busy_s()
        if m is None:
            return None
        t0, busy0, own0, ncpu = self._start
        wall = time.perf_counter() - t0
        if wall < 0.2:
            return None
        others = (m[0] - busy0) - (_own_cpu_s() - own0)
        return round(min(1.0, max(0.0, others / (wall * ncpu))), 3)
