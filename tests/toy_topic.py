"""A third-party task plugin for tests: "topic" classification of ``{sentence}`` -> ``{topic}``.

It is defined outside the package and registered the way entry points are (see test_task_plugins.py):
it runs, evaluates and fine-tunes through the same code paths as the built-in tasks, reusing the
sequence-classification training family with its own field names.
"""
from __future__ import annotations

from nlptasks.tasks.base import Task


class TopicTask(Task):
    name = "topic"
    aliases = ("topics",)
    description = "Toy plugin: the topic of a sentence."
    input_fields = ("sentence",)
    text_field = "sentence"
    output_fields = ("topic",)
    model_class = "AutoModelForSequenceClassification"
    metrics = ("accuracy",)
    primary_metric = "accuracy"
    reference_column = "topic"  # its data's column table: `eval topic --data FILE` and finetune read it

    @classmethod
    def training_spec(cls):
        from nlptasks.training.families import SequenceClassification

        return SequenceClassification(cls, text_field=cls.input_fields[0], label_field=cls.reference_column)

    def _load(self) -> None:
        from nlptasks.backend.loading import load_pretrained

        self._lm = load_pretrained(self.model_name, self.model_class, device=self.device)

    def model_info(self) -> dict:
        self.load()
        return self._lm.describe()

    def _predict(self, records: list[dict]) -> list[dict]:
        from nlptasks.backend.inference import forward_batched

        enc = self._lm.tokenizer([str(r["sentence"]) for r in records], truncation=True, max_length=64)
        items = [{k: enc[k][i] for k in enc.keys()} for i in range(len(records))]
        names = self._lm.config.id2label
        return [{"topic": names[int(lg.argmax())]} for (lg,) in forward_batched(self._lm, items)]
