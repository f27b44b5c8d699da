"""One generic registry for tasks, metrics, benchmarks and embedded models.

Built-in entries register themselves by name (plus aliases); third-party packages add entries through
an entry-point group (``nlptasks.tasks``, ``nlptasks.metrics``). An unknown name is answered with the
list of known ones.
"""
from __future__ import annotations

import difflib
from importlib import metadata
from typing import Any, Callable, Generic, Iterator, TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entry_point_group: str | None = None,
                 loader: Callable[[], None] | None = None, source_key: Callable[[], Any] | None = None,
                 coerce: Callable[[str, Any], T] | None = None):
        self.kind = kind
        # turns what a plugin registers into the registry's item type (metrics: a Metric instance)
        self._coerce = coerce
        self.entry_point_group = entry_point_group
        self._loader = loader  # imports the built-in modules that register entries (lazily)
        # what the loader read (e.g. a search path from the environment): when its value changes, the
        # entries are loaded again on the next lookup
        self._source_key = source_key
        self._key: Any = None
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._originals: dict[str, Any] = {}  # what was registered, where coerce replaced it
        self._loaded = False

    def register(self, name: str, item: T | None = None, *, aliases: tuple[str, ...] | list[str] = ()):
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is omitted."""
        def add(obj: T) -> T:
            key = name.lower()
            if key in self._items and (obj is self._items[key] or obj is self._original(key)):
                pass  # the same entry again: kept as it is
            elif key in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            else:
                self._items[key] = self._coerced(key, obj)
            for alias in aliases:
                self._aliases[alias.lower()] = key
            return obj

        return add(item) if item is not None else add

    def _ensure_loaded(self) -> None:
        if self._loaded and self._source_key is not None and self._source_key() != self._key:
            self._items.clear()
            self._aliases.clear()
            self._originals.clear()
            self._loaded = False
        if self._loaded:
            return
        if self._source_key is not None:
            self._key = self._source_key()
        self._loaded = True  # set first: a module the loader imports may look names up
        if self._loader is not None:
            try:
                self._loader()
            except BaseException:
                self._loaded = False  # a broken built-in module fails every lookup, not only the first
                raise
        if self.entry_point_group:
            for ep in metadata.entry_points(group=self.entry_point_group):
                if ep.name.lower() in self._items:
                    continue
                try:
                    obj = ep.load()
                except Exception as exc:  # a broken plugin must not break the toolkit
                    import logging
                    logging.getLogger("nlptasks").warning(
                        "could not load %s plugin %r: %s", self.kind, ep.name, exc)
                    continue
                aliases = getattr(obj, "aliases", ())
                self.register(ep.name, obj, aliases=tuple(aliases) if isinstance(aliases, (list, tuple)) else ())

    def canonical(self, name: str) -> str:
        self._ensure_loaded()
        key = name.lower()
        key = self._aliases.get(key, key)
        if key not in self._items:
            known = ", ".join(self.names())
            close = difflib.get_close_matches(key, list(self._items) + list(self._aliases), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}")
        return key

    def _coerced(self, key: str, obj):
        if self._coerce is None:
            return obj
        item = self._coerce(key, obj)
        if item is not obj:
            self._originals[key] = obj
        return item

    def _original(self, key: str):
        return self._originals.get(key)

    def get(self, name: str) -> T:
        key = self.canonical(name)
        item = self._items[key]
        if self._coerce is not None:
            coerced = self._coerced(key, item)  # an entry put in directly (tests): coerced once, kept
            if coerced is not item:
                self._items[key] = item = coerced
        return item

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._ensure_loaded()
        key = name.lower()
        return key in self._items or key in self._aliases

    def names(self) -> list[str]:
        self._ensure_loaded()
        return sorted(self._items)

    def items(self) -> Iterator[tuple[str, T]]:
        self._ensure_loaded()
        if self._coerce is None:
            return iter(sorted(self._items.items()))
        return iter([(key, self.get(key)) for key in sorted(self._items)])

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._items)} entries)"


def _load_builtin_tasks() -> None:
    from .tasks import builtin_tasks

    for task in builtin_tasks():
        TASKS.register(task.name, task, aliases=task.aliases)


def _load_builtin_metrics() -> None:
    from .metrics.builtin import BUILTIN_METRICS

    for cls in BUILTIN_METRICS:
        METRICS.register(cls.name, cls, aliases=cls.aliases)


def _as_metric(name: str, item: Any):
    from .metrics.metric import as_metric

    return as_metric(name, item)


TASKS: Registry[Any] = Registry("task", "nlptasks.tasks", _load_builtin_tasks)
# one Metric instance per name (nlptasks.metrics.metric.Metric): a registered subclass is instantiated with
# its defaults; a plain function (the old way) is wrapped, its ``info`` dict read (deprecated)
METRICS: Registry[Any] = Registry("metric", "nlptasks.metrics", _load_builtin_metrics, coerce=_as_metric)


def metric_info(name: str) -> dict:
    """A metric's metadata as a dict (``Metric.info()``: ``produces``, ``higher_is_better`` {value name:
    bool}, ``description``, ``task``, ``aggregatable``, ``prediction_field``), read from the registered
    metric itself. ``UnknownNameError`` for a name that is not a metric."""
    return METRICS.get(name).info()


def higher_is_better(metric: str, value: str | None = None) -> bool:
    """Whether a larger ``value`` (default: the metric's own name) of ``metric`` is better, as the registered
    metric declares it (``Metric.higher_is_better_for``)."""
    return METRICS.get(metric).higher_is_better_for(value)
