"""The record schema (nlptasks.evaluation.records) and `results import`: typed validation, all-or-nothing, no
silent overwrite, and no crafted record hiding a real result."""
from __future__ import annotations

import copy
import json

import pytest

from nlptasks.cli import main
from nlptasks.errors import InputError
from nlptasks.leaderboard import leaderboard
from nlptasks.evaluation.records import check_record, validate_record
from nlptasks.evaluation.store import ResultStore


def rec(run_id="r1", model="m/a", score=0.9, created="2025-01-01T00:00:00+00:00", **over):
    r = {"schema": 1, "run_id": run_id, "task": "sentiment",
         "benchmark": {"name": "sst2-mini", "version": 1, "hash": "h1"},
         "model": {"name": model, "revision": None, "variant": {"dtype": "float32", "quantize": None}},
         "n": 100, "metrics": {"accuracy": {"score": score, "ci": [0.1, 0.2], "stats": {}}},
         "primary_metric": "accuracy", "higher_is_better": {"accuracy": True}, "settings": {},
         "environment": {}, "cost": {"energy_kwh": 1e-4, "items": 100, "items_per_s": 50.0},
         "created_at": created}
    for path, value in over.items():
        *parents, last = path.split("__")
        d = r
        for p in parents:
            d = d[p]
        d[last] = value
    return r


def test_a_good_record_has_no_problems():
    assert validate_record(rec()) == []
    assert check_record(rec())["run_id"] == "r1"


@pytest.mark.parametrize("over, needle", [
    ({"metrics__accuracy__score": "0.9"}, "'metrics.accuracy.score' must be a finite number"),
    ({"metrics__accuracy__score": float("nan")}, "finite number"),
    ({"metrics__accuracy__score": True}, "finite number"),
    ({"metrics__accuracy__ci": ["a", 1]}, "'metrics.accuracy.ci'"),
    ({"metrics": {}}, "'metrics' is empty"),
    ({"benchmark__version": 1.5}, "'benchmark.version' must be an integer or a string"),
    ({"benchmark__version": True}, "'benchmark.version'"),
    ({"task": "<script>alert(1)</script>"}, "'task' is not a known task"),
    ({"task": "text-classification"}, "'task' is not a known task"),  # aliases are not stored names
    ({"model__name": "m/a\nm/b"}, "'model.name' contains a control or invisible character (U+000A)"),
    ({"model__name": "m/a\u202e"}, "U+202E"),
    ({"model__name": " m/a"}, "leading or trailing blanks"),
    ({"benchmark__name": "sst2\x1b[31m"}, "'benchmark.name' contains a control"),
    ({"model__variant__dtype": "float32+int8"}, "must not contain '+'"),
    ({"run_id": "a b"}, "'run_id' must be letters"),
    ({"n": "100"}, "'n' must be a non-negative integer"),
    ({"primary_metric": "f1"}, "'primary_metric' must name one of the metrics"),
    ({"higher_is_better": {"accuracy": "yes"}}, "'higher_is_better.accuracy'"),
    ({"cost__energy_kwh": "1"}, "'cost.energy_kwh' must be a non-negative number"),
    ({"created_at": "2999-01-01T00:00:00+00:00"}, "'created_at' is in the future"),
    ({"created_at": "yesterday"}, "'created_at' is not an ISO 8601"),
    # longer than the store's columns (PostgreSQL refuses them; Python parses any number of fraction digits)
    ({"created_at": "2025-01-01T00:00:00." + "1" * 60 + "+00:00"}, "'created_at' is longer than 64 characters"),
    ({"benchmark__version": 10**64}, "'benchmark.version' is longer than 64 characters"),
    ({"schema": 2}, "'schema' must be an integer from 1"),
])
def test_bad_records_are_named(over, needle):
    problems = validate_record(rec(**over))
    assert problems and any(needle in p for p in problems), problems
    with pytest.raises(InputError, match="result record"):
        check_record(rec(**over))


