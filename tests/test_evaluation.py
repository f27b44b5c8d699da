"""Evaluation engine end to end on tiny models and small slices of ../shared/data: every local
benchmark, the result record, run ids, batch-size invariance, sample logs, bad input, the CLI."""
from __future__ import annotations

import json
import math

import pytest

from nlptasks.evaluation.definitions import get_benchmark
from nlptasks.errors import InputError, NlpTasksError
from nlptasks.evaluation.engine import RECORD_KEYS, evaluate

pytestmark = pytest.mark.data  # every test here reads slices of ../shared/data

LIMIT = 8


def ev(shared_data, bench, model, **kw):
    kw.setdefault("limit", LIMIT)
    return evaluate(bench, model, data_dir=str(shared_data), store=False, **kw)


def data_rows(shared_data, rel, n=LIMIT):
    with open(shared_data / rel, encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(n)]


# model key (tiny_models) or embedded name, plus task options that keep the tiny models quick
CASES = [
    ("sst2_local", "majority", {}),
    ("sst2_local", "bert-cls", {}),
    ("cnn_dailymail_local", "lead-3", {}),
    ("cnn_dailymail_local", "bart", {"max_new_tokens": 4, "limit": 2}),  # 128 positions: map-reduce
    ("multi30k_en_de_local", "copy-source", {}),
    ("multi30k_en_de_local", "marian", {"max_new_tokens": 8}),
    ("squad_local", "bert-qa", {}),
    ("dailydialog_local", "gpt2", {"max_new_tokens": 8}),
]


def model_ref(tiny_models, key):
    return str(tiny_models[key]) if key in tiny_models else key


@pytest.mark.parametrize("bench,model,opts", CASES, ids=[f"{b}-{m}" for b, m, _ in CASES])
def test_local_benchmark_end_to_end(shared_data, tiny_models, bench, model, opts):
    b = get_benchmark(bench)
    rec = ev(shared_data, bench, model_ref(tiny_models, model), **opts)
    n = opts.get("limit", LIMIT)
    assert set(rec) == set(RECORD_KEYS)
    assert rec["schema"] == 1 and len(rec["run_id"]) == 16 and rec["task"] == b.task
    assert rec["benchmark"] == {"name": bench, "version": b.version, "hash": b.hash}
    assert rec["n"] == n == rec["data"]["n"] and rec["data"]["source"].startswith("json:")
    assert rec["primary_metric"] in rec["metrics"]
    for name, value in rec["metrics"].items():
        assert isinstance(value["score"], (int, float)) and math.isfinite(value["score"]), name
        assert name in rec["higher_is_better"]
    assert {"name", "revision", "weights_hash", "variant", "parameters"} <= set(rec["model"])
    assert {"python", "torch", "transformers", "sacrebleu", "rouge_score", "device", "dtype", "threads"} <= \
        set(rec["environment"])
    assert rec["cost"]["wall_time_s"] > 0 and rec["cost"]["examples_per_s"] > 0
    assert rec["settings"]["limit"] == n
    json.dumps(rec)  # plain data
    if bench == "dailydialog_local":
        assert rec["higher_is_better"]["perplexity"] is False and rec["metrics"]["perplexity"]["score"] > 1


def test_majority_accuracy_matches_the_data(shared_data):
    rows = data_rows(shared_data, "sentiment/validation.jsonl")
    rec = ev(shared_data, "sst2_local", "majority")
    expected = 100 * sum(r["label"] == 1 for r in rows) / LIMIT  # majority always says "positive"; 0-100 scale
    assert rec["metrics"]["accuracy"]["score"] == pytest.approx(expected)
    assert rec["model"]["name"] == "majority"


def test_label_names_from_model_config_are_normalised(shared_data, tiny_models, tmp_path):
    # the tiny classifier's labels are NEGATIVE/POSITIVE: lower-cased onto the benchmark's label names
    rec = ev(shared_data, "sst2_local", str(tiny_models["bert-cls"]), output_dir=str(tmp_path), log_samples=True)
    samples = [json.loads(ln) for ln in (tmp_path / "sst2_local" / f"{rec['run_id']}.samples.jsonl").open()]
    assert {s["prediction"] for s in samples} <= {"negative", "positive"}
    assert {s["output"]["label"] for s in samples} <= {"NEGATIVE", "POSITIVE"}
    agree = 100 * sum(s["prediction"] == s["reference"] for s in samples) / LIMIT
    assert rec["metrics"]["accuracy"]["score"] == pytest.approx(agree)


def test_run_id_is_stable_and_follows_settings(shared_data):
    a = ev(shared_data, "cnn_dailymail_local", "lead-3")
    b = ev(shared_data, "cnn_dailymail_local", "lead-3")
    assert a["run_id"] == b["run_id"] and a["metrics"] == b["metrics"]
    assert a["data"]["fingerprint"] == b["data"]["fingerprint"]
    c = ev(shared_data, "cnn_dailymail_local", "lead-3", limit=LIMIT - 1)
    d = ev(shared_data, "cnn_dailymail_local", "lead-3", sentences=2)
    assert len({a["run_id"], c["run_id"], d["run_id"]}) == 3
    assert c["data"]["fingerprint"] != a["data"]["fingerprint"]
    assert d["settings"]["sentences"] == 2


