"""``nlptasks eval ... --reference-metrics evaluate``: the Hub's ``evaluate`` implementation of each metric,
computed beside nlptasks' own on the same predictions and recorded next to it (``record["reference_metrics"]``).

The Hub's metric code is fetched by ``evaluate.load`` (a network download, cached in ``HF_MODULES_CACHE``).
:func:`prepare` runs in the engine's first stage, before data or model are loaded: offline
(``HF_HUB_OFFLINE=1``/``HF_EVALUATE_OFFLINE=1``, or no connection to the Hub) with a module not cached yet,
it stops at once with one line, before importing ``evaluate``. Metrics with no Hub counterpart
(``unigram_f1``, ``distinct``; ``perplexity``, whose Hub module runs a model of its own) are listed as such.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..errors import InputError, NlpTasksError

CHOICES = ("evaluate",)
# nlptasks metric -> the Hub's evaluate module that computes the same quantity
HUB_IDS = {"bleu": "sacrebleu", "bleu4": "sacrebleu", "chrf": "chrf", "ter": "ter", "rouge": "rouge",
           "accuracy": "accuracy", "f1": "f1", "mcc": "matthews_correlation", "macro_recall": "recall",
           "squad": "squad", "squad_v2": "squad_v2"}
# nlptasks value -> (the Hub module's result key, factor onto nlptasks' 0-100 scale)
_VALUES = {"bleu": ("score", 1), "bleu4": ("score", 1), "chrf": ("score", 1), "ter": ("score", 1),
           "rouge1": ("rouge1", 100), "rouge2": ("rouge2", 100), "rougeL": ("rougeL", 100),
           "rougeLsum": ("rougeLsum", 100), "accuracy": ("accuracy", 100), "f1": ("f1", 100),
           "mcc": ("matthews_correlation", 100), "macro_recall": ("recall", 100),
           "exact_match": ("exact_match", 1)}
_SQUAD_V2_VALUES = {"exact_match": "exact", "f1": "f1", "HasAns_exact": "HasAns_exact", "HasAns_f1": "HasAns_f1",
                    "NoAns_exact": "NoAns_exact", "NoAns_f1": "NoAns_f1"}
_TRUE = {"1", "ON", "YES", "TRUE"}
PROBE_TIMEOUT_S = 3.0


class HubUnavailable(NlpTasksError):
    """The Hub's metric code cannot be fetched (offline, or no connection)."""


def hub_ids(metrics: list[str]) -> dict[str, str]:
    """``{nlptasks metric: Hub module id}`` for the metrics that have a Hub counterpart."""
    return {m: HUB_IDS[m] for m in metrics if m in HUB_IDS}


def modules_cache() -> Path:
    """Where ``evaluate`` caches the Hub's metric code (its ``HF_MODULES_CACHE``), without importing it."""
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(os.environ.get("HF_MODULES_CACHE") or os.path.join(os.path.expanduser(home), "modules"))


def is_cached(hub_id: str) -> bool:
    folder = modules_cache() / "evaluate_modules" / "metrics" / f"evaluate-metric--{hub_id}"
    return any(folder.glob(f"*/{hub_id}.py"))


