"""Knowledge distillation: a teacher's knowledge into a smaller student.

* sentiment, qa — logit distillation: ``loss = alpha * T² * KL(softmax(teacher/T) || softmax(student/T))
  + (1 - alpha) * hard-label loss``, with the teacher run on each batch (no gradient). The student is
  ``--student`` (any model sharing the teacher's tokenizer) or ``--student-layers N``: a copy of the
  teacher keeping its first N transformer blocks (initialised from the teacher's lower layers).
* summarize, translate, chat — sequence-level distillation (Kim & Rush, 2016): the teacher's greedy
  outputs on the training inputs (its ``nlptasks run`` answers: the task's own predict path with the
  teacher in memory, ``TrainingSpec.teacher_outputs``) replace the references, and the student is
  fine-tuned on them. The outputs are cached in ``OUTPUT/teacher_outputs/<key>.jsonl`` (key: teacher,
  data and generation settings), so a re-run or ``--resume`` does not generate them again.

Both end by evaluating teacher and student on the validation data the same way and reporting quality,
speed and cost side by side (in the result, the model card and on stderr).

Both run the fine-tuning pipeline (:func:`nlptasks.training.trainer.run`) with a :class:`Distillation`
strategy, which the trainer calls where distillation differs: the records to train on
(``training_records``), the student (``student``), the Trainer and its loss (``trainer``), and the result
(``result_fields``, ``summary``).
"""
from __future__ import annotations

import copy
import json
import logging
import sys
from pathlib import Path

from ..errors import InputError
from ..hashing import json_hash
from ..paths import check_output_dir, record_outputs
from . import outputs
from .models import has_head, load_config, load_model, load_tokenizer, model_path, truncate_layers
from .settings import FinetuneSettings
from .families import training_spec

log = logging.getLogger("nlptasks")

from .settings import DISTILL_ALPHA as ALPHA, DISTILL_TEMPERATURE as TEMPERATURE  # noqa: E402  (the defaults)


def _distill_trainer_cls(base=None):
    """``base`` (default: the plain Trainer, evaluating in dataset order) with the distillation loss."""
    import torch
    import torch.nn.functional as F

    from .loops import _trainer_class

    Trainer = base or _trainer_class()

    class DistillationTrainer(Trainer):
        """Trainer whose loss mixes the hard-label loss with the KL divergence to the teacher's logits."""

        def __init__(self, *args, teacher=None, temperature: float = TEMPERATURE, alpha: float = ALPHA,
                     logit_keys=("logits",), **kwargs):
            super().__init__(*args, **kwargs)
            self.teacher = teacher.to(self.args.device).eval()
            for p in self.teacher.parameters():
                p.requires_grad_(False)
            self.temperature, self.alpha, self.logit_keys = temperature, alpha, logit_keys

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            outputs = model(**inputs)
            hard = outputs.loss
            if not model.training:  # evaluation: the task's own loss, comparable between teacher and student
                return (hard, outputs) if return_outputs else hard
            with torch.no_grad():
                t_out = self.teacher(**{k: v for k, v in inputs.items() if k not in self._label_keys()})
            T = self.temperature
            mask = inputs.get("attention_mask")
            soft = 0.0
            for key in self.logit_keys:
                s_logits, t_logits = getattr(outputs, key), getattr(t_out, key).to(getattr(outputs, key).dtype)
                if s_logits.dim() == 2 and key != "logits" and mask is not None:  # qa: per-token logits
                    s_logits = s_logits.masked_fill(mask == 0, -1e4)
                    t_logits = t_logits.masked_fill(mask == 0, -1e4)
                soft = soft + F.kl_div(F.log_softmax(s_logits / T, dim=-1), F.softmax(t_logits / T, dim=-1),
                                       reduction="batchmean") * T * T
            soft = soft / len(self.logit_keys)
            loss = self.alpha * soft + (1 - self.alpha) * hard
            return (loss, outputs) if return_outputs else loss

        def _label_keys(self):
            return set(self.label_names or ["labels"]) | {"labels", "start_positions", "end_positions"}

    return DistillationTrainer


