"""`nlptasks run TASK`: predict for a file, stdin, or JSON Lines."""
from __future__ import annotations

import argparse

from .common import (add_grid_args, add_model_args, add_placement_args, add_task_options, model_kwargs,
                     placement_of, task_options)


def register(sub) -> None:
    from ..api_tasks import registered_tasks

    p = sub.add_parser("run", help="run a task on text or JSON Lines input",
                       description="Run a task. `nlptasks run TASK --help` lists the task's own options.")
    tasks = p.add_subparsers(dest="task", metavar="TASK", required=True)
    for name, cls in registered_tasks():
        tp = tasks.add_parser(name, aliases=list(cls.aliases), help=cls.description,
                              description=f"{cls.description} Default model: {cls.default_model}.")
        tp.set_defaults(task_name=name)
        add_io_args(tp, cls)
        add_model_args(tp)
        add_placement_args(tp)
        add_task_options(tp, cls)
        add_explain_args(tp, cls)
        tp.set_defaults(func=main)


def add_io_args(p: argparse.ArgumentParser, cls) -> None:
    g = p.add_argument_group("input / output")
    unit = "the whole text is one document" if cls.text_mode == "document" else "one item per line"
    g.add_argument("--input", "-i", default=None,
                   help=f"input file (default: stdin); plain text ({unit}) or JSON Lines")
    g.add_argument("--input-format", default="auto", choices=["auto", "text", "jsonl"],
                   help="input format (auto: JSON Lines when lines are JSON objects or the name ends in .jsonl)")
    g.add_argument("--field", default=None,
                   help=f"JSON Lines: the field holding the input (default: {cls.text_field!r})")
    g.add_argument("--output", "-o", default=None, help="output file (default: stdout); written atomically")
    g.add_argument("--format", "-f", default=None, choices=["text", "jsonl"],
                   help="output format (default: the input's format)")
    g.add_argument("--prediction-prefix", default=None, metavar="PREFIX",
                   help="JSON Lines output: write the predictions as PREFIX+field (e.g. predicted_label), "
                        "beside the input's own fields")
    g.add_argument("--overwrite-fields", action="store_true",
                   help="JSON Lines output: let predictions replace input fields of the same name (refused "
                        "by default: they may be gold labels)")
    g.add_argument("--cost", action="store_true", help="print a one-line cost summary (time, energy, CO2e) on stderr")
    add_grid_args(g, prefix="with --cost: ")


def add_explain_args(p: argparse.ArgumentParser, cls) -> None:
    """--explain / --explain-method / --explain-html (nlptasks/explain/; docs/guide/explain.md)."""
    from ..api_tasks import explain_methods

    methods = explain_methods(cls)
    if methods is None:
        return
    g = p.add_argument_group("explanations")
    g.add_argument("--explain", action="store_true",
                   help="add an 'explanation' field to each output (JSON Lines output shows it)")
    g.add_argument("--explain-method", default=None, choices=list(methods),
                   help=f"how to explain (implies --explain; default: {methods[0]})")
    g.add_argument("--explain-html", default=None, metavar="FILE",
                   help="also write the explanations as one self-contained HTML page (implies --explain)")


def explain_kwargs(args: argparse.Namespace) -> dict:
    if not hasattr(args, "explain"):
        return {}
    return {"explain": args.explain, "explain_method": args.explain_method, "explain_html": args.explain_html}


def main(args: argparse.Namespace) -> int:
    from ..api import run_file, task_class
    from ..api_placement import placed

    cls = task_class(args.task_name)
    with placed(placement_of(args)):
        return run_file(cls, args.input, args.output, model=args.model, input_format=args.input_format,
                        field=args.field, output_format=args.format, cost=args.cost, country=args.country,
                        grid_intensity=args.grid_intensity, overwrite_fields=args.overwrite_fields,
                        prediction_prefix=args.prediction_prefix, **model_kwargs(args), **task_options(args, cls),
                        **explain_kwargs(args))
