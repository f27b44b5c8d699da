"""Result records as the Hugging Face Hub's ``model-index`` (the model card's YAML front matter), which the
Hub's evaluation widgets and leaderboards read.

One ``model-index`` entry per model: ``results`` holds one item per benchmark (``task`` {type, name},
``dataset`` {name, type, config, split, args}, ``metrics`` [{type, value, name, verified: false, args}]).
Values are the record's scores as they are (nlptasks' 0-100 scale; MCC x 100; perplexity a ratio); each
metric's ``args`` carries its nlptasks signature (the settings that fix the score) and its 95% bootstrap
interval. ``dataset.type`` is the Hub dataset the benchmark's data comes from (the local copies of the
shared data: the Hub dataset they were taken from; ``dataset.args`` says the benchmark, its size and
its definition hash).

Used by ``nlptasks results export --format model-index --model NAME`` and by the packaged model cards'
renderers (``scripts/model_card*.py``, ``scripts/render_embedded_card.py``) through :func:`with_model_index`.
"""
from __future__ import annotations

import re
from typing import Any

# nlptasks task -> the Hub's task type and its display name
TASKS = {"translate": ("translation", "Translation"), "summarize": ("summarization", "Summarization"),
         "sentiment": ("text-classification", "Sentiment Analysis"),
         "qa": ("question-answering", "Question Answering"), "chat": ("text-generation", "Dialogue Response")}
# the shared data's folders (data_files of the *_local benchmarks) -> the Hub dataset and config they came from
LOCAL_SOURCES = {"translation": ("bentrevett/multi30k", None), "summarization": ("abisee/cnn_dailymail", "3.0.0"),
                 "sentiment": ("stanfordnlp/sst2", None), "qa": ("rajpurkar/squad", None),
                 "dialogue": ("li2017dailydialog/daily_dialog", None), "tweeteval": ("cardiffnlp/tweet_eval", "sentiment")}


# -- which metric produced a value, and its signature ---------------------------------------------
def _benchmark(record: dict):
    """The registered benchmark definition the record was scored with (same name and hash), else None."""
    from .definitions import BENCHMARKS

    b = record.get("benchmark") or {}
    name = b.get("name")
    try:
        if not name or name not in BENCHMARKS:
            return None
        bench = BENCHMARKS.get(name)
    except Exception:  # a broken definition file elsewhere must not stop an export
        return None
    return bench if str(bench.hash) == str(b.get("hash")) else None


def metric_of(record: dict, key: str, bench=None) -> str:
    """The nlptasks metric that produced the record's value ``key`` (``metric.value`` keys say it)."""
    from ..registry import METRICS

    if "." in key:
        return key.split(".", 1)[0]
    candidates = list(bench.metrics) if bench is not None else []
    candidates += [m for m in METRICS.names() if m not in candidates]
    task = record.get("task")
    fallback = None
    for m in candidates:
        if m not in METRICS:
            continue
        metric = METRICS.get(m)
        if key in (metric.produces or (m,)):
            if bench is not None and m in bench.metrics:
                return m
            if metric.task in (None, task):
                return m
            fallback = fallback or m
    return fallback or key


def signature(record: dict, key: str, bench=None) -> str:
    """The value's signature: the one the record carries, else rebuilt from the benchmark's metric options
    (when its definition, same hash, is registered) and the versions the record names."""
    from ..registry import METRICS

    extra = (record["metrics"][key].get("extra") or {})
    if extra.get("signature"):
        return str(extra["signature"])
    metric = metric_of(record, key, bench)
    env = record.get("environment") or {}
    versions = {"nlptasks": env.get("nlptasks"), "rouge-score": env.get("rouge_score")}
    if metric not in METRICS:
        return f"{metric}|nlptasks:{versions['nlptasks'] or '?'}"
    options = (bench.metric_options.get(metric) if bench is not None else None) or {}
    return METRICS.get(metric).with_options(**options).signature(versions)


# -- the model-index ------------------------------------------------------------------------------
def _dataset(record: dict, bench) -> dict:
    b = record.get("benchmark") or {}
    data = record.get("data") or {}
    ds = dict(bench.dataset) if bench is not None else {}
    path, files = ds.get("path"), ds.get("data_files")
    config, split = ds.get("name"), ds.get("split")
    if path and path != "json" and path not in ("csv", "parquet", "text"):
        hub_type = path
    else:
        first = files if isinstance(files, str) else (files[0] if isinstance(files, list) and files else None)
        folder = first.replace("\\", "/").split("/")[0] if first else None
        hub_type, config = LOCAL_SOURCES.get(folder, (None, None)) if folder else (None, None)
        if first and not split:
            stem = first.rsplit("/", 1)[-1].split(".")[0]
            split = stem if stem in ("train", "validation", "test") else None
        hub_type = hub_type or f"nlptasks/{b.get('name')}"
    out: dict[str, Any] = {"name": (bench.description if bench is not None and bench.description else b.get("name")),
                           "type": hub_type}
    if config:
        out["config"] = str(config)
    out["split"] = split or "validation"
    args = {"nlptasks_benchmark": b.get("name"), "version": b.get("version"), "definition_hash": b.get("hash"),
            "n": record.get("n")}
    if data.get("full_n") is not None:
        args["full_n"] = data["full_n"]
    if data.get("fingerprint"):
        args["data_fingerprint"] = data["fingerprint"]
    args["run_id"] = record.get("run_id")
    out["args"] = args
    return out


