"""Fine-tuning and distillation on ``transformers.Trainer`` (launched data-parallel by accelerate).

The entry points are :func:`nlptasks.api.finetune` and :func:`nlptasks.api.distill`:

    from nlptasks.api import finetune, distill
    result = finetune("sentiment", "minilm", "train.jsonl", "validation.jsonl", output="out", epochs=1)

This package's own ``__init__`` imports nothing, so its modules can import each other (``from . import
outputs``) without a cycle through the package; heavy libraries load when training runs.
"""
