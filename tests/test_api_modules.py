"""The public API modules the CLI calls (nlptasks.api_*): called from Python they give what the commands
print, with the same errors; nothing here loads a model."""
from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import pytest

from nlptasks.errors import InputError, UnknownNameError

FIXTURE = Path(__file__).parent / "fixtures" / "records_v0_2_0.jsonl"


def test_results_round_trip_through_the_api(tmp_path):
    from nlptasks.api_results import (delete_result, export_results, get_result, import_results, list_results,
                                      result_line)

    store = str(tmp_path / "s.sqlite")
    n, where = import_results(FIXTURE, store)
    lines = FIXTURE.read_text().splitlines()
    assert n == len(lines) and where == store
    records, _ = list_results(store, task="sentiment")
    assert records and all(r["task"] == "sentiment" for r in records)
    first = json.loads(lines[0])
    line = result_line(get_result(first["run_id"], store)).split("\t")
    assert line[0] == first["run_id"] and line[2] == first["task"] and line[4] == first["model"]["name"]
    assert export_results(tmp_path / "all.json", store) == n
    assert len(json.loads((tmp_path / "all.json").read_text())) == n
    delete_result(first["run_id"], store)
    with pytest.raises(UnknownNameError, match="no result with run id"):
        get_result(first["run_id"], store)
    with pytest.raises(UnknownNameError, match="no result with run id"):
        delete_result(first["run_id"], store)


def test_reading_never_creates_a_store(tmp_path):
    from nlptasks.api_results import check_output_beside_store, list_results
    from nlptasks.errors import NlpTasksError

    with pytest.raises(NlpTasksError, match="no such store"):
        list_results(str(tmp_path / "missing.sqlite"))
    assert not (tmp_path / "missing.sqlite").exists()
    store = tmp_path / "s.sqlite"
    store.write_bytes(b"")
    with pytest.raises(NlpTasksError, match="results store"):
        check_output_beside_store(store, str(store))  # an export over the store it reads


def test_benchmarks_through_the_api():
    from nlptasks.api_benchmarks import benchmark_details, benchmark_summaries

    names = {b["name"] for b in benchmark_summaries("summarization")}  # an alias of summarize
    assert names == {"cnn_dailymail", "cnn_dailymail_local"}
    assert benchmark_details("sst2_local")["definition"]["task"] == "sentiment"
    with pytest.raises(UnknownNameError, match="unknown task"):
        benchmark_summaries("nope")


def test_training_settings_and_base_model():
    from nlptasks.api_training import base_model, select_training, setting_choices, setting_defaults
    from nlptasks.training.settings import FinetuneSettings

    assert setting_defaults() == FinetuneSettings.defaults()
    assert set(setting_choices()) <= FinetuneSettings.names()
    spec = select_training("sentiment")
    assert spec.name == "sentiment" and base_model(spec, None) == spec.default_base_model
    assert base_model(spec, "my/model") == "my/model"
    translate = select_training("translate")
    assert base_model(translate, None, from_scratch=True) is None
    with pytest.raises(InputError, match=r"finetune translate: pass --model .*, or --from-scratch"):
        base_model(translate, None)
    with pytest.raises(InputError, match="--retrieval does not apply to task 'sentiment'"):
        select_training("sentiment", None, {"retrieval": True})


def test_launch_and_evaluation_checks(monkeypatch):
    from nlptasks.api_eval import check_evaluation_options, launch_evaluation
    from nlptasks.api_launch import launch_options, launch_settings
    from nlptasks.api_placement import check_placement
    from nlptasks.training.launch import Launch

    assert launch_options() == tuple(f.name for f in fields(Launch))
    for var in ("LOCAL_RANK", "RANK", "ACCELERATE_LAUNCHED"):
        monkeypatch.delenv(var, raising=False)
    how = launch_settings({name: None for name in launch_options()} | {"num_processes": 2, "other": 1})
    assert how.wanted() and not launch_settings({name: None for name in launch_options()}).wanted()
    with pytest.raises(InputError, match="cannot be combined with --num-processes"):
        launch_evaluation(how, ["eval", "sst2_local"], check_placement("auto"))
    with pytest.raises(InputError, match="--limit must be a positive integer, got 0"):
        check_evaluation_options(limit=0)
    with pytest.raises(InputError, match="exclude each other"):
        check_evaluation_options(cache_dir="c", no_cache=True)
    assert check_placement(None) is None
    with pytest.raises(InputError, match="apply with --device-map"):
        check_placement(None, "cpu=1GiB")


def test_task_metadata_for_the_run_parsers():
    from nlptasks.api import task_classes
    from nlptasks.api_tasks import explain_methods, registered_tasks

    named = registered_tasks()
    assert [cls for _, cls in named] == task_classes() and "sentiment" in dict(named)
    methods = explain_methods("sentiment")
    assert methods and explain_methods(dict(named)["sentiment"]) == methods
