"""--explain for QA, translation, summarization and chat: each task's explanation fields."""
from __future__ import annotations

import numpy as np
import pytest

CONTEXT = ("The cat sat on the mat. It was a sunny day in the old town. The dog slept under the big tree "
           "near the river, and the children played with a red ball until the evening came.")


# -- QA ---------------------------------------------------------------------------------------------------
def test_qa_explanation_span_alternatives_and_windows(tiny_models):
    from nlptasks.api import run

    rec = {"question": "  Where did the dog sleep?", "context": CONTEXT}
    o = run("qa", [rec], model=str(tiny_models["bert-qa"]), explain=True, max_length=32, doc_stride=8)[0]
    e = o["explanation"]
    assert e["method"] == "ig" and e["target"] == o["answer"]
    assert e["windows"] == o["windows"] > 1
    alts = e["alternatives"]
    assert len(alts) == 5
    assert (alts[0]["start"], alts[0]["end"], alts[0]["answer"]) == (o["start"], o["end"], o["answer"])
    assert alts[0]["score"] == pytest.approx(o["score"])
    assert [a["logit"] for a in alts] == sorted((a["logit"] for a in alts), reverse=True)
    for a in alts:
        assert CONTEXT[a["start"]:a["end"]] == a["answer"]
        lo, hi = a["window_range"]
        assert 0 <= a["window"] < e["windows"] and lo <= a["start"] and a["end"] <= hi
    # attributions: question and context words of the answer's window, offsets into their own fields
    q = [t for t in e["tokens"] if t["field"] == "question"]
    c = [t for t in e["tokens"] if t["field"] == "context"]
    assert [t["text"] for t in q] == ["Where", "did", "the", "dog", "sleep", "?"]
    for t in q:
        assert rec["question"][t["start"]:t["end"]] == t["text"]
    assert c and all(CONTEXT[t["start"]:t["end"]] == t["text"] for t in c)
    lo, hi = alts[0]["window_range"]
    assert all(t["end"] > lo and t["start"] < hi for t in c)  # only the span's window
    # completeness of the span logit's attribution (tiny random model: small numbers, small tolerance)
    assert abs(e["completeness_delta"]) < 0.05


# -- translation --------------------------------------------------------------------------------------
def test_translate_alignment_and_logprobs(tiny_models):
    from nlptasks.api import run

    texts = ["the cat sees a book.", "my friend likes the river."]
    outs = run("translate", texts, model=str(tiny_models["marian"]), explain=True, max_new_tokens=8)
    for text, o in zip(texts, outs):
        e = o["explanation"]
        assert e["method"] == "attention" and e["target"] == o["translation"]
        assert "last 2 decoder layers" in e["rule"]
        (p,) = e["pieces"]
        n_src, n_tgt = len(p["source_tokens"]), len(p["target_tokens"])
        assert np.array(p["alignment"]).shape == (n_tgt, n_src)
        for row, t in zip(p["alignment"], p["target_tokens"]):
            assert sum(row) == pytest.approx(1.0, abs=1e-3)
            assert t["source"] == int(np.argmax(row))
            assert t["logprob"] <= 0
        assert p["logprob"] == pytest.approx(sum(t["logprob"] for t in p["target_tokens"]))
        assert p["target_tokens"][-1]["special"]  # the EOS the model ended with
        words = [s for s in p["source_tokens"] if s["start"] is not None]
        assert words and all(text[s["start"]:s["end"]] == s["text"] for s in words)
    # the logprobs are the model's: the same ids scored independently give the same numbers
    import torch

    from nlptasks.api import load_task

    task = load_task("translate", str(tiny_models["marian"]), max_new_tokens=8).load()
    e = task.__class__(str(tiny_models["marian"]), explain=True, max_new_tokens=8).predict([{"text": texts[0]}])[0]
    tok, model = task._lm.tokenizer, task._lm.model
    enc = tok([texts[0]], return_tensors="pt")
    gen = model.generate(**enc, generation_config=task.gen_config)
    with torch.no_grad():
        lp = torch.log_softmax(model(**enc, decoder_input_ids=gen[:, :-1]).logits[0], -1)
    ref = [lp[i, gen[0, i + 1]].item() for i in range(gen.shape[1] - 1)]
    got = [t["logprob"] for t in e["explanation"]["pieces"][0]["target_tokens"]]
    assert got == pytest.approx(ref, abs=1e-4)