def _load_teacher(task, ref: str, trust_remote_code: bool = False):
    from ..backend.adapters import build_merged, is_adapter_dir, read_config

    if is_adapter_dir(ref):  # a LoRA adapter folder (`finetune --lora-save adapter`): merged over its base
        if task.head_suffix and not read_config(ref).get("modules_to_save"):
            raise InputError(f"--teacher {ref}: the adapter holds no trained {task.name} head")
        from ..backend.bert_light import transformers_classes

        with transformers_classes():  # the teacher is cut into a student and trained beside: transformers' classes
            model, tok, _ = build_merged(ref, task.auto_class, trust_remote_code=trust_remote_code)
        return model, tok, ref
    path = model_path(ref)
    config = load_config(path, trust_remote_code)
    if task.head_suffix and not has_head(config, task.head_suffix):
        raise InputError(f"--teacher {ref}: not a trained {task.name} model (no {task.head_suffix[3:]} head); "
                         f"fine-tune it first with `nlptasks finetune {task.name}`")
    return (load_model(path, task.auto_class, trust_remote_code), load_tokenizer(path, trust_remote_code), path)


def _same_vocab(a, b) -> bool:
    return a.get_vocab() == b.get_vocab()


def _student(task, s: FinetuneSettings, teacher, t_tok, student: str | None, student_layers: int | None):
    """The student model (and its tokenizer) for logit distillation."""
    if bool(student) == bool(student_layers):
        raise InputError("give exactly one of --student MODEL or --student-layers N")
    if student_layers:
        import transformers

        transformers.set_seed(s.seed)
        model = truncate_layers(copy.deepcopy(teacher), student_layers)
        return model, t_tok, f"{s.model} (first {student_layers} layers)"
    path = model_path(student)
    tok = load_tokenizer(path, s.trust_remote_code)
    if task.logit_keys and not _same_vocab(tok, t_tok):
        raise InputError(f"--student {student}: its tokenizer differs from the teacher's; logit distillation "
                         f"needs the same vocabulary (or use --student-layers)")
    kwargs = task.student_kwargs(teacher)
    import transformers

    transformers.set_seed(s.seed)
    return load_model(path, task.auto_class, s.trust_remote_code, **kwargs), tok, student


def _evaluate_model(trainer, model, label: str, tokenizer=None) -> dict:
    """Evaluate ``model`` with ``trainer``'s data, metric and batch size; time, speed and cost. The validation
    predictions (``Prepared.validate``: the task's own predict path) use ``tokenizer`` when given (a teacher
    with a vocabulary of its own)."""
    import time

    from ..cost import CostTracker

    original, validate = trainer.model, trainer.validate_with
    trainer.model = model.to(trainer.args.device)
    trainer.model_wrapped = trainer.model
    if validate is not None and tokenizer is not None:
        trainer.validate_with = lambda m: validate(m, tokenizer=tokenizer)
    try:
        with CostTracker(device=str(trainer.args.device)) as tracker:
            t0 = time.perf_counter()
            metrics = trainer.evaluate(metric_key_prefix="cmp")
            wall = time.perf_counter() - t0
    finally:
        trainer.model = trainer.model_wrapped = original
        trainer.validate_with = validate
    n = len(trainer.eval_dataset)
    cost = tracker.result()
    scores = {k[4:]: v for k, v in metrics.items() if k.startswith("cmp_")
              and not k.endswith(("_runtime", "_per_second")) and k != "cmp_epoch"}
    return {"model": label, "scores": scores, "eval_s": wall, "examples_per_s": n / wall if wall else None,
            "parameters": sum(p.numel() for p in model.parameters()), "energy_kwh": cost.get("energy_kwh"),
            "co2e_g": cost.get("co2e_g"), "energy_is_estimate": cost.get("energy_is_estimate")}


