"""The training half of a task plugin: what fine-tuning and distillation need from a task.

A task class (``nlptasks.tasks.base.Task``) returns a :class:`TrainingSpec` from its
``training_spec()`` classmethod; the trainer, the distiller and the training evaluation call only the
spec, never switch on the task. The four model families of the built-in tasks (sequence
classification, span QA, seq2seq, causal LM) live in :mod:`nlptasks.training.families` and are
reusable by third-party tasks with their own field names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import InputError

# FinetuneSettings switches that pick another family of the same task (``TrainingSpec.variants``)
VARIANT_FLAGS = ("retrieval", "extractive")
ENCODER_MODELS = ("minilm",)  # base models that are sentence encoders (the packaged MiniLM)


@dataclass
class Prepared:
    train: list[dict]
    eval: list[dict] | None
    collator: Any
    compute_metrics: Callable | None
    label_names: list[str] | None = None          # Trainer's label keys (qa: start/end positions)
    info: dict = field(default_factory=dict)      # recorded in the result (labels, prefix, languages)
    # validation through the task's own predict path: ``validate(model) -> scores`` at each evaluation (a
    # ``tokenizer=`` keyword predicts with another tokenizer: a distillation teacher's own)
    validate: Callable[[Any], dict] | None = None
    class_weights: list[float] | None = None      # --class-weights: the loss weight of each label id


class TrainingSpec:
    """Everything training needs from one task. Subclasses (the families) fill in the methods."""

    lengths: tuple[int, int] = (512, 128)  # default (max_length, max_target_length) in tokens
    pipeline_tag: str = ""                 # the model card's pipeline tag
    peft_task_type: str = ""               # peft.TaskType name for --lora
    trainer_kind: str = "plain"            # "plain", "seq2seq", "generate" (all on the one Trainer) or
                                           # "fit" (no Trainer: the spec's own ``fit``, e.g. a retrieval index)
    head_suffix: str | None = None         # architecture suffix of a trained task head (encoders)
    logit_keys: tuple[str, ...] = ()       # outputs matched by logit distillation; () = sequence-level
    freeze_base_ok: bool = False           # --freeze-base (train the head only) makes sense
    default_base_model: str | None = None  # `finetune` without --model starts from this model
    class_weights_ok: bool = False         # --class-weights applies (classification heads)

    def __init__(self, task_cls):
        self.task = task_cls

    # -- identity ---------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.task.name

    @property
    def auto_class(self) -> str:
        return self.task.model_class

    @property
    def metric_key(self) -> str:
        """The score that picks the best checkpoint: the task's primary metric (which also ranks it)."""
        return self.task.primary_metric

    @property
    def metric_function(self) -> str:
        """The metric (in the metric registry, built-in or plugin) that produces ``metric_key``."""
        from ..registry import METRICS

        for name in self.task.metrics:
            if self.metric_key == name or self.metric_key in METRICS.get(name).produces:
                return name
        return self.task.metrics[0]

    @property
    def greater_is_better(self) -> bool:
        """The direction of ``metric_key`` as the registered metric declares it (``Metric.higher_is_better``,
        a plugin metric's included): what picks the best checkpoint (``greater_is_better`` of the Trainer)
        and stops early."""
        from ..registry import METRICS

        return METRICS.get(self.metric_function).higher_is_better_for(self.metric_key)

    def score(self, predictions: list, references: list) -> dict[str, float]:
        from .scoring import score

        return score(self, predictions, references)

    # -- variants ---------------------------------------------------------------------------------
    def variants(self) -> dict[str, "TrainingSpec"]:
        """Other families of the same task, by the switch that selects them (one of
        :data:`VARIANT_FLAGS`), e.g. chat's ``{"retrieval": RetrievalChat(...)}``."""
        return {}

    def select(self, model: str | None, settings: dict) -> "TrainingSpec":
        """The family that trains ``model`` with ``settings``: a variant when its switch is on, or when the
        base model is a sentence encoder (``minilm``) and the task has exactly one variant; else this one."""
        variants = self.variants()
        wanted = [f for f in VARIANT_FLAGS if settings.get(f)]
        for flag in wanted:
            if flag not in variants:
                have = ", ".join(f"--{f}" for f in variants) or "none"
                raise InputError(f"--{flag} does not apply to task {self.name!r} (its training variants: {have})")
        if len(wanted) > 1:
            raise InputError(f"choose one of {', '.join('--' + f for f in wanted)}")
        if wanted:
            return variants[wanted[0]]
        if model and str(model).lower() in ENCODER_MODELS and len(variants) == 1:
            return next(iter(variants.values()))
        return self

    def fit(self, s, train_records: list[dict], eval_records: list[dict] | None, out) -> dict:
        """``trainer_kind == "fit"``: build the model into the folder ``out``; returns ``metrics``
        (validation scores), ``preprocessing`` (recorded facts) and ``parameters``."""
        raise NotImplementedError

    # -- model ------------------------------------------------------------------------------------
    def model_labels(self, s, config, train_records: list[dict], val_records: list[dict] | None
                     ) -> tuple[list[str] | None, dict]:
        """``(label names, extra from_pretrained keywords)`` for the model to train (a new head...)."""
        return None, {}

    def labels_of(self, model) -> list[str] | None:
        """The label names of an already built model (distillation students)."""
        return None

    def student_kwargs(self, teacher) -> dict:
        """``from_pretrained`` keywords that give a separate student the teacher's head layout."""
        return {}

    # -- data ---------------------------------------------------------------------------------------
    def reference_fields(self, value, *, path: str, lookup: Callable[[str], Any],
                         label_names: list[str] | None) -> dict:
        """The training-record fields that a benchmark's reference fills (training on a benchmark name):
        ``value`` is the reference, read at ``path`` in the benchmark's row; ``lookup(path)`` reads another
        column of that row; ``label_names`` are the benchmark's names of integer labels."""
        return {"reference": value}

    def prepare(self, s, tokenizer, config, train_records: list[dict], eval_records: list[dict] | None,
                label2id: dict | None, max_length: int, max_target: int) -> Prepared:
        raise NotImplementedError

    # -- the task's own predict path: validation and teacher outputs -------------------------------
    def served_outputs(self, model, tokenizer, inputs: list[dict], *, batch_size: int | None = None,
                       predict: bool = True, **options) -> list:
        """The task's first output field for the task ``inputs``, predicted with ``model`` (in memory) through
        the task's own predict path (``Task.serving``, :func:`nlptasks.training.loops.served`), with the task
        ``options`` it knows."""
        from .loops import served

        known = {o.dest for o in self.task.options}
        field = self.task.output_fields[0]
        outs = served(self.task, model, tokenizer, inputs, batch_size=batch_size, predict=predict,
                      **{k: v for k, v in options.items() if k in known})
        return [o[field] for o in outs]

    def validation(self, s, tokenizer, inputs: list[dict], references: list, **options) -> Callable | None:
        """``validate(model, tokenizer=...) -> scores`` (``Prepared.validate``): the validation ``inputs``
        predicted with the model being trained (and ``tokenizer``) through the task's own predict path with task
        ``options``, scored against ``references``, so the scores are what ``nlptasks eval`` gives the saved
        model with those options; None for a task that cannot serve a model in memory (``Task.can_serve``)."""
        if not self.task.can_serve():
            import logging

            logging.getLogger("nlptasks").warning(
                "nlptasks: task %s cannot serve a model in memory (no Task._serve): validation scores the loss "
                "only", self.name)
            return None

        def validate(model, tokenizer=tokenizer) -> dict[str, float]:
            return self.score(self.served_outputs(model, tokenizer, inputs, batch_size=s.eval_batch_size or s.batch_size,
                                                  **options), references)

        # the task set up around the model with these options and the inputs checked, nothing predicted: a bad
        # option (a generation length the model has no room for) fails before training, not at the first evaluation
        validate.check = lambda model: self.served_outputs(model, tokenizer, inputs, predict=False, **options)
        return validate

    # -- sequence-level distillation ------------------------------------------------------------------
    def teacher_outputs(self, s, teacher, tokenizer, records: list[dict]) -> list[str]:
        """Greedy teacher outputs for the training inputs (sequence-level distillation), through the task's
        own predict path (:meth:`served_outputs`): what ``nlptasks run`` answers with the teacher."""
        raise InputError(f"distill {self.name}: this task has no sequence-level distillation")

    def with_targets(self, records: list[dict], outputs: list[str], s) -> list[dict]:
        """The records with their targets replaced by ``outputs``."""
        raise NotImplementedError
