"""The task plugin interface.

A task knows its inputs and outputs, its model class, its default and recommended models, its own
options and its metrics; it does not know the CLI. ``predict(list[dict]) -> list[dict]`` is the whole
contract. Third-party tasks subclass :class:`Task` and register through the ``nlptasks.tasks``
entry-point group.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import NlpTasksError
from ..optypes import check_value, positive_int

log = logging.getLogger("nlptasks")


@dataclass(frozen=True)
class Option:
    """A task-specific setting, exposed as ``--flag`` by the CLI and as a keyword by the API."""

    flag: str
    type: Any = str
    default: Any = None
    help: str = ""
    choices: tuple | None = None
    action: str | None = None  # "store_true" for switches

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


def option_type_problem(o: Option, value) -> str | None:
    """What is wrong with ``value`` for an option of a plain type (``str``, ``int``, ``float``, a switch):
    "must be a string, got a list ([1, 2])"; ``None`` when it fits or is ``None`` (not given). Values from
    YAML (benchmark ``task_options``/``generation``) and ``--set`` arrive typed, and a list where a string
    belongs would otherwise fail deep inside the task."""
    if value is None:
        return None
    if o.action == "store_true":
        ok, want = isinstance(value, bool), "true or false"
    elif o.type is str:
        ok, want = isinstance(value, str), "a string"
    elif o.type is int:
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif o.type is float:
        ok, want = isinstance(value, (int, float)) and not isinstance(value, bool), "a number"
    else:
        return None
    if ok and o.choices and value not in o.choices:
        return f"must be one of {', '.join(map(str, o.choices))}, got {value!r:.60}"
    return None if ok else f"must be {want}, got {type(value).__name__} ({value!r:.60})"


@dataclass
class EmbeddedModel:
    """A model that ships with the package (no download): pretrained MiniLM variants and baselines."""

    name: str
    description: str
    baseline: bool = False


class Task:
    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    input_fields: ClassVar[tuple[str, ...]] = ("text",)   # required in every input record
    field_kinds: ClassVar[dict] = {}                      # field -> "str" (default) or "turns" (list of str)
    text_field: ClassVar[str] = "text"                    # filled from plain-text input
    text_mode: ClassVar[str] = "lines"                    # plain text: "lines" or "document"
    output_fields: ClassVar[tuple[str, ...]] = ()
    model_class: ClassVar[str] = ""                       # transformers Auto class for hub/local models
    default_model: ClassVar[str] = ""
    recommended_models: ClassVar[tuple[str, ...]] = ()
    embedded_models: ClassVar[tuple[EmbeddedModel, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    metrics: ClassVar[tuple[str, ...]] = ()
    primary_metric: ClassVar[str] = ""
    # The task's columns in the shared-data schema (../shared/data/README.md), the one table that
    # `eval --data FILE` and fine-tuning read: input field -> column path (default: the column of the
    # field's name; ``{src}``/``{tgt}`` stand for the language pair), the reference column, and the names
    # of integer labels (0, 1, ...).
    data_columns: ClassVar[dict[str, str]] = {}
    reference_column: ClassVar[str] = "reference"
    label_names: ClassVar[tuple[str, ...]] = ()
    # Whether the outputs are labels of a label set (classification): evaluation then normalises predictions
    # and references as labels (``evaluation.labels.LabelNormaliser``) even on a benchmark that names none.
    predicts_labels: ClassVar[bool] = False
    # The module that explains this task's outputs (``--explain``; see nlptasks/explain/__init__.py).
    explainer: ClassVar[str] = ""

    def __init__(self, model: str | None = None, *, revision: str | None = None, device: str = "auto",
                 dtype: str = "auto", quantize: str | None = None, trust_remote_code: bool = False,
                 batch_size: int | None = None, max_tokens: int | None = None, seed: int = 0,
                 explain: bool = False, explain_method: str | None = None, **options):
        known = {o.dest: o for o in self.options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise NlpTasksError(f"task {self.name!r} has no option {', '.join(unknown)}; "
                                f"its options: {', '.join(sorted(known)) or 'none'}")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise NlpTasksError(f"--model is empty (an unset variable?); give a model name or path, or leave "
                                f"--model out for the default ({self.default_model})")
        self.model_name = model or self.default_model
        self.revision = revision
        self.device = device
        self.dtype = dtype
        self.quantize = quantize
        self.trust_remote_code = trust_remote_code
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.seed = seed
        self.explain = bool(explain or explain_method)  # add an ``explanation`` to each output
        if self.explain:
            from ..explain import check_method

            explain_method = check_method(type(self), explain_method)
        self.explain_method = explain_method
        for key, value in (("batch_size", batch_size), ("max_tokens", max_tokens)):
            check_value(f"--{key.replace('_', '-')}", positive_int, value)
        self.settings: dict = {o.dest: options.get(o.dest, o.default) for o in self.options}
        for o in self.options:
            if getattr(o.type, "checks", False):
                check_value(o.flag, o.type, self.settings[o.dest])
            else:
                problem = option_type_problem(o, self.settings[o.dest])
                if problem:
                    raise NlpTasksError(f"{o.flag} {problem}")
        self.check_options()
        self._loaded = False

    def check_options(self) -> None:
        """Refuse option values that are wrong together (each one alone was checked by its type)."""

    # -- model handling -------------------------------------------------------------------------
    def check_model_name(self) -> None:
        """A ``--model`` that is no path, no ``owner/name`` hub id and no embedded model, but close to
        an embedded name, is refused with the embedded list and the closest match (no model loads)."""
        if self.model_name.lower() in {m.name for m in self.embedded_models}:
            return
        from ..backend.resolve import check_embedded_typo

        check_embedded_typo(self.model_name, [m.name for m in self.embedded_models], self.name)

    def load(self) -> "Task":
        """Load the model once (lazily called by ``predict``)."""
        if not self._loaded:
            self.check_model_name()
            import torch

            torch.manual_seed(self.seed)
            self._load()
            self._loaded = True
        return self

    def _load(self) -> None:
        raise NotImplementedError

    @classmethod
    def serving(cls, lm, *, batch_size: int | None = None, **options) -> "Task":
        """This task serving ``lm``, a transformers model already in memory (``model``, ``tokenizer``,
        ``config``, ``device``; e.g. the model being fine-tuned or a distillation teacher) with task
        ``options``: its :meth:`predict` is the one ``nlptasks run``/``eval`` make (preprocess -> forward ->
        postprocess), so validation during ``finetune`` and a teacher's outputs during ``distill`` are what
        the served model answers. Tasks that can serve a model in memory implement :meth:`_serve`."""
        task = cls(model="in-memory", device=str(lm.device), batch_size=batch_size, **options)
        task._serve(lm)
        task._loaded = True
        return task

    @classmethod
    def can_serve(cls) -> bool:
        """Whether :meth:`serving` works for this task (it implements :meth:`_serve`)."""
        return getattr(cls, "_serve") is not getattr(Task, "_serve")

    def _serve(self, lm) -> None:
        """Set this task up around the loaded transformers model ``lm`` (what :meth:`_load` does once it has
        loaded it)."""
        raise NlpTasksError(f"task {self.name!r} cannot serve a model in memory")

    def fit_label_space(self, benchmark: str, labels: list[str], normalise) -> None:
        """Evaluation on a classification benchmark whose labels are ``labels`` (``normalise`` maps one
        model label onto them), called once the model is loaded. A task whose model has labels of its own
        fits its predictions to the benchmark's here, recording the rule in ``self.settings["label_rule"]``
        (so result records and prediction-cache keys carry it), or refuses with an ``InputError``.
        Default: nothing (predictions are normalised and scored as they are)."""

    def model_info(self) -> dict:
        """Plain-data identity of the model in use (name, revision, weights hash, variant, parameters)."""
        raise NotImplementedError

    # -- prediction -------------------------------------------------------------------------------
    @classmethod
    def records_from_options(cls, options: dict) -> tuple[list[dict], str] | None:
        """Input given by task options instead of ``--input`` (e.g. qa's ``--question`` +
        ``--context-file``): ``(records, display name)``, or ``None`` to read the input as usual."""
        return None

    @classmethod
    def input_paths(cls, options: dict) -> list[tuple[str, str]]:
        """``(flag, path)`` of every file the task's options make it read (``--context-file``, an index
        folder, ...): options whose name ends in ``_file``, ``_dir``, ``_path`` or is ``index``. An output
        file is checked against each of them before anything is read or loaded."""
        out = []
        for o in cls.options:
            value = options.get(o.dest)
            if isinstance(value, str) and value and (o.dest.endswith(("_file", "_dir", "_path"))
                                                     or o.dest == "index"):
                out.append((o.flag, value))
        return out

    def validate(self, records: list[dict], source: str | None = None, *, allow_empty: bool = True,
                 hint: str = "") -> None:
        """Refuse records whose input fields are missing, null, not strings (``field_kinds``) or, unless
        ``allow_empty``, blank: one line naming ``source`` (the file) and the line."""
        from ..io import check_record

        fields = self.required_fields(self.settings)
        for i, rec in enumerate(records):
            check_record(rec, fields, source, index=i, kinds=self.field_kinds,
                         allow_empty=allow_empty, hint=hint)

    @classmethod
    def required_fields(cls, options: dict | None = None) -> tuple[str, ...]:
        """The input fields every record needs under task ``options`` (default: all ``input_fields``;
        e.g. qa with ``index`` needs only the question)."""
        return cls.input_fields

    def predict(self, records: list[dict]) -> list[dict]:
        """Predict for ``records`` (dicts with ``input_fields``); returns one output dict per record."""
        self.validate(records)
        if not records:
            return []
        self.load()
        outputs = self._predict(records)
        if len(outputs) != len(records):  # pragma: no cover - a plugin bug
            raise RuntimeError(f"task {self.name} returned {len(outputs)} outputs for {len(records)} inputs")
        if self.explain:
            from ..explain import explain

            outputs = explain(self, records, outputs, self.explain_method)
        return outputs

    def _predict(self, records: list[dict]) -> list[dict]:
        raise NotImplementedError

    def format_text(self, output: dict) -> str:
        """One output as plain text (for ``--format text``)."""
        return str(output[self.output_fields[0]])

    # -- training --------------------------------------------------------------------------------------
    @classmethod
    def training_spec(cls):
        """A plugin's own ``nlptasks.training.spec.TrainingSpec``, or ``None``: then training builds the
        family named by :attr:`training_family` with :meth:`training_options` (a task imports nothing
        from training; a third-party plugin may override this instead)."""
        return None

    # the training family (a class name in ``nlptasks.training.families.FAMILIES``) that fine-tunes this
    # task, or None when it cannot be fine-tuned
    training_family: str | None = None

    @classmethod
    def training_options(cls) -> dict:
        """Keyword arguments of :attr:`training_family` (this task's field names and defaults): plain data."""
        return {}

    # -- description --------------------------------------------------------------------------------
    @classmethod
    def info(cls) -> dict:
        return {"name": cls.name, "aliases": list(cls.aliases), "description": cls.description,
                "inputs": list(cls.input_fields), "outputs": list(cls.output_fields),
                "model_class": cls.model_class, "default_model": cls.default_model,
                "recommended_models": list(cls.recommended_models),
                "embedded_models": [m.name for m in cls.embedded_models],
                "metrics": list(cls.metrics), "primary_metric": cls.primary_metric}

    def run_settings(self) -> dict:
        """Every setting that changes outputs (recorded in results and hashed into run ids)."""
        return {"model": self.model_name, "revision": self.revision, "dtype": self.dtype,
                "quantize": self.quantize, "seed": self.seed, **self.settings}
