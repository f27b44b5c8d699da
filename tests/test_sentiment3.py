"""Three-class sentiment: label rules between a model's labels and a benchmark's, checkpoint selection by
macro recall, and the packaged three-class default (minilm-sentiment3-lora)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlptasks.errors import InputError

THREE = ["negative", "neutral", "positive"]


@pytest.fixture(scope="module")
def three_class_model(tiny_models, tmp_path_factory):
    """The tiny BERT classifier with a three-label head (negative/neutral/positive)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    out = tmp_path_factory.mktemp("three") / "bert-cls3"
    m = AutoModelForSequenceClassification.from_pretrained(
        tiny_models["bert-cls"], num_labels=3, id2label=dict(enumerate(THREE)),
        label2id={n: i for i, n in enumerate(THREE)}, ignore_mismatched_sizes=True)
    m.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_models["bert-cls"]).save_pretrained(out)
    return out


def _bench(tmp_path: Path, labels: list[str], golds: list[int]) -> Path:
    texts = ["the cat sat on the mat", "a fine day", "a dull film", "it is raining", "so good", "bad", "ok then",
             "the end"]
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": g}) + "\n" for t, g in zip(texts, golds)))
    y = tmp_path / f"b{len(labels)}.yaml"
    y.write_text(f"name: b{len(labels)}\ntask: sentiment\nversion: 1\ndataset:\n  path: json\n  data_files: {data}\n"
                 f"columns:\n  text: text\nreferences: label\nlabel_names: [{', '.join(labels)}]\n"
                 f"metrics: [macro_recall, accuracy]\nprimary_metric: macro_recall\n")
    return y


def _eval(bench, model, **kw):
    from nlptasks.evaluation.engine import evaluate

    return evaluate(str(bench), model, device="cpu", store=False, cache=False, **kw)


def test_three_class_model_on_a_binary_benchmark_predicts_its_labels_only(three_class_model, tmp_path):
    from nlptasks.tasks.sentiment import SentimentTask

    rec = _eval(_bench(tmp_path, ["negative", "positive"], [0, 1, 0, 1, 1, 0, 1, 0]), str(three_class_model),
                log_samples=False)
    rule = rec["settings"]["label_rule"]
    assert "negative/positive" in rule and "neutral never predicted" in rule
    # the task after the rule: neutral never comes out, the two scores sum to 1
    task = SentimentTask(str(three_class_model), device="cpu", all_scores=True)
    task.load()
    from nlptasks.evaluation.definitions import get_benchmark
    from nlptasks.evaluation.engine import LabelNormaliser

    norm = LabelNormaliser(get_benchmark(str(tmp_path / "b2.yaml")))
    free = task.predict([{"text": t} for t in ["a", "b c", "d e f"]])
    task.fit_label_space("b2", norm.names, norm)
    fitted = task.predict([{"text": t} for t in ["a", "b c", "d e f"]])
    for f, g in zip(free, fitted):
        assert set(g["scores"]) == {"negative", "positive"} and g["label"] != "neutral"
        assert sum(g["scores"].values()) == pytest.approx(1.0)
        pair = {k: f["scores"][k] for k in ("negative", "positive")}
        assert g["label"] == max(pair, key=pair.get)


def test_binary_model_on_a_three_class_benchmark_is_refused_or_scored_on_request(tiny_models, tmp_path):
    bench = _bench(tmp_path, THREE, [0, 1, 2, 1, 2, 0, 1, 1])
    with pytest.raises(InputError, match=r"also has neutral.*missing_labels=score"):
        _eval(bench, str(tiny_models["bert-cls"]))
    rec = _eval(bench, str(tiny_models["bert-cls"]), missing_labels="score")
    assert rec["settings"]["label_rule"] == "missing labels scored: the model never predicts neutral"
    assert rec["metrics"]["macro_recall"]["score"] <= 100 * 2 / 3 + 1e-9  # neutral's recall is 0


def test_same_labels_record_no_rule_and_majority_is_scored_on_three_classes(three_class_model, tmp_path):
    bench = _bench(tmp_path, THREE, [0, 1, 2, 1, 2, 0, 1, 1])
    assert "label_rule" not in _eval(bench, str(three_class_model))["settings"]
    rec = _eval(bench, "majority")
    assert "label_rule" not in rec["settings"]
    assert rec["metrics"]["accuracy"]["score"] == pytest.approx(100 * 2 / 8)  # always positive


