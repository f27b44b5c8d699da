"""GPU board energy from NVIDIA's NVML counters (``nvmlDeviceGetTotalEnergyConsumption``, mJ since load).

Needs the ``nvidia-ml-py`` package (module ``pynvml``, extra ``nlptasks[gpu]``) and a Volta or newer
GPU. The counter covers the whole board, so other processes on the same GPU are counted too.
The ``nvml`` argument takes any object with the pynvml functions, so tests can pass a fake.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

from .base import SourceUnavailable


def _load_pynvml():
    try:
        import pynvml  # provided by nvidia-ml-py
    except Exception as exc:  # ImportError, or a broken install
        raise SourceUnavailable(f"NVML: pynvml not importable: {exc}") from exc
    return pynvml


def physical_gpu_ids(cuda_indices: Sequence[int], uuids: Sequence[str | None] | None = None) -> list[int | str]:
    """Map CUDA device indices of this process to NVML identifiers (an NVML index or a UUID string).

    A UUID known from torch wins (it is exact whatever the device order); otherwise
    ``CUDA_VISIBLE_DEVICES`` is applied (integers or ``GPU-…`` UUIDs); otherwise the index is used as is.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    mapping = [v.strip() for v in visible.split(",") if v.strip()] if visible else None
    ids: list[int | str] = []
    for pos, idx in enumerate(cuda_indices):
        uuid = uuids[pos] if uuids and pos < len(uuids) else None
        if uuid:
            ids.append(uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}")
        elif mapping is not None and idx < len(mapping):
            v = mapping[idx]
            ids.append(int(v) if v.isdigit() else v)
        else:
            ids.append(idx)
    return ids


class NvmlReader:
    """Sums the energy of the given GPUs between ``start()`` and ``stop()``."""

    name = "nvml"
    can_wrap = False

    def __init__(self, gpu_ids: Sequence[int | str], nvml: Any = None):
        self.gpu_ids = list(gpu_ids)
        self._nvml = nvml
        self._handles: list[Any] = []
        self._start_mj: list[int] = []
        self._initialised = False

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # pynvml.NVMLError and friends: unsupported, lost, not initialised
            raise SourceUnavailable(f"NVML: {getattr(fn, '__name__', fn)} failed: {exc}") from exc

    def start(self) -> None:
        if not self.gpu_ids:
            raise SourceUnavailable("NVML: no GPU in use")
        nvml = self._nvml or _load_pynvml()
        self._nvml = nvml
        self._call(nvml.nvmlInit)
        self._initialised = True
        try:
            self._handles = []
            for gid in self.gpu_ids:
                if isinstance(gid, str):
                    if gid.startswith("MIG-"):
                        raise SourceUnavailable("NVML: energy counters are not available per MIG instance")
                    self._handles.append(self._call(nvml.nvmlDeviceGetHandleByUUID, gid))
                else:
                    self._handles.append(self._call(nvml.nvmlDeviceGetHandleByIndex, gid))
            self._start_mj = [int(self._call(nvml.nvmlDeviceGetTotalEnergyConsumption, h)) for h in self._handles]
        except SourceUnavailable:
            self.close()
            raise

    def stop(self) -> float:
        """Energy in kWh since ``start()``. Raises SourceUnavailable if unreadable or unchanged."""
        try:
            end = [int(self._call(self._nvml.nvmlDeviceGetTotalEnergyConsumption, h)) for h in self._handles]
        finally:
            self.close()
        total_mj = sum(e - s for s, e in zip(self._start_mj, end))
        if total_mj <= 0:
            raise SourceUnavailable("NVML: energy counters did not change")
        return total_mj / 3.6e9  # mJ -> kWh

    def close(self) -> None:
        if self._initialised:
            self._initialised = False
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass
