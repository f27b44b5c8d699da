"""The Python API behind ``nlptasks benchmarks``: the benchmark definitions ``nlptasks eval`` knows
(``tasks/<task>/<name>.yaml`` and ``$NLPTASKS_BENCHMARKS_PATH``).

>>> [b["name"] for b in benchmark_summaries("sentiment")]   # doctest: +SKIP
['sst2_local', ...]
>>> benchmark_details("sst2_local")["definition"]["dataset"]  # doctest: +SKIP
"""
from __future__ import annotations


def benchmark_summaries(task: str | None = None) -> list[dict]:
    """One summary per benchmark (``name``, ``task``, ``version``, ``primary_metric``, ``data``, ...),
    sorted by name; ``task`` (a name or alias) keeps that task's only. An unknown task raises
    :class:`nlptasks.errors.UnknownNameError` naming the known ones."""
    from .evaluation.definitions import BENCHMARKS
    from .registry import TASKS

    canonical = TASKS.canonical(task) if task else None
    return [b.summary() for _, b in BENCHMARKS.items() if canonical is None or b.task == canonical]


def benchmark_details(name: str) -> dict:
    """The summary of one benchmark (a name or YAML path) with its resolved ``definition``."""
    from .evaluation.definitions import get_benchmark

    b = get_benchmark(name)
    return {**b.summary(), "definition": b.definition}


def skipped_benchmarks() -> list[str]:
    """Why each invalid benchmark definition was skipped (one message each, by name); a broken file
    whose name another, valid definition provides is not listed."""
    from .evaluation.definitions import BENCHMARKS, BROKEN

    return [str(exc) for name, exc in sorted(BROKEN.items()) if name not in BENCHMARKS]