def test_checkpoints_are_chosen_by_macro_recall_with_three_labels():
    from nlptasks.training.families import training_spec

    spec = training_spec("sentiment")
    assert spec.metric_key == "accuracy"  # labels not known yet / binary: the task's primary metric
    spec.num_labels = 2
    assert spec.metric_key == "accuracy"
    spec.num_labels = 3
    assert spec.metric_key == "macro_recall" and spec.metric_function == "macro_recall"
    scores = spec.score([0, 0, 2, 2], [0, 1, 2, 2])
    assert scores["macro_recall"] == pytest.approx(100 * 2 / 3) and scores["accuracy"] == pytest.approx(75.0)
    assert "f1" in scores


# -- the packaged three-class default ------------------------------------------------------------------------
NEUTRAL_FACTS = Path(__file__).parent / "data" / "neutral_facts.txt"


def test_default_is_the_three_class_model_and_shows_three_scores():
    from nlptasks.registry import TASKS
    from nlptasks.tasks.sentiment import SentimentTask

    cls = TASKS.get("sentiment")
    assert cls.default_model == "minilm-sentiment3-lora"
    assert {"minilm-sentiment3-lora", "minilm-sst2-lora", "majority"} <= {m.name for m in cls.embedded_models}
    out = SentimentTask(None, device="cpu", all_scores=True).predict([{"text": "What a lovely day!"}])[0]
    assert list(out["scores"]) == THREE and sum(out["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert out["label"] == max(out["scores"], key=out["scores"].get)


def test_plain_factual_sentences_come_out_neutral():
    """The issue's target: >= 80% of plain factual sentences (no sentiment words) labelled neutral."""
    from nlptasks.tasks.sentiment import SentimentTask

    texts = [t for t in NEUTRAL_FACTS.read_text(encoding="utf-8").splitlines() if t.strip()]
    assert len(texts) >= 30
    out = SentimentTask(None, device="cpu").predict([{"text": t} for t in texts])
    share = sum(o["label"] == "neutral" for o in out) / len(out)
    print(f"neutral: {share:.1%} of {len(out)} factual sentences")
    assert share >= 0.8, [(t, o["label"]) for t, o in zip(texts, out) if o["label"] != "neutral"]
    # the two sentences of the issue
    first = SentimentTask(None, device="cpu").predict([{"text": "The meeting is at 3pm in room 204."},
                                                      {"text": "The package weighs 2 kg."}])
    assert [o["label"] for o in first] == ["neutral", "neutral"]


def test_packaged_minilm_sentiment3_lora_matches_peft_merge():
    """nlptasks' own merge of nlptasks/embedded/minilm-sentiment3-lora == peft's merge_and_unload."""
    import torch
    from test_embedded_adapters import _peft_merged_packaged

    from nlptasks.tasks.sentiment import SentimentTask

    texts = ["a wonderful, moving film", "@user the bus is late again, great...", "The shop opens at nine."]
    ours = SentimentTask("minilm-sentiment3-lora", device="cpu", all_scores=True)
    ref, tok = _peft_merged_packaged("minilm-sentiment3-lora", "AutoModelForSequenceClassification")
    got = ours.predict([{"text": t} for t in texts])
    for t, g in zip(texts, got):
        with torch.no_grad():
            probs = torch.softmax(ref(**tok(t, return_tensors="pt")).logits[0], -1)
        labels = [ref.config.id2label[i] for i in range(len(probs))]
        assert labels == THREE and g["label"] == labels[int(probs.argmax())]
        assert [g["scores"][n] for n in labels] == pytest.approx(probs.tolist(), abs=1e-4)


def test_packaged_sentiment3_card_agrees_with_its_files():
    from nlptasks.backend.adapters import embedded_folder

    folder = embedded_folder("minilm-sentiment3-lora")
    record = json.loads((folder / "eval_record.json").read_text())
    result = json.loads((folder / "training_result.json").read_text())
    card = (folder / "README.md").read_text()
    m = record["metrics"][record["primary_metric"]]
    assert record["primary_metric"] == "macro_recall" and record["model"]["name"] == "minilm-sentiment3-lora"
    assert f"| macro_recall | {m['score']:.2f} | [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}] |" in card
    assert "bash scripts/build_models.sh sentiment3" in card and "Label rule: benchmark labels only" in card
    assert f"{result['cost']['wall_time_s']:.1f} s" in card and "CO2e" in card
    stats = m["stats"]  # each class's recall from the record's confusion counts, neutral's included
    assert stats["labels"][1] == "neutral"
    n_neutral = stats["confusion"][1]
    assert f"neutral {100 * n_neutral[1] / sum(n_neutral):.1f}% ({n_neutral[1]} of {sum(n_neutral)})" in card
    assert sum(p.stat().st_size for p in folder.iterdir() if p.name != "README.md") < 8_000_000


@pytest.mark.slow
@pytest.mark.data
def test_build_command_sentiment3_on_a_tiny_subset(shared_data, tmp_path):
    """scripts/build_models.sh sentiment3 end to end on a few rows: both sets combined, three labels,
    train, package, eval on the three benchmarks, card."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHON": sys.executable, "NLPTASKS_DATA": str(shared_data),
           "NLPTASKS_BUILD_DIR": str(tmp_path / "runs"), "NLPTASKS_EMBEDDED_DIR": str(tmp_path / "emb"),
           "NLPTASKS_DEVICE": "cpu", "NLPTASKS_EVAL_ARGS": "--limit 8",
           "NLPTASKS_BUILD_ARGS": "--limit-train 16 --limit-validation 8 --max-steps 2 --batch-size 8"}
    proc = subprocess.run(["bash", str(repo / "scripts" / "build_models.sh"), "sentiment3"], env=env, cwd=repo,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = tmp_path / "runs" / "sentiment3-data"
    import collections

    def rows(path):
        return [json.loads(line) for line in path.open(encoding="utf-8")]

    # each set's classes balanced by repetition up to its largest class, plus 4,400 SST-2 phrases (>= 8
    # words) of each polarity as ids 0 and 2
    built = rows(data / "train.jsonl")
    expected = collections.Counter()
    for name in ("sst3", "tweeteval"):
        top = max(collections.Counter(r["label"] for r in rows(shared_data / name / "train.jsonl")).values())
        expected.update({0: top, 1: top, 2: top})
    long = collections.Counter(r["label"] for r in rows(shared_data / "sentiment" / "train.jsonl")
                               if len(r["text"].split()) >= 8)
    expected.update({0: min(4400, long[0]), 2: min(4400, long[1])})
    assert collections.Counter(r["label"] for r in built) == expected
    sst3_neutral = {r["text"] for r in rows(shared_data / "sst3" / "train.jsonl") if r["label"] == 1}
    assert sst3_neutral <= {r["text"] for r in built if r["label"] == 1}  # repetition keeps every example
    validation = [{"text": r["text"], "label": r["label"]}
                  for name in ("sst3", "tweeteval") for r in rows(shared_data / name / "validation.jsonl")]
    assert rows(data / "validation.jsonl") == validation
    dest = tmp_path / "emb" / "minilm-sentiment3-lora"
    assert json.loads((dest / "nlptasks_adapter.json").read_text())["labels"] == THREE
    result = json.loads((dest / "training_result.json").read_text())
    assert "macro_recall" in result["metrics"]  # chosen by macro recall with three labels
    card = (dest / "README.md").read_text()
    for bench in ("tweeteval_sentiment_local", "sst3_local", "sst2_local"):
        assert f"## Evaluation ({bench}, n=8;" in card
    assert "bash scripts/build_models.sh sentiment3" in card and "Label rule: benchmark labels only" in card


# -- `nlptasks eval sentiment --data FILE`: the model's label space (nlptasks/evaluation/adhoc_labels.py) --------
def _data_file(tmp_path: Path, name: str, labels: list) -> str:
    texts = ["the cat sat on the mat", "a fine day", "a dull film", "it is raining", "so good", "bad"]
    f = tmp_path / name
    f.write_text("".join(json.dumps({"text": t, "label": g}) + "\n" for t, g in zip(texts, labels)))
    return str(f)


def _adhoc_eval(data: str, model: str, **kw) -> dict:
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation.engine import evaluate

    return evaluate(adhoc_benchmark("sentiment", data), model, device="cpu", store=False, cache=False, **kw)


def test_eval_data_reads_integer_labels_as_the_models_ids_and_names_by_name(three_class_model, tmp_path):
    from nlptasks.tasks.sentiment import SentimentTask

    ids = [0, 1, 2, 1, 2, 0]
    texts = [json.loads(line)["text"] for line in open(_data_file(tmp_path, "t.jsonl", ids))]
    predicted = [o["label"] for o in SentimentTask(str(three_class_model), device="cpu").predict(
        [{"text": t} for t in texts])]
    expected = 100 * sum(p == THREE[g] for p, g in zip(predicted, ids)) / len(ids)
    by_id = _adhoc_eval(_data_file(tmp_path, "ids.jsonl", ids), str(three_class_model))
    by_name = _adhoc_eval(_data_file(tmp_path, "names.jsonl", [THREE[g].title() for g in ids]),
                          str(three_class_model))
    for rec in (by_id, by_name):  # 2 was outside the old binary names; three labels rank by macro recall
        assert rec["metrics"]["accuracy"]["score"] == pytest.approx(expected)
        assert rec["primary_metric"] == "macro_recall" and "label_rule" not in rec["settings"]
    assert by_id["benchmark"]["hash"] != _adhoc_eval(_data_file(tmp_path, "ids.jsonl", ids),
                                                     str(tiny_three_as_generic(three_class_model, tmp_path)),
                                                     )["benchmark"]["hash"]


def tiny_three_as_generic(three_class_model, tmp_path) -> Path:
    """The same three-class model with generic label names (LABEL_0..2): ids map to them, not to names."""
    from transformers import AutoConfig

    out = tmp_path / "generic"
    import shutil

    shutil.copytree(three_class_model, out)
    cfg = AutoConfig.from_pretrained(out)
    cfg.id2label, cfg.label2id = {i: f"LABEL_{i}" for i in range(3)}, {f"LABEL_{i}": i for i in range(3)}
    cfg.save_pretrained(out)
    return out


def test_eval_data_label_the_model_lacks_follows_the_missing_labels_rule(three_class_model, tiny_models, tmp_path):
    mixed = _data_file(tmp_path, "mixed.jsonl", ["negative", "mixed", "positive", "neutral", "mixed", "negative"])
    with pytest.raises(InputError, match=r"line 2: reference label 'mixed' is not one of the labels; allowed "
                                         r"labels: negative, neutral, positive"):
        _adhoc_eval(mixed, str(three_class_model))
    rec = _adhoc_eval(mixed, str(three_class_model), missing_labels="score")
    assert rec["settings"]["label_rule"] == "missing labels scored: the model never predicts mixed"
    # a binary model: 0/1 are its negative/positive as before; an id it does not have is one clear error
    binary = str(tiny_models["bert-cls"])
    assert _adhoc_eval(_data_file(tmp_path, "bin.jsonl", [0, 1, 1, 0, 1, 0]), binary)["primary_metric"] == "accuracy"
    with pytest.raises(InputError, match=r"line 3: reference label 2 is not one of the labels; allowed labels: "
                                         r"negative, positive"):
        _adhoc_eval(_data_file(tmp_path, "three.jsonl", [0, 1, 2, 1, 2, 0]), binary)


def test_eval_data_label_error_is_one_line_from_the_cli(tiny_models, tmp_path, cli):
    data = _data_file(tmp_path, "three.jsonl", [0, 1, 2, 1, 2, 0])
    r = cli("eval", "sentiment", "--data", data, "--model", tiny_models["bert-cls"], "--no-store", "--no-cache")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("nlptasks: error: ")
    assert "three.jsonl: line 3: reference label 2 is not one of the labels" in r.stderr


# -- finetune --class-weights balanced (nlptasks/training/class_weights.py) ---------------------------------------
def test_balanced_class_weights_are_n_over_k_n_c():
    from nlptasks.training.class_weights import balanced

    w = balanced([0, 0, 0, 1, 2, 2], THREE)
    assert w == pytest.approx({"negative": 6 / 9, "neutral": 6 / 3, "positive": 6 / 6})
    with pytest.raises(InputError, match="no training example of class neutral"):
        balanced([0, 2, 2], THREE)


def test_finetune_class_weights_weigh_the_loss(tiny_models, tmp_path):
    """The run records the weights, and its validation loss is the weighted cross-entropy of the saved model."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from nlptasks.api import finetune

    labels = [0, 0, 0, 0, 1, 2, 0, 0]  # imbalanced: weighted and plain losses differ
    data = _bench_rows(tmp_path, labels)
    res = finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(tmp_path / "out"), labels=THREE,
                   new_head=True, class_weights="balanced", max_steps=1, lr=1e-3, batch_size=8,
                   eval_batch_size=8, seed=0, metric="loss", max_length=32)
    weights = res["preprocessing"]["class_weights"]
    assert res["settings"]["class_weights"] == "balanced"
    assert weights == pytest.approx({"negative": 8 / 18, "neutral": 8 / 3, "positive": 8 / 3})
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "out").eval()
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    texts = [json.loads(line)["text"] for line in open(data)]
    with torch.no_grad():
        logits = model(**tok(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")).logits
    y = torch.tensor(labels)
    w = torch.tensor([weights[n] for n in THREE])
    weighted = torch.nn.functional.cross_entropy(logits, y, weight=w).item()
    plain = torch.nn.functional.cross_entropy(logits, y).item()
    assert res["metrics"]["loss"] == pytest.approx(weighted, abs=1e-4)
    assert abs(weighted - plain) > 1e-3
    with pytest.raises(InputError, match="--class-weights .* does not apply to qa"):
        finetune("qa", str(tiny_models["bert-qa"]), data, None, str(tmp_path / "qa"), class_weights="balanced")


def _bench_rows(tmp_path: Path, labels: list[int]) -> str:
    texts = ["the cat sat on the mat", "a fine day", "a dull film", "it is raining", "so good", "bad", "ok then",
             "the end"]
    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps({"text": t, "label": THREE[g]}) + "\n" for t, g in zip(texts, labels)))
    return str(f)