@pytest.mark.parametrize("bench,model,opts", [
    ("multi30k_en_de_local", "marian", {"max_new_tokens": 6, "limit": 4}),
    ("sst2_local", "bert-cls", {}),
    ("dailydialog_local", "gpt2", {"max_new_tokens": 6}),
])
def test_metrics_do_not_depend_on_batch_size(shared_data, tiny_models, bench, model, opts):
    path = str(tiny_models[model])
    one = ev(shared_data, bench, path, batch_size=1, **opts)
    eight = ev(shared_data, bench, path, batch_size=8, **opts)
    assert {k: v["score"] for k, v in one["metrics"].items()} == \
        pytest.approx({k: v["score"] for k, v in eight["metrics"].items()}, rel=1e-6)
    generated = {k: v for k, v in one["metrics"].items() if k != "perplexity"}
    assert generated == {k: v for k, v in eight["metrics"].items() if k != "perplexity"}
    assert one["run_id"] != eight["run_id"]  # the batch size is a recorded setting


def test_log_samples_and_record_file(shared_data, tmp_path):
    rows = data_rows(shared_data, "translation/validation.jsonl")
    rec = ev(shared_data, "multi30k_en_de_local", "copy-source", output_dir=str(tmp_path), log_samples=True)
    path = tmp_path / "multi30k_en_de_local" / f"{rec['run_id']}.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(rec))
    samples = [json.loads(ln) for ln in path.with_suffix(".samples.jsonl").open()]
    assert [s["index"] for s in samples] == list(range(LIMIT))
    assert [s["input"]["text"] for s in samples] == [r["translation"]["en"] for r in rows]
    assert [s["prediction"] for s in samples] == [r["translation"]["en"] for r in rows]  # copy-source
    assert [s["reference"] for s in samples] == [r["translation"]["de"] for r in rows]
    assert not list(tmp_path.rglob("*.tmp"))


def test_qa_references_are_all_gold_answers(shared_data, tiny_models, tmp_path):
    rows = data_rows(shared_data, "qa/validation.jsonl", 3)
    rec = ev(shared_data, "squad_local", str(tiny_models["bert-qa"]), limit=3, output_dir=str(tmp_path),
             log_samples=True)
    samples = [json.loads(ln) for ln in (tmp_path / "squad_local" / f"{rec['run_id']}.samples.jsonl").open()]
    assert [s["reference"] for s in samples] == [r["answers"]["text"] for r in rows]
    assert {"exact_match", "f1"} <= set(rec["metrics"])


# -- bad input ------------------------------------------------------------------------------------

def test_bad_input_fails_before_any_model_work(shared_data, tmp_path):
    with pytest.raises(InputError, match="--limit must be a positive integer"):
        ev(shared_data, "sst2_local", "majority", limit=0)
    with pytest.raises(InputError, match="--log-samples needs --output"):
        ev(shared_data, "sst2_local", "majority", log_samples=True)
    y = tmp_path / "wrongcol.yaml"
    y.write_text("task: sentiment\nversion: 1\ndataset: {path: json, data_files: sentiment/validation.jsonl}\n"
                 "columns: {text: sentence}\nreferences: label\nmetrics: [accuracy]\nprimary_metric: accuracy\n")
    with pytest.raises(InputError) as e:
        ev(shared_data, str(y), "majority")
    assert "no column 'sentence'" in str(e.value) and "available columns: label, text" in str(e.value)
    (tmp_path / "empty.jsonl").write_text("")
    y2 = tmp_path / "empty.yaml"
    y2.write_text(y.read_text().replace("sentiment/validation.jsonl", str(tmp_path / "empty.jsonl")))
    with pytest.raises(InputError, match="has no examples"):
        ev(shared_data, str(y2), "majority")
    with pytest.raises(NlpTasksError, match="not found"):
        evaluate("sst2_local", "majority", data_dir=str(tmp_path), store=False)


# -- CLI ------------------------------------------------------------------------------------------

def test_cli_eval_prints_table_writes_json_and_stores(cli, shared_data, tmp_path):
    from nlptasks.evaluation.store import ResultStore

    out, store = tmp_path / "out", tmp_path / "runs.sqlite"
    r = cli("eval", "sst2_local", "--model", "majority", "--limit", LIMIT, "--data-dir", shared_data,
            "--output", out, "--store", store)
    assert r.returncode == 0, r.stderr
    assert "sst2_local v1" in r.stdout and "accuracy *" in r.stdout and "run id:" in r.stdout
    files = list((out / "sst2_local").glob("*.json"))
    assert len(files) == 1
    rec = json.loads(files[0].read_text())
    assert f"run id: {rec['run_id']}" in r.stdout
    assert f"{rec['metrics']['accuracy']['score']:.4f}" in r.stdout
    assert ResultStore(str(store)).get(rec["run_id"])["metrics"] == rec["metrics"]


def test_cli_eval_adhoc_data_file(cli, shared_data, tmp_path):
    f = tmp_path / "mini.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in data_rows(shared_data, "summarization/validation.jsonl", 3)))
    r = cli("eval", "summarize", "--data", f, "--model", "lead-3", "--no-store", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["benchmark"]["name"] == "summarize-mini" and rec["n"] == 3 and "rougeLsum" in rec["metrics"]
    r = cli("eval", "sentiment", "--data", f, "--model", "majority", "--no-store")
    assert r.returncode != 0 and "no column 'text'" in r.stderr and "document, summary" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_cli_eval_errors_are_one_line(cli, shared_data):
    for args, needle in ((("sst2_local", "--limit", "0"), "--limit must be a positive integer"),
                         (("sentiment",), "is a task: pass --data FILE"),
                         (("sst2_lokal",), "Did you mean 'sst2_local'"),
                         (("sst2_local", "--columns", "text=x"), "only apply with --data"),
                         (("sst2_local", "--model", "majority", "--set", "max_new_tokens=4", "--no-store",
                           "--data-dir", str(shared_data)), "has no option max_new_tokens")):
        r = cli("eval", *args)
        assert r.returncode != 0 and needle in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
