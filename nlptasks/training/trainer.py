"""Fine-tuning on ``transformers.Trainer`` / ``Seq2SeqTrainer`` (data-parallel when launched by accelerate).

``run(settings)`` does, in order: check the output folder (``--resume``/``--overwrite``), load and check
the data, load the model (new head, ``--freeze-base``, ``--lora``), preprocess (all input errors are
raised here, before any training), train inside a cost tracker with evaluation + best-checkpoint
selection + early stopping, evaluate the best model, and publish model, tokenizer, model card and
``training_result.json`` atomically (main process only).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from pathlib import Path

from ..errors import InputError
from . import outputs
from .callbacks import ProgressAndMetrics, stop_hook
from .data import load_records
from .features import Prepared, prepare
from .models import (add_lora, freeze_base, load_config, load_model, load_tokenizer, merge_lora,
                     model_path)
from .settings import FinetuneSettings
from .spec import TrainingSpec, training_spec

log = logging.getLogger("nlptasks")

DEBUG_WEIGHTS_ENV = "NLPTASKS_DEBUG_WEIGHTS_DIR"   # tests: each rank writes a digest of its final weights


def weights_digest(model) -> str:
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _precision(s: FinetuneSettings, cuda: bool) -> str:
    import torch

    if s.precision == "auto":
        return ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "fp32"
    if s.precision == "fp16" and not cuda:
        raise InputError("--precision fp16 needs a CUDA GPU; use bf16 or fp32 on CPU")
    return s.precision


def training_args(task: TrainingSpec, s: FinetuneSettings, out: Path, prepared: Prepared, cuda: bool, precision: str):
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    has_eval = prepared.eval is not None
    eval_steps = s.eval_steps or (s.max_steps if s.max_steps > 0 else None)
    if has_eval:
        eval_strategy = save_strategy = "steps" if eval_steps else "epoch"
        save_steps = eval_steps
    else:
        eval_strategy = "no"
        save_steps = s.save_steps or eval_steps
        save_strategy = "steps" if save_steps else "epoch"
    by_loss = s.metric == "loss" or (prepared.compute_metrics is None and not prepared.gen_prompts)
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
    if task.trainer_kind == "seq2seq":
        return Seq2SeqTrainingArguments(**kw, predict_with_generate=prepared.compute_metrics is not None,
                                        generation_max_length=s.max_new_tokens, generation_num_beams=1)
    return TrainingArguments(**kw)


def _trainer_classes():
    """(Trainer, Seq2SeqTrainer, GeneratingTrainer), each evaluating in dataset order; a task's spec picks
    one by its ``trainer_kind`` ("plain", "seq2seq", "generate").

    transformers applies ``train_sampling_strategy="group_by_length"`` to the evaluation sampler too, which
    reorders the predictions; metrics that map predictions back to their examples (QA windows -> answers)
    then score garbage. Evaluation here always reads the dataset in order (sharded in order across
    processes by accelerate)."""
    from torch.utils.data import SequentialSampler
    from transformers import Seq2SeqTrainer as HFSeq2SeqTrainer
    from transformers import Trainer as HFTrainer

    class OrderedEval:
        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or not hasattr(eval_dataset, "__len__"):
                return None
            return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

    class Trainer(OrderedEval, HFTrainer):
        pass

    class Seq2SeqTrainer(OrderedEval, HFSeq2SeqTrainer):
        pass

    class ChatTrainer(Trainer):
        """A Trainer whose evaluation adds the task's metric on greedy responses to the prompts."""

        gen_prompts: list | None = None
        gen_references: list | None = None
        task: TrainingSpec | None = None
        max_new_tokens: int = 64

        def evaluation_loop(self, *args, **kwargs):
            output = super().evaluation_loop(*args, **kwargs)
            prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
            if self.gen_prompts:
                responses = generate_responses(self.accelerator.unwrap_model(self.model), self.processing_class,
                                               self.gen_prompts, self.max_new_tokens,
                                               self.args.per_device_eval_batch_size)
                for k, v in self.task.score(responses, self.gen_references).items():
                    output.metrics[f"{prefix}_{k}"] = v
            return output

    return Trainer, Seq2SeqTrainer, ChatTrainer