# -- summarization ---------------------------------------------------------------------------------------
def test_summary_traces_replay_the_selection_rules():
    from nlptasks.explain.summarize import trace_mmr, trace_supervised
    from nlptasks.tasks.extractive import select_sentences
    from nlptasks.models.extractive_supervised import select

    rng = np.random.default_rng(0)
    vocab = "a b c d e f g h".split()
    for trial in range(60):
        n = int(rng.integers(1, 12))
        sents = [" ".join(rng.choice(vocab, size=int(rng.integers(2, 9)))) for _ in range(n)]
        scores = rng.normal(size=n)
        k = int(rng.integers(1, 5))
        block = bool(trial % 2)
        budget = int(rng.integers(3, 20)) if trial % 3 == 0 else None
        rows = trace_supervised(scores, sents, k, block, max_words=budget)
        assert [i for i, r in enumerate(rows) if r["kept"]] == select(scores, sents, k, block, max_words=budget)
        assert sorted(r["rank"] for r in rows) == list(range(1, n + 1))
        assert all(r["reason"].startswith("kept") == r["kept"] for r in rows)
        emb = rng.normal(size=(n, 6))
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        d, w = float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        rows = trace_mmr(emb, k, d, w)
        assert [i for i, r in enumerate(rows) if r["kept"]] == select_sentences(emb, k, diversity=d, position_weight=w)
    # reasons name the rule that decided
    rows = trace_supervised(np.array([3.0, 2.0, 1.0]), ["a b c d", "a b c e", "x y z w"], 2, True)
    assert rows[1]["reason"].startswith("redundancy") and "sentence 1" in rows[1]["reason"]
    rows = trace_supervised(np.array([3.0, 2.0, 1.0]), ["a b c d", "e f g h", "x y z w"], 2, True)
    assert rows[2]["reason"].startswith("length budget")
    rows = trace_supervised(np.array([3.0, 2.0, 1.0]), ["a b c d", "e f g h", "x y z w"], 3, True, max_words=4)
    assert [r["kept"] for r in rows] == [True, False, False] and "4 words" in rows[1]["reason"]


@pytest.mark.parametrize("model", ["minilm-extsum", "minilm-extractive", "lead-3"])
def test_summarize_explanation_marks_the_kept_sentences(model):
    from nlptasks.api import run

    doc = ("The city council approved a new budget on Monday after a long debate. The budget raises "
           "spending on schools by ten percent. Critics said the plan ignores rising housing costs. "
           "The mayor praised the council for its work. Officials expect the changes to start in July. "
           "Local teachers welcomed the news about schools. The vote was seven to two.")
    o = run("summarize", [doc], model=model, explain=True)[0]
    e = o["explanation"]
    assert e["method"] == "selection" and len(e["sentences"]) == 7
    kept = [s["text"] for s in e["sentences"] if s["kept"]]
    assert "\n".join(kept) == o["summary"]
    for s in e["sentences"]:
        assert doc[s["start"]:s["end"]] == s["text"]
        assert s["reason"].startswith("kept") == s["kept"]
    if model != "lead-3":
        assert all(isinstance(s["score"], float) for s in e["sentences"])
        assert sorted(s["rank"] for s in e["sentences"]) == list(range(1, 8))


# -- chat --------------------------------------------------------------------------------------------
def test_chat_explanation_lists_the_retrieved_neighbours():
    from nlptasks.api import load_task

    task = load_task("chat", explain=True)
    outs = task.predict([{"history": ["Hi, how are you?"]},
                         {"history": ["What time is it?", "It's noon.", "Shall we have lunch?"]}])
    for o in outs:
        e = o["explanation"]
        nb = e["neighbours"]
        assert e["method"] == "neighbours" and len(nb) == task.run_settings()["retrieval"]["top_k"] > 1
        assert [n["similarity"] for n in nb] == sorted((n["similarity"] for n in nb), reverse=True)
        chosen = [n for n in nb if n["chosen"]]
        assert len(chosen) == 1 and chosen[0]["response"] == o["response"]
        assert round(chosen[0]["similarity"], 4) == o["similarity"]
        w = e["similarity_weight"]
        for n in nb:
            assert n["combined"] == pytest.approx(w * n["similarity"] + (1 - w) * n["consensus"])
        assert chosen[0]["combined"] == max(n["combined"] for n in nb)


def test_tasks_without_an_explanation_say_so(tiny_models):
    from nlptasks.api import run
    from nlptasks.errors import NlpTasksError

    with pytest.raises(NlpTasksError, match="retrieval model"):
        run("chat", [{"history": ["hi"]}], model="repeat-last-turn", explain=True)
    with pytest.raises(NlpTasksError, match="baseline"):
        run("qa", [{"question": "who?", "context": "Ann did."}], model="sliding-window", explain=True)
    with pytest.raises(NlpTasksError, match="extractive"):
        run("summarize", ["One sentence here. Another one there."], model=str(tiny_models["bart"]),
            explain=True, max_new_tokens=4)