def compare(trainer, teacher, teacher_label: str, student_label: str, metric_key: str,
            teacher_tokenizer=None) -> dict:
    """Teacher and student evaluated alike on the validation data: quality, speed and cost side by side
    (printed by the main process), ``quality_kept`` and ``speedup``."""
    if trainer.eval_dataset is None:
        return {}
    for cb in trainer.callback_handler.callbacks:  # no metric lines for these evaluations
        if hasattr(cb, "final"):
            cb.final = True
    rows = [_evaluate_model(trainer, teacher, teacher_label, teacher_tokenizer),
            _evaluate_model(trainer, trainer.accelerator.unwrap_model(trainer.model), student_label)]
    keys = [k for k in rows[0]["scores"] if k != "loss"] or ["loss"]
    cols = keys + ["examples/s", "eval s", "parameters", "energy Wh"]
    table = [{"model": r["model"], "columns": cols,
              "values": [r["scores"].get(k) for k in keys] + [r["examples_per_s"], r["eval_s"], r["parameters"],
                                                              (r["energy_kwh"] or 0) * 1000]} for r in rows]
    t, st = rows
    kept = None
    if metric_key in t["scores"] and t["scores"][metric_key]:
        kept = st["scores"].get(metric_key, 0.0) / t["scores"][metric_key]
    speedup = st["examples_per_s"] / t["examples_per_s"] if t["examples_per_s"] and st["examples_per_s"] else None
    if trainer.is_world_process_zero():
        for r in table:
            print("nlptasks: " + r["model"] + ": " + ", ".join(
                f"{c} {v:.4g}" if isinstance(v, float) else f"{c} {v}" for c, v in zip(cols, r["values"])),
                file=sys.stderr)
        if kept is not None and speedup is not None:
            print(f"nlptasks: student keeps {kept:.1%} of the teacher's {metric_key}, "
                  f"{speedup:.2f}x the speed", file=sys.stderr, flush=True)
    return {"comparison": table, "teacher_eval": t, "student_eval": st, "quality_kept": kept, "speedup": speedup}


# -- the strategy the trainer calls ------------------------------------------------------------------
class Distillation:
    """What distillation changes in a fine-tuning run (``trainer.run(s, distillation)``), at the stages
    where it changes it: the data and the records to train on, the student model, the Trainer (its
    loss), and the result (method, teacher, the teacher/student comparison)."""

    kind = "distill"

    def __init__(self, task, data, teacher, teacher_label: str, student_label: str, fields: dict):
        self.task, self.data, self.teacher = task, data, teacher
        self.teacher_label, self.student_label, self.fields = teacher_label, student_label, fields

    def training_records(self, train) -> list[dict]:
        """The records to train on (default: the training data's)."""
        return train.records

    def student(self):
        """``(model, tokenizer)`` to train, or None: the trainer builds the model from ``settings.model``."""
        return None

    def trainer(self, cls) -> tuple[type, dict]:
        """The Trainer class to use instead of ``cls`` and its extra keywords."""
        return cls, {}

    def result_fields(self) -> dict:
        return dict(self.fields)

    def summary(self, trainer, metrics: dict) -> dict:
        """Added to the result after training: the teacher/student comparison."""
        return compare(trainer, self.teacher, self.teacher_label, f"student {self.student_label}",
                       self.task.metric_key, getattr(self, "teacher_tokenizer", None))


class LogitDistillation(Distillation):
    """The student learns the teacher's logits: the loss mixes ``T²·KL`` to the teacher with the hard-label
    loss (``DistillationTrainer``)."""

    def __init__(self, task, data, teacher, teacher_label, student, student_tokenizer, student_label, fields, *,
                 temperature: float, alpha: float):
        super().__init__(task, data, teacher, teacher_label, student_label, fields)
        self._student = (student, student_tokenizer)
        self.temperature, self.alpha = temperature, alpha

    def student(self):
        return self._student

    def trainer(self, cls):
        return _distill_trainer_cls(cls), dict(teacher=self.teacher, temperature=self.temperature, alpha=self.alpha,
                                               logit_keys=self.task.logit_keys)


class SequenceDistillation(Distillation):
    """The student (built like a fine-tuned model) learns the teacher's greedy outputs as targets."""

    def __init__(self, task, data, teacher, teacher_label, student_label, fields, records: list[dict],
                 teacher_tokenizer=None):
        super().__init__(task, data, teacher, teacher_label, student_label, fields)
        self.records = records
        self.teacher_tokenizer = teacher_tokenizer  # the teacher's validation predictions decode with its own

    def training_records(self, train):
        return self.records


# -- sequence-level distillation -------------------------------------------------------------------
def _cache_key(teacher_path: str, fingerprint: str, settings: dict) -> str:
    from ..backend.loading import weights_hash
    from ..backend.resolve import resolve_model

    try:
        wh = weights_hash(resolve_model(teacher_path))
    except Exception:
        wh = None
    return json_hash({"teacher": teacher_path, "weights": wh, "data": fingerprint, **settings}, 16)