def generate_responses(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, batch_size: int) -> list[str]:
    """Greedy responses of a causal LM to tokenised prompts (left-padded batches)."""
    import torch

    was_training = model.training
    model.eval()
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: dict[int, str] = {}
    dev = next(model.parameters()).device
    with torch.no_grad():
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(prompts[i]) for i in idx)
            ids = torch.tensor([[pad] * (width - len(prompts[i])) + prompts[i] for i in idx], device=dev)
            mask = torch.tensor([[0] * (width - len(prompts[i])) + [1] * len(prompts[i]) for i in idx], device=dev)
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                 num_beams=1, pad_token_id=pad, eos_token_id=tokenizer.eos_token_id)
            for i, row in zip(idx, gen[:, width:].tolist()):
                out[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    model.train(was_training)
    return [out[i] for i in range(len(prompts))]


def _environment() -> dict:
    import accelerate
    import torch
    import transformers

    from .. import __version__

    return {"nlptasks": __version__, "transformers": transformers.__version__, "torch": torch.__version__,
            "accelerate": accelerate.__version__, "python": sys.version.split()[0]}


def load_data(s: FinetuneSettings):
    train = load_records(s.train, "train", s.limit_train, name="train")
    val = load_records(s.validation, "validation", s.limit_validation, name="validation") if s.validation else None
    return train, val


def build_model(task: TrainingSpec, s: FinetuneSettings, path: str, config, train_records, val_records):
    """The model to train and its label names (classification heads; else None)."""
    import transformers

    transformers.set_seed(s.seed)
    if s.freeze_base and not task.freeze_base_ok:
        raise InputError(f"--freeze-base trains the task head only: it does not apply to {task.name} "
                         f"(use --lora for seq2seq and chat models)")
    names, kwargs = task.model_labels(s, config, train_records, val_records)
    model = load_model(path, task.auto_class, **kwargs)
    if s.freeze_base:
        n = freeze_base(model)
        log.info("--freeze-base: %d trainable parameters", n)
    if s.lora:
        model = add_lora(model, task.peft_task_type, s.lora_r, s.lora_alpha, s.lora_dropout, s.lora_targets)
        if s.gradient_checkpointing:
            model.enable_input_require_grads()
    return model, names


def run(s: FinetuneSettings, *, kind: str = "finetune", model=None, tokenizer=None, trainer_cls=None,
        trainer_kwargs: dict | None = None, train_records: list[dict] | None = None, extra_result: dict | None = None,
        data=None, after_train=None) -> dict:
    """Fine-tune per ``s``; returns the result record (also written to ``training_result.json``).

    ``model``/``tokenizer``/``trainer_cls``/``trainer_kwargs``/``train_records``/``data`` let distillation
    reuse this path with a student model, a distillation trainer or teacher-generated targets;
    ``after_train(trainer, metrics) -> dict`` adds fields (e.g. a teacher comparison) to the result.
    """
    import torch

    task = training_spec(s.task)
    s.task = task.name
    out = Path(s.output)
    cuda = torch.cuda.is_available() and s.device != "cpu"
    precision = _precision(s, cuda)

    # 1. data and preprocessing: every input error surfaces here, before anything is written
    train_ds, val_ds = data or load_data(s)
    train_recs = train_records if train_records is not None else train_ds.records
    if s.from_scratch and model is None:  # a new tokenizer + model in place of from_pretrained
        from .scratch import build

        model, tokenizer = build(task, s, train_recs)
    path = None if s.from_scratch else model_path(s.model)
    config = model.config if model is not None else load_config(path)
    tokenizer = tokenizer or load_tokenizer(path)
    if model is None:
        model, names = build_model(task, s, path, config, train_recs, val_ds.records if val_ds else None)
    else:
        names = task.labels_of(model)
    label2id = {n: i for i, n in enumerate(names)} if names else None
    prepared = prepare(task, s, tokenizer, model.config, train_recs, val_ds.records if val_ds else None, label2id)

    # 2. the output folder (after the data checks: a bad file leaves an earlier run untouched)
    args = training_args(task, s, out, prepared, cuda, precision)
    run_settings = {**s.record(), "train_data": train_ds.fingerprint,
                    "validation_data": val_ds.fingerprint if val_ds else None}
    resume_from = outputs.check(out, resume=s.resume, overwrite=s.overwrite, settings=run_settings)
    from accelerate import PartialState

    PartialState().wait_for_everyone()  # every rank has checked before the main process writes
    with args.main_process_first(local=False, desc="output folder"):
        if args.process_index == 0:
            outputs.start(out, resume=s.resume, overwrite=s.overwrite, settings=run_settings)

    # 3. the trainer
    base_cls, s2s_cls, chat_cls = _trainer_classes()
    cls = trainer_cls or {"seq2seq": s2s_cls, "generate": chat_cls}.get(task.trainer_kind, base_cls)
    callbacks = [ProgressAndMetrics(args.metric_for_best_model[5:] if args.metric_for_best_model else None,
                                    bool(args.greater_is_better))]
    if s.early_stopping:
        from transformers import EarlyStoppingCallback

        callbacks.append(EarlyStoppingCallback(early_stopping_patience=s.early_stopping))
    hook = stop_hook()
    if hook:
        callbacks.append(hook)
    trainer = cls(model=model, args=args, data_collator=prepared.collator, train_dataset=prepared.train,
                  eval_dataset=prepared.eval, processing_class=tokenizer, compute_metrics=prepared.compute_metrics,
                  callbacks=callbacks, **(trainer_kwargs or {}))
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if task.trainer_kind == "generate":
        trainer.gen_prompts, trainer.gen_references = prepared.gen_prompts, prepared.gen_references
        trainer.task, trainer.max_new_tokens = task, s.max_new_tokens

    # 4. train (inside the cost tracker) and evaluate the best model
    tracker = _cost_tracker("cuda" if cuda else "cpu")
    main = trainer.is_world_process_zero()
    if main:
        print(f"nlptasks: {kind} {task.name}: {s.model or f'a new {s.arch} model'} on {len(train_recs)} examples "
              f"({len(prepared.train)} features), {args.world_size} process(es), {precision}"
              + (f", resuming from {resume_from.name}" if resume_from else ""), file=sys.stderr, flush=True)
    with tracker or _null():
        from .. import cost_hooks

        cost_hooks.report_model(model)
        train_out = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        callbacks[0].final = True
        final = trainer.evaluate() if prepared.eval is not None else {}
    metrics = {k[5:]: v for k, v in final.items() if k.startswith("eval_")
               and not k.endswith(("_runtime", "_per_second")) and k != "eval_epoch"}

    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    debug_dir = os.environ.get(DEBUG_WEIGHTS_ENV)
    if debug_dir:
        Path(debug_dir).mkdir(parents=True, exist_ok=True)
        (Path(debug_dir) / f"rank{args.process_index}.sha256").write_text(weights_digest(unwrapped))

    # 5. publish (main process): staged in DIR/.final-tmp, renamed into place, result written last
    state = trainer.state
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1])
    history = [{"epoch": h.get("epoch", 0.0), "step": h.get("step"),
                **{k[5:]: v for k, v in h.items() if k.startswith("eval_")
                   and not k.endswith(("_runtime", "_per_second"))}}
               for h in state.log_history if any(k.startswith("eval_") for k in h)]
    result = {
        "kind": kind, "task": task.name, "name": out.name, "base_model": s.model, "output": str(out),
        "pipeline_tag": task.pipeline_tag,
        "data": {"train": train_ds.describe(), "validation": val_ds.describe() if val_ds else None},
        "labels": names, "preprocessing": prepared.info, "settings": {**s.record(), "precision": precision},
        "metrics": metrics, "metric_for_best": args.metric_for_best_model, "best_checkpoint": best_step,
        "history": history,
        "train": {"steps": state.global_step, "epochs": state.epoch, "loss": train_out.training_loss,
                  "runtime_s": train_out.metrics.get("train_runtime"),
                  "samples_per_s": train_out.metrics.get("train_samples_per_second"),
                  "loss_curve": [[h["step"], h["loss"]] for h in state.log_history if "loss" in h]},
        "world_size": args.world_size, "cost": tracker.result() if tracker else None,
        "environment": _environment(), **(extra_result or {}),
    }
    result["nlptasks_version"] = result["environment"]["nlptasks"]
    if after_train is not None:
        result.update(after_train(trainer, metrics))
    tmp = outputs.staging(out) if main else None
    if s.lora:
        if main:
            merged = merge_lora(unwrapped)
            merged.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
    else:
        trainer.save_model(str(tmp) if tmp else str(out / outputs.TMP))  # collective under FSDP/DeepSpeed
    if main:
        (tmp / "training_args.bin").unlink(missing_ok=True)
        from .model_card import render

        outputs.publish(out, tmp, render(result), result)
        print(f"nlptasks: saved {out} ({', '.join(f'{k} {v:.4g}' for k, v in metrics.items()) or 'no validation'})",
              file=sys.stderr, flush=True)
        if tracker:
            print(f"nlptasks: {tracker.summary_line()}", file=sys.stderr, flush=True)
    trainer.accelerator.wait_for_everyone()
    return result


