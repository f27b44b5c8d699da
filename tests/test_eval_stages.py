"""The evaluation engine's stages (load -> predict -> score -> record -> persist) on the majority
baseline (no model files): each stage does its part and nothing after it."""
from __future__ import annotations

import json

import pytest

from nlptasks.errors import InputError
from nlptasks.evaluation.definitions import adhoc_benchmark
from nlptasks.evaluation.engine import (EvalSettings, build_record, evaluate, load_stage, persist, predict_stage,
                                        score_stage)

ROWS = [("good", 1), ("bad", 0), ("fine", 1), ("nice", 1), ("awful", 0)]


@pytest.fixture
def bench(tmp_path):
    f = tmp_path / "five.jsonl"
    f.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in ROWS))
    return adhoc_benchmark("sentiment", str(f))


def test_load_stage_prepares_everything_but_loads_no_model(bench):
    run = load_stage(bench, EvalSettings(limit=4, store=False), "majority")
    assert [r["text"] for r in run.inputs] == [t for t, _ in ROWS[:4]]
    assert run.refs == ["positive", "negative", "positive", "positive"]  # normalised onto label_names
    assert run.limit == 4 and run.full_n == 5 and len(run.fingerprint) == 64
    assert run.task is not None and not run.task._loaded and run.outputs == [] and run.metrics == {}


def test_stages_compose_to_what_evaluate_returns(bench, tmp_path):
    run = load_stage(bench, EvalSettings(output_dir=str(tmp_path / "out"), store=False), "majority")
    predict_stage(run)
    assert run.task._loaded and len(run.outputs) == 5 and run.cost["predict_time_s"] >= 0
    assert run.metrics == {}  # scoring is the next stage
    score_stage(run)
    assert set(run.metrics) >= {"accuracy"} and len(run.predictions) == 5
    record = build_record(run)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing written yet
    persist(record, run)
    written = json.loads((tmp_path / "out" / bench.name / f"{record['run_id']}.json").read_text())
    assert written["run_id"] == record["run_id"]
    direct = evaluate(bench, "majority", store=False)
    assert direct["run_id"] == record["run_id"] and direct["metrics"] == record["metrics"]  # same run, same id


def test_settings_are_checked_in_the_load_stage(bench):
    with pytest.raises(InputError, match="--limit must be a positive integer"):
        load_stage(bench, EvalSettings(limit=0), "majority")
    with pytest.raises(InputError, match="--log-samples needs --output"):
        load_stage(bench, EvalSettings(log_samples=True), "majority")
