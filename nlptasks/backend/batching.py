"""Length-sorted dynamic batching with a token budget, order restoration and out-of-memory back-off.

Knows nothing of tasks or models: callers pass items, their lengths (in tokens) and a function that
processes one batch.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Sequence, TypeVar

from .. import cost_hooks
from ..progress import progress

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger("nlptasks")


def plan_batches(lengths: Sequence[int], batch_size: int | None = 32,
                 max_tokens: int | None = None) -> list[list[int]]:
    """Group item indices into batches, longest first.

    A batch holds at most ``batch_size`` items and, when ``max_tokens`` is set, at most ``max_tokens``
    padded tokens (longest length in the batch x number of items). An item longer than the budget
    gets a batch of its own. Sorting by length keeps padding inside a batch small.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in order:
        n = max(int(lengths[i]), 1)
        new_longest = max(longest, n)
        too_many = batch_size is not None and len(current) >= batch_size
        too_big = max_tokens is not None and current and new_longest * (len(current) + 1) > max_tokens
        if current and (too_many or too_big):
            batches.append(current)
            current, new_longest = [], n
        current.append(i)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except Exception:  # pragma: no cover - torch always present in practice
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _free_accelerator_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover
        pass


def run_batched(items: Sequence[T], fn: Callable[[list[T]], list[R]], *, lengths: Sequence[int] | None = None,
                batch_size: int | None = 32, max_tokens: int | None = None, desc: str = "",
                unit: str = "item") -> list[R]:
    """Apply ``fn`` to length-sorted batches of ``items`` and return the results in input order.

    On out-of-memory the failing batch is halved and retried, down to single items; a single item that
    still does not fit re-raises the error.
    """
    if not items:
        return []
    if lengths is None:
        lengths = [1] * len(items)
    results: list[R | None] = [None] * len(items)
    bar = progress(total=len(items), desc=desc, unit=unit)
    try:
        for batch in plan_batches(lengths, batch_size, max_tokens):
            _run_with_backoff(items, batch, fn, results)
            bar.update(len(batch))
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def _run_with_backoff(items, batch: list[int], fn, results) -> None:
    pending = [batch]
    while pending:
        idx = pending.pop(0)
        try:
            start = time.perf_counter()
            out = fn([items[i] for i in idx])
            cost_hooks.report_batch(len(idx), time.perf_counter() - start)
        except Exception as exc:
            if not is_out_of_memory(exc) or len(idx) == 1:
                raise
            _free_accelerator_memory()
            half = len(idx) // 2
            log.warning("out of memory on a batch of %d; retrying as two batches of %d and %d",
                        len(idx), half, len(idx) - half)
            pending[:0] = [idx[:half], idx[half:]]
            continue
        if len(out) != len(idx):
            raise RuntimeError(f"batch function returned {len(out)} results for {len(idx)} items")
        for i, r in zip(idx, out):
            results[i] = r
