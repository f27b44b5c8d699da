"""Result records as the Hub's ``model-index`` (evaluation/model_index.py): `nlptasks results export --format
model-index`, the card renderers, and the packaged model cards' front matter."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from nlptasks.evaluation.model_index import (model_index, model_index_yaml, signature, split_front_matter,
                                             with_model_index)

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "nlptasks" / "embedded"
BOARD = REPO / "eval" / "leaderboards" / "offline.results.json"  # the offline board's records (committed)
CARDS = sorted(p.parent for p in EMBEDDED.glob("*/README.md"))
sys.path.insert(0, str(REPO / "scripts"))


def _record(folder: str) -> dict:
    return json.loads((EMBEDDED / folder / "eval_record.json").read_text(encoding="utf-8"))


def _front(card: str) -> dict:
    front, _ = split_front_matter(card)
    assert front is not None, "no YAML front matter"
    return yaml.safe_load(front)


def _check_result(result: dict, record: dict) -> None:
    """One model-index result says what the record says: task, benchmark, every score, interval, signature."""
    from nlptasks.evaluation.model_index import TASKS

    assert result["task"] == {"type": TASKS[record["task"]][0], "name": TASKS[record["task"]][1]}
    ds = result["dataset"]
    assert {"name", "type", "split"} <= set(ds) and ds["split"] == "validation"
    assert ds["args"]["nlptasks_benchmark"] == record["benchmark"]["name"]
    assert ds["args"]["definition_hash"] == record["benchmark"]["hash"] and ds["args"]["n"] == record["n"]
    assert ds["args"]["run_id"] == record["run_id"]
    metrics = result["metrics"]
    assert len(metrics) == len(record["metrics"])
    for entry, (key, m) in zip(metrics, record["metrics"].items()):
        assert set(entry) == {"type", "value", "name", "verified", "args"}
        assert entry["value"] == m["score"] and entry["verified"] is False
        assert entry["args"].get("ci_95") == m.get("ci"), key
        sig = entry["args"]["nlptasks_signature"]
        assert sig == ((m.get("extra") or {}).get("signature") or sig) and sig, key


@pytest.mark.parametrize("folder", ["minilm-sst2-lora", "minilm-squad", "marian-multi30k-en-de", "minilm-extsum",
                                    "minilm-retrieval"])
def test_model_index_yaml_has_the_records_values(folder):
    record = _record(folder)
    parsed = yaml.safe_load(model_index_yaml(folder, [record]))
    assert list(parsed) == ["model-index"]
    (entry,) = parsed["model-index"]
    assert entry["name"] == folder and len(entry["results"]) == 1
    _check_result(entry["results"][0], record)


def test_the_hubs_own_parser_reads_it():
    from huggingface_hub.repocard_data import model_index_to_eval_results

    record = _record("minilm-sst2-lora")
    name, results = model_index_to_eval_results(model_index("minilm-sst2-lora", [record]))
    assert name == "minilm-sst2-lora"
    assert [(r.task_type, r.dataset_type, r.metric_type, r.metric_value) for r in results] == [
        ("text-classification", "stanfordnlp/sst2", t, record["metrics"][k]["score"])
        for t, k in (("accuracy", "accuracy"), ("f1", "f1"), ("matthews_correlation", "mcc"))]
    assert all(r.verified is False and r.metric_args["nlptasks_signature"] for r in results)


def test_signatures_names_the_settings_for_records_without_one():
    """Records scored before signatures were recorded get one rebuilt from the benchmark's definition and the
    versions the record names; a sacrebleu signature is taken as recorded."""
    extsum = _record("minilm-extsum")
    assert "signature" not in extsum["metrics"]["rouge1"].get("extra", {})
    from nlptasks.evaluation.model_index import _benchmark

    sig = signature(extsum, "rouge1", _benchmark(extsum))
    assert sig.startswith("rouge|") and "use_stemmer:yes" in sig
    assert f"rouge-score:{extsum['environment']['rouge_score']}" in sig
    assert f"nlptasks:{extsum['environment']['nlptasks']}" in sig
    marian = _record("marian-multi30k-en-de")
    assert signature(marian, "bleu") == marian["metrics"]["bleu"]["extra"]["signature"]
    squad = _record("minilm-squad")
    assert signature(squad, "f1").startswith("squad|")  # the qa record's f1 is squad's, not sentiment's f1
    sst2 = _record("minilm-sst2-lora")
    assert signature(sst2, "f1").startswith("f1|")


# -- the packaged model cards ---------------------------------------------------------------------
def test_there_are_packaged_cards():
    assert {"minilm-squad", "minilm-sst2-lora", "marian-multi30k-en-de"} <= {p.name for p in CARDS}


@pytest.mark.parametrize("folder", CARDS, ids=[p.name for p in CARDS])
def test_every_packaged_card_carries_its_model_index(folder):
    """Every packaged card's front matter holds a model-index (a YAML parser reads it) whose result for the
    folder's eval_record.json is what that record gives."""
    card = (folder / "README.md").read_text(encoding="utf-8")
    record = json.loads((folder / "eval_record.json").read_text(encoding="utf-8"))
    (entry,) = _front(card)["model-index"]
    assert entry["name"] == folder.name
    mine = [r for r in entry["results"] if r["dataset"]["args"]["run_id"] == record["run_id"]]
    assert len(mine) == 1, "no model-index result for the folder's eval_record.json"
    _check_result(mine[0], record)
    assert mine[0] == model_index(folder.name, [record])[0]["results"][0]


