"""How long `nlptasks results import` takes for N records, as `results export` writes them (an indented
JSON list) and as JSON lines, beside the old quadratic line pairing of list items.

    python benchmarks/results_import_scale.py --n 10000          # the issue's figure: 63-66 s before
    python benchmarks/results_import_scale.py --n 200 --quick    # a smoke run

Prints, per form, the seconds to read and check the file (``read_import``) and to write it into a fresh
SQLite store (``ResultStore.import_``), and for the indented list the time of the old pairing of items
with lines (``str.count`` from the start of the text for every item) as the baseline: the ratio old/new
is the speed-up of the pairing alone. Timings depend on the machine; run it on a quiet one.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def record(i: int) -> dict:
    return {"schema": 1, "run_id": f"run{i:06d}", "task": "sentiment",
            "benchmark": {"name": "sst2-mini", "version": 1, "hash": "h1"},
            "model": {"name": f"org/model-{i}", "revision": None, "variant": {"dtype": "float32", "quantize": None}},
            "n": 872, "metrics": {"accuracy": {"score": 0.5 + (i % 400) / 1000, "ci": [0.45, 0.95],
                                               "stats": {"correct": 500, "total": 872}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True},
            "settings": {"batch_size": 32, "seed": 0}, "environment": {"torch": "2.13.0"},
            "cost": {"energy_kwh": 1e-4, "items": 872, "items_per_s": 200.0, "co2e_g": 0.04},
            "created_at": "2025-01-01T00:00:00+00:00"}


def old_pairing(text: str, data: list) -> list:
    """The pairing before issue 20 (quadratic): newlines counted from the start for every item."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    lines = []
    for _ in data:
        while text[pos] in " \t\r\n,":
            pos += 1
        lines.append(text.count("\n", 0, pos) + 1)
        _, pos = decoder.raw_decode(text, pos)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="skip the old pairing when it would take long")
    args = ap.parse_args()
    from nlptasks.evaluation.store import ResultStore, _list_items_with_lines, read_import

    records = [record(i) for i in range(args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        forms = {"indented list": json.dumps(records, indent=1, sort_keys=True) + "\n",
                 "json lines": "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)}
        for form, text in forms.items():
            path = tmp / f"{form.replace(' ', '_')}.json"
            path.write_text(text)
            t = time.perf_counter()
            batch = read_import(path)
            read_s = time.perf_counter() - t
            t = time.perf_counter()
            with ResultStore(tmp / f"{form.replace(' ', '_')}.sqlite") as store:
                n = store.import_(batch)
            write_s = time.perf_counter() - t
            print(f"{form:14s} n={n:,}: read+check {read_s:.2f} s, store {write_s:.2f} s")
        text = forms["indented list"]
        data = json.loads(text)
        t = time.perf_counter()
        new = [line for line, _ in _list_items_with_lines(text, data)]
        new_s = time.perf_counter() - t
        if args.quick and args.n > 2000:
            print(f"pairing items with lines: new {new_s:.3f} s (old skipped with --quick)")
            return
        t = time.perf_counter()
        old = old_pairing(text, data)
        old_s = time.perf_counter() - t
        assert old == new, "the new pairing gives other line numbers"
        print(f"pairing items with lines: old {old_s:.3f} s, new {new_s:.3f} s, old/new {old_s / max(new_s, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
