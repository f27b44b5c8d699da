"""A result whose model was trained on the data it is scored on is marked by ``evaluate`` (the model's
``training_result.json`` holds the fingerprint of the benchmark's rows) and never ranked."""
from __future__ import annotations

import json
import shutil

from nlptasks.evaluation.definitions import adhoc_benchmark
from nlptasks.evaluation.engine import evaluate
from nlptasks.leaderboard import build_sections, leaderboard
from nlptasks.training.data import load_records

ROWS = [("a good film", 1), ("a bad film", 0), ("fine", 1), ("awful", 0)]


def _model_trained_on(tiny_models, tmp_path, name: str, train_file) -> str:
    """A copy of the tiny classifier with the ``training_result.json`` finetune writes for ``train_file``."""
    model = tmp_path / name
    shutil.copytree(tiny_models["bert-cls"], model)
    train = load_records(str(train_file), "train", name="train")
    (model / "training_result.json").write_text(json.dumps({"kind": "finetune", "task": "sentiment",
                                                            "data": {"train": train.describe(), "validation": None}}))
    return str(model)


def test_a_model_trained_on_the_scored_data_is_marked_and_never_ranked(tiny_models, tmp_path):
    scored = tmp_path / "scored.jsonl"
    scored.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in ROWS))
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps({"text": t + "!", "label": y}) + "\n" for t, y in ROWS))
    bench = adhoc_benchmark("sentiment", str(scored))
    cheat = _model_trained_on(tiny_models, tmp_path, "cheat", scored)
    honest = _model_trained_on(tiny_models, tmp_path, "honest", other)

    # --limit does not hide it: the fingerprint covers every row of the benchmark's data
    bad = evaluate(bench, cheat, store=False, device="cpu", limit=2)
    good = evaluate(bench, honest, store=False, device="cpu", limit=2)
    assert bad["data"]["trained_on_eval_data"] is True and bad["data"]["training_result"].startswith(cheat)
    assert "trained_on_eval_data" not in good["data"]
    assert bad["data"]["source_fingerprint"] == good["data"]["source_fingerprint"]

    (section,) = build_sections([bad, good], include_partial=True)
    assert [r["model"] for r in section.rows] == [good["model"]["name"]]
    text = leaderboard([bad, good], include_partial=True)
    assert "1 result(s) (sentiment-scored) are not ranked: their model was trained on the data" in text
    assert cheat not in text.split("are not ranked")[0]


def test_only_the_marked_record_leaves_the_ranking():
    def rec(model, score, marked):
        data = {"fingerprint": "d1", "n": 10, "full_n": 10}
        if marked:
            data["trained_on_eval_data"] = True
        return {"schema": 1, "run_id": model.replace("/", "_"), "task": "sentiment",  # a valid record
                "benchmark": {"name": "b", "version": 1, "hash": "h"},
                "model": {"name": model, "variant": {"dtype": "float32", "quantize": None}}, "n": 10,
                "metrics": {"accuracy": {"score": score}}, "primary_metric": "accuracy",
                "higher_is_better": {"accuracy": True}, "cost": {}, "data": data,
                "created_at": "2025-01-01T00:00:00+00:00"}

    (section,) = build_sections([rec("m/cheat", 0.99, True), rec("m/a", 0.8, False), rec("m/b", 0.7, False)])
    assert [(r["model"], r["rank"]) for r in section.rows] == [("m/a", 1), ("m/b", 2)]
    assert build_sections([rec("m/cheat", 0.99, True)]) == []
