"""nlptasks: run, evaluate, fine-tune and rank pretrained NLP models, with their energy cost.

The Python API is what the CLI calls. Imports are lazy so that ``import nlptasks`` (and
``nlptasks --help``) does not pull in torch or transformers.
"""
from __future__ import annotations

__version__ = "0.2.0"

_API = {
    "run": ("nlptasks.api", "run"),
    "run_file": ("nlptasks.api", "run_file"),
    "load_task": ("nlptasks.api", "load_task"),
    "evaluate": ("nlptasks.evaluation.engine", "evaluate"),
    "finetune": ("nlptasks.api", "finetune"),
    "distill": ("nlptasks.api", "distill"),
    "leaderboard": ("nlptasks.leaderboard", "leaderboard"),
    "TASKS": ("nlptasks.registry", "TASKS"),
    "METRICS": ("nlptasks.registry", "METRICS"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        module, attr = _API[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'nlptasks' has no attribute {name!r}")
