"""`nlptasks results`: list, show, import and export stored evaluation results."""
from __future__ import annotations

import argparse
import json
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("results", help="list, show, import or export stored results",
                              description="Manage the results store (SQLite by default; any SQLAlchemy URL).")
    p.add_argument("--store", metavar="PATH|URL", help="results store (default: $NLPTASKS_STORE or the user data dir)")
    common = argparse.ArgumentParser(add_help=False)  # --store also accepted after the action
    common.add_argument("--store", metavar="PATH|URL", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="results_command", metavar="ACTION", required=True)
    a = sub.add_parser("list", parents=[common], help="one line per stored result")
    a.add_argument("--task")
    a.add_argument("--benchmark")
    a.add_argument("--model")
    a.set_defaults(func=run_list)
    a = sub.add_parser("show", parents=[common], help="print one result as JSON")
    a.add_argument("run_id")
    a.set_defaults(func=run_show)
    a = sub.add_parser("import", parents=[common], help="add results from a JSON file (a list, one record, or JSON lines)",
                       description="Add result records, all or nothing: every record is validated first, and a run id "
                                   "already stored with different content is refused unless --replace.")
    a.add_argument("file")
    a.add_argument("--replace", action="store_true", help="overwrite stored results that have the same run id")
    a.set_defaults(func=run_import)
    a = sub.add_parser("export", parents=[common], help="write all results as one JSON list, or one model's as "
                                                       "the Hub's model-index YAML",
                       description="Write all results as one JSON list (--format json), or, with --format "
                                   "model-index --model NAME, the model's results as the `model-index:` block of a "
                                   "Hugging Face model card's YAML front matter (one result per benchmark: the full "
                                   "run of the float32 variant first, then the latest).")
    a.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    a.add_argument("--format", default="json", choices=["json", "model-index"], help="json (default) or model-index")
    a.add_argument("--model", default=None, help="with --format model-index: the model whose results to write")
    a.add_argument("--benchmark", default=None, help="with --format model-index: only this benchmark")
    a.add_argument("--name", default=None, help="with --format model-index: the model's name in the model-index "
                                                "(default: --model), e.g. the Hub repository id")
    a.set_defaults(func=run_export)
    a = sub.add_parser("delete", parents=[common], help="remove one result")
    a.add_argument("run_id")
    a.set_defaults(func=run_delete)


def _store(args) -> str | None:
    """The store named by --store (given before or after the action)."""
    return getattr(args, "store", None)


def run_list(args) -> int:
    from ..api_results import list_results, result_line

    records, location = list_results(_store(args), task=args.task, benchmark=args.benchmark, model=args.model)
    if not records:
        print(f"nlptasks: no results in {location}", file=sys.stderr)
        return 0
    for r in records:
        print(result_line(r))
    return 0


def run_show(args) -> int:
    from ..api_results import get_result

    print(json.dumps(get_result(args.run_id, _store(args)), indent=1, sort_keys=True))
    return 0


def run_import(args) -> int:
    from ..api_results import import_results

    n, location = import_results(args.file, _store(args), replace=args.replace)
    print(f"nlptasks: imported {n} result(s) into {location}", file=sys.stderr)
    return 0


def run_export(args) -> int:
    from ..api_results import check_output_beside_store, export_results

    check_output_beside_store(args.output, _store(args))  # never over the store
    if args.format == "model-index" or args.model or args.benchmark or args.name:
        return _export_model_index(args)
    n = export_results(args.output if args.output else sys.stdout, _store(args))
    if args.output:
        print(f"nlptasks: exported {n} result(s) to {args.output}", file=sys.stderr)
    return 0


def _export_model_index(args) -> int:
    from ..api_results import export_model_index
    from ..errors import InputError
    from ..io import atomic_write

    if args.format != "model-index":
        raise InputError("--model, --benchmark and --name apply to --format model-index")
    if not args.model:
        raise InputError("--format model-index needs --model NAME (`nlptasks results list` shows the stored models)")
    text, n = export_model_index(args.model, _store(args), benchmark=args.benchmark, name=args.name)
    if args.output:
        atomic_write(args.output, text)
        print(f"nlptasks: wrote the model-index of {args.model} ({n} result(s)) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def run_delete(args) -> int:
    from ..api_results import delete_result

    delete_result(args.run_id, _store(args))
    return 0
