"""`nlptasks finetune TASK --model M --train DATA --validation DATA --output DIR`."""
from __future__ import annotations

import argparse


class _Deprecated(argparse.Action):
    """An old flag name: sets the same value and says which flag to use (``--stride`` -> ``--doc-stride``)."""

    NEW = {"--stride": "--doc-stride"}

    def __call__(self, parser, namespace, values, option_string=None):
        import sys

        print(f"nlptasks: warning: {option_string} is deprecated; use {self.NEW.get(option_string)}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _csv(value: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def add_training_args(p: argparse.ArgumentParser, *, with_model: bool = True) -> None:
    """The arguments of ``finetune`` and ``distill``: the task, the data and output, and one ``--flag`` per
    :class:`FinetuneSettings` field (its name with dashes), whose default is the field's."""
    from ..api_training import setting_choices, setting_defaults
    from .common import positive_int

    defaults = setting_defaults()
    choices = setting_choices()

    def setting(group, name: str, *short: str, **kw) -> None:
        if isinstance(defaults[name], bool):
            kw.setdefault("action", "store_true")
        else:
            kw.setdefault("default", defaults[name])
        group.add_argument("--" + name.replace("_", "-"), *short, **kw)

    p.add_argument("task", metavar="TASK", help="a task name or alias (`nlptasks tasks` lists them)")
    d = p.add_argument_group("data and output")
    if with_model:
        d.add_argument("--model", "-m", default=None,
                       help="base model: hub id, local dir, or `minilm` (the packaged MiniLM encoder; "
                            "default for sentiment and qa)")
    d.add_argument("--train", required=True, help="training data: .jsonl/.csv/.parquet file (shared-data schema), "
                                                  "benchmark name (its training split; never the data it scores), "
                                                  "or hub dataset NAME[:CONFIG][@SPLIT]")
    d.add_argument("--validation", default=None, help="validation data (same forms; a benchmark name reads "
                                                     "the data it scores); enables evaluation, "
                                                     "best-checkpoint selection and early stopping")
    d.add_argument("--output", "-o", required=True, help="output folder (model, tokenizer, README.md model card)")
    setting(d, "resume", help="continue an interrupted run from its last checkpoint")
    setting(d, "overwrite", help="delete what --output holds and start over")
    setting(d, "limit_train", type=positive_int, help="use the first N training rows")
    setting(d, "limit_validation", type=positive_int, help="use the first N validation rows")

    t = p.add_argument_group("training")
    setting(t, "epochs", type=float, help="epochs (default %(default)s)")
    setting(t, "max_steps", type=int, help="stop after N optimizer steps (overrides --epochs)")
    setting(t, "batch_size", type=positive_int, help="examples per device per step (default %(default)s)")
    setting(t, "eval_batch_size", type=positive_int)
    setting(t, "grad_accum", type=positive_int, help="gradient accumulation steps")
    setting(t, "lr", type=float, help="peak learning rate (default %(default)s)")
    setting(t, "weight_decay", type=float)
    setting(t, "scheduler", help="learning-rate schedule: linear (default), cosine, "
                                 "constant, constant_with_warmup, polynomial, ...")
    setting(t, "warmup", type=float, help="warm-up: a fraction of the steps (<1) or steps")
    setting(t, "precision", choices=choices["precision"], help="auto: bf16 (fp16 if unsupported) on CUDA, fp32 on CPU")
    setting(t, "gradient_checkpointing", help="trade compute for memory")
    setting(t, "freeze_base", help="train the task head only (sentiment, qa)")
    setting(t, "lora", help="train LoRA adapters (peft); merged into the saved model unless --lora-save adapter")
    setting(t, "lora_r", type=positive_int)
    setting(t, "lora_alpha", type=positive_int)
    setting(t, "lora_dropout", type=float)
    setting(t, "lora_targets", type=_csv, help="module names to adapt, or all-linear (every Linear layer but the "
                                               "task head); default: peft's choice for the architecture")
    setting(t, "lora_save", choices=choices["lora_save"],
            help="merged (default): a plain transformers model; adapter: peft adapter files (adapter_config.json, "
                 "adapter_model.safetensors with the task head), loaded over the base model")
    setting(t, "adapter_dtype", choices=choices["adapter_dtype"],
            help="--lora-save adapter: storage dtype of the adapter weights (default float32)")
    setting(t, "seed", type=int, help="random seed (default %(default)s)")
    setting(t, "group_by_length",
            help="batch examples of similar length: less padding, faster steps (still shuffled, seeded)")
    setting(t, "device", choices=["auto", "cpu", "cuda"], help="auto: CUDA when available")
    setting(t, "trust_remote_code",
            help="allow model folders/repositories to run their own Python code (off by default)")
    setting(t, "label_smoothing", type=float,
            help="label smoothing of the cross-entropy loss (e.g. 0.1 for translation; default 0)")
    setting(t, "class_weights", choices=choices["class_weights"],
            help="classification: weigh each class's loss; balanced = n / (k * n_c) from the training labels "
                 "(recorded in the run's settings and preprocessing)")

    e = p.add_argument_group("evaluation and checkpoints")
    setting(e, "eval_steps", type=positive_int, help="evaluate and checkpoint every N steps (default: every epoch)")
    setting(e, "save_steps", type=positive_int, help="checkpoint every N steps (no validation)")
    setting(e, "save_total_limit", type=positive_int, help="checkpoints kept (the best is kept)")
    setting(e, "early_stopping", type=positive_int, metavar="PATIENCE",
            help="stop after PATIENCE evaluations without improvement")
    setting(e, "metric", choices=["loss"],
            help="select checkpoints by validation loss instead of the task's metric (no generation)")
    setting(e, "max_new_tokens", type=positive_int,
            help="generation length when evaluating summarize/translate/chat")
    setting(e, "logging_steps", type=positive_int)

    x = p.add_argument_group("preprocessing")
    setting(x, "max_length", type=positive_int,
            help="input tokens (default: sentiment 128, qa 384, summarize/translate/chat 512)")
    setting(x, "max_target_length", type=positive_int, help="target/response tokens (default 128)")
    setting(x, "doc_stride", type=positive_int, help="qa: overlap of context windows in tokens (the flag of "
                                                      "`run qa`/`eval`)")
    x.add_argument("--stride", dest="doc_stride", type=positive_int, action=_Deprecated, help=argparse.SUPPRESS)
    setting(x, "prefix", help="seq2seq input prefix (default: the model's, e.g. T5's)")
    setting(x, "source_lang", help="translate: source language key (default: en)")
    setting(x, "target_lang", help="translate: target language key")
    setting(x, "labels", type=_csv,
            help="sentiment: names of the label ids for a new head, comma-separated, in id order")
    setting(x, "new_head", help="sentiment: replace the model's classification head")
    if with_model:
        g = p.add_argument_group("from scratch (translate, summarize: a new tokenizer and model instead of --model)")
        setting(g, "from_scratch",
                help="train a joint BPE tokenizer on --train and a new encoder-decoder model (no --model)")
        setting(g, "arch", choices=choices["arch"], help="model layout (default marian)")
        setting(g, "vocab_size", type=positive_int, help="joint source+target vocabulary (default 8000)")
        setting(g, "d_model", type=positive_int, help="hidden size (default 256)")
        setting(g, "layers", type=positive_int, help="encoder and decoder layers (default 3)")
        setting(g, "encoder_layers", type=positive_int, help="encoder layers (default --layers)")
        setting(g, "decoder_layers", type=positive_int, help="decoder layers (default --layers)")
        setting(g, "heads", type=positive_int, help="attention heads (default 4)")
        setting(g, "ffn_dim", type=positive_int, help="feed-forward size (default 4 x --d-model)")
        setting(g, "dropout", type=float, help="dropout and attention dropout (default 0.1)")
        setting(g, "max_positions", type=positive_int, help="longest input/output in tokens (default 512)")
    v = p.add_argument_group("model families without a Trainer (built on the packaged MiniLM encoder)")
    setting(v, "retrieval", help="chat: build a retrieval model over the training pairs "
                                 "(the default with --model minilm)")
    setting(v, "extractive", help="summarize: train a supervised extractive sentence scorer "
                                  "(the default with --model minilm)")


def add_launch_args(p: argparse.ArgumentParser, what: str = "train") -> None:
    """One flag per launch option (:func:`nlptasks.api_launch.launch_options`)."""
    g = p.add_argument_group("distributed (re-launches itself with `accelerate launch`)")
    g.add_argument("--num-processes", type=int, default=None,
                   help=f"{what} data-parallel on N processes in all (one per GPU; CPU processes use gloo)")
    g.add_argument("--num-machines", type=int, default=None, help="machines taking part (multi-node)")
    g.add_argument("--machine-rank", type=int, default=None, help="rank of this machine (0 = main)")
    g.add_argument("--main-process-ip", default=None, help="address of the machine of rank 0")
    g.add_argument("--main-process-port", type=int, default=None, help="port on the machine of rank 0")
    g.add_argument("--accelerate-config", default=None,
                   help="an `accelerate config` file (FSDP, DeepSpeed, mixed precision...)")


def launch_settings(args: argparse.Namespace):
    from ..api_launch import launch_settings as settings

    return settings(vars(args))


def relaunch(args: argparse.Namespace, how, command: str, options: dict) -> int:
    """Run this command again in every process of ``how``: the task and ``options`` (setting -> value)."""
    from ..api_training import relaunch_training

    verbosity = ["-v"] * (args.verbose or 0) + (["-q"] if args.quiet else [])
    return relaunch_training(how, command, args.task, options, verbosity)


def run_options(args: argparse.Namespace) -> dict:
    """The data, output and settings of a parsed finetune/distill command, by setting name."""
    data = {k: getattr(args, k) for k in ("model", "train", "validation", "output") if hasattr(args, k)}
    return {**data, **settings_from_args(args)}


def settings_from_args(args: argparse.Namespace) -> dict:
    """The FinetuneSettings keywords the parser filled (task, model, data and output are passed apart)."""
    from ..api_training import setting_names

    apart = {"task", "model", "train", "validation", "output"}
    return {k: getattr(args, k) for k in sorted(setting_names() - apart) if hasattr(args, k)}


def register(sub) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model for a task (transformers Trainer, accelerate)",
                       description="Fine-tune a model for a task on transformers' Trainer. Evaluates on "
                                   "--validation with the task's metric, keeps the best checkpoint, and writes "
                                   "model + tokenizer + model card to --output. Multi-GPU / multi-node: "
                                   "--num-processes N, or `accelerate launch -m nlptasks finetune ...`.")
    add_training_args(p)
    add_launch_args(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..api import finetune
    from ..api_training import base_model, select_training

    task = select_training(args.task, args.model, vars(args))
    check_outputs(args, "finetune")
    how = launch_settings(args)
    if how.wanted():
        return relaunch(args, how, "finetune", run_options(args))
    model = base_model(task, args.model, args.from_scratch)
    print_result(finetune(task.name, model, args.train, args.validation, args.output, **settings_from_args(args)))
    return 0


def check_outputs(args: argparse.Namespace, kind: str) -> None:
    """The output folder and stdout (the JSON summary), before any data or model loads."""
    from ..paths import check_output_dir, check_stdout

    check_output_dir(args.output, kind=kind, overwrite=args.overwrite, resume=args.resume)
    check_stdout()


def print_result(result: dict) -> None:
    """The run's JSON summary on stdout, written once: by the main process of a multi-process run."""
    import os
    import sys

    from ..api_training import training_summary

    if result.get("world_size", 1) == 1 or os.environ.get("RANK", "0") == "0":
        sys.stdout.write(training_summary(result) + "\n")
        sys.stdout.flush()
