"""Sentiment plugin on tiny local models: parity with the transformers pipeline, batching, long texts."""
import pytest

from nlptasks import run
from nlptasks.api import load_task

TEXTS = ["the cat likes a book.", "a dog hates the river and the garden.", "this movie",
         "my friend reads a long letter about the old man and the red car.", "good", "the story"] * 3


@pytest.mark.parametrize("name", ["bert-cls", "distilbert-cls"])
def test_matches_text_classification_pipeline(tiny_models, name):
    from transformers import pipeline

    path = str(tiny_models[name])
    ours = run("sentiment", TEXTS, model=path, device="cpu", all_scores=True)
    pipe = pipeline("text-classification", model=path, device="cpu", top_k=None)
    theirs = pipe(TEXTS, batch_size=4)
    for o, t in zip(ours, theirs):
        best = max(t, key=lambda d: d["score"])
        assert o["label"] == best["label"]
        assert o["score"] == pytest.approx(best["score"], abs=1e-5)
        for d in t:
            assert o["scores"][d["label"]] == pytest.approx(d["score"], abs=1e-5)


def test_batch_size_invariance(tiny_models):
    path = str(tiny_models["bert-cls"])
    a = run("sentiment", TEXTS, model=path, batch_size=1)
    b = run("sentiment", TEXTS, model=path, batch_size=8)
    assert [x["label"] for x in a] == [x["label"] for x in b]
    assert [x["score"] for x in a] == pytest.approx([x["score"] for x in b], abs=1e-5)


def test_long_text_is_windowed_not_truncated(tiny_models):
    path = str(tiny_models["bert-cls"])
    long_text = " ".join(TEXTS * 60)  # well over 512 tokens
    task = load_task("sentiment", path, max_length=64, stride=16)
    out = task.predict([{"text": long_text}, {"text": "good"}])
    assert out[0]["label"] in {"NEGATIVE", "POSITIVE"} and 0.5 <= out[0]["score"] <= 1.0
    # the end of a long text changes the prediction inputs: the tail is not dropped
    tail_changed = task.predict([{"text": long_text + " " + "the old man hates the garden. " * 80}])
    assert tail_changed[0]["score"] != pytest.approx(out[0]["score"], abs=1e-7)


def test_majority_baseline():
    out = run("sentiment", ["anything", "else"], model="majority")
    assert [o["label"] for o in out] == ["positive", "positive"] and out[0]["score"] == 1.0


def test_unknown_option_lists_known():
    from nlptasks.errors import NlpTasksError

    with pytest.raises(NlpTasksError, match="all_scores"):
        load_task("sentiment", "majority", num_beams=3)


def test_embedded_default_int8_variant():
    texts = ["a wonderful, moving film", "a dull, tedious mess", "one of the best films of the year",
             "i hated every minute of it"]
    fp32 = load_task("sentiment", device="cpu")
    int8 = load_task("sentiment", device="cpu", quantize="int8")
    a, b = fp32.predict([{"text": t} for t in texts]), int8.predict([{"text": t} for t in texts])
    assert [x["label"] for x in a] == [x["label"] for x in b] == ["positive", "negative", "positive", "negative"]
    assert fp32.model_info()["name"] == int8.model_info()["name"] == "minilm-sentiment3-lora"  # the three-class default
    assert int8.model_info()["variant"]["quantize"] == "int8"
    assert int8.model_info()["parameters"] == fp32.model_info()["parameters"] > 20_000_000
    assert [x["score"] for x in a] != [x["score"] for x in b]  # really a different computation


def test_hf_int8_variant(tiny_models):
    path = str(tiny_models["bert-cls"])
    task = load_task("sentiment", path, quantize="int8")
    out = task.predict([{"text": t} for t in TEXTS[:4]])
    assert len(out) == 4 and task.model_info()["variant"]["quantize"] == "int8"
    import torch

    assert any(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in task._lm.model.modules())
