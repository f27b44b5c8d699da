"""The evaluation layer: benchmark definition -> engine -> metrics -> result record -> store.

- ``definitions``: benchmark definitions (YAML files, the registry of benchmarks, ad-hoc ``--data`` ones)
- ``datasets_io``: reading a benchmark's data (local files or hub datasets) and its column paths
- ``engine``: ``evaluate()``, a benchmark and a model in, one result record out
- ``result``: the result record's one schema, typed (``ResultRecord`` and its parts; ``from_dict`` validates)
- ``records``: helpers that read a record given as a JSON object, and the validator's old names
- ``store``: the results store (SQLite or PostgreSQL) and ``results import``
- ``suites``: evaluation suites (several benchmarks x models) and their rendered leaderboards

The rankings themselves are in ``nlptasks.leaderboard``. Imports are lazy: ``nlptasks.evaluation.evaluate``
is the engine's function (the same as ``nlptasks.evaluate``).
"""
from __future__ import annotations


def __getattr__(name: str):
    if name == "evaluate":
        from .engine import evaluate

        return evaluate
    raise AttributeError(f"module 'nlptasks.evaluation' has no attribute {name!r}")
