"""Typed result records (``nlptasks.evaluation.result``): records written by the release before the types
(tests/data_records/release_0f11132_*.json, made by `nlptasks eval` at commit 0f11132) and by the
packaged models' evaluation load, round-trip unchanged, and a bad record is one error naming its field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from nlptasks.errors import InputError
from nlptasks.evaluation.result import MetricValue, ResultRecord

FIXTURES = sorted((Path(__file__).parent / "data_records").glob("*.json"))


def test_the_fixture_holds_records_of_the_previous_release():
    names = [p.name for p in FIXTURES]
    assert sum(n.startswith("release_0f11132_") for n in names) >= 2 and "packaged_minilm_squad.json" in names


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_records_of_the_current_release_load_and_round_trip(path):
    obj = json.loads(path.read_text(encoding="utf-8"))
    rec = ResultRecord.from_dict(obj, str(path))
    assert rec.to_dict() == obj
    assert rec.score == obj["metrics"][obj["primary_metric"]]["score"]
    assert isinstance(rec.metrics[rec.primary_metric], MetricValue)
    assert rec.model.name == obj["model"]["name"] and rec.model.variant.dtype == obj["model"]["variant"]["dtype"]
    assert rec.benchmark.hash == obj["benchmark"]["hash"] and rec.data.n == obj["data"]["n"]
    assert rec.ranked and rec.cost.get("items") == obj["cost"].get("items")


def test_a_record_scored_on_training_data_is_typed_as_not_ranked():
    obj = json.loads(FIXTURES[0].read_text(encoding="utf-8"))
    obj["data"] = {**obj["data"], "trained_on_eval_data": True, "training_result": "m/training_result.json"}
    rec = ResultRecord.from_dict(obj)
    assert not rec.ranked and rec.data.extra == {"training_result": "m/training_result.json"}
    assert rec.to_dict() == obj


@pytest.mark.parametrize("change, field", [
    (lambda r: r["metrics"][r["primary_metric"]].update(score="high"), "metrics."),
    (lambda r: r.pop("run_id"), "'run_id'"),
    (lambda r: r["model"].update(variant={"dtype": "a+b"}), "model.variant.dtype"),
])
def test_a_bad_record_is_one_error_naming_the_field(change, field):
    obj = copy.deepcopy(json.loads(FIXTURES[0].read_text(encoding="utf-8")))
    change(obj)
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        ResultRecord.from_dict(obj, "x.json")
