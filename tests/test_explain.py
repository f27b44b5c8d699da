"""--explain for sentiment: word units, ERASER helpers, integrated gradients (completeness, offsets,
signs on the packaged model), occlusion, long texts, the CLI and API."""
from __future__ import annotations

import json
import math

import pytest

from nlptasks.explain import faithfulness as F
from nlptasks.explain.words import group_subwords, word_spans

SST2 = "minilm-sst2-lora"  # the packaged SST-2 model (the task's default may be a three-class model)
CONTRAST = [  # (sentence, label the packaged model predicts, word for it, word against it)
    ("the acting is wonderful but the plot is a mess", "negative", "mess", "wonderful"),
    ("the plot is a mess but the acting is wonderful", "positive", "wonderful", "mess"),
]
PLAIN = [("a dull and boring film", "negative", {"dull", "boring"}),
         ("an awful movie", "negative", {"awful"}),
         ("a wonderful, moving film", "positive", {"wonderful"})]


# -- pure helpers ---------------------------------------------------------------------------------
def test_word_spans_and_subword_grouping():
    text = "  Don't  stop, café-goers!"
    spans = word_spans(text)
    assert [text[a:b] for a, b in spans] == ["Don", "'", "t", "stop", ",", "café", "-", "goers", "!"]
    # sub-words: "caf" + "é" go to one word; a sub-word starting on a space goes to the next word
    offs = [None, (2, 5), (5, 6), (6, 7), (8, 13), (13, 14), (15, 18), (18, 19), (19, 20), (20, 25), (25, 26), None]
    scores = [9.0, 1, 2, 3, 4, 5, 6, 0.5, 7, 8, 10, 9.0]
    word = group_subwords(spans, offs, scores)
    assert word == [1, 2, 3, 4, 5, 6.5, 7, 8, 10]
    assert sum(word) == pytest.approx(sum(scores[1:-1]))  # nothing lost (completeness survives)


def test_rationale_removal_and_keeping():
    text = "the plot is a mess"
    spans = word_spans(text)
    scores = [0.1, 0.5, 0.0, 0.0, 2.0]
    assert F.top_k(scores, 0.2) == [4]
    assert F.top_k(scores, 0.5) == [4, 1, 0]
    assert F.top_k([1, 1, 1], 0.34) == [0, 1]  # ties: earlier first; ceil(0.34 * 3) = 2
    assert F.remove_words(text, spans, [4, 1]) == "the is a"
    assert F.keep_words(text, spans, [4, 1]) == "plot mess"
    assert F.perturbed_texts(text, spans, scores, [0.2]) == {0.2: ("the plot is a", "mess")}
    assert F.comprehensiveness(0.9, 0.2) == pytest.approx(0.7)
    assert F.sufficiency(0.9, 0.95) == pytest.approx(-0.05)
    with pytest.raises(ValueError):
        F.rationale_size(3, 0)


def test_bootstrap_interval_covers_mean_and_shrinks():
    import random

    rng = random.Random(1)
    vals = [rng.gauss(0.3, 0.1) for _ in range(400)]
    mean, lo, hi = F.bootstrap_ci(vals, n_boot=500)
    assert lo < mean < hi and mean == pytest.approx(sum(vals) / 400)
    assert hi - lo == pytest.approx(2 * 1.96 * 0.1 / 20, rel=0.3)  # ~ the normal interval of the mean
    _, lo2, hi2 = F.bootstrap_ci(vals[:40], n_boot=500)
    assert hi2 - lo2 > hi - lo
    assert F.random_scores(5, 3) == F.random_scores(5, 3) != F.random_scores(5, 4)


# -- the packaged model ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sentiment():
    from nlptasks.api import load_task

    return load_task("sentiment", SST2).load()


