"""The dynamic batcher alone (nlptasks/serve/batcher.py), with a recording fake model: merging, order,
option groups, limits, cancellation and a bad record isolated. No web stack, no torch."""
from __future__ import annotations

import threading
import time

import pytest

from nlptasks.errors import InputError
from nlptasks.serve.batcher import QueueFull, TaskBatcher


class FakeModel:
    def __init__(self, delay=0.0, gate=None):
        self.batches: list[tuple] = []
        self.delay = delay
        self.gate = gate
        self.started = threading.Event()

    def __call__(self, key, records):
        self.started.set()
        if self.gate is not None:
            self.gate.wait(5)
        time.sleep(self.delay)
        if any(r.get("bad") for r in records):
            raise InputError("a bad record")
        self.batches.append((key, [r["i"] for r in records]))
        return [{"echo": r["i"], "key": key} for r in records], {"energy_kwh": 1e-6 * len(records),
                                                                 "model_time_s": 0.01, "co2e_g": 0.5}


def submit_all(b, groups, key=()):
    return [b.submit([{"i": i} for i in g], key) for g in groups]


def test_concurrent_jobs_are_merged_in_order_and_split_back():
    model = FakeModel()
    seen = []
    b = TaskBatcher("t", model, max_wait_s=0.3, max_items=100,
                    on_batch=lambda items, reqs, cost: seen.append((items, reqs)))
    try:
        futures = submit_all(b, [[1, 2], [3], [4, 5, 6]])
        results = [f.result(5) for f in futures]
    finally:
        b.stop(5)
    assert model.batches == [((), [1, 2, 3, 4, 5, 6])]  # one model call for three requests
    assert [[o["echo"] for o in outs] for outs, _ in results] == [[1, 2], [3], [4, 5, 6]]
    assert seen == [(6, 3)]
    costs = [c for _, c in results]
    assert [c["batch_requests"] for c in costs] == [3, 3, 3]
    assert costs[2]["energy_kwh"] == pytest.approx(6e-6 * 3 / 6)  # its share: 3 of the 6 items
    assert sum(c["co2e_g"] for c in costs) == pytest.approx(0.5)


def test_without_batching_each_job_runs_alone():
    model = FakeModel()
    b = TaskBatcher("t", model, batching=False, max_wait_s=0.3)
    try:
        [f.result(5) for f in submit_all(b, [[1], [2], [3]])]
    finally:
        b.stop(5)
    assert [ids for _, ids in model.batches] == [[1], [2], [3]]


def test_different_options_are_never_merged_and_batches_respect_max_items():
    model = FakeModel()
    b = TaskBatcher("t", model, max_wait_s=0.2, max_items=3)
    try:
        fa = b.submit([{"i": 1}], ("a",))
        fb = b.submit([{"i": 2}], ("b",))
        rest = submit_all(b, [[3, 4], [5]], ("a",))
        out = [f.result(5) for f in [fa, fb, *rest]]
    finally:
        b.stop(5)
    assert [o["key"] for outs, _ in out for o in outs] == [("a",), ("b",), ("a",), ("a",), ("a",)]
    assert all(len(ids) <= 3 for _, ids in model.batches)
    assert {key for key, _ in model.batches} == {("a",), ("b",)}
    assert sorted(i for _, ids in model.batches for i in ids) == [1, 2, 3, 4, 5]
    assert (("a",), [1, 3, 4]) in model.batches  # the oldest jobs of the first job's options, up to 3 items


def test_full_queue_is_refused_at_once_and_cancelled_jobs_are_dropped():
    gate = threading.Event()
    model = FakeModel(gate=gate)
    b = TaskBatcher("t", model, max_wait_s=0.0, max_items=10, max_queue_items=3)
    try:
        first = b.submit([{"i": 0}], ())
        assert model.started.wait(5)           # the worker holds job 0; the queue is empty again
        waiting = b.submit([{"i": 1}, {"i": 2}], ())
        assert b.queue_depth() == 2
        with pytest.raises(QueueFull):
            b.submit([{"i": 3}, {"i": 4}], ())  # 2 + 2 > 3
        assert waiting.cancel()                 # a timed-out request: never run
        gate.set()
        first.result(5)
        late = b.submit([{"i": 5}], ())
        late.result(5)
    finally:
        gate.set()
        b.stop(5)
    assert [ids for _, ids in model.batches] == [[0], [5]]


def test_a_bad_record_fails_only_its_own_request():
    model = FakeModel()
    b = TaskBatcher("t", model, max_wait_s=0.3)
    try:
        good1 = b.submit([{"i": 1}], ())
        bad = b.submit([{"i": 2, "bad": True}], ())
        good2 = b.submit([{"i": 3}], ())
        assert [o["echo"] for o in good1.result(5)[0]] == [1]
        assert [o["echo"] for o in good2.result(5)[0]] == [3]
        with pytest.raises(InputError):
            bad.result(5)
    finally:
        b.stop(5)


def test_stop_finishes_queued_jobs_then_refuses_new_ones():
    model = FakeModel(delay=0.05)
    b = TaskBatcher("t", model, batching=False)
    futures = submit_all(b, [[1], [2], [3]])
    b.stop(5)
    assert [f.result(0)[0][0]["echo"] for f in futures] == [1, 2, 3]
    with pytest.raises(QueueFull):
        b.submit([{"i": 4}], ())
