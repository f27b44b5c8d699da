"""`nlptasks eval BENCHMARK` (or `nlptasks eval TASK --data FILE`): score a model, write a result record."""
from __future__ import annotations

import argparse
import json
import sys

from .common import add_grid_args, add_model_args, add_placement_args, model_kwargs, placement_of


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a model on a benchmark (or a task on a data file)",
        description="Evaluate a model on a benchmark (`nlptasks benchmarks` lists them; a YAML path also works), "
                    "or on a data file in the shared-data schema: `nlptasks eval TASK --data FILE.jsonl`. "
                    "Prints a table of metrics with 95%% confidence intervals; writes the result record to "
                    "--output and adds it to the results store.")
    p.add_argument("benchmark", metavar="BENCHMARK|TASK", nargs="?", default=None,
                   help="benchmark name or YAML file; a task name with --data")
    p.add_argument("--suite", default=None, metavar="FILE|NAME",
                   help="evaluate every benchmark x model of a suite: a YAML file, or the name of a suite shipped with nlptasks, e.g. offline")
    p.add_argument("--render", default=None, metavar="DIR",
                   help="with --suite: write the suite's leaderboard (md, html) and records to DIR")
    p.add_argument("--reuse", action="store_true",
                   help="with --suite: an entry whose result the results store already holds (same benchmark "
                        "definition and data, model weights and variant, options, limit, nlptasks version) is "
                        "not evaluated again; its stored record is used")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=None, metavar="FILE",
                   help="ad-hoc evaluation: a .jsonl/.json/.csv/.parquet file in the task's shared-data schema")
    g.add_argument("--limit", type=int, default=None, help="evaluate only the first N examples")
    g.add_argument("--data-dir", default=None,
                   help="where relative data files resolve (default: $NLPTASKS_DATA_DIR, else ../shared/data)")
    g.add_argument("--columns", nargs="+", default=None, metavar="FIELD=COLUMN",
                   help="with --data: map task fields to data columns (dotted paths allowed, e.g. text=translation.en)")
    g.add_argument("--reference-field", default=None, metavar="COLUMN",
                   help="with --data: the column holding the reference (default: the task's shared-data schema)")
    g.add_argument("--source-lang", default=None, help="with --data for translate: source side (default en)")
    g.add_argument("--target-lang", default=None, help="with --data for translate: target side (default de)")
    o = p.add_argument_group("output")
    o.add_argument("--output", "-o", default=None, metavar="DIR",
                   help="write the record to DIR/<benchmark>/<run_id>.json (atomically)")
    o.add_argument("--log-samples", action="store_true",
                   help="also write every prediction beside its reference (DIR/<benchmark>/<run_id>.samples.jsonl)")
    o.add_argument("--json", action="store_true", help="print the full record as JSON instead of the table")
    o.add_argument("--store", default=None, metavar="PATH|URL",
                   help="results store (default: $NLPTASKS_STORE or the user data dir)")
    o.add_argument("--no-store", action="store_true", help="do not add the result to the results store")
    o.add_argument("--reference-metrics", default=None, choices=["evaluate"],
                   help="also compute the Hub's Hugging Face `evaluate` implementation of each metric and record both "
                        "(needs network for the Hub's metric code, and pip install 'nlptasks[evaluate]')")
    add_grid_args(o)
    add_model_args(p)
    add_placement_args(p)
    c = p.add_argument_group("prediction cache (resumes a killed evaluation; re-scores without re-predicting)")
    c.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where per-example predictions are cached (default: $NLPTASKS_CACHE_DIR, else the user "
                        "cache dir)")
    c.add_argument("--no-cache", action="store_true", help="predict every example again; store nothing")
    from .cmd_finetune import add_launch_args

    add_launch_args(p, what="evaluate")
    p.add_argument("--set", dest="overrides", nargs="+", default=None, metavar="OPTION=VALUE",
                   help="override a task option or generation setting, e.g. --set num_beams=4 max_new_tokens=64")
    p.set_defaults(func=main)


def _pairs(items, flag: str) -> dict:
    from ..errors import InputError

    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"{flag}: expected KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value
    return out


def _typed(values: dict) -> dict:
    import yaml

    out = {}
    for k, v in values.items():
        try:
            out[k] = yaml.safe_load(v) if v != "" else ""
        except yaml.YAMLError:
            out[k] = v
    return out


def main(args: argparse.Namespace) -> int:
    from ..api_eval import check_evaluation_options, evaluation_process, launch_evaluation
    from ..api_launch import launch_settings

    check_evaluation_options(limit=args.limit, output=args.output, cache_dir=args.cache_dir, no_cache=args.no_cache)
    where = placement_of(args)  # checked before any model loads
    how = launch_settings(vars(args))
    if how.wanted():
        return launch_evaluation(how, args.argv, where)
    with evaluation_process(where):  # in a launched process: joins the process group, takes its GPU
        if args.suite:
            return _suite(args)
        return _single(args)


def _cache(args: argparse.Namespace):
    return False if args.no_cache else args.cache_dir


def _single(args: argparse.Namespace) -> int:
    from ..api import benchmark_for, evaluate, format_result
    from ..errors import InputError

    if args.render:
        raise InputError("--render only applies with --suite")
    if args.reuse:
        raise InputError("--reuse only applies with --suite")
    if not args.benchmark:
        raise InputError("name a benchmark (`nlptasks benchmarks` lists them), a task with --data FILE, or --suite FILE")
    adhoc_flags = [f for f, v in (("--columns", args.columns), ("--reference-field", args.reference_field),
                                  ("--source-lang", args.source_lang), ("--target-lang", args.target_lang)) if v]
    if adhoc_flags and not args.data:
        raise InputError(f"{', '.join(adhoc_flags)} only apply with --data FILE")
    bench = benchmark_for(args.benchmark, data=args.data, columns=_pairs(args.columns, "--columns"),
                          reference_field=args.reference_field, source_lang=args.source_lang,
                          target_lang=args.target_lang)
    kw = model_kwargs(args)
    store = False if args.no_store else args.store
    record = evaluate(bench, args.model, limit=args.limit, data_dir=args.data_dir, output_dir=args.output,
                      log_samples=args.log_samples, store=store, country=args.country, grid_intensity=args.grid_intensity,
                      cache=_cache(args), reference_metrics=args.reference_metrics, **kw,
                      **_typed(_pairs(args.overrides, "--set")))
    if record is None:  # another process of a data-parallel run: the main one prints and writes
        return 0
    if args.json:
        sys.stdout.write(json.dumps(record, indent=1, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(format_result(record))
    sys.stdout.flush()
    return 0


def _suite(args: argparse.Namespace) -> int:
    from ..api import leaderboard, run_suite
    from ..errors import InputError
    from ..paths import check_output_folder

    if args.benchmark or args.data or args.model:
        raise InputError("--suite names its own benchmarks and models; drop BENCHMARK/--data/--model")
    if args.reference_metrics:
        raise InputError("--reference-metrics applies to one benchmark, not to --suite")
    if args.render:
        check_output_folder(args.render, flag="--render")
    store = False if args.no_store else args.store
    records = run_suite(args.suite, limit=args.limit, data_dir=args.data_dir, store=store, output_dir=args.output,
                        render_dir=args.render, batch_size=args.batch_size, country=args.country,
                        log=lambda m: print(f"nlptasks: {m}", file=sys.stderr), cache=_cache(args),
                        reuse=args.reuse)
    if any(r is None for r in records):  # another process of a data-parallel run
        return 0
    sys.stdout.write(leaderboard(records, fmt="table", include_partial=True))
    sys.stdout.flush()
    return 0
