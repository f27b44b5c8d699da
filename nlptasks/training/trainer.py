"""Fine-tuning on ``transformers.Trainer`` (data-parallel when launched by accelerate); validation predicts
through the task's own predict path (``Prepared.validate``).

``run(settings)`` is a pipeline of small stages, each a function below, in this order:

1. :func:`_setup`          the task's training spec, device and precision (``--precision fp16`` on CPU is refused)
2. :func:`_data`           training and validation records
3. :func:`_model`          tokenizer and model: :func:`build_model` (new head, ``--freeze-base``, ``--lora``)
4. :func:`_features`       records -> features, collator, metric; every input error is raised by here
5. :func:`_output_folder`  ``TrainingArguments``; ``--resume``/``--overwrite`` checks, then ``run.json``
6. :func:`_trainer`        the Trainer, with its callbacks and validation through the task's predict path
7. :func:`_train`          train inside the cost tracker with evaluation, best-checkpoint selection and
                           early stopping; evaluate the best model
8. :func:`_result`         the result record (``training_result.json``)
9. :func:`_publish`        model (LoRA merged), tokenizer, model card and result, atomically (main process)

Distillation is not a variant of this code but a strategy object (:class:`nlptasks.training.distillation.Distillation`)
that ``run`` calls at stages 2, 3, 6 and 8: it provides the data and teacher targets, the student model,
the distillation loss, and the teacher/student comparison of the result.
"""
from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..paths import check_output_dir
from . import outputs
from .callbacks import ProgressAndMetrics, stop_hook
from .data import Dataset
from .features import Prepared, prepare
from .models import (add_lora, freeze_base, load_config, load_model, load_tokenizer, merge_lora,
                     model_path)
from .data import load_data
from .families import training_spec
from .loops import _trainer_class
from .outputs import environment as _environment
from .settings import FinetuneSettings
from .spec import TrainingSpec

# the strategy of a distillation run (training.distillation.Distillation, which imports this module to run:
# named here by duck type only, so the two modules do not import each other)
Strategy = Any

log = logging.getLogger("nlptasks")


