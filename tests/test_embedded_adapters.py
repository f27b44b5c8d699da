"""LoRA adapters saved by `nlptasks finetune --lora --lora-save adapter` and the packaged adapter models.

The packaged models (minilm-squad, minilm-sst2-lora) are built by scripts/build_models.sh on a GPU; here a
tiny BERT is fine-tuned through the same path, and loaded the way the packaged ones are.
"""
from __future__ import annotations

import json
import shutil

import pytest
from train_data import QA_CONTEXT, qa_rows, sentiment_rows, write_jsonl

LONG_CONTEXT = " ".join([QA_CONTEXT] * 6)


def _finetune(task, base, tmp_path, name, **kw):
    from nlptasks.api import finetune

    rows = qa_rows() if task == "qa" else sentiment_rows()
    data = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    settings = dict(max_steps=3, batch_size=4, lr=5e-3, logging_steps=1, seed=0, metric="loss", max_length=64,
                    lora=True, lora_r=4, lora_alpha=8, lora_targets=["all-linear"], lora_save="adapter",
                    adapter_dtype="float16")
    settings.update(kw)
    finetune(task, str(base), data, data, str(tmp_path / name), **settings)
    return tmp_path / name


@pytest.fixture(scope="module")
def qa_adapter(tiny_models, tmp_path_factory):
    return _finetune("qa", tiny_models["bert-qa"], tmp_path_factory.mktemp("qa"), "qa-adapter")


@pytest.fixture(scope="module")
def cls_adapter(tiny_models, tmp_path_factory):
    return _finetune("sentiment", tiny_models["bert-cls"], tmp_path_factory.mktemp("cls"), "cls-adapter",
                     new_head=True)


def _merged_with_peft(adapter, auto_class, out):
    """The reference: base + adapter merged by peft, saved as a plain transformers model."""
    import transformers
    from peft import PeftModel

    cfg = json.loads((adapter / "adapter_config.json").read_text())
    base = getattr(transformers, auto_class).from_pretrained(cfg["base_model_name_or_path"])
    if auto_class == "AutoModelForSequenceClassification":  # a new head: the adapter's label layout
        labels = json.loads((adapter / "nlptasks_adapter.json").read_text())["labels"]
        base = getattr(transformers, auto_class).from_pretrained(
            cfg["base_model_name_or_path"], num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
            ignore_mismatched_sizes=True)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.save_pretrained(out)
    transformers.AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(out)
    return out


