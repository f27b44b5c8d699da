"""Typed result records (``nlptasks.evaluation.result``): records written by the release before the types
(tests/data_records/release_0f11132_*.json, made by `nlptasks eval` at commit 0f11132) and by the
packaged models' evaluation load, round-trip unchanged, and a bad record is one error naming its field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from nlptasks.errors import InputError
from nlptasks.evaluation.records import variant_name
from nlptasks.evaluation.result import RECORD_KEYS, MetricValue, ResultRecord

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
    assert not rec.ranked and rec.data.training_result == "m/training_result.json" and rec.data.other == {}
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


# -- tests/fixtures/records_v0_2_0.jsonl: records as nlptasks 0.2.0 writes them (make_records_v0_2_0.py) -------
V020 = Path(__file__).parent / "fixtures" / "records_v0_2_0.jsonl"


def _v020() -> list[dict]:
    return [json.loads(line) for line in V020.read_text(encoding="utf-8").splitlines()]


def test_the_0_2_0_fixture_holds_every_task_variant_and_cost_shape():
    recs = [ResultRecord.from_dict(o, f"{V020}:{i}") for i, o in enumerate(_v020(), 1)]
    assert {r.task for r in recs} == {"sentiment", "qa", "translate", "summarize", "chat"}
    assert {r.variant_name for r in recs} >= {"float32", "bfloat16", "float32+int8", "none",
                                              "float32+int8@ctranslate2"}
    sources = {r.cost.energy_source for r in recs}
    assert {"estimate", "rapl", "nvml+rapl", None} <= sources
    assert any(r.cost.energy_kwh is None for r in recs) and any((r.cost.get("processes") or 1) > 1 for r in recs)
    assert any(r.data.partial for r in recs) and any(r.data.trained_on_eval_data for r in recs)
    assert any("reference_metrics" in r.other for r in recs)
    assert any(r.environment["nlptasks"] == "0.2.0" for r in recs)


def test_every_0_2_0_record_loads_and_round_trips_unchanged():
    for i, obj in enumerate(_v020(), 1):
        rec = ResultRecord.from_dict(obj, f"{V020}:{i}")
        out = rec.to_dict()
        assert json.dumps(out, sort_keys=True) == json.dumps(obj, sort_keys=True), i
        assert ResultRecord.from_dict(out) == rec
        assert rec.score == obj["metrics"][obj["primary_metric"]]["score"]
        assert rec.cost.energy_kwh == obj["cost"]["energy_kwh"] and rec.data.fingerprint == obj["data"]["fingerprint"]
        assert rec.model.variant.quantize == obj["model"]["variant"]["quantize"]
        assert set(rec.absent) == set() and set(rec.other) == set(obj) - set(RECORD_KEYS)


def test_0_2_0_records_import_export_and_rank(tmp_path, capsys):
    """`results import` of the fixture (all of it), `results export` gives the same objects back, and the
    leaderboard ranks every record that may be ranked: one row per (definition, data, model, variant)."""
    from nlptasks.cli import main
    from nlptasks.evaluation.store import ResultStore
    from nlptasks.leaderboard import leaderboard

    objs = _v020()
    store = str(tmp_path / "s.sqlite")
    assert main(["results", "--store", store, "import", str(V020)]) == 0
    assert main(["results", "--store", store, "export", "-o", str(tmp_path / "out.json")]) == 0
    exported = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert sorted(exported, key=lambda r: r["run_id"]) == sorted(objs, key=lambda r: r["run_id"])
    with ResultStore(store, readonly=True) as st:
        typed = st.records()
    assert {r.run_id for r in typed} == {o["run_id"] for o in objs}

    expected = {}
    for o in objs:
        if o["data"].get("trained_on_eval_data"):
            continue
        b = o["benchmark"]
        key = (b["name"], o["data"]["fingerprint"], o["n"], o["model"]["name"], variant_name(o))
        expected.setdefault(key, set()).add(o["metrics"][o["primary_metric"]]["score"])
    board = json.loads(leaderboard(store, fmt="json", include_partial=True))
    got = {}
    for sec in board["sections"]:
        for row in sec["rows"]:
            key = (sec["benchmark"]["name"], sec["data"]["fingerprint"], sec["data"]["n"], row["model"], row["variant"])
            assert key not in got
            got[key] = row["score"]
            assert row["rank"] >= 1 and row["n"] == sec["data"]["n"]
    assert set(got) == set(expected)
    assert all(got[k] in expected[k] for k in got)
    trained = next(o for o in objs if o["data"].get("trained_on_eval_data"))
    assert trained["run_id"] not in {row["run_id"] for s in board["sections"] for row in s["rows"]}
    assert "1 result(s) (sst2_local) are not ranked" in leaderboard(store, fmt="table")


def test_a_record_built_in_code_writes_what_from_dict_reads():
    from nlptasks.evaluation.result import BenchmarkRef, Cost, DatasetSpec, ModelInfo, Variant

    rec = ResultRecord(run_id="r1", task="sentiment", benchmark=BenchmarkRef("b", 1, "h"),
                       model=ModelInfo("m", variant=Variant("float32", "int8")),
                       metrics={"accuracy": MetricValue(90.0, (85.0, 95.0))}, primary_metric="accuracy",
                       higher_is_better={"accuracy": True}, cost=Cost(energy_kwh=1e-6, items=10),
                       data=DatasetSpec(fingerprint="f", n=10, full_n=20))
    d = rec.to_dict()
    assert set(d) == set(RECORD_KEYS) and d["metrics"]["accuracy"]["ci"] == [85.0, 95.0]
    assert d["model"]["variant"] == {"dtype": "float32", "quantize": "int8", "engine": None}
    back = ResultRecord.from_dict(json.loads(json.dumps(d)))
    assert back == rec and back.data.partial and back.variant_name == "float32+int8"


def test_a_stored_record_of_an_uninstalled_task_still_reads(tmp_path):
    """The store checked the record when it was written: reading it back does not depend on which task
    plugins are installed now; a new record naming that task is refused."""
    obj = _v020()[0]
    obj = {**obj, "task": "plugin-task-gone"}
    with pytest.raises(InputError, match="'task' is not a known task"):
        ResultRecord.from_dict(obj)
    assert ResultRecord.from_dict(obj, stored=True).task == "plugin-task-gone"
