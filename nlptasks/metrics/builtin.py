"""The built-in metric classes, the list the metric registry (``nlptasks.registry.METRICS``) registers.

Each class says what it is (name, value names, direction per value, ...); nothing about a metric is kept
anywhere else. Pure: no torch.
"""
from __future__ import annotations

from .classification import F1, MCC, Accuracy, MacroRecall
from .dialogue import Bleu4, Distinct, Perplexity, UnigramF1
from .qa import Squad, SquadV2
from .retrieval import RetrievalRecall
from .summarization import Rouge
from .translation import Bleu, Chrf, Ter

BUILTIN_METRICS = (Bleu, Chrf, Ter, Rouge, Accuracy, F1, MCC, MacroRecall, Squad, SquadV2, RetrievalRecall,
                   UnigramF1, Bleu4, Distinct, Perplexity)
