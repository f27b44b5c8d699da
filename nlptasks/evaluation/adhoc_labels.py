"""The label space of ``nlptasks eval TASK --data FILE`` for a classification task: the model's labels.

A data file declares no label set, so the one scored is the model's (read from its config or metadata by
the task's ``model_label_names``, no weights loaded):

* integer labels (``0``, ``1``, ``2`` or ``"2"``) are ids of the model's labels, in its id order
  (``id2label``): with the packaged three-class default 0/1/2 are negative/neutral/positive; a binary
  model reads 0/1 as negative/positive, as before. An id the model does not have is refused, with its file
  and line, by the reference check (an id names no label, so it cannot be scored as a missing one);
* label names are matched by name (case-insensitive);
* a name the model does not have is refused the same way (one line: file, line, the model's labels; a typo
  such as ``postive`` is caught here), unless ``--set missing_labels=score``: then it joins the label set
  and the task's missing-labels rule scores it (each such example wrong) and names it in ``label_rule``;
* a model whose labels are generic (``LABEL_0``, ``LABEL_1``) with as many labels as the task's default
  names keeps those names (``LABEL_1`` reads as ``positive``), as before.

With more than two labels the primary metric is macro-averaged recall (as on ``sst3_local`` and
``tweeteval_sentiment_local``, and finetune's checkpoint choice), so a model that never predicts a class
cannot rank high. The definition hash covers the resolved labels and metric.
"""
from __future__ import annotations

import re

from .definitions import Benchmark, relabelled_adhoc

_INT = re.compile(r"-?\d+")
_GENERIC = re.compile(r"label_\d+")
MULTICLASS_PRIMARY = "macro_recall"


def label_space(refs: list, model_labels: list[str], default_names: tuple[str, ...] | list[str], *,
                score_missing: bool = False) -> list[str]:
    """The benchmark's label names (lower case) for references ``refs`` scored against ``model_labels``:
    the model's, plus (``score_missing``) the names of references it lacks."""
    names = [str(m).strip().lower() for m in model_labels]
    if len(names) == len(default_names) and all(_GENERIC.fullmatch(n) for n in names):
        names = [n.lower() for n in default_names]
    extra: list[str] = []
    for ref in refs:
        if ref is None:
            continue  # refused later, with its line (check_references)
        if isinstance(ref, bool):
            ref = int(ref)
        if isinstance(ref, str) and _INT.fullmatch(ref.strip()):
            ref = int(ref)
        if isinstance(ref, int):
            continue  # an id: in range or refused by the reference check
        s = str(ref).strip().lower()
        if score_missing and s and s not in names and s not in extra:
            extra.append(s)
    return names + extra


def fit(bench: Benchmark, cls, model: str | None, refs: list, *, revision: str | None = None,
        trust_remote_code: bool = False, score_missing: bool = False) -> Benchmark:
    """``bench`` (an ad-hoc classification benchmark) over the model's label space, or ``bench`` itself
    when the task cannot name the model's labels without loading it."""
    labels_of = getattr(cls, "model_label_names", None)
    labels = labels_of(model, revision=revision, trust_remote_code=trust_remote_code) if labels_of else None
    if not labels:
        return bench
    names = label_space(refs, labels, cls.label_names, score_missing=score_missing)
    primary = MULTICLASS_PRIMARY if len(names) > 2 and MULTICLASS_PRIMARY in bench.metrics else bench.primary_metric
    return relabelled_adhoc(bench, names, primary)