def test_ig_completeness_on_the_packaged_model(sentiment):
    """IG word scores sum to f(input) - f(baseline), f = the label's log-odds, within the quadrature error."""
    import torch

    from nlptasks.explain.ig import baseline_ids
    from nlptasks.explain.sentiment import ig_scores, log_odds

    texts = ["the acting is wonderful but the plot is a mess", "an awful movie", "a wonderful, moving film"]
    probs = sentiment._probabilities(texts)
    targets = probs.argmax(-1).tolist()
    scores = ig_scores(sentiment, texts, targets)
    tok, model = sentiment._lm.tokenizer, sentiment._lm.model
    for text, y, sc in zip(texts, targets, scores):
        enc = tok(text, return_tensors="pt")
        base = torch.tensor([baseline_ids(tok, enc["input_ids"][0].tolist())])
        assert base[0, 0] == enc["input_ids"][0, 0] and base[0, -1] == enc["input_ids"][0, -1]  # CLS/SEP kept
        assert (base[0, 1:-1] == tok.pad_token_id).all()
        with torch.no_grad():
            fx = log_odds(model(**enc).logits)[0, y].item()
            fb = log_odds(model(input_ids=base, attention_mask=enc["attention_mask"],
                                token_type_ids=enc["token_type_ids"]).logits)[0, y].item()
        assert abs(fx - fb) > 1.0  # a real difference to explain
        assert sum(sc) == pytest.approx(fx - fb, abs=0.1 + 0.02 * abs(fx - fb))


@pytest.mark.parametrize("method", ["ig", "occlusion"])
def test_offsets_map_back_to_the_input(sentiment, method):
    from nlptasks.api import run

    texts = ["  Don't stop: café-goers LOVED it!!  ", "so-so\tfilm , really"]
    outs = run(sentiment.__class__(SST2, explain_method=method), texts)
    assert "explanation" not in run(sentiment, texts[:1])[0]  # only when asked for
    for text, o in zip(texts, outs):
        e = o["explanation"]
        assert e["method"] == method and e["target"] == o["label"]
        assert [t["text"] for t in e["tokens"]] == [text[a:b] for a, b in word_spans(text)]
        for t in e["tokens"]:
            assert text[t["start"]:t["end"]] == t["text"] and isinstance(t["score"], float)
        assert any(t["score"] != 0 for t in e["tokens"])


@pytest.mark.parametrize("method", ["ig", "occlusion"])
def test_signs_make_sense(method):
    from nlptasks.api import run

    texts = [c[0] for c in CONTRAST] + [p[0] for p in PLAIN]
    outs = run("sentiment", texts, model=SST2, explain_method=method)
    for (text, label, pro, con), o in zip(CONTRAST, outs):
        assert o["label"] == label
        score = {t["text"]: t["score"] for t in o["explanation"]["tokens"]}
        top = max(o["explanation"]["tokens"], key=lambda t: t["score"])
        assert top["text"] == pro, (method, text, score)
        assert score[pro] > 0
        if method == "ig":  # occlusion cannot see a word whose removal leaves the label saturated
            assert score[con] < 0, (text, score)
    for (text, label, words), o in zip(PLAIN, outs[len(CONTRAST):]):
        assert o["label"] == label
        top = max(o["explanation"]["tokens"], key=lambda t: t["score"])
        assert top["text"] in words, (method, text, o["explanation"])


def test_long_text_is_explained_in_the_windows_it_was_predicted_in():
    from nlptasks.api import run

    text = ("the first part is dull and slow . " * 3) + ("the ending , though , is wonderful and moving . " * 3)
    o = run("sentiment", [text], model=SST2, explain_method="ig", max_length=16, stride=4)[0]
    toks = o["explanation"]["tokens"]
    assert [text[t["start"]:t["end"]] for t in toks] == [t["text"] for t in toks]
    late = [t for t in toks if t["start"] > len(text) * 0.6 and t["text"] == "wonderful"]
    early = [t for t in toks if t["start"] < len(text) * 0.4 and t["text"] == "dull"]
    assert late and early and all(t["score"] != 0 for t in late + early)
    sign = 1 if o["label"] == "positive" else -1
    assert all(sign * t["score"] > 0 for t in late) and all(sign * t["score"] < 0 for t in early)


@pytest.mark.parametrize("name", ["distilbert-cls", "bert-cls"])
def test_ig_on_any_sequence_classifier(tiny_models, name):
    """Any AutoModelForSequenceClassification (with or without token types): completeness and offsets."""
    import torch

    from nlptasks.api import load_task
    from nlptasks.explain.ig import baseline_ids
    from nlptasks.explain.sentiment import log_odds

    task = load_task("sentiment", str(tiny_models[name]), explain_method="ig").load()
    text = "the cat sees a book, and the dog likes the river."
    o = task.predict([{"text": text}])[0]
    toks = o["explanation"]["tokens"]
    assert o["explanation"]["target"] == o["label"] in ("NEGATIVE", "POSITIVE")
    assert all(text[t["start"]:t["end"]] == t["text"] for t in toks)
    tok, model = task._lm.tokenizer, task._lm.model
    enc = tok(text, return_tensors="pt")
    base = dict(enc, input_ids=torch.tensor([baseline_ids(tok, enc["input_ids"][0].tolist())]))
    y = task.labels.index(o["label"])
    with torch.no_grad():
        diff = (log_odds(model(**enc).logits) - log_odds(model(**base).logits))[0, y].item()
    assert sum(t["score"] for t in toks) == pytest.approx(diff, abs=1e-3 + 0.02 * abs(diff))


