"""Was the evaluated model trained on the data it is scored on?

``nlptasks finetune``/``distill`` write ``training_result.json`` beside the model; its ``data.train``
holds the fingerprint of every row the model was trained on as read (``source_fingerprint``; for older
results of a file, ``fingerprint`` is the same value). The evaluation engine fingerprints a benchmark's
data the same way (:func:`nlptasks.hashing.records_fingerprint` of all its rows, before ``--limit``).
Equal fingerprints: the record is marked (``data.trained_on_eval_data``) and the leaderboard never
ranks it (``nlptasks.leaderboard.ranking``).
"""
from __future__ import annotations

import json
from pathlib import Path

TRAINING_RESULT = "training_result.json"  # nlptasks.training.outputs.RESULT (not imported: no torch here)


def training_fingerprints(model_path: str | None) -> tuple[set[str], str | None]:
    """The fingerprints of the data the model at ``model_path`` was trained on (empty when it has no
    readable ``training_result.json``) and that file's path."""
    if not model_path:
        return set(), None
    p = Path(model_path)
    for d in (p, p.parent) if p.is_file() else (p,):
        f = d / TRAINING_RESULT
        try:
            result = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        train = ((result.get("data") or {}) if isinstance(result, dict) else {}).get("train") or {}
        if not isinstance(train, dict):
            return set(), str(f)
        fps = {train.get("source_fingerprint")}
        if train.get("kind") == "file":  # a file's records are its rows: the two fingerprints agree
            fps.add(train.get("fingerprint"))
        return {x for x in fps if isinstance(x, str) and x}, str(f)
    return set(), None


def trained_on(model_path: str | None, data_fingerprint: str) -> str | None:
    """The ``training_result.json`` that shows the model was trained on data with ``data_fingerprint``,
    else None."""
    fps, where = training_fingerprints(model_path)
    return where if data_fingerprint in fps else None
