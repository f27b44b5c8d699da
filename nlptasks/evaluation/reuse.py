"""Reusing stored results in a suite run (``nlptasks eval --suite FILE --reuse``, ``run_suite(reuse=True)``).

An entry of the suite is not evaluated again when the results store holds a record of the very same run,
judged by what the record states against what this run would write:

* benchmark: name, version and definition hash;
* data: the fingerprint of the examples evaluated (``data.fingerprint``) and their number (``n``), so a
  changed data file or another ``limit`` is evaluated again;
* model: name, revision, weights hash and config hash (``model.weights_hash``/``config_hash``: a changed
  model file does not match) and the variant it ran as (dtype, quantization, engine);
* settings: every setting the record keeps (``settings``: the task options, dtype and quantization asked
  for, seed, limit, batch size, token budget), the device compared by kind (``cpu``, ``cuda``);
* the nlptasks version that made it (``environment.nlptasks``).

Other package versions (torch, transformers) are recorded in ``environment`` but not compared. The model
is loaded to know its identity (its weights hash, the variant it resolves to) but predicts nothing; the
newest matching record is used when there are several.
"""
from __future__ import annotations

import json
from typing import Any


def stored_records(store, benchmarks: list[str]) -> dict[str, list[dict]]:
    """The stored records of each benchmark, oldest first (``{}`` for a store that does not exist yet):
    read once, when a suite starts, so every process of a data-parallel run decides alike."""
    from pathlib import Path

    from .store import ResultStore, default_location

    location = str(store) if store is not None else default_location()
    if "://" not in location and not Path(location).expanduser().exists():
        return {}
    with ResultStore(location, readonly=True) as st:
        return {name: [r.to_dict() for r in st.records(benchmark=name)] for name in dict.fromkeys(benchmarks)}


def plain(value: Any) -> Any:
    """``value`` as the record holds it once written as JSON (tuples are lists, paths are strings)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _device_kind(device: Any) -> str:
    return str(device or "").split(":")[0]


def matches(record: dict, want: dict) -> bool:
    """Whether a stored ``record`` is a result of the run ``want`` (``engine.run_identity``) describes."""
    if not isinstance(record, dict):
        return False
    model, data = record.get("model") or {}, record.get("data") or {}
    settings = dict(record.get("settings") or {})
    want_settings = dict(want["settings"])
    if _device_kind(settings.pop("device", None)) != _device_kind(want_settings.pop("device", None)):
        return False
    got = plain({
        "benchmark": {k: (record.get("benchmark") or {}).get(k) for k in ("name", "version", "hash")},
        "data": {"fingerprint": data.get("fingerprint"), "n": record.get("n")},
        "model": {k: model.get(k) for k in ("name", "revision", "weights_hash", "config_hash", "variant")},
        "settings": settings,
        "nlptasks": (record.get("environment") or {}).get("nlptasks"),
    })
    return got == {**want, "settings": plain(want_settings)}


def find_reusable(records: list[dict], want: dict) -> dict | None:
    """The newest of ``records`` (oldest first, as the store returns them) that is a result of the run
    ``want`` describes (``engine.run_identity``)."""
    for record in reversed(records):
        if matches(record, want):
            return record
    return None
