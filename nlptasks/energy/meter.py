"""Measures the energy of a block of work with the best source that can actually be read.

Sources are tried in the order given (the cost tracker passes NVML, then RAPL). A source that cannot
be started, fails while sampling, or whose counters did not move is dropped with a note, never
reported as zero; when none is left the energy is estimated from wall time (see ``estimate``).
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Iterable, Sequence

from .base import SourceUnavailable
from .estimate import assumed_power_watts


class EnergyMeter:
    """``start()`` then ``stop()``; ``stop()`` returns the energy fields of a cost record.

    ``poll_s``: how often counters that wrap (RAPL) are sampled in a background thread, so that a
    long run cannot lose a whole wrap-around between two readings.
    """

    def __init__(self, sources: Sequence = (), power_watts: float | None = None, poll_s: float = 30.0,
                 clock: Callable[[], float] = time.perf_counter):
        self.sources = list(sources)
        self.power_watts = power_watts
        self.poll_s = poll_s
        self._clock = clock
        self._running: list = []
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._stop_evt = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def start(self) -> None:
        self._running, self.notes = [], []
        for src in self.sources:
            try:
                src.start()
                self._running.append(src)
            except SourceUnavailable as exc:
                self.notes.append(str(exc))
        self._t0 = self._clock()
        if any(getattr(s, "can_wrap", False) for s in self._running) and self.poll_s > 0:
            self._stop_evt.clear()
            self._thread = threading.Thread(target=self._poll, name="nlptasks-energy", daemon=True)
            self._thread.start()

    def _poll(self) -> None:
        while not self._stop_evt.wait(self.poll_s):
            with self._lock:
                for src in list(self._running):
                    if getattr(src, "can_wrap", False):
                        try:
                            src.sample()
                        except SourceUnavailable as exc:
                            self.notes.append(str(exc))
                            self._running.remove(src)

    def stop(self, skip: Iterable[str] = (), gpus: int = 0, wall_s: float | None = None) -> dict:
        """Stop measuring. ``skip``: source names whose reading must not be used (e.g. NVML when no
        GPU ended up in use); ``gpus``: GPUs to include in an estimate; ``wall_s``: the caller's
        wall time for an estimate (default: the meter's own)."""
        wall = max(self._clock() - self._t0 if wall_s is None else wall_s, 0.0)
        self._stop_evt.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        skip = set(skip)
        chosen = None
        with self._lock:
            for src in self._running:
                if chosen is not None or src.name in skip:
                    _close(src)
                    continue
                try:
                    chosen = (src.name, src.stop())
                except SourceUnavailable as exc:
                    self.notes.append(str(exc))
            self._running = []
        if chosen is not None:
            return {"energy_kwh": chosen[1], "energy_source": chosen[0], "energy_is_estimate": False,
                    "power_watts_assumed": None, "energy_notes": list(self.notes)}
        watts, how = assumed_power_watts(self.power_watts, gpus=gpus)
        return {"energy_kwh": watts * wall / 3.6e6, "energy_source": "estimate", "energy_is_estimate": True,
                "power_watts_assumed": watts, "power_assumption": how, "energy_notes": list(self.notes)}


def _close(src) -> None:
    close = getattr(src, "close", None)
    if close is not None:
        close()
