"""File-level running: read records, validate them all, predict, write the output in one go.

Validation happens before any model is loaded, so a bad line costs nothing; the output is written
atomically after all predictions, so a failure never leaves a partial file that looks complete.
"""
from __future__ import annotations

import sys

from .errors import InputError
from .io import check_fields, clean_record, dumps_jsonl, emit, read_records
from .paths import check_output_file


def run_cli(cls, *, input_path, input_format="auto", field=None, output=None, output_format=None,
            show_cost=False, model=None, model_kwargs=None, options=None, cost_options=None) -> int:
    check_output_file(output, inputs=[input_path])  # before reading the input or loading a model
    given = cls.records_from_options(options or {})
    if given is not None:
        if input_path is not None:
            raise InputError(f"--input cannot be combined with the {cls.name} options that give the input")
        (records, name), fmt = given, "text"
    else:
        records, fmt, name = read_records(input_path, fmt=input_format, text_field=cls.text_field,
                                          text_mode=cls.text_mode)
    if fmt == "jsonl" and field and field != cls.text_field:
        for rec in records:
            if field not in rec:
                raise InputError(f"{name}: line {rec['__line__']}: missing field {field!r} "
                                 f"(fields present: {', '.join(k for k in rec if not k.startswith('__'))})")
            rec[cls.text_field] = rec[field]
    blank = [fmt == "text" and cls.text_mode == "lines" and not str(r.get(cls.text_field, "")).strip()
             for r in records]
    todo = [r for r, b in zip(records, blank) if not b]
    if not todo:
        raise InputError(f"{name}: input is empty")
    check_fields(todo, cls.input_fields, name)
    for rec in todo:
        for f in cls.input_fields:
            if isinstance(rec[f], str) and not rec[f].strip() and fmt == "jsonl":
                raise InputError(f"{name}: line {rec['__line__']}: field {f!r} is empty")

    task = cls(model, **(model_kwargs or {}), **(options or {}))
    tracker = _tracker(**(cost_options or {})) if show_cost else None
    if tracker is not None:
        with tracker:
            outputs = task.predict(todo)
    else:
        outputs = task.predict(todo)

    out_fmt = output_format or fmt
    it = iter(outputs)
    merged = [None if b else next(it) for b in blank]
    if out_fmt == "jsonl":
        rows = [{**clean_record(r), **o} for r, o in zip(records, merged) if o is not None]
        text = dumps_jsonl(rows)
    else:
        text = "".join(("" if o is None else task.format_text(o)) + "\n" for o in merged)
    emit(text, output)
    if tracker is not None:
        print(tracker.summary_line(), file=sys.stderr)
    return 0


def _tracker(country=None, grid_intensity=None):
    from .cost import CostTracker

    return CostTracker(grid_intensity=grid_intensity, country=country)