def _precision(s: FinetuneSettings, cuda: bool) -> str:
    import torch

    if s.precision == "auto":
        return ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if s.precision == "fp16" and not cuda:
        raise InputError("--precision fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    return s.precision


def training_args(task: TrainingSpec, s: FinetuneSettings, out: Path, prepared: Prepared, cuda: bool, precision: str):
    from transformers import TrainingArguments

    has_eval = prepared.eval is not None
    eval_steps = s.eval_steps or (s.max_steps if s.max_steps > 0 else None)
    if has_eval:
        eval_strategy = save_strategy = "steps" if eval_steps else "epoch"
        save_steps = eval_steps
    else:
        eval_strategy = "no"
        save_steps = s.save_steps or eval_steps
        save_strategy = "steps" if save_steps else "epoch"
    by_loss = s.metric == "loss" or (prepared.compute_metrics is None and prepared.validate is None)
    kw = dict(
        output_dir=str(out / outputs.CHECKPOINTS), num_train_epochs=s.epochs, max_steps=s.max_steps,
        per_device_train_batch_size=s.batch_size, per_device_eval_batch_size=s.eval_batch_size or s.batch_size,
        gradient_accumulation_steps=s.grad_accum, learning_rate=s.lr, weight_decay=s.weight_decay,
        lr_scheduler_type=s.scheduler, warmup_steps=s.warmup, label_smoothing_factor=s.label_smoothing,
        eval_strategy=eval_strategy,
        eval_steps=eval_steps if eval_strategy == "steps" else None, save_strategy=save_strategy,
        save_steps=save_steps if save_strategy == "steps" else None, save_total_limit=s.save_total_limit,
        load_best_model_at_end=has_eval,
        metric_for_best_model=("eval_loss" if by_loss else f"eval_{task.metric_key}") if has_eval else None,
        greater_is_better=(not by_loss and task.greater_is_better) if has_eval else None,
        logging_strategy="steps", logging_steps=s.logging_steps, report_to=[], seed=s.seed, data_seed=s.seed,
        train_sampling_strategy="group_by_length" if s.group_by_length else "random",
        bf16=precision == "bf16", fp16=precision == "fp16", use_cpu=not cuda,
        activation_checkpointing=s.gradient_checkpointing or None, disable_tqdm=True, remove_unused_columns=False,
        dataloader_num_workers=0, label_names=prepared.label_names, log_level="warning",
        average_tokens_across_devices=False,  # plain per-rank mean losses (DDP averages the gradients)
        ddp_find_unused_parameters=False if s.freeze_base or s.lora else None,
    )
    return TrainingArguments(**kw)


def build_model(task: TrainingSpec, s: FinetuneSettings, path: str, config, train_records, val_records):
    """The model to train and its label names (classification heads; else None)."""
    import transformers

    transformers.set_seed(s.seed)
    if s.freeze_base and not task.freeze_base_ok:
        raise InputError(f"--freeze-base trains the task head only: it does not apply to {task.name} "
                         f"(use --lora for seq2seq and chat models)")
    names, kwargs = task.model_labels(s, config, train_records, val_records)
    model = load_model(path, task.auto_class, s.trust_remote_code, **kwargs)
    if s.freeze_base:
        n = freeze_base(model)
        log.info("--freeze-base: %d trainable parameters", n)
    if s.lora:
        model = add_lora(model, task.peft_task_type, s.lora_r, s.lora_alpha, s.lora_dropout, s.lora_targets)
        if s.gradient_checkpointing:
            model.enable_input_require_grads()
    return model, names


@dataclass
class TrainingRun:
    """What the stages of one run hand on to the next (each stage fills its part)."""

    s: FinetuneSettings
    task: TrainingSpec
    out: Path
    cuda: bool
    precision: str
    kind: str = "finetune"                       # "finetune" or "distill" (result, model card, messages)
    distillation: Strategy | None = None
    train: Dataset | None = None                 # _data
    validation: Dataset | None = None
    train_records: list[dict] = field(default_factory=list)
    base_weights_sha256: str | None = None       # _model: the base's weights (local bases)
    model: Any = None                            # _model
    tokenizer: Any = None
    labels: list[str] | None = None
    prepared: Prepared | None = None             # _features
    args: Any = None                             # _output_folder
    resume_from: Path | None = None

    @property
    def val_records(self) -> list[dict] | None:
        return self.validation.records if self.validation else None


def run(s: FinetuneSettings, distillation: Strategy | None = None) -> dict:
    """Fine-tune per ``s`` (or distil, with a ``distillation`` strategy); returns the result record (also
    written to ``training_result.json``)."""
    if distillation is None:
        spec = training_spec(s.task).select(s.model, s.record())
        _check_class_weights(s, spec, None)
        if spec.trainer_kind == "fit":  # a family without a Trainer (retrieval index, extractive scorer)
            from .fitted import run_fit

            return run_fit(spec, s)
    r = _setup(s, distillation)
    _data(r)
    _model(r)
    _features(r)
    _output_folder(r)
    trainer = _trainer(r)
    train_out, metrics, tracker = _train(r, trainer)
    result = _result(r, trainer, train_out, metrics, tracker)
    _publish(r, trainer, result, metrics, tracker)
    return result


# -- the stages ------------------------------------------------------------------------------------
def _check_class_weights(s: FinetuneSettings, task: TrainingSpec, distillation) -> None:
    if s.class_weights and (distillation is not None or not task.class_weights_ok):
        raise InputError(f"--class-weights weighs a classification loss: it does not apply to "
                         f"{'distillation' if distillation is not None else task.name}")


def _setup(s: FinetuneSettings, distillation: Strategy | None) -> TrainingRun:
    import torch

    task = training_spec(s.task)
    s.task = task.name
    _check_class_weights(s, task, distillation)
    cuda = torch.cuda.is_available() and s.device != "cpu"
    return TrainingRun(s, task, Path(s.output), cuda, _precision(s, cuda),
                       kind=distillation.kind if distillation else "finetune", distillation=distillation)


def _data(r: TrainingRun) -> None:
    """The data (a distillation brings its own, loaded before the teacher) and the records to train on
    (sequence-level distillation: the teacher's outputs as targets)."""
    d = r.distillation
    r.train, r.validation = d.data if d else load_data(r.s)
    r.train_records = d.training_records(r.train) if d else r.train.records


def _model(r: TrainingRun) -> None:
    """The tokenizer and the model to train: a distillation's student, or :func:`build_model`."""
    student = r.distillation.student() if r.distillation else None
    if student is not None:
        r.model, r.tokenizer = student
        r.labels = r.task.labels_of(r.model)
        return
    if r.s.from_scratch:  # a new tokenizer + model in place of from_pretrained
        from .scratch import build

        r.model, r.tokenizer = build(r.task, r.s, r.train_records)
        r.labels = r.task.labels_of(r.model)
        return
    path = model_path(r.s.model)
    from ..backend.encoder import encoder_weights_hash

    r.base_weights_sha256 = encoder_weights_hash(path)
    config = load_config(path, r.s.trust_remote_code)
    r.tokenizer = load_tokenizer(path, r.s.trust_remote_code)
    r.model, r.labels = build_model(r.task, r.s, path, config, r.train_records, r.val_records)


def _features(r: TrainingRun) -> None:
    label2id = {n: i for i, n in enumerate(r.labels)} if r.labels else None
    r.prepared = prepare(r.task, r.s, r.tokenizer, r.model.config, r.train_records, r.val_records, label2id)
    check = getattr(r.prepared.validate, "check", None)
    if check is not None:  # validation's task options against the model, before any training step
        check(r.model)


def _output_folder(r: TrainingRun) -> None:
    """Training arguments and the output folder, checked after the data (a bad file leaves an earlier run
    untouched) by every rank, then started by the main process."""
    from accelerate import PartialState

    s = r.s
    r.args = training_args(r.task, s, r.out, r.prepared, r.cuda, r.precision)
    run_settings = {**s.record(), "train_data": r.train.fingerprint,
                    "validation_data": r.validation.fingerprint if r.validation else None}
    r.resume_from = outputs.check(r.out, kind=r.kind, resume=s.resume, overwrite=s.overwrite, settings=run_settings)
    PartialState().wait_for_everyone()  # every rank has checked before the main process writes
    with r.args.main_process_first(local=False, desc="output folder"):
        if r.args.process_index == 0:
            outputs.start(r.out, kind=r.kind, resume=s.resume, overwrite=s.overwrite, settings=run_settings)


def _trainer(r: TrainingRun):
    """The Trainer (a distillation may wrap it: its loss), with validation through the task's own predict
    path, the progress/metric lines, early stopping and the test stop hook."""
    from transformers import EarlyStoppingCallback, PrinterCallback, ProgressCallback

    args, prepared = r.args, r.prepared
    cls = _trainer_class()
    kwargs: dict = {}
    if r.distillation:
        cls, kwargs = r.distillation.trainer(cls)
    if prepared.class_weights is not None:  # --class-weights: weighted cross-entropy (training/class_weights.py)
        from .class_weights import loss_function

        kwargs["compute_loss_func"] = loss_function(prepared.class_weights, r.s.label_smoothing)
    callbacks = [ProgressAndMetrics(args.metric_for_best_model[5:] if args.metric_for_best_model else None,
                                    bool(args.greater_is_better))]
    if r.s.early_stopping:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=r.s.early_stopping))
    hook = stop_hook()
    if hook:
        callbacks.append(hook)
    trainer = cls(model=r.model, args=args, data_collator=prepared.collator, train_dataset=prepared.train,
                  eval_dataset=prepared.eval, processing_class=r.tokenizer, compute_metrics=prepared.compute_metrics,
                  callbacks=callbacks, **kwargs)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.validate_with = prepared.validate  # validation through the task's own predict path
    return trainer