def _fp32_ig_setup(texts):
    import torch

    from nlptasks.api import load_task
    from nlptasks.explain.ig import baseline_ids, pad_batch
    from nlptasks.explain.sentiment import log_odds

    task = load_task("sentiment", SST2, dtype="float32").load()  # float32: comparisons to 1e-4
    tok, model = task._lm.tokenizer, task._lm.model
    enc = tok(texts)
    rows = [{"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
             "token_type_ids": enc["token_type_ids"][i], "baseline_ids": baseline_ids(tok, enc["input_ids"][i])}
            for i in range(len(texts))]
    batch = pad_batch(rows, tok.pad_token_id, ["input_ids", "attention_mask", "token_type_ids", "baseline_ids"])

    def forward(input_ids, attention_mask, token_type_ids):
        return log_odds(model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits.float())

    return task, model, forward, batch, torch.tensor([0, 1, 1][:len(texts)])


def test_direct_ig_equals_captum_and_computes_no_weight_gradients():
    """The batched direct integral is Captum's LayerIntegratedGradients (Gauss-Legendre) on padded rows of
    different lengths, parameters get no gradient and keep requires_grad."""
    pytest.importorskip("captum")
    import torch

    from nlptasks.explain.ig import integrate, integrate_captum

    texts = ["a wonderful film", "the acting is wonderful but the plot is a mess", "awful"]
    task, model, forward, batch, target = _fp32_ig_setup(texts)
    extra = (batch["attention_mask"], batch["token_type_ids"])
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    attr, delta = integrate(model, forward, batch["input_ids"], batch["baseline_ids"], extra, target, n_steps=8)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before
    assert all(p.grad is None for p in model.parameters())
    ref, ref_delta = integrate_captum(model, forward, batch["input_ids"], batch["baseline_ids"], extra, target,
                                      n_steps=8)
    scale = float(ref.abs().max())
    assert scale > 0.1 and (ref != 0).sum() > 10  # something to compare
    torch.testing.assert_close(attr, ref, atol=1e-3 * scale, rtol=1e-3)
    torch.testing.assert_close(delta.abs(), ref_delta.abs(), atol=1e-3 * scale, rtol=1e-3)
    assert (attr[2, batch["attention_mask"][2] == 0] == 0).all()  # padding gets nothing
    # a pass budget smaller than the batch (one sequence a pass) gives the same numbers
    small, small_delta = integrate(model, forward, batch["input_ids"], batch["baseline_ids"], extra, target,
                                   n_steps=8, max_tokens=1)
    torch.testing.assert_close(small, attr, atol=1e-4 * scale, rtol=1e-4)
    torch.testing.assert_close(small_delta, delta, atol=1e-4 * scale, rtol=1e-4)


