"""Device and dtype selection."""
from __future__ import annotations

import re

from ..errors import NlpTasksError

DTYPES = ("auto", "float32", "bfloat16", "float16")


def resolve_device(spec: str | None = "auto"):
    import torch

    spec = (spec or "auto").lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", spec):
        if not torch.cuda.is_available():
            raise NlpTasksError(f"--device {spec}: CUDA is not available on this machine (use --device cpu)")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise NlpTasksError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return torch.device(spec)
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise NlpTasksError("--device mps: MPS is not available on this machine (use --device cpu)")
        return torch.device("mps")
    raise NlpTasksError(f"unknown device {spec!r}; use one of: auto, cpu, cuda, cuda:N, mps")


def resolve_dtype(spec: str | None, device, *, packaged: bool = False, quantize: str | None = None):
    """``auto`` is bfloat16 on CUDA with bf16 support, and on a CPU with bf16 matrix units (Intel AMX,
    :func:`cpu_has_amx`) for packaged models (``packaged``: their bf16 quality is checked on their boards)
    unless ``quantize`` is set; float32 otherwise. ``NLPTASKS_AUTO_BF16=0`` keeps float32 on such CPUs,
    as does ``--dtype float32``. What ``auto`` chose is the model's ``variant.dtype`` in records."""
    import torch

    spec = (spec or "auto").lower()
    if spec not in DTYPES:
        raise NlpTasksError(f"unknown dtype {spec!r}; use one of: {', '.join(DTYPES)}")
    if spec == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if device.type == "cpu" and packaged and not quantize and auto_bf16_on_cpu():
            return torch.bfloat16
        return torch.float32
    if spec == "float16" and device.type == "cpu":
        raise NlpTasksError("--dtype float16 is not supported on CPU; use bfloat16 or float32")
    return getattr(torch, spec)


_AMX: dict[str, bool] = {}


def cpu_has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has native bf16 matrix units: the ``amx_bf16`` flag in ``/proc/cpuinfo`` (Linux;
    False where the file is unreadable). ``torch.backends.cpu.get_cpu_capability()`` cannot tell: it
    reports ``AVX512`` on AMX CPUs too."""
    if cpuinfo not in _AMX:
        try:
            with open(cpuinfo, encoding="utf-8", errors="replace") as f:
                flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
        except OSError:
            flags = []
        _AMX[cpuinfo] = "amx_bf16" in flags
    return _AMX[cpuinfo]


def auto_bf16_on_cpu() -> bool:
    """``--dtype auto`` may choose bfloat16 on this CPU: it has AMX and ``NLPTASKS_AUTO_BF16`` is not 0."""
    import os

    if os.environ.get("NLPTASKS_AUTO_BF16", "").strip() == "0":
        return False
    return cpu_has_amx()


def is_packaged(path) -> bool:
    """Whether a model folder is one of the packaged models (under ``nlptasks/embedded``)."""
    from pathlib import Path

    from . import embedded

    try:
        Path(path).resolve().relative_to(Path(embedded.EMBEDDED_DIR).resolve())
        return True
    except (ValueError, OSError, TypeError):
        return False


_THREADS_SET = False


def physical_cores() -> int:
    """CPU cores this process may use, counting SMT siblings once."""
    import os

    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in allowed:
        try:
            with open(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list") as f:
                cores.add(f.read().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def configure_threads() -> int | None:
    """Set torch's intra-op threads once per process: ``NLPTASKS_NUM_THREADS`` if set; otherwise, unless the
    user set ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` (respected as is), the physical cores this process
    may run on (SMT siblings add little to matmul throughput and oversubscription costs a lot).
    Returns the thread count set, or None when left to the user's settings."""
    global _THREADS_SET
    import os

    if _THREADS_SET:
        return None
    _THREADS_SET = True
    import torch

    env = os.environ.get("NLPTASKS_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError as exc:
            raise NlpTasksError(f"NLPTASKS_NUM_THREADS must be a positive integer, not {env!r}") from exc
        if n < 1:
            raise NlpTasksError(f"NLPTASKS_NUM_THREADS must be a positive integer, not {env!r}")
    elif os.environ.get("OMP_NUM_THREADS") or os.environ.get("MKL_NUM_THREADS"):
        return None
    else:
        n = physical_cores()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def dtype_name(dtype) -> str:
    return str(dtype).replace("torch.", "")