def _train(r: TrainingRun, trainer):
    """Train (resuming if asked) inside the cost tracker, then evaluate the best model; returns the
    Trainer's train output, the final validation metrics (without ``eval_``) and the tracker."""
    from .. import cost_hooks
    from ..cost import CostTracker

    if trainer.is_world_process_zero():
        print(f"nlptasks: {r.kind} {r.task.name}: {r.s.model or 'a new model'} on {len(r.train_records)} examples "
              f"({len(r.prepared.train)} features), {r.args.world_size} process(es), {r.precision}"
              + (f", resuming from {r.resume_from.name}" if r.resume_from else ""), file=sys.stderr, flush=True)
    with CostTracker(device="cuda" if r.cuda else "cpu") as tracker:
        cost_hooks.report_model(r.model)
        train_out = trainer.train(resume_from_checkpoint=str(r.resume_from) if r.resume_from else None)
        _progress(trainer).final = True
        final = trainer.evaluate() if r.prepared.eval is not None else {}
    return train_out, _scores(final, "eval_"), tracker


def _result(r: TrainingRun, trainer, train_out, metrics: dict, tracker) -> dict:
    s, state = r.s, trainer.state
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1])
    history = [{"epoch": h.get("epoch", 0.0), "step": h.get("step"), **_scores(h, "eval_", keep_epoch=True)}
               for h in state.log_history if any(k.startswith("eval_") for k in h)]
    result = {
        "kind": r.kind, "task": r.task.name, "name": r.out.name, "base_model": s.model, "output": str(r.out),
        "pipeline_tag": r.task.pipeline_tag, "base_weights_sha256": r.base_weights_sha256,
        "saved_as": "lora-adapter" if s.lora and s.lora_save == "adapter" else "model",
        "data": {"train": r.train.describe(), "validation": r.validation.describe() if r.validation else None},
        "labels": r.labels, "preprocessing": r.prepared.info, "settings": {**s.record(), "precision": r.precision},
        "metrics": metrics, "metric_for_best": r.args.metric_for_best_model, "best_checkpoint": best_step,
        "history": history,
        "train": {"steps": state.global_step, "epochs": state.epoch, "loss": train_out.training_loss,
                  "runtime_s": train_out.metrics.get("train_runtime"),
                  "samples_per_s": train_out.metrics.get("train_samples_per_second"),
                  "loss_curve": [[h["step"], h["loss"]] for h in state.log_history if "loss" in h]},
        "world_size": r.args.world_size, "cost": tracker.result(),
        "environment": _environment(), **(r.distillation.result_fields() if r.distillation else {}),
    }
    result["nlptasks_version"] = result["environment"]["nlptasks"]
    if r.distillation:
        result.update(r.distillation.summary(trainer, metrics))
    return result


