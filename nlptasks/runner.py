"""File-level running: read, validate, predict and write in bounded chunks.

The input is streamed in chunks of at most ``CHUNK_RECORDS`` records or ``CHUNK_CHARS`` characters of
input text, so memory does not grow with the input and output starts early. Each chunk is validated
before it is predicted; the first chunk is read and validated before the model is loaded, so a bad
first line costs nothing. Standard output is streamed chunk by chunk (a bad line later in the input
stops the run after the chunks before it were printed); ``--output FILE`` is written to a temporary
file beside FILE and renamed onto it only when every record succeeded, so a failed run never leaves a
partial file that looks complete.
"""
from __future__ import annotations

import contextlib
import json
import sys
from typing import Iterable, Iterator

from .errors import InputError
from .io import AtomicFile, InputStream, check_record, clean_record
from .paths import check_output_file

CHUNK_RECORDS = 1000
CHUNK_CHARS = 8 << 20


def chunked(records: Iterable[dict], fields: tuple[str, ...], max_records: int = CHUNK_RECORDS,
            max_chars: int = CHUNK_CHARS) -> Iterator[list[dict]]:
    """Group ``records`` into lists of at most ``max_records`` records or about ``max_chars`` characters
    of the ``fields`` (a single larger record makes a chunk of its own)."""
    chunk, size = [], 0
    for rec in records:
        n = sum(len(v) for f in fields if isinstance(v := rec.get(f), str))
        if chunk and (len(chunk) >= max_records or size + n > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append(rec)
        size += n
    if chunk:
        yield chunk


def run_file(cls, *, input_path, input_format="auto", field=None, output=None, output_format=None,
            show_cost=False, model=None, model_kwargs=None, options=None, cost_options=None,
            overwrite_fields=False, prediction_prefix=None, explain_html=None) -> int:
    """Run task class ``cls`` over ``input_path`` (None or "-": stdin) into ``output`` (None or "-":
    stdout); the implementation of ``nlptasks.api.run_file`` (and so of ``nlptasks run``).

    JSON Lines output keeps every input field; an input field that a prediction would replace (a gold
    ``label``, ``summary``, ``response``) is refused unless ``overwrite_fields``, or the predictions are
    written under ``prediction_prefix`` + their name (``predicted_label``)."""
    # 1. check the outputs before any input is read or any model loads: never one of the inputs
    #    (the input file, standard input, the files the task's options name)
    check_output_file(output, inputs=[input_path, *cls.input_paths(options or {})])
    if explain_html is not None:  # the page of explanations (``--explain-html``)
        check_output_file(explain_html, inputs=[input_path, output, *cls.input_paths(options or {})],
                          flag="--explain-html")
    explained: list | None = [] if explain_html is not None else None
    if prediction_prefix is not None and not str(prediction_prefix).strip():
        raise InputError("--prediction-prefix is empty; give a prefix such as predicted_")
    to_stdout = output in (None, "-")

    # 2. options and the model name (no model is loaded here)
    task = cls(model, **(model_kwargs or {}), **(options or {}))
    task.check_model_name()

    # 3. the input, streamed; the first chunk is validated before the model loads
    given = cls.records_from_options(options or {})
    if given is not None:
        if input_path is not None:
            raise InputError(f"--input cannot be combined with the {cls.name} options that give the input")
        (records, name), fmt = given, "text"
    else:
        stream = InputStream(input_path, fmt=input_format, text_field=cls.text_field, text_mode=cls.text_mode)
        records, fmt, name = stream, stream.format, stream.name
    if fmt == "jsonl" and field and field != cls.text_field:
        records = _renamed(records, field, cls.text_field, name)
    chunks = chunked(records, cls.input_fields)
    hint = "; use --field to choose the input field" if fmt == "jsonl" else ""

    out_fmt = output_format or fmt
    prefix = prediction_prefix or ""
    keep = None if overwrite_fields or out_fmt != "jsonl" else name  # refuse replacing input fields

    def validated() -> Iterator[list[dict]]:
        for chunk in chunks:
            task.validate(chunk, source=name, allow_empty=fmt != "jsonl", hint=hint)
            if keep is not None:
                for rec in chunk:
                    _check_kept(rec, [prefix + f for f in cls.output_fields], keep)
            yield chunk

    batches = validated()
    first = next(batches, None)
    if first is None:
        raise InputError(f"{name}: input is empty")

    gaps = fmt == "text" and cls.text_mode == "lines" and out_fmt == "text"  # keep blank lines in place
    tracker = _tracker(**(cost_options or {})) if show_cost else None
    sink = contextlib.nullcontext(sys.stdout) if to_stdout else AtomicFile(output)
    with sink as out, (tracker if tracker is not None else contextlib.nullcontext()):
        line = 0
        for chunk in _chain(first, batches):
            outputs = task.predict(chunk)
            if explained is not None:
                explained.extend(zip(chunk, outputs))
            parts = []
            for rec, o in zip(chunk, outputs):
                if out_fmt == "jsonl":
                    o = {prefix + k: v for k, v in o.items()} if prefix else o
                    if keep is not None:
                        _check_kept(rec, o, keep)
                    parts.append(json.dumps({**clean_record(rec), **o}, ensure_ascii=False) + "\n")
                    continue
                if gaps:
                    parts.append("\n" * (rec["__line__"] - line - 1))
                    line = rec["__line__"]
                parts.append(task.format_text(o) + "\n")
            out.write("".join(parts))
            out.flush()
    if tracker is not None:
        print(tracker.summary_line(), file=sys.stderr)
    if explained is not None:
        from .explain.html import write_page

        write_page(explain_html, task, explained)
    return 0


def _check_kept(rec: dict, fields, name: str) -> None:
    """Refuse a record that already has one of the output ``fields`` (it would be replaced)."""
    clash = next((f for f in fields if f in rec and not f.startswith("__")), None)
    if clash is not None:
        raise InputError(f"{name}: line {rec.get('__line__', '?')}: the input already has field {clash!r}, "
                         f"which the prediction would replace; pass --prediction-prefix PREFIX (e.g. "
                         f"predicted_) to write the predictions beside it, or --overwrite-fields to replace it")


def _chain(first: list[dict], rest: Iterator[list[dict]]) -> Iterator[list[dict]]:
    yield first
    yield from rest


def _renamed(records: Iterable[dict], field: str, text_field: str, name: str) -> Iterator[dict]:
    for rec in records:
        check_record(rec, [field], name, kinds={field: "any"})
        rec[text_field] = rec[field]
        yield rec


def _tracker(country=None, grid_intensity=None):
    from .cost import CostTracker

    return CostTracker(grid_intensity=grid_intensity, country=country)
