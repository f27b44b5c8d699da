"""Cost of a block of work: time, throughput, latency, memory, energy and CO2e.

    with CostTracker(country="DE") as t:
        ...  # the backend reports batches / tokens / models through ``nlptasks.cost_hooks``
    record["cost"] = t.result()
    print(t.summary_line(), file=sys.stderr)

Energy comes from the first readable source: NVML (GPU board energy, when CUDA is in use), RAPL (CPU
package energy), else an estimate (wall time × an assumed power; ``energy_is_estimate: true``). See
``nlptasks.energy`` for the readers and why they are ours rather than codecarbon's. CO2e is
energy × grid intensity (``nlptasks/data/grid_intensity.json``, world average by default).

Throughput and latency use model time (the seconds the backend reports per batch), so they do not
include model loading or metric computation; energy and ``wall_time_s`` cover the whole block.
torch is never imported by this module unless CUDA is named as the device.
"""
from __future__ import annotations

import os
import resource
import sys
import time
import weakref
from pathlib import Path
from typing import Any

from . import cost_hooks
from .energy import EnergyMeter, NvmlReader, RaplReader, grid_intensity, physical_gpu_ids
from .energy.contention import SHARED_MACHINE_SHARE, ContentionMeter
from .energy.rapl import DEFAULT_POWERCAP_ROOT


def _rss_now() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # bytes on macOS, KiB on Linux


