"""Dynamic batching: concurrent requests for one task merged into one model batch.

One worker thread per task owns that task's model (torch modules are not safe to drive from several
threads at once), so the event loop never runs a model. A request is queued as a :class:`Job`; the
worker takes the oldest job, waits up to ``max_wait_s`` (counted from that job's arrival) for more jobs
with the same options, takes them in arrival order up to ``max_items`` items, runs them as one batch
and hands each job its own slice of the outputs. The queue is bounded in items: a request that would
overflow it is refused at once (:class:`QueueFull`, a 503 with Retry-After), never left waiting.

If a merged batch fails with a user error (a bad record that passed the request checks), each of its
jobs is run alone, so only the request at fault gets the error.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Callable

from ..errors import NlpTasksError

log = logging.getLogger("nlptasks")


class QueueFull(Exception):
    """The task's queue holds as many items as allowed."""


class Job:
    __slots__ = ("records", "key", "future", "arrived")

    def __init__(self, records: list[dict], key) -> None:
        self.records = records
        self.key = key
        self.future: Future = Future()
        self.arrived = time.monotonic()


# run(key, records) -> (outputs, cost): the model call for one batch of records sharing options ``key``
RunBatch = Callable[[object, list], tuple[list, dict]]
# on_batch(items, requests, cost): metrics hook
OnBatch = Callable[[int, int, dict], None]


class TaskBatcher:
    def __init__(self, name: str, run: RunBatch, *, batching: bool = True, max_wait_s: float = 0.005,
                 max_items: int = 64, max_queue_items: int = 1024, on_batch: OnBatch | None = None):
        self.name = name
        self._run = run
        self.batching = batching
        self.max_wait_s = max_wait_s
        self.max_items = max_items
        self.max_queue_items = max_queue_items
        self._on_batch = on_batch
        self._pending: deque[Job] = deque()
        self._queued_items = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"nlptasks-serve-{name}", daemon=True)
        self._thread.start()

    # -- called from the event loop ---------------------------------------------------------------
    def submit(self, records: list[dict], key) -> Future:
        """Queue ``records`` (options ``key``); the returned future gets the outputs (or the error)."""
        job = Job(records, key)
        with self._cond:
            if self._stopping:
                raise QueueFull("the server is shutting down")
            if self._queued_items + len(records) > self.max_queue_items:
                raise QueueFull(f"{self.name}: {self._queued_items} items are waiting (limit "
                                f"{self.max_queue_items})")
            self._pending.append(job)
            self._queued_items += len(records)
            self._cond.notify()
        return job.future

    def call(self, fn: Callable[[], object]) -> Future:
        """Run ``fn`` on this task's worker thread (e.g. loading the model), after the queued jobs."""
        job = Job([], ("__call__", id(fn)))
        job.records = fn  # type: ignore[assignment]
        with self._cond:
            self._pending.append(job)
            self._cond.notify()
        return job.future

    def queue_depth(self) -> int:
        return self._queued_items

    def stop(self, timeout: float | None = None) -> None:
        """Finish the queued jobs, then end the worker."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the worker thread ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if not self._pending:
                    return
                first = self._pending[0]
                if callable(first.records):
                    self._pending.popleft()
                    jobs = [first]
                else:
                    if self.batching:
                        self._wait_for_company(first)
                    jobs = self._take(first.key)
            if callable(first.records):
                self._call(first)
            else:
                self._execute(jobs)

    def _wait_for_company(self, first: Job) -> None:
        """(holding the lock) Wait until ``first`` has waited ``max_wait_s`` or a full batch is queued."""
        deadline = first.arrived + self.max_wait_s
        while not self._stopping:
            items = sum(len(j.records) for j in self._pending if j.key == first.key and not callable(j.records))
            left = deadline - time.monotonic()
            if items >= self.max_items or left <= 0:
                return
            self._cond.wait(left)

    def _take(self, key) -> list[Job]:
        """(holding the lock) The oldest jobs with options ``key`` up to ``max_items`` items (the first one
        always, and only it without batching); the others keep their place."""
        taken, kept, items = [], deque(), 0
        for job in self._pending:
            fits = not taken or (self.batching and items + len(job.records) <= self.max_items)
            if job.key == key and not callable(job.records) and fits:
                taken.append(job)
                items += len(job.records)
            else:
                kept.append(job)
        self._pending = kept
        self._queued_items -= items
        return taken

    def _call(self, job: Job) -> None:
        if not job.future.set_running_or_notify_cancel():
            return
        try:
            job.future.set_result(job.records())
        except BaseException as exc:  # handed to the caller
            job.future.set_exception(exc)

    def _execute(self, jobs: list[Job]) -> None:
        jobs = [j for j in jobs if j.future.set_running_or_notify_cancel()]  # timed out while queued: dropped
        if not jobs:
            return
        records = [r for j in jobs for r in j.records]
        try:
            outputs, cost = self._run(jobs[0].key, records)
        except NlpTasksError as exc:
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
                return
            for job in jobs:  # find the request at fault: each one alone
                self._execute_alone(job)
            return
        except BaseException as exc:
            log.exception("serve: %s batch of %d items failed", self.name, len(records))
            for job in jobs:
                job.future.set_exception(exc)
            return
        self._report(len(records), len(jobs), cost)
        start = 0
        for job in jobs:
            n = len(job.records)
            job.future.set_result((outputs[start:start + n], _share(cost, n, len(records), len(jobs))))
            start += n

    def _execute_alone(self, job: Job) -> None:
        try:
            outputs, cost = self._run(job.key, job.records)
        except BaseException as exc:
            job.future.set_exception(exc)
            return
        self._report(len(job.records), 1, cost)
        job.future.set_result((outputs, _share(cost, len(job.records), len(job.records), 1)))

    def _report(self, items: int, requests: int, cost: dict) -> None:
        if self._on_batch is not None:
            try:
                self._on_batch(items, requests, cost)
            except Exception:  # metrics must never fail a request
                log.exception("serve: metrics update failed")


def _share(cost: dict, n: int, total: int, requests: int) -> dict:
    """A request's part of its batch's cost (proportional to its items)."""
    f = n / total if total else 0.0
    kwh, co2, model_s = cost.get("energy_kwh"), cost.get("co2e_g"), cost.get("model_time_s")
    return {"batch_items": total, "batch_requests": requests,
            "model_time_s": model_s * f if model_s is not None else None,
            "energy_kwh": kwh * f if kwh is not None else None,
            "co2e_g": co2 * f if co2 is not None else None,
            "energy_is_estimate": cost.get("energy_is_estimate"),
            "device": cost.get("device"), "dtype": cost.get("dtype")}