def _publish(r: TrainingRun, trainer, result: dict, metrics: dict, tracker) -> None:
    """Save the model (main process; LoRA adapters merged) into ``DIR/.final-tmp``, then rename it into
    place with the model card, ``training_result.json`` last."""
    from .model_card import render

    main = trainer.is_world_process_zero()
    tmp = outputs.staging(r.out) if main else None
    # transformers' Trainer turns the KV cache off for training (config.use_cache = args.use_cache, False);
    # the saved model gets the library default back (generate() has its own switch, a plain forward not)
    config = getattr(trainer.accelerator.unwrap_model(trainer.model), "config", None)
    if config is not None and hasattr(config, "use_cache"):
        config.use_cache = True
    if r.s.lora:
        if main:
            model = trainer.accelerator.unwrap_model(trainer.model)
            if r.s.lora_save == "adapter":  # peft files: adapter_config.json + adapter_model.safetensors
                from ..backend.adapters import save_adapter

                save_adapter(model, tmp, base_ref=r.s.model, dtype=r.s.adapter_dtype, labels=r.labels,
                             base_weights_sha256=r.base_weights_sha256, auto_class=r.task.auto_class)
            else:
                merge_lora(model).save_pretrained(tmp)
            r.tokenizer.save_pretrained(tmp)
    else:
        trainer.save_model(str(tmp) if tmp else str(r.out / outputs.TMP))  # collective under FSDP/DeepSpeed
    if main:
        (tmp / "training_args.bin").unlink(missing_ok=True)
        outputs.publish(r.out, tmp, render(result), result)
        print(f"nlptasks: saved {r.out} ({', '.join(f'{k} {v:.4g}' for k, v in metrics.items()) or 'no validation'})",
              file=sys.stderr, flush=True)
        print(f"nlptasks: {tracker.summary_line()}", file=sys.stderr, flush=True)
    trainer.accelerator.wait_for_everyone()


def _progress(trainer) -> ProgressAndMetrics:
    return next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, ProgressAndMetrics))


def _scores(metrics: dict, prefix: str, keep_epoch: bool = False) -> dict:
    """``metrics`` (a Trainer evaluation) without ``prefix``, timings and (unless kept) the epoch."""
    return {k[len(prefix):]: v for k, v in metrics.items() if k.startswith(prefix)
            and not k.endswith(("_runtime", "_per_second")) and (keep_epoch or k != prefix + "epoch")}


def finetune(task: str, model: str, train: str, validation: str | None = None, output: str = "finetuned-model",
             **settings) -> dict:
    """Fine-tune ``model`` for ``task`` on ``train`` (file, hub dataset or benchmark name); see
    :class:`FinetuneSettings` for every keyword. Returns the result record."""
    settings = FinetuneSettings.renamed(settings)
    unknown = sorted(set(settings) - FinetuneSettings.names())
    if unknown:
        raise InputError(f"finetune has no setting {', '.join(unknown)}")
    s = FinetuneSettings(task=task, model=model, train=train, validation=validation, output=output, **settings)
    check_output_dir(output, kind="finetune", overwrite=s.overwrite, resume=s.resume)  # before any model loads
    return run(s)


def dumps(result: dict) -> str:
    """A compact JSON summary of a result for stdout."""
    keep = {k: result.get(k) for k in ("kind", "task", "output", "base_model", "metrics", "best_checkpoint",
                                        "train", "comparison")}
    keep.update({k: result[k] for k in ("quality_kept", "speedup") if k in result})  # distillation
    keep["cost"] = {k: (result.get("cost") or {}).get(k) for k in ("wall_time_s", "energy_kwh", "co2e_g",
                                                                   "energy_is_estimate")}
    return json.dumps(keep, default=str)
