"""`nlptasks leaderboard`: rank stored results by quality, with their cost."""
from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "leaderboard", help="rank stored results by quality, with energy and CO2e cost",
        description="Rank stored evaluation results by quality, per benchmark definition and data (partial --limit runs "
                    "apart, with --include-partial), with cost columns "
                    "(params, examples/s, Wh and gCO2e per 1,000 examples) and the quality/cost Pareto front.")
    p.add_argument("--store", metavar="PATH|URL", help="results store (default: $NLPTASKS_STORE or the user data dir)")
    p.add_argument("--task", help="only this task")
    p.add_argument("--benchmark", help="only this benchmark (name)")
    p.add_argument("--metric", help="rank by this metric instead of the benchmark's primary metric")
    p.add_argument("--format", dest="fmt", default="table", choices=["table", "md", "csv", "json", "html"])
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--compare", metavar="MODEL", help="show the variants (dtype/quantize) of one model side by side")
    p.add_argument("--frontier", default="energy", choices=["energy", "latency"],
                   help="cost axis of the Pareto front (default: energy per example)")
    p.add_argument("--include-partial", action="store_true",
                   help="also show partial runs (fewer examples than the benchmark has, e.g. --limit), "
                        "in sections of their own marked PARTIAL; by default they are left out of the ranking")
    p.set_defaults(func=main)


def main(args) -> int:
    """Render the ranking (``nlptasks.api.leaderboard``) to stdout or ``--output``."""
    from ..api import leaderboard
    from ..api_results import check_output_beside_store
    from ..io import atomic_write

    check_output_beside_store(args.output, args.store)  # never over the store it reads
    text = leaderboard(store=args.store, task=args.task, benchmark=args.benchmark, metric=args.metric,
                       fmt=args.fmt, compare=args.compare, frontier_x=args.frontier,
                       include_partial=args.include_partial)
    if args.output:
        atomic_write(str(args.output), text)
        print(f"nlptasks: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