def test_add_model_index_check_finds_a_stale_card(tmp_path):
    import shutil

    import add_model_index

    folder = tmp_path / "minilm-sst2-lora"
    folder.mkdir()
    for name in ("README.md", "eval_record.json"):
        shutil.copy(EMBEDDED / "minilm-sst2-lora" / name, folder / name)
    assert add_model_index.main(["--check", str(folder)]) == 0
    record = json.loads((folder / "eval_record.json").read_text())
    record["metrics"]["accuracy"]["score"] = 12.5
    (folder / "eval_record.json").write_text(json.dumps(record))
    assert add_model_index.main(["--check", str(folder)]) == 1
    before = (folder / "README.md").read_text()
    assert add_model_index.main([str(folder)]) == 0
    after = (folder / "README.md").read_text()
    assert _front(after)["model-index"][0]["results"][0]["metrics"][0]["value"] == 12.5
    assert split_front_matter(after)[1] == split_front_matter(before)[1]  # the body is untouched


def test_with_model_index_replaces_only_its_block():
    block = model_index_yaml("m", [_record("minilm-sst2-lora")])
    card = "---\npipeline_tag: x\ntags:\n- a\n---\n\n# m\n\nbody ---\n"
    once = with_model_index(card, block)
    assert once.startswith("---\npipeline_tag: x\ntags:\n- a\nmodel-index:\n") and once.endswith("---\n\n# m\n\nbody ---\n")
    assert with_model_index(once, block) == once  # idempotent
    other = model_index_yaml("m", [_record("minilm-squad")])
    twice = with_model_index(once, other)
    assert _front(twice)["model-index"] == yaml.safe_load(other)["model-index"]
    assert _front(twice)["tags"] == ["a"] and twice.count("model-index:") == 1
    bare = "# m\n\nno front matter\n"
    added = with_model_index(bare, block)
    assert added == f"---\n{block}---\n\n{bare}" and with_model_index(added, block) == added


# -- the renderers --------------------------------------------------------------------------------
def test_model_card_renderer_adds_it(tmp_path):
    import model_card

    folder = EMBEDDED / "minilm-squad"
    result = json.loads((folder / "training_result.json").read_text())
    record = _record("minilm-squad")
    other = _record("minilm-sst2-lora")  # a record on another benchmark, as --model-index-eval gives
    text = model_card.render("minilm-squad", result, record, folder, "bash scripts/build_models.sh qa",
                             other_benchmarks=[other])
    front = _front(text)
    assert front["pipeline_tag"] == "question-answering" and front["library_name"] == "peft"
    results = front["model-index"][0]["results"]
    assert len(results) == 2
    _check_result(results[0], record)
    _check_result(results[1], other)
    # the body is the committed card's (same inputs, without the variants table's records)
    assert "## Evaluation (squad_local, n=1039; cpu, float32)" in split_front_matter(text)[1]


def test_embedded_card_renderer_adds_it_and_keeps_the_record(tmp_path):
    import shutil

    import render_embedded_card

    board = {r["run_id"]: r for r in json.loads(BOARD.read_text(encoding="utf-8"))}
    folder = tmp_path / "minilm-retrieval"
    shutil.copytree(EMBEDDED / "minilm-retrieval", folder)
    (folder / "eval_record.json").unlink()
    paths = []
    for rid in ("5947844f62f64f73", "03d8728606f87898", "e2d2251b1b93473d"):
        paths.append(tmp_path / f"{rid}.json")
        paths[-1].write_text(json.dumps(board[rid]))
    assert render_embedded_card.main([str(folder), *map(str, paths)]) == 0
    card = (folder / "README.md").read_text(encoding="utf-8")
    committed = (EMBEDDED / "minilm-retrieval" / "README.md").read_text(encoding="utf-8")
    assert split_front_matter(card)[0] == split_front_matter(committed)[0]  # the committed front matter, reproduced
    m = board["5947844f62f64f73"]["metrics"]["unigram_f1"]
    assert f"| minilm-retrieval (this model) | {m['score']:.2f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}] |" in card
    kept = json.loads((folder / "eval_record.json").read_text())
    assert kept == board["5947844f62f64f73"]
    _check_result(_front(card)["model-index"][0]["results"][0], kept)