def _weighted_quantile(pairs: list[tuple[float, int]], q: float) -> float | None:
    """Nearest-rank quantile of per-item latencies, each batch weighted by its item count."""
    total = sum(n for _, n in pairs)
    if total <= 0:
        return None
    rank = max(1, -(-q * total // 1))  # ceil(q * total), at least 1
    seen = 0
    for value, n in sorted(pairs):
        seen += n
        if seen >= rank:
            return value
    return sorted(pairs)[-1][0]


def _weight_files_size(path: str | os.PathLike) -> int | None:
    """Bytes of the weight files in a local model folder (safetensors preferred over .bin, as loaded)."""
    p = Path(path)
    if not p.is_dir():
        return None
    for pattern in ("*.safetensors", "*.bin"):
        files = [f for f in p.glob(pattern) if f.is_file()]
        if files:
            return sum(f.stat().st_size for f in files)
    return None


def _parse_device(device) -> tuple[str | None, int | None]:
    if device is None:
        return None, None
    text = str(device).lower()
    kind, _, index = text.partition(":")
    return kind, (int(index) if index.isdigit() else None)


class CostTracker:
    """Context manager that records the cost of the work done inside it (see module docstring).

    ``powercap_root``, ``nvml`` and ``sources`` exist for tests and unusual systems: a fake sysfs
    tree, a fake NVML module, or a full list of energy readers to try in order.
    """

    def __init__(self, grid_intensity: float | None = None, country: str | None = None,
                 power_watts: float | None = None, device=None, *,
                 powercap_root: str | os.PathLike = DEFAULT_POWERCAP_ROOT, nvml: Any = None,
                 sources: list | None = None, poll_s: float = 30.0):
        self.grid_g_per_kwh, self.grid_source = _grid(grid_intensity, country)
        self.power_watts = power_watts
        self._device = device
        self._dtype: str | None = None
        self._powercap_root = powercap_root
        self._nvml = nvml
        self._sources = sources
        self._poll_s = poll_s
        self._reset()

    # -- hooks called by the backend (through cost_hooks) --------------------------------------
    def record_batch(self, items: int, seconds: float) -> None:
        items, seconds = int(items), float(seconds)
        if items <= 0:
            return
        self.items += items
        self.model_time_s += max(seconds, 0.0)
        self._latencies.append((max(seconds, 0.0) / items, items))
        rss = _rss_now()
        if rss is not None:
            self._rss_max = max(self._rss_max or 0, rss)

    def record_generated_tokens(self, n: int) -> None:
        self.generated_tokens += int(n)

    def record_model(self, model: Any) -> None:
        key = id(model)
        ref = self._models.get(key)
        if ref is not None and (ref() if callable(ref) else ref) is model:
            return
        try:
            self._models[key] = weakref.ref(model)
        except TypeError:
            self._models[key] = model
        params = getattr(model, "parameters", None)
        if callable(params):
            try:
                plist = list(params())
                if plist and self._dtype is None:  # set_device() wins when called
                    self._dtype = str(plist[0].dtype).replace("torch.", "")
                if plist and self._device is None:
                    self._device = str(plist[0].device)
                self.parameters = (self.parameters or 0) + sum(int(p.numel()) for p in plist)
                self.param_bytes = (self.param_bytes or 0) + sum(int(p.numel()) * int(p.element_size()) for p in plist)
            except Exception:  # not a torch module after all
                pass
        path = getattr(model, "name_or_path", None) or getattr(getattr(model, "config", None), "name_or_path", None)
        if path:
            size = _weight_files_size(path)
            if size is not None:
                self.size_bytes = (self.size_bytes or 0) + size

    def set_device(self, device, dtype=None) -> None:
        self._device = device
        if dtype is not None:
            self._dtype = str(dtype).replace("torch.", "")

    # -- context manager ----------------------------------------------------------------------
    def __enter__(self) -> "CostTracker":
        self._reset()
        self._token = cost_hooks.set_active(self)
        self._cuda_indices = self._cuda_candidates()
        torch = sys.modules.get("torch")
        if self._cuda_indices and torch is not None and torch.cuda.is_initialized():
            for i in self._cuda_indices:
                torch.cuda.reset_peak_memory_stats(i)
        self._meter = EnergyMeter(self._make_sources(), power_watts=self.power_watts, poll_s=self._poll_s)
        self._rss_max = _rss_now()
        self._contention = ContentionMeter()
        self._contention.start()
        self._meter.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.wall_time_s = time.perf_counter() - self._t0
            self.other_cpu_share = self._contention.stop() if self._contention is not None else None
            used = self._cuda_used()
            self._energy = self._meter.stop(skip=() if used else ("nvml",), gpus=len(used),
                                            wall_s=self.wall_time_s)
            self._cuda_max = self._cuda_max_allocated(used)
            rss = _rss_now()
            if rss is not None:
                self._rss_max = max(self._rss_max or 0, rss)
        finally:
            cost_hooks.reset_active(self._token)
            self._models = {k: None for k in self._models}  # keep the de-dup keys, drop the references
        return None

    # -- results ------------------------------------------------------------------------------
    def result(self) -> dict:
        """The cost record (JSON-serialisable). Energy fields are None until the block has ended."""
        wall = self.wall_time_s if self.wall_time_s is not None else time.perf_counter() - self._t0
        e = self._energy or {}
        kwh = e.get("energy_kwh")
        return {
            "parameters": self.parameters,
            "param_bytes": self.param_bytes,
            "size_bytes": self.size_bytes,
            "device": str(self._device) if self._device is not None else ("cuda" if self._cuda_indices else "cpu"),
            "dtype": self._dtype,
            "wall_time_s": wall,
            "model_time_s": self.model_time_s,
            "items": self.items,
            "items_per_s": self.items / self.model_time_s if self.model_time_s > 0 else None,
            "generated_tokens": self.generated_tokens,
            "tokens_per_s": (self.generated_tokens / self.model_time_s
                             if self.generated_tokens and self.model_time_s > 0 else None),
            "latency_p50_s": _weighted_quantile(self._latencies, 0.50),
            "latency_p95_s": _weighted_quantile(self._latencies, 0.95),
            "peak_rss_bytes": max(_peak_rss(), self._rss_max or 0),
            "rss_sampled_max_bytes": self._rss_max,
            "cuda_max_allocated_bytes": self._cuda_max,
            "energy_kwh": kwh,
            "energy_source": e.get("energy_source"),
            "energy_is_estimate": e.get("energy_is_estimate"),
            "power_watts_assumed": e.get("power_watts_assumed"),
            "power_assumption": e.get("power_assumption"),
            "energy_notes": e.get("energy_notes", []),
            "grid_intensity_g_per_kwh": self.grid_g_per_kwh,
            "grid_source": self.grid_source,
            "co2e_g": kwh * self.grid_g_per_kwh if kwh is not None else None,
            # share of the machine's CPUs that other processes used meanwhile (None: unknown); above
            # SHARED_MACHINE_SHARE the time and energy figures are not this model's alone
            "other_cpu_share": self.other_cpu_share,
        }

    def summary_line(self) -> str:
        r = self.result()
        parts = [f"cost: {r['wall_time_s']:.1f} s"]
        if r["items_per_s"]:
            parts.append(f"{r['items_per_s']:.1f} items/s")
        if r["tokens_per_s"]:
            parts.append(f"{r['tokens_per_s']:.1f} tokens/s")
        if r["energy_kwh"] is not None:
            mark = "~" if r["energy_is_estimate"] else ""
            src = "estimate" if r["energy_is_estimate"] else r["energy_source"].upper()
            parts.append(f"{mark}{_fmt_wh(r['energy_kwh'] * 1000)} ({src})")
            parts.append(f"{mark}{r['co2e_g']:.2g} gCO2e")
        parts.append(f"peak RSS {_fmt_bytes(r['peak_rss_bytes'])}")
        if (r["other_cpu_share"] or 0) > SHARED_MACHINE_SHARE:
            parts.append(f"shared machine: other processes used {r['other_cpu_share']:.0%} of the CPUs")
        if r["cuda_max_allocated_bytes"]:
            parts.append(f"CUDA peak {_fmt_bytes(r['cuda_max_allocated_bytes'])}")
        if r["parameters"]:
            parts.append(f"{_fmt_count(r['parameters'])} params")
        return ", ".join(parts)

    # -- internals ----------------------------------------------------------------------------
    def _reset(self) -> None:
        self.items = 0
        self.model_time_s = 0.0
        self.generated_tokens = 0
        self.parameters: int | None = None
        self.param_bytes: int | None = None
        self.size_bytes: int | None = None
        self.wall_time_s: float | None = None
        self.other_cpu_share: float | None = None
        self._contention: ContentionMeter | None = None
        self._latencies: list[tuple[float, int]] = []
        self._models: dict[int, Any] = {}
        self._energy: dict | None = None
        self._cuda_max: int | None = None
        self._cuda_indices: list[int] = []
        self._rss_max: int | None = None
        self._t0 = time.perf_counter()

    def _cuda_candidates(self) -> list[int]:
        """CUDA devices this block may use, decided at start (NVML must start reading then)."""
        kind, index = _parse_device(self._device)
        if kind is not None and kind != "cuda":
            return []
        if kind == "cuda":
            import torch  # needed for CUDA stats; the caller asked for CUDA
        else:
            torch = sys.modules.get("torch")
            if torch is None or not torch.cuda.is_available():
                return []
        if index is None:
            index = torch.cuda.current_device() if torch.cuda.is_initialized() else 0
        return [index]

    def _cuda_used(self) -> list[int]:
        """The candidate devices that were really used: named as the device, or holding memory."""
        kind, index = _parse_device(self._device)
        if kind is not None and kind != "cuda":
            return []
        torch = sys.modules.get("torch")
        if torch is None or not self._cuda_indices or not torch.cuda.is_initialized():
            return []
        if kind == "cuda":
            return self._cuda_indices if index is None or index in self._cuda_indices else []
        return [i for i in self._cuda_indices if torch.cuda.max_memory_allocated(i) > 0]

    def _cuda_max_allocated(self, used: list[int]) -> int | None:
        torch = sys.modules.get("torch")
        if not used or torch is None:
            return None
        return sum(int(torch.cuda.max_memory_allocated(i)) for i in used)

    def _make_sources(self) -> list:
        if self._sources is not None:
            return list(self._sources)
        sources: list = []
        if self._cuda_indices:
            uuids = None
            torch = sys.modules.get("torch")
            try:
                uuids = [str(torch.cuda.get_device_properties(i).uuid) for i in self._cuda_indices]
            except Exception:
                uuids = None
            sources.append(NvmlReader(physical_gpu_ids(self._cuda_indices, uuids), nvml=self._nvml))
        sources.append(RaplReader(self._powercap_root))
        return sources


def _grid(value, country) -> tuple[float, str]:
    return grid_intensity(value, country)


def _fmt_wh(wh: float) -> str:
    return f"{wh / 1000:.3g} kWh" if wh >= 1000 else f"{wh:.3g} Wh" if wh >= 0.01 else f"{wh * 1000:.3g} mWh"


def _fmt_bytes(n: int | None) -> str:
    if not n:
        return "?"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def _fmt_count(n: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