def _offline_variable() -> str | None:
    for var in ("HF_HUB_OFFLINE", "HF_EVALUATE_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return var
    return None


def unreachable(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the Hub (``HF_ENDPOINT``, default huggingface.co) cannot be reached within ``timeout`` seconds, or
    None when it can. The name lookup runs in a daemon thread too, so a resolver that never answers costs
    ``timeout`` and no more."""
    import threading

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as exc:
            outcome.append(f"no connection to {host}:{port} ({exc.strerror or exc})")

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else f"no answer from {host}:{port} within {timeout:g} s"


def prepare(kind: str, metrics: list[str]) -> dict[str, Any]:
    """Check, then load, the Hub's modules for ``metrics``: ``{nlptasks metric: evaluate module}``.

    Offline or unreachable with a module not cached: ``HubUnavailable`` at once (before ``evaluate`` is
    imported). Without the extra: one line naming ``pip install 'nlptasks[evaluate]'``."""
    if kind not in CHOICES:
        raise InputError(f"--reference-metrics: unknown implementation {kind!r}; choose from {', '.join(CHOICES)}")
    ids = hub_ids(metrics)
    if not ids:
        raise InputError(f"--reference-metrics {kind}: none of this benchmark's metrics ({', '.join(metrics)}) has "
                         f"a Hub implementation (those that do: {', '.join(sorted(HUB_IDS))})")
    missing = sorted({h for h in ids.values() if not is_cached(h)})
    if missing:
        offline = _offline_variable()
        reason = f"offline ({offline}=1)" if offline else unreachable()
        if reason:
            raise HubUnavailable(f"--reference-metrics {kind}: the Hub's metric code ({', '.join(missing)}) cannot be "
                                 f"fetched: {reason}; nlptasks' own metrics need no download (run without "
                                 f"--reference-metrics)")
    try:
        import evaluate
    except ImportError:
        raise NlpTasksError("--reference-metrics evaluate needs Hugging Face `evaluate`: "
                            "pip install 'nlptasks[evaluate]'") from None
    loaded: dict[str, Any] = {}
    by_id: dict[str, Any] = {}
    for metric, hub in ids.items():
        if hub not in by_id:
            try:
                by_id[hub] = evaluate.load(hub, keep_in_memory=True)
            except Exception as exc:  # the Hub's loader raises many kinds; one line for the user
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise HubUnavailable(f"--reference-metrics {kind}: the Hub's metric code ({hub}) cannot be "
                                     f"fetched: {first}") from None
        loaded[metric] = by_id[hub]
    return loaded


# -- inputs in the Hub modules' formats -----------------------------------------------------------
def _label_ids(predictions: list, references: list) -> tuple[list[int], list[int]]:
    labels = sorted({str(x) for x in list(predictions) + list(references)})
    index = {label: i for i, label in enumerate(labels)}
    return [index[str(p)] for p in predictions], [index[str(r)] for r in references]


def _ref_lists(references: list) -> list[list[str]]:
    return [[str(r) for r in ref] if isinstance(ref, (list, tuple)) else [str(ref)] for ref in references]


def hub_inputs(metric: str, predictions: list, references: list, options: dict) -> tuple[dict, dict]:
    """``(inputs, compute kwargs)`` for the Hub module of ``metric`` from nlptasks' predictions/references."""
    options = {k: v for k, v in (options or {}).items() if k not in ("bootstrap", "seed")}
    if metric in ("bleu", "bleu4", "chrf", "ter"):
        return {"predictions": [str(p) for p in predictions], "references": _ref_lists(references)}, options
    if metric == "rouge":
        from ..metrics.summarization import ROUGE_TYPES

        refs = [r if isinstance(r, (list, tuple)) else str(r) for r in references]
        return ({"predictions": [str(p) for p in predictions], "references": refs},
                {"rouge_types": list(options.get("rouge_types", ROUGE_TYPES)),
                 "use_stemmer": bool(options.get("use_stemmer", True))})
    if metric in ("accuracy", "f1", "mcc", "macro_recall"):
        preds, refs = _label_ids(predictions, references)
        kwargs = {"average": "macro"} if metric in ("f1", "macro_recall") else {}
        return {"predictions": preds, "references": refs}, kwargs
    if metric in ("squad", "squad_v2"):
        from ..metrics.qa import gold_answers, prediction_text

        preds, refs = [], []
        for i, (p, r) in enumerate(zip(predictions, references)):
            pred = {"id": str(i), "prediction_text": prediction_text(p)}
            if metric == "squad_v2":
                pred["no_answer_probability"] = 0.0
            golds = gold_answers(r)
            preds.append(pred)
            refs.append({"id": str(i), "answers": {"text": golds, "answer_start": [0] * len(golds)}})
        return {"predictions": preds, "references": refs}, {}
    raise KeyError(metric)


def _plain(x):
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "tolist"):
        return _plain(x.tolist())
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def _hub_value(metric: str, value: str, result: dict) -> float | None:
    if metric == "squad_v2":
        key, factor = _SQUAD_V2_VALUES.get(value, value), 1
    elif metric == "squad":
        key, factor = value, 1
    else:
        key, factor = _VALUES.get(value, (value, 1))
    got = result.get(key)
    return float(got) * factor if isinstance(got, (int, float)) and not isinstance(got, bool) else None


def compute(modules: dict[str, Any], bench, predictions: list, references: list, metrics: dict) -> dict:
    """The Hub modules' results beside nlptasks' values: ``record["reference_metrics"]``.

    ``metrics`` is the record's ``metrics`` (nlptasks' values). A Hub module that fails on these inputs is
    recorded with its error: the evaluation that was just run is not lost."""
    from importlib import metadata

    out: dict[str, Any] = {"implementation": "evaluate", "evaluate_version": metadata.version("evaluate"),
                           "metrics": {}, "no_hub_counterpart": [m for m in bench.metrics if m not in HUB_IDS]}
    from ..registry import metric_info

    for metric, module in modules.items():
        entry: dict[str, Any] = {"module": HUB_IDS[metric]}
        try:
            inputs, kwargs = hub_inputs(metric, predictions, references, bench.metric_options.get(metric) or {})
            result = _plain(module.compute(**inputs, **kwargs))
        except Exception as exc:  # recorded, not raised
            entry["error"] = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            out["metrics"][metric] = entry
            continue
        entry["result"] = result
        values = {}
        for value in metric_info(metric).get("produces") or []:
            key = value if value in metrics else f"{metric}.{value}"
            ours = (metrics.get(key) or {}).get("score")
            theirs = _hub_value(metric, value, result)
            if ours is not None and theirs is not None:
                values[key] = {"nlptasks": ours, "evaluate": theirs, "difference": theirs - ours}
        entry["values"] = values
        out["metrics"][metric] = entry
    return out


def format_reference(record: dict) -> str:
    """The cross-check as plain-text lines under ``nlptasks eval``'s table ('' when there is none)."""
    ref = record.get("reference_metrics")
    if not ref:
        return ""
    lines = [f"reference metrics (Hugging Face evaluate {ref.get('evaluate_version')}):"]
    for metric, entry in (ref.get("metrics") or {}).items():
        if entry.get("error"):
            lines.append(f"  {metric} vs {entry['module']}: error: {entry['error']}")
            continue
        for key, v in (entry.get("values") or {}).items():
            lines.append(f"  {key}: nlptasks {v['nlptasks']:.4f}, evaluate/{entry['module']} {v['evaluate']:.4f} "
                         f"(difference {v['difference']:+.4f})")
    if ref.get("no_hub_counterpart"):
        lines.append(f"  no Hub counterpart: {', '.join(ref['no_hub_counterpart'])}")
    return "\n".join(lines) + "\n"
