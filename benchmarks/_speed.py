"""Helpers shared by the speed benchmarks: machine description, matmul probe, interleaved timing, tables.

Every speed benchmark runs its baseline and ``nlptasks`` side by side in the same process on the same
model and inputs, checks the outputs are identical, and prints a ratio plus the fraction of the machine's
measured matmul throughput (``matmul_probe``) that the run achieved.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("NLPTASKS_PROGRESS", "0")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NLPTASKS_DATA", REPO.parent / "shared" / "data"))
CACHE = Path(os.environ.get("NLPTASKS_BENCH_CACHE", REPO / "benchmarks" / ".cache"))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def need_data(sub: str) -> Path:
    p = DATA / sub
    if not p.is_dir():
        sys.exit(f"benchmark data {p} is missing (set NLPTASKS_DATA to the shared data folder)")
    return p


def machine() -> dict:
    """CPU model, ISA, cores, torch threads and versions (what the figures were measured on)."""
    import torch
    import transformers

    from nlptasks.backend.device import configure_threads

    configure_threads()  # what nlptasks would use; the baselines run with the same threads
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.readlines()
        cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
        flags = next((ln for ln in lines if ln.startswith("flags")), "")
    except OSError:
        pass
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8") if f" {f}" in flags]
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    info = {"cpu": cpu, "logical_cpus": os.cpu_count(), "isa": isa, "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "transformers": transformers.__version__, "load": load}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_machine(info: dict) -> None:
    print(f"machine: {info['cpu']}, {info['logical_cpus']} logical CPUs ({' '.join(info['isa'])}), "
          f"torch {info['torch']} with {info['torch_threads']} threads, transformers {info['transformers']}"
          + (f", GPU {info['gpu']}" if "gpu" in info else "") + f"; load average at start {info['load']:.1f}")


def matmul_probe(dtype: str = "float32", n: int = 2048, seconds: float = 1.5) -> float:
    """Achieved FLOP/s of an n x n x n CPU matmul in ``dtype`` (best of repeated timings)."""
    import torch

    dt = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(dt), torch.randn(n, n).to(dt)
    with torch.inference_mode():
        torch.mm(a, b)  # warm-up (kernel selection)
        best = float("inf")
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def probe_all(dtypes=("float32", "bfloat16")) -> dict[str, float]:
    peaks = {d: matmul_probe(d) for d in dtypes}
    print("matmul probe (2048^3, best of repeats): "
          + ", ".join(f"{d} {v / 1e9:.0f} GFLOP/s" for d, v in peaks.items()))
    return peaks


def interleaved(fns: dict[str, Callable[[], object]], runs: int = 3) -> tuple[dict[str, float], dict[str, object]]:
    """Median wall time of ``runs`` calls of each function, alternating between them in every round (so
    load from other processes hits every contender alike); returns (median seconds, last output) per name.
    Callers warm each function up first."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    outs: dict[str, object] = {}
    for r in range(runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - t)
            log(f"  run {r + 1}/{runs} {name}: {times[name][-1]:.2f} s")
    return {k: statistics.median(v) for k, v in times.items()}, outs


def fmt_table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def check(name: str, ok: bool, detail: str = "") -> bool:
    print(f"check: {name}: {'PASS' if ok else 'FAIL'}{(' (' + detail + ')') if detail else ''}")
    return ok


def linear_params(module) -> int:
    """Weights in the Linear layers of ``module`` (the matmul work per token is 2 x this in FLOPs)."""
    import torch

    return sum(m.weight.numel() for m in module.modules() if isinstance(m, torch.nn.Linear))


def fraction(flops: float, seconds: float, peak: float) -> str:
    return f"{flops / seconds / 1e9:.1f} GFLOP/s = {100 * flops / seconds / peak:.0f}%"