def test_scratch_card_renderer_adds_it(tmp_path):
    import shutil

    import model_card_scratch

    record = _record("marian-multi30k-en-de")
    folder = tmp_path / "marian-multi30k-en-de"
    shutil.copytree(EMBEDDED / "marian-multi30k-en-de", folder)
    state = {"log_history": [{"epoch": 1.0, "eval_bleu": 30.0}, {"epoch": 2.0, "eval_bleu": 33.5}],
             "epoch": 2.0, "best_global_step": 314, "best_metric": 33.5}
    settings = {"encoder_layers": 3, "decoder_layers": 3, "d_model": 256, "heads": 4, "ffn_dim": 1024,
                "vocab_size": 8000, "epochs": 40}
    text = model_card_scratch.render("marian-multi30k-en-de", folder, state, settings, "mt rc=124 at 250 s\n",
                                     "trained on 20000 examples\n", [record], "bash scripts/build_translate_model.sh",
                                     "mt")
    front = _front(text)
    assert front["pipeline_tag"] == "translation"
    _check_result(front["model-index"][0]["results"][0], record)
    body = split_front_matter(text)[1]
    size = sum(p.stat().st_size for p in folder.iterdir() if p.name not in ("README.md", "eval_record.json"))
    assert f"| packaged files | {size / 1e6:.2f} MB" in body  # the eval record is not counted as model files


# -- nlptasks results export --format model-index ---------------------------------------------------
@pytest.fixture
def board_store(tmp_path, cli):
    store = tmp_path / "results.db"
    out = cli("results", "--store", store, "import", BOARD)
    assert out.returncode == 0, out.stderr
    return store


def test_results_export_model_index(board_store, cli, tmp_path):
    out = cli("results", "--store", board_store, "export", "--format", "model-index", "--model", "minilm-squad")
    assert out.returncode == 0, out.stderr
    parsed = yaml.safe_load(out.stdout)
    (entry,) = parsed["model-index"]
    assert entry["name"] == "minilm-squad"
    board = [r for r in json.loads(BOARD.read_text()) if r["model"]["name"] == "minilm-squad"]
    assert {(r["model"]["variant"]["dtype"], r["model"]["variant"]["quantize"]) for r in board} == {
        ("float32", None), ("float32", "int8"), ("bfloat16", None)}
    (fp32,) = [r for r in board if r["model"]["variant"] == {"dtype": "float32", "quantize": None}]
    (result,) = entry["results"]  # one benchmark: the float32 full run, not the int8 or bf16 one
    _check_result(result, fp32)
    dest = tmp_path / "mi.yaml"
    out = cli("results", "--store", board_store, "export", "--format", "model-index", "--model", "minilm-squad",
              "--name", "someone/minilm-squad", "--output", dest)
    assert out.returncode == 0 and out.stdout == ""
    assert yaml.safe_load(dest.read_text())["model-index"][0]["name"] == "someone/minilm-squad"


@pytest.mark.parametrize("args, message", [
    (("--format", "model-index", "--model", "nope"), "no stored result for model 'nope'"),
    (("--format", "model-index"), "--format model-index needs --model NAME"),
    (("--model", "minilm-squad"), "apply to --format model-index"),
])
def test_results_export_model_index_bad_input(board_store, cli, args, message):
    out = cli("results", "--store", board_store, "export", *args)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nlptasks: error:") and message in lines[0], out.stderr
    if "nope" in args:
        assert "minilm-squad" in lines[0]  # the stored models are listed


def test_results_trained_on_their_eval_data_stay_off_the_card(tmp_path, cli):
    board = [r for r in json.loads(BOARD.read_text()) if r["model"]["name"] == "minilm-sst2-lora"
             and r["benchmark"]["name"] == "sst2_local"]  # its three variants on its own benchmark
    for r in board:  # every variant but the int8 one was "trained on its eval data"
        if r["model"]["variant"]["quantize"] != "int8":
            r["data"] = {**r["data"], "trained_on_eval_data": True}
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    store = tmp_path / "r.db"
    assert cli("results", "--store", store, "import", path).returncode == 0
    out = cli("results", "--store", store, "export", "--format", "model-index", "--model", "minilm-sst2-lora")
    assert out.returncode == 0, out.stderr
    (result,) = yaml.safe_load(out.stdout)["model-index"][0]["results"]
    (int8,) = [r for r in board if r["model"]["variant"]["quantize"] == "int8"]
    assert result["dataset"]["args"]["run_id"] == int8["run_id"]  # the clean one, though not the float32 run
    assert "left out 2 result(s)" in out.stderr
    int8["data"]["trained_on_eval_data"] = True
    path.write_text(json.dumps(board))
    assert cli("results", "--store", store, "import", "--replace", path).returncode == 0
    out = cli("results", "--store", store, "export", "--format", "model-index", "--model", "minilm-sst2-lora")
    assert out.returncode != 0 and "scored on data it was trained on" in out.stderr
