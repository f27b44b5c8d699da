"""The Trainer classes (evaluation in dataset order; generation during validation) and the greedy
generation of chat responses used in validation and for teacher outputs. Below ``trainer`` and the
families, so both can use them without importing each other."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import TrainingSpec


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

    class Trainer(OrderedEval, HFTrainer):
        pass

    class Seq2SeqTrainer(OrderedEval, HFSeq2SeqTrainer):
        def evaluate(self, *args, **gen_kwargs):
            """Validation by generation drops finished rows (backend/greedy.py) where that applies:
            validation batches are in dataset order, so their rows finish at very different steps."""
            from ..backend.inference import greedy_loop_kwargs

            gen_kwargs = {**getattr(self, "generation_kwargs", {}), **gen_kwargs}  # e.g. the forced first token
            if "custom_generate" not in gen_kwargs and (self.args.generation_num_beams or 1) == 1:
                gen_kwargs.update(greedy_loop_kwargs(self.accelerator.unwrap_model(self.model), self.args.device))
            return super().evaluate(*args, **gen_kwargs)

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
    """Greedy responses of a causal LM to tokenised prompts, through the one batched generation loop that
    serves ``nlptasks run`` (``backend.inference.generate_batched``: left padding, finished rows dropped)."""
    from types import SimpleNamespace

    from transformers import GenerationConfig

    from ..backend.inference import generate_batched

    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    was_training = model.training
    model.eval()
    cfg = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    lm = SimpleNamespace(model=model, tokenizer=tokenizer, device=next(model.parameters()).device, ct2=None)
    items = [{"input_ids": list(p), "attention_mask": [1] * len(p)} for p in prompts]
    try:
        ids = generate_batched(lm, items, cfg, decoder_only=True, batch_size=batch_size)
    finally:
        model.train(was_training)
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in ids]