def teacher_outputs(task, s: FinetuneSettings, teacher, t_tok, records: list[dict], cache_dir: Path,
                    key: str, is_main: bool) -> list[str]:
    """Greedy teacher outputs for the training inputs, from the cache or generated (main process) and cached."""
    from ..io import atomic_write

    cache = cache_dir / f"{key}.jsonl"
    if cache.exists():
        rows = [json.loads(x) for x in cache.read_text(encoding="utf-8").splitlines() if x.strip()]
        if len(rows) == len(records):
            log.info("teacher outputs from the cache %s", cache)
            return [r["output"] for r in rows]
    if not is_main:
        raise RuntimeError(f"teacher output cache {cache} missing on a non-main process")
    outs = _generate(task, s, teacher, t_tok, records)
    atomic_write(str(cache), "".join(json.dumps({"output": o}, ensure_ascii=False) + "\n" for o in outs))
    return outs


def _generate(task, s: FinetuneSettings, teacher, tok, records: list[dict]) -> list[str]:
    import torch

    dev = torch.device("cuda" if torch.cuda.is_available() and s.device != "cpu" else "cpu")
    teacher.to(dev).eval()
    return task.teacher_outputs(s, teacher, tok, records)


# -- entry point -------------------------------------------------------------------------------------
def distill(task: str, teacher: str, train: str, validation: str | None = None, output: str = "distilled-model", *,
            student: str | None = None, student_layers: int | None = None, temperature: float = TEMPERATURE,
            alpha: float = ALPHA, **settings) -> dict:
    """Distil ``teacher`` into a student for ``task``; settings are those of ``finetune``.

    Returns the result record, with ``comparison`` (teacher vs student quality, speed, cost),
    ``quality_kept`` (student / teacher primary score) and ``speedup`` (evaluation examples/s ratio).
    """
    from .data import load_data
    from .trainer import run

    t = training_spec(task)
    if not 0.0 <= alpha <= 1.0:
        raise InputError("--alpha must be between 0 and 1")
    if temperature <= 0:
        raise InputError("--temperature must be positive")
    settings = FinetuneSettings.renamed(settings)
    unknown = sorted(set(settings) - FinetuneSettings.names())
    if unknown:
        raise InputError(f"distill has no setting {', '.join(unknown)}")
    s = FinetuneSettings(task=t.name, model=teacher, train=train, validation=validation, output=output, **settings)
    if s.retrieval or s.extractive:
        raise InputError("distill: --retrieval and --extractive build models without a Trainer; "
                         "use `nlptasks finetune` for them")
    check_output_dir(output, kind="distill", overwrite=s.overwrite, resume=s.resume)  # before any model loads
    data = load_data(s)
    t_model, t_tok, t_path = _load_teacher(t, teacher, s.trust_remote_code)
    teacher_label = f"teacher {teacher}"

    if t.logit_keys:
        model, tok, label = _student(t, s, t_model, t_tok, student, student_layers)
        s.model = student or teacher
        fields = {"teacher": teacher, "method": f"logit distillation (T={temperature}, alpha={alpha})",
                  "student": label, "temperature": temperature, "alpha": alpha, "student_layers": student_layers}
        return run(s, LogitDistillation(t, data, t_model, teacher_label, model, tok, label, fields,
                                        temperature=temperature, alpha=alpha))

    # sequence-level: the student is trained on the teacher's greedy outputs
    if not student:
        raise InputError(f"distill {t.name}: pass --student MODEL (sequence-level distillation trains a "
                         f"separate student on the teacher's outputs)")
    import torch
    from accelerate import PartialState

    train_ds = data[0]
    gen = {"max_length": s.max_length, "max_target_length": s.max_target_length, "prefix": s.prefix,
           "source_lang": s.source_lang, "target_lang": s.target_lang, "greedy": True,
           "path": "task predict"}  # the outputs of the task's own predict path (a cache from before is not reused)
    key = _cache_key(t_path, train_ds.fingerprint, gen)
    cache_dir = Path(output) / outputs.TEACHER_CACHE
    state = PartialState(cpu=not (torch.cuda.is_available() and s.device != "cpu"))
    if state.is_main_process:
        record_outputs(output, "distill", [outputs.TEACHER_CACHE])  # recorded before it is written
    with state.main_process_first():  # the main process generates and caches; the others read the cache
        outs = teacher_outputs(t, s, t_model, t_tok, train_ds.records, cache_dir, key, state.is_main_process)
    s.model = student
    fields = {"teacher": teacher, "method": "sequence-level distillation (greedy teacher outputs)",
              "student": student, "teacher_cache": str(cache_dir / f"{key}.jsonl")}
    return run(s, SequenceDistillation(t, data, t_model, teacher_label, student, fields,
                                       t.with_targets(train_ds.records, outs, s), teacher_tokenizer=t_tok))