def _hub_type(record: dict, key: str, value: str, bench) -> tuple[str, str]:
    """(Hub metric type, display name) of one value, as the metric that produced it declares it
    (``Metric.hub_types``); a value it does not name is its own type and name."""
    from ..registry import METRICS

    metric = metric_of(record, key, bench)
    if metric in METRICS:
        found = METRICS.get(metric).hub_types.get(value)
        if found:
            return found
    return value, value


def _metric(record: dict, key: str, bench) -> dict:
    m = record["metrics"][key]
    value = key.split(".", 1)[-1]
    hub_type, name = _hub_type(record, key, value, bench)
    args: dict[str, Any] = {"nlptasks_signature": signature(record, key, bench)}
    if m.get("ci"):
        args["ci_95"] = [float(m["ci"][0]), float(m["ci"][1])]
    return {"type": hub_type, "value": float(m["score"]), "name": name, "verified": False, "args": args}


def model_index(name: str, records: list) -> list[dict]:
    """The ``model-index`` list (one model ``name``, one result per record) from result records
    (``ResultRecord``s, or dicts checked by ``ResultRecord.from_dict``: a bad one is one error line)."""
    from .result import ResultRecord

    if not records:
        raise ValueError("model_index: no records")
    results = []
    for i, given in enumerate(records):
        record = ResultRecord.coerce(given, f"model_index record {i}").to_dict()
        bench = _benchmark(record)
        task_type, task_name = TASKS.get(record.get("task"), (record.get("task"), record.get("task")))
        results.append({"task": {"type": task_type, "name": task_name}, "dataset": _dataset(record, bench),
                        "metrics": [_metric(record, key, bench) for key in record.get("metrics") or {}]})
    return [{"name": name, "results": results}]


def model_index_yaml(name: str, records: list[dict]) -> str:
    """``model-index:`` and its list, as YAML (the block that goes into a model card's front matter)."""
    import yaml

    return yaml.safe_dump({"model-index": model_index(name, records)}, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100000)


def _is_default_variant(record: dict) -> bool:
    v = (record.get("model") or {}).get("variant") or {}
    return not v.get("quantize") and not v.get("engine") and str(v.get("dtype")) in ("float32", "auto", "none", "None")


def pick(records: list[dict]) -> list[dict]:
    """One record per benchmark: a full run before a partial one, the default variant (float32, not
    quantized) before others, one not trained on its evaluation data, then the latest."""
    best: dict[str, dict] = {}

    def rank(r: dict) -> tuple:
        data = r.get("data") or {}
        full = data.get("full_n") is None or r.get("n") == data.get("full_n")
        return (full, _is_default_variant(r), not data.get("trained_on_eval_data"), str(r.get("created_at") or ""))

    for r in records:
        key = (r.get("benchmark") or {}).get("name")
        if key not in best or rank(r) > rank(best[key]):
            best[key] = r
    return [best[k] for k in sorted(best, key=str)]


def export_model_index(store, model: str, benchmark: str | None = None, name: str | None = None) -> tuple[str, int]:
    """``(model-index YAML, number of results)`` for the stored results of ``model`` (one per benchmark,
    :func:`pick`), leaving out results scored on data the model was trained on. No result:
    ``UnknownNameError`` naming the stored models."""
    from ..errors import NlpTasksError, UnknownNameError

    records = store.records(model=model, benchmark=benchmark)  # typed: ResultRecord
    if not records:
        models = sorted({r.model.name for r in store.records()})
        where = f" on benchmark {benchmark!r}" if benchmark else ""
        raise UnknownNameError(f"no stored result for model {model!r}{where} in {store.location}; stored models: "
                               f"{', '.join(models) or 'none'}")
    clean = [r for r in records if r.ranked]
    if len(clean) < len(records):  # a score on data the model was trained on does not go on a model card
        import logging

        logging.getLogger("nlptasks").warning(
            "nlptasks: left out %d result(s) of %s scored on data the model was trained on: %s",
            len(records) - len(clean), model, ", ".join(r.run_id for r in records if not r.ranked))
    if not clean:
        raise NlpTasksError(f"every stored result of model {model!r} was scored on data it was trained on "
                            "(data.trained_on_eval_data): nothing to put in a model-index")
    chosen = pick([r.to_dict() for r in clean])
    return model_index_yaml(name or model, chosen), len(chosen)


# -- model cards ----------------------------------------------------------------------------------
_FRONT = re.compile(r"\A---\n(.*?\n)---\n", re.S)


def split_front_matter(card: str) -> tuple[str | None, str]:
    """``(front matter without its --- lines, or None; the rest of the card)``."""
    m = _FRONT.match(card)
    if not m:
        return None, card
    return m.group(1), card[m.end():]


def _without_model_index(front: str) -> str:
    out, skipping = [], False
    for line in front.splitlines(keepends=True):
        if line.startswith("model-index:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "-")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "".join(out)


def with_model_index(card: str, block: str) -> str:
    """``card`` with ``block`` (from :func:`model_index_yaml`) as the ``model-index`` of its YAML front matter:
    an old ``model-index`` is replaced, the other keys and the rest of the card are left byte for byte; a
    card without front matter gets one, followed by a blank line."""
    front, rest = split_front_matter(card)
    if front is None:
        return f"---\n{block}---\n\n{card}"
    return f"---\n{_without_model_index(front)}{block}---\n{rest}"