def test_batched_ig_equals_per_sentence_and_reports_its_delta(monkeypatch):
    """Sentences integrated together (several per pass) give the scores each gets alone; the explanation's
    delta is sum(scores) - (f(text) - f(baseline)), recomputed here independently."""
    import torch

    from nlptasks.explain import ig as IG
    from nlptasks.explain.ig import baseline_ids
    from nlptasks.explain.sentiment import ig_attributions, log_odds, tolerance

    texts = ["the acting is wonderful but the plot is a mess", "awful", "a moving , funny film",
             "not bad at all"]
    task, model, *_ = _fp32_ig_setup(texts[:1])
    targets = [0, 0, 1, 1]
    calls = []
    real = IG._integrate_chunk
    monkeypatch.setattr(IG, "_integrate_chunk", lambda *a: calls.append(a[2].shape[0]) or real(*a))
    together, deltas, _ = ig_attributions(task, texts, targets, n_steps=8, refine_steps=None)
    assert max(calls) > 1  # several sentences shared one forward/backward pass
    for text, y, sc, d in zip(texts, targets, together, deltas):
        alone, alone_delta, _ = ig_attributions(task, [text], [y], n_steps=8, refine_steps=None)
        assert max(map(abs, sc)) > 0.1
        assert sc == pytest.approx(alone[0], abs=1e-4)
        assert d == pytest.approx(alone_delta[0], abs=1e-4)
        tok = task._lm.tokenizer
        enc = tok(text, return_tensors="pt")
        base = dict(enc, input_ids=torch.tensor([baseline_ids(tok, enc["input_ids"][0].tolist())]))
        with torch.no_grad():
            diff = (log_odds(model(**enc).logits) - log_odds(model(**base).logits))[0, y].item()
        assert abs(diff) > 1 and d == pytest.approx(sum(sc) - diff, abs=1e-3)
    # refinement: a window whose error is above tolerance is integrated again with more points
    coarse, coarse_delta, used = ig_attributions(task, texts, targets, n_steps=4, refine_steps=16)
    fine, fine_delta, _ = ig_attributions(task, texts, targets, n_steps=16, refine_steps=None)
    assert 16 in used and set(used) <= {4, 16}  # 4 points are too few for (some of) these sentences
    for sc, d, k, f, fd in zip(coarse, coarse_delta, used, fine, fine_delta):
        if k == 16:
            assert sc == pytest.approx(f, abs=1e-4) and d == pytest.approx(fd, abs=1e-4)
        else:
            assert abs(d) <= tolerance(sum(sc) - d)
    o = task.__class__(SST2, dtype="float32", explain_method="ig").load()
    e = o.predict([{"text": texts[0]}])[0]["explanation"]
    assert e["steps"] in (IG.DEFAULT_STEPS, IG.REFINE_STEPS) and isinstance(e["delta"], float)
    assert abs(e["delta"]) <= tolerance(sum(t["score"] for t in e["tokens"]) - e["delta"]) or e["steps"] == 32
    assert e["delta"] == pytest.approx(ig_attributions(o, [texts[0]], [o.labels.index(e["target"])])[1][0],
                                       abs=1e-4)


def test_three_class_model():
    from nlptasks.api import run

    outs = run("sentiment", ["an awful movie", "a great movie", "the acting is wonderful but the plot is a mess"],
               model="minilm-sentiment3-lora", explain_method="ig")
    assert [o["label"] for o in outs] == ["negative", "positive", "negative"]
    for o, word in zip(outs, ["awful", "great", "mess"]):
        assert max(o["explanation"]["tokens"], key=lambda t: t["score"])["text"] == word
    assert {t["text"]: t["score"] for t in outs[2]["explanation"]["tokens"]}["wonderful"] < 0


def test_occlusion_works_for_models_without_gradients():
    from nlptasks.api import run
    from nlptasks.errors import NlpTasksError

    o = run("sentiment", ["a great movie"], model="majority", explain_method="occlusion")[0]
    assert [t["score"] for t in o["explanation"]["tokens"]] == [0.0, 0.0, 0.0]  # a constant model
    with pytest.raises(NlpTasksError, match="occlusion"):
        run("sentiment", ["a great movie"], model="majority", explain_method="ig")


def test_unknown_method_is_one_clear_error():
    from nlptasks.api import load_task
    from nlptasks.errors import NlpTasksError

    with pytest.raises(NlpTasksError, match="explains with occlusion, ig"):
        load_task("sentiment", explain_method="lime")
    with pytest.raises(NlpTasksError, match="explains with selection"):
        load_task("summarize", explain_method="ig")


def test_cli_explain_jsonl_and_errors(cli):
    r = cli("run", "sentiment", "--model", SST2, "--explain", "--format", "jsonl",
            input="the acting is wonderful but the plot is a mess\n")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    e = rec["explanation"]
    assert e["method"] == "occlusion" and e["target"] == rec["label"]  # the default method
    assert {t["text"] for t in e["tokens"]} >= {"wonderful", "mess"}
    scores = {t["text"]: t["score"] for t in e["tokens"]}
    assert max(scores, key=scores.get) == "mess" and scores["mess"] > 0, scores  # the default's top word
    r = cli("run", "sentiment", "--explain-method", "lime", input="good\n")
    assert r.returncode != 0 and "invalid choice" in r.stderr
