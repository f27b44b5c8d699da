"""`nlptasks eval --suite FILE --reuse` / run_suite(reuse=True): an entry whose result the store holds
(same benchmark definition and data, model weights and variant, options, limit, nlptasks version) is not
evaluated again; its stored record is used, and the board is rendered from reused and new records."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from nlptasks.cli import main
from nlptasks.evaluation import engine
from nlptasks.evaluation.store import ResultStore
from nlptasks.evaluation.suites import run_suite

TEXTS = ["the cat sat on the mat", "a fine day", "a dull film", "it is raining", "so good", "bad", "ok then",
         "the end"]


@pytest.fixture
def bench(tmp_path) -> Path:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": i % 2}) + "\n" for i, t in enumerate(TEXTS)))
    y = tmp_path / "tiny_reuse.yaml"
    y.write_text(f"name: tiny_reuse\ntask: sentiment\nversion: 1\ndataset:\n  path: json\n  data_files: {data}\n"
                 "columns:\n  text: text\nreferences: label\nlabel_names: [NEGATIVE, POSITIVE]\n"
                 "metrics: [accuracy]\nprimary_metric: accuracy\n")
    return y


@pytest.fixture
def model(tiny_models, tmp_path) -> Path:
    """A copy of the tiny BERT classifier, so a test may change its weights file."""
    out = tmp_path / "bert-cls"
    shutil.copytree(tiny_models["bert-cls"], out)
    return out


def _suite(tmp_path: Path, bench: Path, models: list) -> Path:
    s = tmp_path / "suite.yaml"
    s.write_text(json.dumps({"name": "tiny", "runs": [{"benchmark": str(bench), "models": models}]}))
    return s


@pytest.fixture
def predictions(monkeypatch) -> list:
    """The models that predicted (engine.predict_stage spied on)."""
    seen = []
    real = engine.predict_stage

    def spy(run):
        seen.append((run.task.model_name, dict(run.settings.task_options)))
        return real(run)
    monkeypatch.setattr(engine, "predict_stage", spy)
    return seen


def _run(suite, store, *, reuse=True, render=None, limit=None):
    log = []
    recs = run_suite(str(suite), store=str(store), cache=False, reuse=reuse, render_dir=render, limit=limit,
                     log=log.append)
    return recs, log


def test_second_run_reuses_every_entry_and_renders_them_with_a_new_one(tmp_path, bench, model, predictions):
    store = tmp_path / "s.sqlite"
    suite = _suite(tmp_path, bench, [str(model), "majority"])
    first, _ = _run(suite, store, reuse=False)
    assert len(predictions) == 2
    predictions.clear()

    again, log = _run(suite, store)
    assert predictions == []  # nothing predicted: both results came from the store
    assert [r["run_id"] for r in again] == [r["run_id"] for r in first]
    assert [line for line in log if line.startswith("reused")] == [f"reused {r['run_id']}" for r in first]
    assert again == [ResultStore(store, readonly=True).get(r["run_id"]) for r in first]

    # a new entry beside them: only it is evaluated, and the board holds all three
    suite = _suite(tmp_path, bench, [str(model), "majority", {"model": str(model), "options": {"max_length": 8}}])
    render = tmp_path / "board"
    render.mkdir()
    third, log = _run(suite, store, render=str(render))
    assert predictions == [(str(model), {"max_length": 8})]
    assert sum(line.startswith("reused") for line in log) == 2
    rendered = json.loads((render / "tiny.results.json").read_text())
    assert [r["run_id"] for r in rendered] == [r["run_id"] for r in third]
    assert [r["run_id"] for r in rendered[:2]] == [r["run_id"] for r in first]
    assert third[2]["settings"]["max_length"] == 8
    board = (render / "tiny.md").read_text()
    assert "majority" in board and str(model.name) in board


def test_changed_option_limit_or_model_file_is_evaluated_again(tmp_path, bench, model, predictions):
    store = tmp_path / "s.sqlite"
    _run(_suite(tmp_path, bench, [str(model), "majority"]), store, reuse=False)
    predictions.clear()

    # another option value for the model: evaluated; the baseline beside it reused
    recs, _ = _run(_suite(tmp_path, bench, [{"model": str(model), "options": {"max_length": 8}}, "majority"]), store)
    assert predictions == [(str(model), {"max_length": 8})]
    predictions.clear()

    # another limit: both evaluated again
    _run(_suite(tmp_path, bench, [str(model), "majority"]), store, limit=4)
    assert len(predictions) == 2
    predictions.clear()

    # the same name, a changed weights file: a different model, evaluated again
    from safetensors.torch import load_file, save_file

    before = {r.model.weights_hash for r in ResultStore(store, readonly=True).records(model=str(model))}
    weights = model / "model.safetensors"
    tensors = load_file(weights)
    name = next(k for k, v in tensors.items() if v.is_floating_point() and v.dim() == 2)
    tensors[name] = tensors[name] + 0.5
    save_file(tensors, weights, metadata={"format": "pt"})
    recs, log = _run(_suite(tmp_path, bench, [str(model), "majority"]), store)
    assert predictions == [(str(model), {})]
    assert sum(line.startswith("reused") for line in log) == 1
    assert recs[0]["model"]["weights_hash"] not in before  # the record of the changed file, not a stored one


def test_the_newest_of_several_matching_records_is_used(tmp_path, bench, predictions):
    store = tmp_path / "s.sqlite"
    suite = _suite(tmp_path, bench, ["majority"])
    (rec,), _ = _run(suite, store, reuse=False)
    with ResultStore(store) as st:
        st.delete(rec["run_id"])
        st.add({**rec, "run_id": "zz-older", "created_at": "2025-01-01T00:00:00+00:00"})
        st.add({**rec, "run_id": "aa-newer", "created_at": "2025-01-02T00:00:00+00:00"})
        st.add({**rec, "run_id": "other-version", "created_at": "2025-01-03T00:00:00+00:00",
                "environment": {**rec["environment"], "nlptasks": "0.0.1"}})  # another nlptasks: not this run
    predictions.clear()
    (again,), log = _run(suite, store)
    assert predictions == [] and again["run_id"] == "aa-newer" and "reused aa-newer" in log


def test_cli_reuse(tmp_path, bench, model, capsys, predictions):
    store = tmp_path / "s.sqlite"
    suite = _suite(tmp_path, bench, ["majority"])
    args = ["eval", "--suite", str(suite), "--store", str(store), "--no-cache"]
    assert main(args) == 0
    run_id = ResultStore(store, readonly=True).query()[0]["run_id"]
    capsys.readouterr()
    predictions.clear()
    assert main(args + ["--reuse"]) == 0
    out = capsys.readouterr()
    assert predictions == [] and f"nlptasks: reused {run_id}\n" in out.err and "majority" in out.out


@pytest.mark.parametrize("args,message", [
    (["eval", "tiny", "--reuse"], "--reuse only applies with --suite"),
    (["eval", "--suite", "SUITE", "--reuse", "--no-store"], "--reuse takes results from the results store"),
])
def test_reuse_bad_input_is_one_line(tmp_path, bench, capsys, args, message):
    suite = _suite(tmp_path, bench, ["majority"])
    code = main([str(suite) if a == "SUITE" else a for a in args])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"nlptasks: error: {message}") and err.count("\n") == 1, err