def test_adapter_folder_is_peft_format_with_every_linear_layer_and_the_head(qa_adapter):
    from safetensors import safe_open

    names = {p.name for p in qa_adapter.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "README.md", "training_result.json",
            "tokenizer.json"} <= names
    assert "config.json" not in names and "model.safetensors" not in names  # no merged copy
    cfg = json.loads((qa_adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["modules_to_save"] == ["qa_outputs"]
    with safe_open(str(qa_adapter / "adapter_model.safetensors"), "pt") as f:
        keys = set(f.keys())
        dtypes = {str(f.get_tensor(k).dtype) for k in keys}
    assert dtypes == {"torch.float16"}
    lora = {k.split(".lora_")[0].split("layer.0.", 1)[1] for k in keys if ".layer.0." in k and "lora_A" in k}
    assert lora == {"attention.self.query", "attention.self.key", "attention.self.value",
                    "attention.output.dense", "intermediate.dense", "output.dense"}
    assert {"base_model.model.qa_outputs.weight", "base_model.model.qa_outputs.bias"} <= keys
    assert not any("qa_outputs.lora" in k for k in keys)
    card = (qa_adapter / "README.md").read_text()
    assert "LoRA adapter (peft format" in card
    result = json.loads((qa_adapter / "training_result.json").read_text())
    meta = json.loads((qa_adapter / "nlptasks_adapter.json").read_text())
    assert result["saved_as"] == "lora-adapter" and meta["base_weights_sha256"] == result["base_weights_sha256"]


def test_qa_adapter_gives_the_spans_of_the_peft_merged_model(qa_adapter, tmp_path):
    """Parity: nlptasks' own merge (no peft) == PeftModel.from_pretrained(...).merge_and_unload(), on a
    context long enough to be windowed."""
    from nlptasks.tasks.qa import QATask

    ref = _merged_with_peft(qa_adapter, "AutoModelForQuestionAnswering", tmp_path / "merged")
    records = [{"question": r["question"], "context": LONG_CONTEXT} for r in qa_rows()]
    opts = dict(device="cpu", max_length=48, doc_stride=16, top_k=3)
    ours = QATask(str(qa_adapter), **opts).predict(records)
    plain = QATask(str(ref), **opts).predict(records)
    assert all(o["windows"] > 1 for o in ours)
    for a, b in zip(ours, plain):
        assert (a["start"], a["end"], a["answer"]) == (b["start"], b["end"], b["answer"])
        assert [(x["start"], x["end"]) for x in a["answers"]] == [(x["start"], x["end"]) for x in b["answers"]]
        assert a["score"] == pytest.approx(b["score"], abs=1e-4)


def test_sentiment_adapter_parity_and_variants(cls_adapter, tmp_path):
    from nlptasks.tasks.sentiment import SentimentTask

    ref = _merged_with_peft(cls_adapter, "AutoModelForSequenceClassification", tmp_path / "merged")
    texts = [{"text": r["text"]} for r in sentiment_rows(6)]
    ours = SentimentTask(str(cls_adapter), device="cpu", all_scores=True).predict(texts)
    plain = SentimentTask(str(ref), device="cpu", all_scores=True).predict(texts)
    for a, b in zip(ours, plain):
        assert a["label"] == b["label"]
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-4)
    for variant in (dict(quantize="int8"), dict(dtype="bfloat16")):
        out = SentimentTask(str(cls_adapter), device="cpu", **variant).predict(texts)
        assert [o["label"] for o in out][:1] and all(o["label"] in ("negative", "positive") for o in out)
        assert sum(o["label"] == p["label"] for o, p in zip(out, plain)) >= len(texts) - 1


def test_adapter_on_another_base_is_refused(qa_adapter, tmp_path):
    from nlptasks.backend.adapters import build_merged
    from nlptasks.errors import ModelLoadError

    copy = tmp_path / "copy"
    shutil.copytree(qa_adapter, copy)
    meta = json.loads((copy / "nlptasks_adapter.json").read_text())
    meta["base_weights_sha256"] = "0" * 16
    (copy / "nlptasks_adapter.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="trained on base weights sha256 0000"):
        build_merged(copy, "AutoModelForQuestionAnswering")


def test_embedded_name_loads_the_packaged_folder_and_windows(qa_adapter, tmp_path, monkeypatch):
    """`nlptasks run qa` with no --model: minilm-squad, read from nlptasks/embedded/minilm-squad (here a
    tiny adapter put there), long contexts windowed with the doc stride."""
    import nlptasks.backend.embedded as embedded
    from nlptasks.tasks.qa import QATask

    shutil.copytree(qa_adapter, tmp_path / "minilm-squad")
    monkeypatch.setattr(embedded, "EMBEDDED_DIR", tmp_path)
    task = QATask(device="cpu", max_length=48, doc_stride=16)
    assert task.model_name == "minilm-squad" and task.model_name in {m.name for m in task.embedded_models}
    out = task.predict([{"question": "what does cat do?", "context": LONG_CONTEXT}])
    direct = QATask(str(qa_adapter), device="cpu", max_length=48, doc_stride=16).predict(
        [{"question": "what does cat do?", "context": LONG_CONTEXT}])
    assert out[0]["windows"] > 1 and (out[0]["start"], out[0]["end"]) == (direct[0]["start"], direct[0]["end"])
    info = task.model_info()
    assert info["name"] == "minilm-squad" and "+" in info["weights_hash"]
    (tmp_path / "minilm-squad" / "adapter_model.safetensors").unlink()
    from nlptasks.backend.loading import _CACHE
    from nlptasks.errors import ModelLoadError

    _CACHE.clear()
    with pytest.raises(ModelLoadError, match="'minilm-squad' is not installed.*build_models.sh"):
        QATask(device="cpu").predict([{"question": "q?", "context": "c."}])


def test_distill_accepts_an_adapter_teacher(qa_adapter, tmp_path):
    from nlptasks.api import distill

    data = write_jsonl(tmp_path / "d.jsonl", qa_rows())
    result = distill("qa", str(qa_adapter), data, data, str(tmp_path / "student"), student_layers=1, max_steps=2,
                     batch_size=4, max_length=64, logging_steps=1, metric="loss")
    assert (tmp_path / "student" / "config.json").is_file()
    assert result["comparison"] and result["teacher"] == str(qa_adapter)


def test_lora_save_flags_are_checked_before_loading(tmp_path):
    from nlptasks.errors import InputError
    from nlptasks.api import finetune

    with pytest.raises(InputError, match="add --lora"):
        finetune("qa", "/nonexistent", "t.jsonl", None, str(tmp_path / "o"), lora_save="adapter")
    with pytest.raises(InputError, match="--lora-save 'x'"):
        finetune("qa", "/nonexistent", "t.jsonl", None, str(tmp_path / "o"), lora=True, lora_save="x")
    with pytest.raises(InputError, match="applies to --lora-save adapter"):
        finetune("qa", "/nonexistent", "t.jsonl", None, str(tmp_path / "o"), lora=True, adapter_dtype="float16")


def test_all_linear_stands_alone(tiny_models):
    from nlptasks.errors import InputError
    from nlptasks.training.models import add_lora, load_model

    model = load_model(str(tiny_models["bert-qa"]), "AutoModelForQuestionAnswering")
    with pytest.raises(InputError, match="all-linear stands alone"):
        add_lora(model, "QUESTION_ANS", 4, 8, 0.0, ["all-linear", "query"])


# -- the sliding-window baseline -----------------------------------------------------------------------
def test_sliding_window_picks_the_span_next_to_the_question_words():
    from nlptasks.tasks.qa import QATask

    ctx = ("The Eiffel Tower is in Paris. The tower was finished in 1889 by the company of Gustave Eiffel. "
           "The Statue of Liberty stands in New York Harbor.")
    recs = [{"question": "Which harbor does the Statue of Liberty stand in?", "context": ctx},
            {"question": "In which year was the tower finished?", "context": ctx}]
    out = QATask("sliding-window").predict(recs)
    assert "York" in out[0]["answer"] and "1889" in out[1]["answer"]
    for o in out:
        assert ctx[o["start"]:o["end"]] == o["answer"] and 0 < o["score"] <= 1
    assert QATask("sliding-window").model_info()["baseline"] is True


def test_sliding_window_without_candidates_answers_empty():
    from nlptasks.tasks.qa import QATask

    out = QATask("sliding-window").predict([{"question": "the cat?", "context": "The cat."}])
    assert out[0]["answer"] == "" and out[0]["start"] is None


# -- the packaged models -------------------------------------------------------------------------------
def test_defaults_and_listing():
    from nlptasks.registry import TASKS

    qa, sent = TASKS.get("qa"), TASKS.get("sentiment")
    assert qa.default_model == "minilm-squad" and sent.default_model == "minilm-sentiment3-lora"
    assert {m.name for m in qa.embedded_models} == {"minilm-squad", "sliding-window"}
    assert {"minilm-sentiment3-lora", "minilm-sst2", "minilm-sst2-lora", "majority"} <= {m.name for m in sent.embedded_models}


def test_models_command_lists_them(cli):
    proc = cli("models", "qa", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["model"]: r for r in json.loads(proc.stdout)}
    assert rows["minilm-squad"]["default"] and rows["minilm-squad"]["kind"] == "embedded"
    assert rows["sliding-window"]["kind"] == "baseline"


def _embedded():
    from nlptasks.registry import TASKS

    return [(t, m.name) for t in TASKS.names() for m in TASKS.get(t).embedded_models]


@pytest.mark.parametrize("task,name", _embedded())
def test_every_listed_embedded_model_loads_offline(task, name):
    """Every model `nlptasks models` lists as embedded ships its files: it loads with no download. (Fails
    until scripts/build_models.sh has been run and its packaged copies committed.)"""
    from nlptasks.registry import TASKS

    info = TASKS.get(task)(name, device="cpu").model_info()
    assert info["name"]


@pytest.mark.slow
@pytest.mark.data
def test_build_command_on_a_tiny_subset(shared_data, tmp_path):
    """scripts/build_models.sh sentiment end to end on a few rows: train, package, eval, card."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHON": sys.executable, "NLPTASKS_DATA": str(shared_data),
           "NLPTASKS_BUILD_DIR": str(tmp_path / "runs"), "NLPTASKS_EMBEDDED_DIR": str(tmp_path / "emb"),
           "NLPTASKS_DEVICE": "cpu", "NLPTASKS_EVAL_ARGS": "--limit 8",
           "NLPTASKS_BUILD_ARGS": "--limit-train 16 --limit-validation 8 --max-steps 2 --batch-size 8"}
    proc = subprocess.run(["bash", str(repo / "scripts" / "build_models.sh"), "sentiment"], env=env, cwd=repo,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dest = tmp_path / "emb" / "minilm-sst2-lora"
    names = {p.name for p in dest.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "nlptasks_adapter.json", "README.md",
            "training_result.json", "eval_record.json"} <= names
    assert sum(p.stat().st_size for p in dest.iterdir()) < 2_000_000
    record = json.loads((dest / "eval_record.json").read_text())
    card = (dest / "README.md").read_text()
    acc = record["metrics"]["accuracy"]
    assert f"| accuracy | {acc['score']:.2f} | [{acc['ci'][0]:.2f}, {acc['ci'][1]:.2f}] |" in card
    assert "bash scripts/build_models.sh sentiment" in card and "movie" in card
    result = json.loads((dest / "training_result.json").read_text())
    assert result["settings"]["lora_targets"] == ["all-linear"] and result["settings"]["seed"] == 0


# -- parity of the REAL packaged adapters with a plain peft merge ------------------------------------------
def _peft_merged_packaged(name, auto_class):
    """The packaged adapter merged by peft over the packaged MiniLM (the reference, no nlptasks loader)."""
    import transformers
    from peft import PeftModel

    from nlptasks.backend.adapters import embedded_folder
    from nlptasks.backend.embedded import minilm_path

    folder = embedded_folder(name)
    labels = json.loads((folder / "nlptasks_adapter.json").read_text())["labels"]
    kw = dict(num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
              ignore_mismatched_sizes=True) if labels else {}
    base = getattr(transformers, auto_class).from_pretrained(minilm_path(), **kw)
    model = PeftModel.from_pretrained(base, str(folder)).merge_and_unload().eval()
    return model, transformers.AutoTokenizer.from_pretrained(minilm_path())


def test_packaged_minilm_squad_matches_peft_merge():
    """nlptasks' own merge of nlptasks/embedded/minilm-squad == peft's merge_and_unload, on 3 questions."""
    import torch

    from nlptasks.tasks.qa import QATask

    items = [("Who defeated the Carolina Panthers?",
              "The Denver Broncos defeated the Carolina Panthers 24-10 to earn their third Super Bowl title."),
             ("Where is the Eiffel Tower?", "The Eiffel Tower is a wrought-iron tower in Paris, France, built in 1889."),
             ("What do plants release?", "During photosynthesis plants take in carbon dioxide and release oxygen.")]
    ours = QATask("minilm-squad", device="cpu")
    ref, tok = _peft_merged_packaged("minilm-squad", "AutoModelForQuestionAnswering")
    got = ours.predict([{"question": q, "context": c} for q, c in items])
    mine = ours._lm.model
    for (q, c), g in zip(items, got):
        enc = tok(q, c, return_tensors="pt")
        with torch.no_grad():
            a, b = ref(**enc), mine(**enc)
        assert torch.allclose(a.start_logits, b.start_logits, atol=1e-4)
        assert torch.allclose(a.end_logits, b.end_logits, atol=1e-4)
        s, e = int(a.start_logits[0].argmax()), int(a.end_logits[0].argmax())
        span = enc.token_to_chars(0, s).start, enc.token_to_chars(0, e).end
        assert g["answer"] == c[span[0]:span[1]], (g, c[span[0]:span[1]])


def test_packaged_minilm_sst2_lora_matches_peft_merge():
    """nlptasks' own merge of nlptasks/embedded/minilm-sst2-lora == peft's merge_and_unload, on 3 texts."""
    import torch

    from nlptasks.tasks.sentiment import SentimentTask

    texts = ["a wonderful, moving film", "a dull, tedious mess", "the plot is thin but the actors are fun to watch"]
    ours = SentimentTask("minilm-sst2-lora", device="cpu", all_scores=True)
    ref, tok = _peft_merged_packaged("minilm-sst2-lora", "AutoModelForSequenceClassification")
    got = ours.predict([{"text": t} for t in texts])
    for t, g in zip(texts, got):
        with torch.no_grad():
            probs = torch.softmax(ref(**tok(t, return_tensors="pt")).logits[0], -1)
        labels = [ref.config.id2label[i] for i in range(len(probs))]
        assert g["label"] == labels[int(probs.argmax())]
        assert [g["scores"][n] for n in labels] == pytest.approx(probs.tolist(), abs=1e-4)


@pytest.mark.parametrize("name", ["minilm-squad", "minilm-sst2-lora"])
def test_packaged_card_agrees_with_its_files(name):
    """The committed card is rendered from the committed eval record and training result (no hand-typed
    numbers), and records the base weights the adapter was trained on next to the one it ships over."""
    from nlptasks.backend.adapters import embedded_folder
    from nlptasks.backend.embedded import minilm_path
    from nlptasks.backend.encoder import encoder_weights_hash

    folder = embedded_folder(name)
    record = json.loads((folder / "eval_record.json").read_text())
    result = json.loads((folder / "training_result.json").read_text())
    meta = json.loads((folder / "nlptasks_adapter.json").read_text())
    card = (folder / "README.md").read_text()
    m = record["metrics"][record["primary_metric"]]
    assert f"| {record['primary_metric']} | {m['score']:.2f} | [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}] |" in card
    assert record["model"]["name"] == name and record["n"] == result["data"]["validation"]["rows"]
    assert f"{result['cost']['energy_kwh'] * 1000:.2f} Wh (NVML)" in card
    assert meta["base_weights_sha256"] == encoder_weights_hash(minilm_path())  # what it ships over
    assert record["model"]["weights_hash"].startswith(meta["base_weights_sha256"] + "+")
    trained = meta["trained_on_base"]["weights_sha256"]
    assert trained == result["base_weights_sha256"] and trained in card and "fp16" in card


def test_offline_suite_covers_the_packaged_encoder_defaults_and_variants():
    """The shipped offline suite runs each packaged encoder default fp32, int8 and bf16, next to its baseline."""
    from nlptasks.registry import TASKS
    from nlptasks.evaluation.suites import load_suite

    runs = {(r.benchmark, r.model, r.dtype, r.quantize) for r in load_suite("offline").runs}
    for bench, task, baseline in (("squad_local", "qa", "sliding-window"), ("sst3_local", "sentiment", "majority"),
                                  ("tweeteval_sentiment_local", "sentiment", "majority")):
        default = TASKS.get(task).default_model
        assert {(bench, default, "auto", None), (bench, default, "auto", "int8"), (bench, default, "bfloat16", None),
                (bench, baseline, "auto", None)} <= runs, (bench, default)
    assert ("sst2_local", "minilm-sst2", "auto", None) in runs  # the previous default stays comparable
    # the binary SST-2 default stays on its board with its variants, beside the three-class default
    assert {("sst2_local", "minilm-sentiment3-lora", "auto", None), ("sst2_local", "minilm-sst2-lora", "auto", "int8"),
            ("sst2_local", "minilm-sst2-lora", "bfloat16", None), ("sst2_local", "majority", "auto", None)} <= runs
