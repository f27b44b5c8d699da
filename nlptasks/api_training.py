"""The Python API for the settings and the checks of ``nlptasks finetune`` and ``distill`` (the runs
themselves: :func:`nlptasks.api.finetune` and :func:`nlptasks.api.distill`): the settings with their
defaults and choices, the training family a task and model select, the base model a run starts from,
a multi-process re-launch, and the JSON summary of a result.

>>> setting_defaults()["epochs"]                                         # doctest: +SKIP
3.0
>>> spec = select_training("sentiment", "minilm")                        # doctest: +SKIP
>>> finetune(spec.name, base_model(spec, None), "train.jsonl", output="out")  # doctest: +SKIP
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .training.launch import Launch
    from .training.spec import TrainingSpec


def setting_defaults() -> dict[str, Any]:
    """Every fine-tuning setting (the keywords of :func:`nlptasks.api.finetune`, the flags of
    ``nlptasks finetune``) with its default; settings without one (task, model, train) are left out."""
    from .training.settings import FinetuneSettings

    return FinetuneSettings.defaults()


def setting_names() -> set[str]:
    """The names of every fine-tuning setting, task, model, data and output included."""
    from .training.settings import FinetuneSettings

    return FinetuneSettings.names()


def setting_choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of the settings that take one of a few: ``precision``, ``lora_save``,
    ``adapter_dtype``, ``class_weights`` and ``arch`` (``--from-scratch`` architectures)."""
    from .training import settings

    return {"precision": settings.PRECISIONS, "lora_save": settings.LORA_SAVES,
            "adapter_dtype": settings.ADAPTER_DTYPES, "class_weights": settings.CLASS_WEIGHTS,
            "arch": settings.ARCHS}


def distill_defaults() -> dict[str, float]:
    """The defaults of the distillation settings of :func:`nlptasks.api.distill`: ``temperature`` (of the
    softmax) and ``alpha`` (the weight of the distillation loss; 1 - alpha weighs the hard-label loss)."""
    from .training.settings import DISTILL_ALPHA, DISTILL_TEMPERATURE

    return {"temperature": DISTILL_TEMPERATURE, "alpha": DISTILL_ALPHA}


def select_training(task: str, model: str | None = None, settings: Mapping[str, Any] | None = None
                    ) -> "TrainingSpec":
    """The training family that fine-tunes ``model`` for ``task`` (a name or alias) with ``settings``:
    a variant when its switch is on (``retrieval``, ``extractive``) or when the model is the packaged
    sentence encoder; its ``name`` is the task's name. A task that cannot be trained, or a switch that
    does not apply to it, raises :class:`nlptasks.errors.InputError`."""
    from .training.families import training_spec

    return training_spec(task).select(model, dict(settings or {}))


def base_model(spec: "TrainingSpec", model: str | None, from_scratch: bool = False) -> str | None:
    """The model a fine-tuning run of ``spec`` (:func:`select_training`) starts from: ``model``, else the
    family's default; ``None`` with ``from_scratch``. None at all: :class:`nlptasks.errors.InputError`
    saying what to pass."""
    from .errors import InputError

    chosen = model or (None if from_scratch else spec.default_base_model)
    if not chosen and not from_scratch:
        scratch = ", or --from-scratch" if spec.trainer_kind == "seq2seq" else ""
        raise InputError(f"finetune {spec.name}: pass --model (a seq2seq or causal LM hub id or local dir)"
                         f"{scratch}")
    return chosen


def relaunch_training(how: "Launch", command: str, task: str, options: Mapping[str, Any],
                      flags: list[str] | None = None) -> int:
    """Run ``nlptasks COMMAND TASK`` (finetune or distill) in every process of ``how``, rebuilt from
    ``options`` (setting -> value; defaults and unset values left out) after the global ``flags``
    (``-v``, ``-q``). Returns the exit status."""
    from .training.launch import command_argv, launch
    from .training.settings import FinetuneSettings

    return launch(how, list(flags or []) + command_argv(command, task, dict(options), FinetuneSettings.defaults()))


def training_summary(result: dict) -> str:
    """A compact one-line JSON summary of a fine-tuning or distillation result (what ``nlptasks
    finetune`` prints): kind, task, output, base model, metrics, best checkpoint, train, comparison,
    cost."""
    from .training.trainer import dumps

    return dumps(result)