def test_store_add_uses_the_schema(tmp_path):
    store = ResultStore(tmp_path / "s.sqlite")
    with pytest.raises(InputError, match="'metrics.accuracy.score'"):
        store.add(rec(metrics__accuracy__score="high"))
    assert store.query() == []


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_import_refuses_bad_record_with_its_line_and_imports_nothing(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    src = _write(tmp_path / "in.jsonl", [rec("a"), rec("b", model="m/b"), rec("c", task="<script>")])
    assert main(["results", "--store", store, "import", src]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in.jsonl:3 (run c): 'task' is not a known task" in err
    assert ResultStore(store).query() == []  # all or nothing
    # a JSON list: the line where the bad record starts
    listed = tmp_path / "in.json"
    listed.write_text(json.dumps([rec("a"), rec("b", benchmark__version=[1])], indent=1))
    assert main(["results", "--store", store, "import", str(listed)]) == 2
    line = listed.read_text().splitlines().index(" {", 2) + 1
    assert f"in.json:{line} (run b): 'benchmark.version'" in capsys.readouterr().err
    assert ResultStore(store).query() == []


def test_empty_import_is_an_error(tmp_path, capsys):
    for name, text in (("empty.json", "[]"), ("blank.jsonl", "\n\n")):
        (tmp_path / name).write_text(text)
        assert main(["results", "--store", str(tmp_path / "s.sqlite"), "import", str(tmp_path / name)]) == 2
        assert "no result records to import" in capsys.readouterr().err


def test_import_does_not_overwrite_a_stored_run_unless_replace(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    good = rec("a", score=0.9)
    assert main(["results", "--store", store, "import", _write(tmp_path / "good.jsonl", [good])]) == 0
    # the same records again: nothing changes, no error
    assert main(["results", "--store", store, "import", _write(tmp_path / "again.jsonl", [good])]) == 0
    forged = rec("a", score=0.1)
    src = _write(tmp_path / "forged.jsonl", [rec("z", model="m/z"), forged])
    capsys.readouterr()
    assert main(["results", "--store", store, "import", src]) == 2
    assert "forged.jsonl:2: run a is already stored with different content; use --replace" in capsys.readouterr().err
    st = ResultStore(store)
    assert st.get("a")["metrics"]["accuracy"]["score"] == 0.9 and st.get("z") is None
    assert main(["results", "--store", store, "import", "--replace", src]) == 0
    assert ResultStore(store).get("a")["metrics"]["accuracy"]["score"] == 0.1


def test_duplicate_run_id_inside_one_file(tmp_path, capsys):
    src = _write(tmp_path / "dup.jsonl", [rec("a"), rec("a", score=0.2)])
    assert main(["results", "--store", str(tmp_path / "s.sqlite"), "import", src]) == 2
    assert "dup.jsonl:2: run a appears again (line 1) with different content" in capsys.readouterr().err


def test_a_crafted_record_cannot_hide_a_real_result(tmp_path):
    """A newer record of the same model variant whose score is not a number used to become the
    model's 'latest' result and then be dropped for having no score: the real result vanished."""
    legit = [rec("a", model="m/a", score=0.9), rec("b", model="m/b", score=0.8)]
    crafted = rec("zz", model="m/a", created="2025-06-01T00:00:00+00:00")
    crafted["metrics"]["accuracy"]["score"] = "0.1"
    # the store refuses it ...
    store = ResultStore(tmp_path / "s.sqlite")
    for r in legit:
        store.add(r)
    with pytest.raises(InputError):
        store.add(crafted)
    # ... and the ranking ignores it even when it reaches a leaderboard another way
    rows = json.loads(leaderboard(legit + [copy.deepcopy(crafted)], fmt="json"))["sections"][0]["rows"]
    assert {(r["model"], r["run_id"]) for r in rows} == {("m/a", "a"), ("m/b", "b")}


def test_import_refuses_a_record_that_redefines_its_benchmark(tmp_path, capsys):
    """The newest record of a benchmark picks the metric and direction its section is ranked by: a
    record claiming another primary metric (or direction) for the same definition could hide or
    reorder every other result, so import refuses it."""
    store = str(tmp_path / "s.sqlite")
    assert main(["results", "--store", store, "import", _write(tmp_path / "a.jsonl", [rec("a"), rec("b", model="m/b")])]) == 0
    other = rec("z", model="m/z", created="2025-06-01T00:00:00+00:00", primary_metric="f1")
    other["metrics"]["f1"] = {"score": 1.0, "ci": None}
    flipped = rec("y", model="m/y", higher_is_better={"accuracy": False})
    for bad in (other, flipped):
        capsys.readouterr()
        assert main(["results", "--store", store, "import", _write(tmp_path / "bad.jsonl", [bad])]) == 2
        err = capsys.readouterr().err
        assert "bad.jsonl:1: benchmark sst2-mini version 1 (hash h1) is stored with task sentiment, metric accuracy" in err
    # inside one file too
    assert main(["results", "--store", str(tmp_path / "new.sqlite"), "import",
                 _write(tmp_path / "mixed.jsonl", [rec("a"), flipped])]) == 2
    assert "mixed.jsonl:2: benchmark sst2-mini version 1 (hash h1) has on line 1 task sentiment" in capsys.readouterr().err
    assert not (tmp_path / "new.sqlite").exists()  # a refused import creates no store
    assert {r["run_id"] for r in ResultStore(store).query()} == {"a", "b"}
