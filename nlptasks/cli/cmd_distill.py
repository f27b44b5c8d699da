"""`nlptasks distill TASK --teacher T (--student S | --student-layers N) --train DATA --output DIR`."""
from __future__ import annotations

import argparse


def register(sub) -> None:
    from ..api_training import distill_defaults
    from .cmd_finetune import add_launch_args, add_training_args
    from .common import positive_int

    defaults = distill_defaults()

    p = sub.add_parser("distill", help="distil a fine-tuned teacher into a smaller student",
                       description="Knowledge distillation. sentiment/qa: logit distillation (temperature, alpha "
                                   "mixing with the hard-label loss); summarize/translate/chat: sequence-level "
                                   "distillation on the teacher's greedy outputs (cached in OUTPUT/teacher_outputs). "
                                   "Reports teacher vs student quality, speed and cost side by side.")
    add_training_args(p, with_model=False)
    g = p.add_argument_group("distillation")
    g.add_argument("--teacher", required=True, help="the fine-tuned teacher (local dir or hub id)")
    g.add_argument("--student", default=None, help="student model (shares the teacher's tokenizer for sentiment/qa)")
    g.add_argument("--student-layers", type=positive_int, default=None,
                   help="sentiment/qa: student = the teacher's first N transformer layers")
    g.add_argument("--temperature", type=float, default=defaults["temperature"],
                   help="softmax temperature (default %(default)s)")
    g.add_argument("--alpha", type=float, default=defaults["alpha"],
                   help="weight of the distillation loss; 1 - alpha weighs the hard-label loss (default %(default)s)")
    add_launch_args(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..api_training import select_training
    from .cmd_finetune import check_outputs, launch_settings, print_result, relaunch, run_options, settings_from_args

    task = select_training(args.task)
    check_outputs(args, "distill")
    how = launch_settings(args)
    if how.wanted():
        options = {"teacher": args.teacher, "student": args.student, "student_layers": args.student_layers,
                   "temperature": args.temperature, "alpha": args.alpha, **run_options(args)}
        return relaunch(args, how, "distill", options)
    from ..api import distill

    print_result(distill(task.name, args.teacher, args.train, args.validation, args.output, student=args.student,
                         student_layers=args.student_layers, temperature=args.temperature, alpha=args.alpha,
                         **settings_from_args(args)))
    return 0



