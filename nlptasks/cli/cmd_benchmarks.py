"""`nlptasks benchmarks`: list the benchmark definitions (or show one)."""
from __future__ import annotations

import argparse
import json
import sys


def register(sub) -> None:
    p = sub.add_parser("benchmarks", help="list the benchmarks `nlptasks eval` knows",
                       description="List benchmark definitions (tasks/<task>/<name>.yaml and $NLPTASKS_BENCHMARKS_PATH).")
    p.add_argument("name", nargs="?", default=None, help="show one benchmark's resolved definition and hash")
    p.add_argument("--task", default=None, help="only this task's benchmarks")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..api_benchmarks import benchmark_details, benchmark_summaries, skipped_benchmarks

    if args.name:
        print(json.dumps(benchmark_details(args.name), indent=1, ensure_ascii=False))
        return 0
    items = benchmark_summaries(args.task)
    if args.json:
        print(json.dumps(items, indent=1, ensure_ascii=False))
    else:
        rows = [("name", "task", "version", "primary metric", "data")]
        rows += [(s["name"], s["task"], str(s["version"]), s["primary_metric"], s["data"]) for s in items]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4])
    for message in skipped_benchmarks():
        print(f"nlptasks: warning: skipped invalid benchmark: {message}", file=sys.stderr)
    return 0
