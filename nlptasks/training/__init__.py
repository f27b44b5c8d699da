"""Fine-tuning and distillation on ``transformers.Trainer`` (launched data-parallel by accelerate).

    from nlptasks.training import finetune, distill
    result = finetune("sentiment", "minilm", "train.jsonl", "validation.jsonl", output="out", epochs=1)

Heavy libraries are imported when these functions run, not when this package is imported.
"""
from __future__ import annotations


def finetune(task: str, model: str, train: str, validation: str | None = None, output: str = "finetuned-model",
             **settings) -> dict:
    """Fine-tune ``model`` for ``task``; see :class:`nlptasks.training.settings.FinetuneSettings`."""
    from .trainer import finetune as _finetune

    return _finetune(task, model, train, validation, output, **settings)


def distill(task: str, teacher: str, train: str, validation: str | None = None, output: str = "distilled-model",
            **settings) -> dict:
    """Distil ``teacher`` into a student; see :func:`nlptasks.training.distillation.distill`."""
    from .distillation import distill as _distill

    return _distill(task, teacher, train, validation, output, **settings)


__all__ = ["finetune", "distill"]
