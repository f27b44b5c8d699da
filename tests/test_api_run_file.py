"""`nlptasks.run_file`: the file-level run of the Python API, which `nlptasks run` calls, with the same
checks before any model loads."""
from __future__ import annotations

import json

import pytest

import nlptasks
from nlptasks.cli import main
from nlptasks.errors import InputError


def test_cli_run_goes_through_the_api(tmp_path, monkeypatch):
    import nlptasks.api

    calls = []
    monkeypatch.setattr(nlptasks.api, "run_file", lambda *a, **kw: calls.append((a, kw)) or 0)
    assert main(["run", "sentiment", "--input", str(tmp_path / "in.txt"), "--model", "majority", "--cost"]) == 0
    (cls, input_path, output_path), kw = calls[0]
    assert cls.name == "sentiment" and input_path == str(tmp_path / "in.txt") and output_path is None
    assert kw["model"] == "majority" and kw["cost"] is True and kw["device"] == "auto"


def test_run_file_checks_input_before_the_model_and_writes_nothing(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(InputError, match="input is empty"):
        nlptasks.run_file("sentiment", str(empty), str(tmp_path / "out.jsonl"), model="/nonexistent/model-dir")
    assert not (tmp_path / "out.jsonl").exists()
    with pytest.raises(InputError, match="is the input file"):
        nlptasks.run_file("sentiment", str(empty), str(empty), model="majority")


def test_run_file_writes_what_the_cli_writes(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a good film\nawful\n")
    assert nlptasks.run_file("sentiment", str(src), str(tmp_path / "api.jsonl"), model="majority",
                             output_format="jsonl") == 0
    assert main(["run", "sentiment", "-i", str(src), "-o", str(tmp_path / "cli.jsonl"), "-f", "jsonl",
                 "--model", "majority"]) == 0
    api = [json.loads(line) for line in (tmp_path / "api.jsonl").read_text().splitlines()]
    assert len(api) == 2 and api[0]["text"] == "a good film" and "label" in api[0]
    assert (tmp_path / "api.jsonl").read_text() == (tmp_path / "cli.jsonl").read_text()
