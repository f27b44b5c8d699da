"""The five trainable tasks: canonical names, aliases, model classes, fields and primary metrics."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UnknownNameError


@dataclass(frozen=True)
class TrainTask:
    name: str
    auto_class: str
    kind: str               # "classification", "qa", "seq2seq", "causal"
    primary_metric: str     # the metric name in nlptasks.metrics
    metric_key: str         # the key of the score used to pick the best checkpoint
    greater_is_better: bool = True


TRAIN_TASKS = {
    "sentiment": TrainTask("sentiment", "AutoModelForSequenceClassification", "classification", "accuracy",
                           "accuracy"),
    "qa": TrainTask("qa", "AutoModelForQuestionAnswering", "qa", "squad", "f1"),
    "summarize": TrainTask("summarize", "AutoModelForSeq2SeqLM", "seq2seq", "rouge", "rougeL"),
    "translate": TrainTask("translate", "AutoModelForSeq2SeqLM", "seq2seq", "bleu", "bleu"),
    "chat": TrainTask("chat", "AutoModelForCausalLM", "causal", "unigram_f1", "unigram_f1"),
}

ALIASES = {"sentiment-analysis": "sentiment", "text-classification": "sentiment", "classify": "sentiment",
           "classification": "sentiment", "question-answering": "qa", "summarization": "summarize",
           "translation": "translate", "dialogue": "chat"}


def get_task(name: str) -> TrainTask:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TRAIN_TASKS:
        raise UnknownNameError(f"unknown task {name!r} for training; known tasks: {', '.join(TRAIN_TASKS)}")
    return TRAIN_TASKS[key]


def task_names() -> list[str]:
    return list(TRAIN_TASKS) + sorted(ALIASES)
