"""`nlptasks finetune TASK --model M --train DATA --validation DATA --output DIR`."""
from __future__ import annotations

import argparse


def _csv(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def add_training_args(p: argparse.ArgumentParser, *, with_model: bool = True) -> None:
    from .common import positive_int

    p.add_argument("task", metavar="TASK", help="a task name or alias (`nlptasks tasks` lists them)")
    d = p.add_argument_group("data and output")
    if with_model:
        d.add_argument("--model", "-m", default=None,
                       help="base model: hub id, local dir, or `minilm` (the packaged MiniLM encoder; "
                            "default for sentiment and qa)")
    d.add_argument("--train", required=True, help="training data: .jsonl/.csv/.parquet file (shared-data schema), "
                                                  "benchmark name, or hub dataset NAME[:CONFIG][@SPLIT]")
    d.add_argument("--validation", default=None, help="validation data (same forms); enables evaluation, "
                                                     "best-checkpoint selection and early stopping")
    d.add_argument("--output", "-o", required=True, help="output folder (model, tokenizer, README.md model card)")
    d.add_argument("--resume", action="store_true", help="continue an interrupted run from its last checkpoint")
    d.add_argument("--overwrite", action="store_true", help="delete what --output holds and start over")
    d.add_argument("--limit-train", type=positive_int, default=None, help="use the first N training rows")
    d.add_argument("--limit-validation", type=positive_int, default=None, help="use the first N validation rows")

    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=float, default=3.0, help="epochs (default 3)")
    t.add_argument("--max-steps", type=int, default=-1, help="stop after N optimizer steps (overrides --epochs)")
    t.add_argument("--batch-size", type=positive_int, default=16, help="examples per device per step (default 16)")
    t.add_argument("--eval-batch-size", type=positive_int, default=None)
    t.add_argument("--grad-accum", type=positive_int, default=1, help="gradient accumulation steps")
    t.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (default 5e-5)")
    t.add_argument("--weight-decay", type=float, default=0.0)
    t.add_argument("--scheduler", default="linear", help="learning-rate schedule: linear (default), cosine, "
                                                         "constant, constant_with_warmup, polynomial, ...")
    t.add_argument("--warmup", type=float, default=0.0, help="warm-up: a fraction of the steps (<1) or steps")
    t.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 (fp16 if unsupported) on CUDA, fp32 on CPU")
    t.add_argument("--gradient-checkpointing", action="store_true", help="trade compute for memory")
    t.add_argument("--freeze-base", action="store_true", help="train the task head only (sentiment, qa)")
    t.add_argument("--lora", action="store_true", help="train LoRA adapters (peft); merged into the saved model")
    t.add_argument("--lora-r", type=positive_int, default=8)
    t.add_argument("--lora-alpha", type=positive_int, default=16)
    t.add_argument("--lora-dropout", type=float, default=0.05)
    t.add_argument("--lora-targets", type=_csv, default=None, help="module names to adapt (default: peft's "
                                                                   "choice for the architecture)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--group-by-length", action="store_true",
                   help="batch examples of similar length: less padding, faster steps (still shuffled, seeded)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="auto: CUDA when available")
    t.add_argument("--label-smoothing", type=float, default=0.0,
                   help="label smoothing of the cross-entropy loss (e.g. 0.1 for translation; default 0)")

    e = p.add_argument_group("evaluation and checkpoints")
    e.add_argument("--eval-steps", type=positive_int, default=None,
                   help="evaluate and checkpoint every N steps (default: every epoch)")
    e.add_argument("--save-steps", type=positive_int, default=None, help="checkpoint every N steps (no validation)")
    e.add_argument("--save-total-limit", type=positive_int, default=2, help="checkpoints kept (the best is kept)")
    e.add_argument("--early-stopping", type=positive_int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE evaluations without improvement")
    e.add_argument("--metric", default=None, choices=["loss"],
                   help="select checkpoints by validation loss instead of the task's metric (no generation)")
    e.add_argument("--max-new-tokens", type=positive_int, default=64, help="generation length when evaluating "
                                                                          "summarize/translate/chat")
    e.add_argument("--logging-steps", type=positive_int, default=50)

    x = p.add_argument_group("preprocessing")
    x.add_argument("--max-length", type=positive_int, default=None,
                   help="input tokens (default: sentiment 128, qa 384, summarize/translate/chat 512)")
    x.add_argument("--max-target-length", type=positive_int, default=None,
                   help="target/response tokens (default 128)")
    x.add_argument("--stride", type=positive_int, default=128, help="qa: overlap of context windows in tokens")
    x.add_argument("--prefix", default=None, help="seq2seq input prefix (default: the model's, e.g. T5's)")
    x.add_argument("--source-lang", default=None, help="translate: source language key (default: en)")
    x.add_argument("--target-lang", default=None, help="translate: target language key")
    x.add_argument("--labels", type=_csv, default=None,
                   help="sentiment: names of the label ids for a new head, comma-separated, in id order")
    x.add_argument("--new-head", action="store_true", help="sentiment: replace the model's classification head")
    if with_model:
        add_scratch_args(p)


def add_scratch_args(p: argparse.ArgumentParser) -> None:
    from .common import positive_int

    g = p.add_argument_group("from scratch (translate, summarize: a new tokenizer and model instead of --model)")
    g.add_argument("--from-scratch", action="store_true",
                   help="train a joint BPE tokenizer on --train and a new encoder-decoder model (no --model)")
    g.add_argument("--arch", default=None, choices=["marian", "bart"], help="model layout (default marian)")
    g.add_argument("--vocab-size", type=positive_int, default=None, help="joint source+target vocabulary "
                                                                          "(default 8000)")
    g.add_argument("--d-model", type=positive_int, default=None, help="hidden size (default 256)")
    g.add_argument("--layers", type=positive_int, default=None, help="encoder and decoder layers (default 3)")
    g.add_argument("--encoder-layers", type=positive_int, default=None, help="encoder layers (default --layers)")
    g.add_argument("--decoder-layers", type=positive_int, default=None, help="decoder layers (default --layers)")
    g.add_argument("--heads", type=positive_int, default=None, help="attention heads (default 4)")
    g.add_argument("--ffn-dim", type=positive_int, default=None, help="feed-forward size (default 4 x --d-model)")
    g.add_argument("--dropout", type=float, default=None, help="dropout and attention dropout (default 0.1)")
    g.add_argument("--max-positions", type=positive_int, default=None,
                   help="longest input/output in tokens (default 512)")


def settings_from_args(args: argparse.Namespace) -> dict:
    """The FinetuneSettings keywords the parser filled (task, model, data and output are passed apart)."""
    from ..training.settings import FinetuneSettings

    apart = {"task", "model", "train", "validation", "output", "extra"}
    return {k: getattr(args, k) for k in sorted(FinetuneSettings.names() - apart) if hasattr(args, k)}


def register(sub) -> None:
    from ..training.launch import add_launch_args

    p = sub.add_parser("finetune", help="fine-tune a model for a task (transformers Trainer, accelerate)",
                       description="Fine-tune a model for a task on transformers' Trainer. Evaluates on "
                                   "--validation with the task's metric, keeps the best checkpoint, and writes "
                                   "model + tokenizer + model card to --output. Multi-GPU / multi-node: "
                                   "--num-processes N, or `accelerate launch -m nlptasks finetune ...`.")
    add_training_args(p)
    add_launch_args(p)
    p.set_defaults(func=main, _parser=p)


def main(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..training.launch import launch, wants_launch
    from ..training.spec import training_spec

    task = training_spec(args.task)
    if wants_launch(args):
        return launch(args, args._parser, "finetune")
    model = args.model or (None if args.from_scratch else task.default_base_model)
    if not model and not args.from_scratch:
        scratch = ", or --from-scratch" if task.trainer_kind == "seq2seq" else ""
        raise InputError(f"finetune {task.name}: pass --model (a seq2seq or causal LM hub id or local dir)"
                         f"{scratch}")
    from ..training.trainer import finetune

    print_result(finetune(task.name, model, args.train, args.validation, args.output, **settings_from_args(args)))
    return 0


def print_result(result: dict) -> None:
    """The run's JSON summary on stdout, written once: by the main process of a multi-process run."""
    import os
    import sys

    from ..training.trainer import dumps

    if result.get("world_size", 1) == 1 or os.environ.get("RANK", "0") == "0":
        sys.stdout.write(dumps(result) + "\n")
        sys.stdout.flush()
