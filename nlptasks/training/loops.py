"""The Trainer class (evaluation in dataset order; validation through the task's own predict path) and
:func:`served`, the task's predictions with a model in memory, used by validation and for a distillation
teacher's outputs. Below ``trainer`` and the families, so both can use them without importing each other."""
from __future__ import annotations


def _trainer_class():
    """The Trainer of every family (a distillation adds its loss to it): evaluation reads the validation data
    in order and adds the scores of ``validate_with`` (``Prepared.validate``: the task's own predict path on
    the model being trained, as ``nlptasks run``/``eval`` predict), so no family generates in a loop of
    its own.

    transformers applies ``train_sampling_strategy="group_by_length"`` to the evaluation sampler too, which
    reorders the predictions; metrics that map predictions back to their examples (QA windows -> answers)
    then score garbage. Evaluation here always reads the dataset in order (sharded in order across
    processes by accelerate)."""
    from torch.utils.data import SequentialSampler
    from transformers import Trainer as HFTrainer

    class Trainer(HFTrainer):
        validate_with = None  # Prepared.validate: scores from the task's own predict path, added to each evaluation

        def _get_eval_sampler(self, eval_dataset):
            if eval_dataset is None or not hasattr(eval_dataset, "__len__"):
                return None
            return SequentialSampler(eval_dataset) if self.args.world_size <= 1 else None

        def evaluation_loop(self, *args, **kwargs):
            output = super().evaluation_loop(*args, **kwargs)
            if self.validate_with is not None:
                prefix = kwargs.get("metric_key_prefix", args[4] if len(args) > 4 else "eval")
                for k, v in self.validate_with(self.accelerator.unwrap_model(self.model)).items():
                    output.metrics[f"{prefix}_{k}"] = v
            return output

    return Trainer


def served(task_cls, model, tokenizer, records: list[dict], *, batch_size: int | None = None,
           predict: bool = True, **options) -> list[dict]:
    """``task_cls``'s outputs for ``records`` with ``model``, a transformers model in memory (the model being
    trained, a distillation teacher) and its ``tokenizer``: ``task_cls.serving(...).predict``, the
    preprocess -> forward -> postprocess of ``nlptasks run`` with task ``options`` (prefixes, language
    tokens and forced first token, windows, history truncation, decoding). The model predicts in eval mode
    and is left in the mode it was in. ``predict=False``: the task is set up around the model and the
    records are checked (``Task.validate``), nothing is predicted (returns ``[]``)."""
    from types import SimpleNamespace

    lm = SimpleNamespace(model=model, tokenizer=tokenizer, config=model.config, ct2=None,
                         device=next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        task = task_cls.serving(lm, batch_size=batch_size, **options)
        if not predict:
            task.validate(records)
            return []
        return task.predict(records)
    finally:
        model.train(was_training)
