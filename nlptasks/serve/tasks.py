"""The served tasks: one task plugin instance per (task, options) with the model loaded once.

A request's ``options`` are the task's own options (the same as ``nlptasks run TASK --help`` lists,
named as in the Python API: ``max_new_tokens``), checked by the option's own type. Each distinct set
of options gets its own plugin instance (kept, up to ``max_variants``); they share one loaded model
through the backend's model cache. Options that read files on the server or choose how the model is
loaded (``engine``) are server settings, never taken from a request.
"""
from __future__ import annotations

import argparse
import threading
from collections import OrderedDict

from ..errors import InputError
from ..registry import TASKS
from ..tasks.base import Task

SERVER_ONLY = ("engine", "index")  # how the model is loaded (`serve --engine`); a folder on the server
_FILE_SUFFIXES = ("_file", "_dir", "_path", "_folder")


class ServedTask:
    """A task as the server serves it: class, model, settings, and its instances per option set."""

    def __init__(self, name: str, model: str | None, model_kwargs: dict, server_options: dict,
                 max_variants: int = 8):
        self.cls: type[Task] = TASKS.get(name)
        self.name = self.cls.name
        self.model_kwargs = dict(model_kwargs)
        known = {o.dest for o in self.cls.options}
        self.server_options = {k: v for k, v in server_options.items() if k in known}
        self.base = self.cls(model, **self.model_kwargs, **self.server_options)
        self.base.check_model_name()
        self.model_name = self.base.model_name
        self.max_variants = max_variants
        self._variants: OrderedDict[tuple, Task] = OrderedDict({(): self.base})
        self._lock = threading.Lock()
        self.loaded = False

    # -- options --------------------------------------------------------------------------------
    def request_options(self) -> list:
        return [o for o in self.cls.options if _request_option(self.cls, o)]

    def parse_options(self, given: dict) -> tuple:
        """A request's options, checked and converted: a hashable key (sorted pairs). Unknown or
        server-only options, and values of the wrong type, are refused naming ``options.NAME``."""
        if not isinstance(given, dict):
            raise InputError("options: must be an object")
        allowed = {o.dest: o for o in self.request_options()}
        out = {}
        for raw, value in given.items():
            key = str(raw).lstrip("-").replace("-", "_")
            o = allowed.get(key)
            if o is None:
                if key in {x.dest for x in self.cls.options}:
                    raise InputError(f"options.{raw}: a server setting of {self.name}, not a request option")
                raise InputError(f"options.{raw}: {self.name} has no such option; its options: "
                                 f"{', '.join(sorted(allowed)) or 'none'}")
            out[key] = _convert(o, value, raw)
        return tuple(sorted(out.items()))

    def variant(self, key: tuple) -> Task:
        """The plugin instance for option set ``key`` (created on first use; the oldest is dropped
        beyond ``max_variants``; the model itself is shared and stays loaded)."""
        with self._lock:
            task = self._variants.get(key)
            if task is not None:
                self._variants.move_to_end(key)
                return task
        task = self.cls(self.model_name, **self.model_kwargs, **{**self.server_options, **dict(key)})
        with self._lock:
            self._variants[key] = task
            while len(self._variants) > self.max_variants:
                oldest = next(k for k in self._variants if k != ())
                del self._variants[oldest]
        return task

    def load(self) -> None:
        self.base.load()
        self.loaded = True

    def info(self) -> dict:
        info = self.cls.info()
        info.update(model=self.model_name, loaded=self.loaded,
                    field_kinds={f: self.cls.field_kinds.get(f, "str") for f in self.cls.input_fields},
                    text_field=self.cls.text_field,
                    options=[{"name": o.dest, "type": "bool" if o.action else _type_name(o.type),
                              "default": o.default, "choices": list(o.choices) if o.choices else None,
                              "help": o.help} for o in self.request_options()])
        return info


def _request_option(cls, o) -> bool:
    """Options a request may set: not server-only, not naming a server file, not giving the input (qa's
    ``question``, which goes with a context file; a request sends its records in ``inputs``)."""
    if o.dest in SERVER_ONLY or o.dest.endswith(_FILE_SUFFIXES):
        return False
    if o.action is None and o.type is str:
        try:
            return cls.records_from_options({o.dest: "x"}) is None
        except Exception:
            return False
    return True


def _type_name(t) -> str:
    if t in (str, int, float):
        return t.__name__
    return "int" if "int" in getattr(t, "__name__", "") else "number" if "number" in getattr(t, "__name__", "") \
        else "str"


def _convert(o, value, raw):
    where = f"options.{raw}"
    if o.action == "store_true":
        if not isinstance(value, bool):
            raise InputError(f"{where}: must be true or false, got {value!r}")
        return value
    if value is None:
        return None
    if o.type is str or o.type is None:
        if not isinstance(value, str):
            raise InputError(f"{where}: must be a string, got {value!r}")
        v = value
    else:
        if isinstance(value, (dict, list)):
            raise InputError(f"{where}: must be a single value, got {type(value).__name__}")
        try:
            v = o.type(value)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            raise InputError(f"{where}: {exc or 'invalid value'}") from None
    if o.choices and v not in o.choices:
        raise InputError(f"{where}: must be one of {', '.join(map(str, o.choices))}, got {v!r}")
    return v