def _cost_tracker(device: str):
    try:
        from ..cost import CostTracker
    except ImportError:  # pragma: no cover - nlptasks.cost is part of the package
        return None
    return CostTracker(device=device)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def finetune(task: str, model: str, train: str, validation: str | None = None, output: str = "finetuned-model",
             **settings) -> dict:
    """Fine-tune ``model`` for ``task`` on ``train`` (file, hub dataset or benchmark name); see
    :class:`FinetuneSettings` for every keyword. Returns the result record."""
    unknown = sorted(set(settings) - FinetuneSettings.names())
    if unknown:
        raise InputError(f"finetune has no setting {', '.join(unknown)}")
    return run(FinetuneSettings(task=task, model=model, train=train, validation=validation, output=output,
                                **settings))


def dumps(result: dict) -> str:
    """A compact JSON summary of a result for stdout."""
    keep = {k: result.get(k) for k in ("kind", "task", "output", "base_model", "metrics", "best_checkpoint",
                                        "train", "comparison")}
    keep.update({k: result[k] for k in ("quality_kept", "speedup") if k in result})  # distillation
    keep["cost"] = {k: (result.get("cost") or {}).get(k) for k in ("wall_time_s", "energy_kwh", "co2e_g",
                                                                   "energy_is_estimate")}
    return json.dumps(keep, default=str)
