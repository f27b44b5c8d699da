"""CPU package energy from Linux RAPL counters (``/sys/class/powercap/intel-rapl:N/energy_uj``).

Only package domains (``intel-rapl:N``, not the sub-domains ``intel-rapl:N:M``) are summed, since
the sub-domains (core, uncore, dram) are parts of the package or overlap it. AMD CPUs expose the same
interface on recent kernels. The counters wrap at ``max_energy_range_uj``; ``sample()`` handles one
wrap between two readings, so the meter calls it periodically on long runs. Since Linux 5.10 the
counters are readable by root only: a ``PermissionError`` makes the source unavailable.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from .base import SourceUnavailable

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"
_PACKAGE_DIR = re.compile(r"^intel-rapl:\d+$")


def _read_text(path: Path) -> str:
    with open(path, encoding="ascii") as f:
        return f.read()


class RaplReader:
    """Sums the energy of all CPU package domains between ``start()`` and ``stop()``.

    ``powercap_root`` and ``read_text`` are injectable so tests can use a fake sysfs tree or a
    reader that raises ``PermissionError``.
    """

    name = "rapl"
    can_wrap = True

    def __init__(self, powercap_root: str | Path = DEFAULT_POWERCAP_ROOT,
                 read_text: Callable[[Path], str] = _read_text):
        self.root = Path(powercap_root)
        self._read_text = read_text
        self._domains: list[Path] = []
        self._last: dict[Path, int] = {}
        self._max: dict[Path, int] = {}
        self._total_uj = 0

    def _read_int(self, path: Path) -> int:
        try:
            return int(self._read_text(path).strip())
        except (OSError, ValueError) as exc:  # PermissionError is an OSError
            raise SourceUnavailable(f"RAPL: cannot read {path}: {exc}") from exc

    def _find_domains(self) -> list[Path]:
        try:
            entries = sorted(p for p in self.root.iterdir() if _PACKAGE_DIR.match(p.name))
        except OSError as exc:
            raise SourceUnavailable(f"RAPL: {self.root} not readable: {exc}") from exc
        if not entries:
            raise SourceUnavailable(f"RAPL: no package domains under {self.root}")
        return entries

    def start(self) -> None:
        self._domains = self._find_domains()
        self._total_uj = 0
        for d in self._domains:
            self._max[d] = self._read_int(d / "max_energy_range_uj")
            self._last[d] = self._read_int(d / "energy_uj")

    def sample(self) -> None:
        """Accumulate the energy used since the previous reading, allowing for one counter wrap."""
        for d in self._domains:
            now = self._read_int(d / "energy_uj")
            before = self._last[d]
            delta = now - before if now >= before else self._max[d] - before + now
            self._total_uj += delta
            self._last[d] = now

    def stop(self) -> float:
        """Energy in kWh since ``start()``. Raises SourceUnavailable if the counters did not move."""
        self.sample()
        if self._total_uj <= 0:
            raise SourceUnavailable("RAPL: counters did not change")
        return self._total_uj / 3.6e12  # µJ -> kWh
