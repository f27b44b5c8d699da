"""Server metrics in the Prometheus text format (version 0.0.4), kept without a client library.

Counters and histograms are updated from the event loop and from the batch workers, so every update
takes one lock. Energy and CO2e come from the cost tracker that wraps each batch (``nlptasks.cost``).
"""
from __future__ import annotations

import threading
from collections import defaultdict

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Histogram:
    def __init__(self, buckets: tuple):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        for i, edge in enumerate(self.buckets):
            if value <= edge:
                self.counts[i] += 1
        self.total += 1
        self.sum += value


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = defaultdict(int)       # (task, code) -> n
        self.errors: dict[tuple[str, str], int] = defaultdict(int)         # (task, kind) -> n
        self.latency: dict[str, Histogram] = {}
        self.batch_items: dict[str, Histogram] = {}
        self.batch_requests: dict[str, Histogram] = {}
        self.items: dict[str, int] = defaultdict(int)
        self.model_seconds: dict[str, float] = defaultdict(float)
        self.energy_kwh: dict[str, float] = defaultdict(float)
        self.co2e_g: dict[str, float] = defaultdict(float)
        self.most_merged: dict[str, int] = {}
        self.queue_depth: dict[str, callable] = {}                         # task -> () -> items waiting

    def request(self, task: str, code: int, seconds: float, error_kind: str | None = None) -> None:
        with self._lock:
            self.requests[(task, str(code))] += 1
            if error_kind:
                self.errors[(task, error_kind)] += 1
            self.latency.setdefault(task, Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, task: str, items: int, requests: int, cost: dict) -> None:
        with self._lock:
            self.batch_items.setdefault(task, Histogram(BATCH_BUCKETS)).observe(items)
            self.batch_requests.setdefault(task, Histogram(BATCH_BUCKETS)).observe(requests)
            self.items[task] += items
            self.most_merged[task] = max(self.most_merged.get(task, 0), requests)
            self.model_seconds[task] += cost.get("model_time_s") or 0.0
            self.energy_kwh[task] += cost.get("energy_kwh") or 0.0
            self.co2e_g[task] += cost.get("co2e_g") or 0.0

    def max_batch_requests(self, task: str) -> int:
        """The most requests ever merged into one batch of ``task`` (0 before any batch)."""
        with self._lock:
            return self.most_merged.get(task, 0)

    def render(self) -> str:
        out: list[str] = []
        with self._lock:
            _family(out, "nlptasks_requests_total", "counter", "HTTP requests by task and status code",
                    [({"task": t, "code": c}, n) for (t, c), n in sorted(self.requests.items())])
            _family(out, "nlptasks_request_errors_total", "counter", "failed requests by task and kind",
                    [({"task": t, "kind": k}, n) for (t, k), n in sorted(self.errors.items())])
            _histograms(out, "nlptasks_request_latency_seconds", "request latency, queueing included",
                        self.latency)
            _histograms(out, "nlptasks_batch_items", "items per model batch (merged requests)", self.batch_items)
            _histograms(out, "nlptasks_batch_requests", "requests merged into one model batch",
                        self.batch_requests)
            _family(out, "nlptasks_items_total", "counter", "items predicted",
                    [({"task": t}, n) for t, n in sorted(self.items.items())])
            _family(out, "nlptasks_model_seconds_total", "counter", "model time (forward passes and generation)",
                    [({"task": t}, v) for t, v in sorted(self.model_seconds.items())])
            _family(out, "nlptasks_energy_kwh_total", "counter",
                    "energy of the batches (RAPL/NVML when readable, else an estimate)",
                    [({"task": t}, v) for t, v in sorted(self.energy_kwh.items())])
            _family(out, "nlptasks_co2e_grams_total", "counter", "CO2e of that energy at the grid intensity",
                    [({"task": t}, v) for t, v in sorted(self.co2e_g.items())])
            depth = dict(self.queue_depth)
        _family(out, "nlptasks_queue_depth", "gauge", "items waiting for a batch",
                [({"task": t}, fn()) for t, fn in sorted(depth.items())])
        return "\n".join(out) + "\n"


def _labels(labels: dict) -> str:
    if not labels:
        return ""
    esc = (str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for v in labels.values())
    return "{" + ",".join(f'{k}="{v}"' for k, v in zip(labels, esc)) + "}"


def _num(v) -> str:
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e15 else f"{v:.1f}"
    return str(v)


def _family(out: list[str], name: str, kind: str, help_: str, samples: list) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        out.append(f"{name}{_labels(labels)} {_num(value)}")


def _histograms(out: list[str], name: str, help_: str, hists: dict[str, Histogram]) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} histogram")
    for task, h in sorted(hists.items()):
        for edge, c in zip(h.buckets, h.counts):
            out.append(f"{name}_bucket{_labels({'task': task, 'le': _num(float(edge))})} {c}")
        out.append(f"{name}_bucket{_labels({'task': task, 'le': '+Inf'})} {h.total}")
        out.append(f"{name}_sum{_labels({'task': task})} {_num(float(h.sum))}")
        out.append(f"{name}_count{_labels({'task': task})} {h.total}")
