"""Extractive QA: span selection over windows (synthetic logits), tiny BERT/DistilBERT QA models end to end,
a BERT whose QA head is set by hand (answer only in the last window), null answers, CLI input paths."""
import json
import random

import numpy as np
import pytest

from nlptasks import run
from nlptasks.api import load_task
from nlptasks.errors import InputError
from nlptasks.tasks.qa_postprocess import Window, select_spans

# -- span selection on synthetic logits ------------------------------------------------------------


def _window(n, offsets, start=None, end=None, base=-10.0):
    """A window of n tokens; ``offsets``: {token index: (char start, char end)} for context tokens."""
    s = np.full(n, base)
    e = np.full(n, base)
    for k, v in (start or {}).items():
        s[k] = v
    for k, v in (end or {}).items():
        e[k] = v
    return Window(s, e, [offsets.get(k) for k in range(n)], 0)


def _offs(first_token, first_char, count, width=4):
    """Context tokens ``first_token..`` at chars ``first_char + 5*t .. + width`` (words of 4 chars + space)."""
    return {first_token + t: (first_char + 5 * t, first_char + 5 * t + width) for t in range(count)}


def test_best_span_only_in_last_window_wins_across_windows():
    # window 0: a lone moderate span (its own softmax would give it ~1.0); last window: a much higher
    # span with a close competitor (its own softmax gives it less than window 0's local favourite)
    w0 = _window(10, _offs(3, 0, 6), start={4: 4.0}, end={5: 4.0})
    w1 = _window(10, _offs(3, 20, 6), start={4: 2.0}, end={4: 2.0})
    w2 = _window(10, _offs(3, 40, 6), start={6: 10.0, 7: 9.9}, end={6: 10.0, 7: 9.9})
    local = [select_spans([w])[0].score for w in (w0, w1, w2)]
    assert local[0] > 0.9 > 0.5 > local[2]  # per-window probabilities would pick window 0: the known bug
    answer, best = select_spans([w0, w1, w2], top_k=4)
    assert (answer.start, answer.end, answer.window) == (55, 59, 2)  # token 6 of the last window
    assert answer.logit == pytest.approx(20.0)
    # top-k ranks spans of every window together, by logit
    assert [(b.window, b.logit) for b in best] == [(2, pytest.approx(20.0)), (2, pytest.approx(19.9)),
                                                    (2, pytest.approx(19.8)), (0, pytest.approx(8.0))]
    answer, best = select_spans([w0, w1, w2], top_k=200)
    assert [b.window for b in best].index(0) < [b.window for b in best].index(1)  # 8.0 before 4.0
    assert sum(b.score for b in best) <= 1.0 + 1e-9


def _reference_scores(windows, max_len):
    """Brute force: every valid (start, end) of every window; distinct char spans keep their best logit."""
    spans = {}
    for w in windows:
        for i, oi in enumerate(w.offsets):
            for j, oj in enumerate(w.offsets):
                if oi is None or oj is None or j < i or j - i + 1 > max_len or oj[1] <= oi[0]:
                    continue
                key = (oi[0], oj[1])
                spans[key] = max(spans.get(key, -np.inf), w.start_logits[i] + w.end_logits[j])
    return spans


@pytest.mark.parametrize("seed", range(5))
def test_score_is_softmax_over_every_distinct_span_of_every_window(seed):
    rng = np.random.default_rng(seed)
    # two overlapping windows of the same context (tokens 3..12 and 3..12 shifted by 5 context tokens)
    w0 = Window(rng.normal(size=14), rng.normal(size=14), [None] * 3 + list(_offs(3, 0, 10).values()) + [None], 0)
    w1 = Window(rng.normal(size=14), rng.normal(size=14), [None] * 3 + list(_offs(3, 25, 10).values()) + [None], 0)
    ref = _reference_scores([w0, w1], max_len=4)
    answer, best = select_spans([w0, w1], max_answer_length=4, top_k=len(ref) + 5)
    assert len(best) == len(ref)  # spans seen in both windows are counted once
    z = sum(np.exp(v) for v in ref.values())
    for b in best:
        assert b.logit == pytest.approx(ref[(b.start, b.end)])
        assert b.score == pytest.approx(np.exp(ref[(b.start, b.end)]) / z)
    top = max(ref, key=ref.get)
    assert (answer.start, answer.end) == top
    assert sum(b.score for b in best) == pytest.approx(1.0)


def test_span_constraints_end_before_start_and_max_length():
    offs = _offs(1, 0, 8)
    # the best end (token 2) lies before the best start (token 6): not a span
    w = _window(10, offs, start={6: 9.0, 1: 0.5}, end={2: 9.0, 7: 1.0})
    answer, _ = select_spans([w], max_answer_length=30)
    assert (answer.start, answer.end) == (25, 34)  # tokens 6..7 (9 + 1), not 6..2 (18)
    w = _window(10, offs, start={1: 9.0}, end={8: 9.0, 2: 0.0})
    assert (select_spans([w], max_answer_length=8)[0].end) == 39   # 8 tokens allowed
    assert (select_spans([w], max_answer_length=7)[0].end) == 9    # too long: tokens 1..2 instead


def test_whitespace_is_trimmed_and_offsets_follow():
    context = "a  b  c"
    # token offsets that include surrounding spaces (as some tokenizers give)
    w = Window(np.array([0, 5.0, 0, 0]), np.array([0, 0, 0, 5.0]), [None, (1, 3), (3, 6), (6, 7)], 0)
    answer, best = select_spans([w], context=context)
    assert (answer.start, answer.end) == (3, 7) and context[answer.start:answer.end] == "b  c"


@pytest.mark.parametrize("threshold,expect_null", [(0.0, True), (0.99, True), (1.0, False), (1.5, False)])
def test_null_answer_around_threshold(threshold, expect_null):
    offs = _offs(3, 0, 5)
    # null logits: 6 in window 0 and 3 in window 1 -> min 3; best span logit 2 -> null - best = 1
    w0 = _window(9, offs, start={0: 3.0, 4: 1.0}, end={0: 3.0, 4: 1.0})
    w1 = _window(9, offs, start={0: 1.5, 5: 0.5}, end={0: 1.5, 5: 0.5})
    answer, best = select_spans([w0, w1], allow_impossible=True, null_threshold=threshold)
    assert answer.is_null is expect_null
    assert best[0].logit == pytest.approx(2.0) and best[0].start == 5
    if expect_null:
        assert answer.logit == pytest.approx(3.0)
        assert answer.score > best[0].score  # the null answer is one more softmax candidate
    # without --allow-impossible the null answer never wins
    assert not select_spans([w0, w1], allow_impossible=False)[0].is_null


# -- tiny models end to end ---------------------------------------------------------------------------

WORDS = ["the cat", "a dog", "reads", "the river", "café", "naïve", "日本語", "Zürich", "—", "e-mail", "42",
         "\u00a0", "über", "co-operate", "U.S.A.", "(brackets)", "“quotes”", "emoji 🙂", "tab\there"]


def _random_text(rng, n):
    seps = [" ", "  ", "\n", " \n\n ", "\t"]
    return "".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(n))


@pytest.mark.parametrize("name", ["bert-qa", "distilbert-qa"])
def test_offsets_always_exact(tiny_models, name):
    rng = random.Random(7)
    recs = [{"question": _random_text(rng, rng.randint(1, 6)), "context": "  " + _random_text(rng, rng.randint(2, 90))}
            for _ in range(40)]
    out = run("qa", recs, model=str(tiny_models[name]), max_length=48, doc_stride=12, top_k=3)
    assert max(o["windows"] for o in out) > 1
    for rec, o in zip(recs, out):
        ctx = rec["context"]
        for a in [o] + o["answers"]:
            assert a["answer"] == ctx[a["start"]:a["end"]] and a["answer"]
            assert a["answer"] == a["answer"].strip()
            assert 0 < a["score"] <= 1
        assert o["answers"][0]["start"] == o["start"] and o["answers"][0]["end"] == o["end"]


def _reference_best(path, question, context, max_answer_length=30):
    """Direct model forward on one short (single-window) input; argmax over valid start <= end pairs."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForQuestionAnswering.from_pretrained(path).eval()
    enc = tok(question, context, return_offsets_mapping=True, return_tensors="pt")
    offsets = enc.pop("offset_mapping")[0].tolist()
    seq = enc.sequence_ids(0)
    params = __import__("inspect").signature(model.forward).parameters
    with torch.inference_mode():
        out = model(**{k: v for k, v in enc.items() if k in params})
    s, e = out.start_logits[0].tolist(), out.end_logits[0].tolist()
    ctx = [k for k, sid in enumerate(seq) if sid == 1]
    cands = {(offsets[i][0], offsets[j][1]): s[i] + e[j] for i in ctx for j in ctx
             if i <= j < i + max_answer_length}
    best = max(cands, key=cands.get)
    z = sum(np.exp(v - cands[best]) for v in cands.values())
    return best, 1.0 / z


@pytest.mark.parametrize("name", ["bert-qa", "distilbert-qa"])
def test_matches_direct_forward_on_short_contexts(tiny_models, name):
    path = str(tiny_models[name])
    recs = [{"question": "what does the cat see?", "context": "the cat sees a book. the dog likes the house."},
            {"question": "who reads?", "context": "my friend reads a long letter about the old man."},
            {"question": "where?", "context": "a small bird finds the river in Zürich, near the garden."}]
    out = run("qa", recs, model=path, max_answer_length=5)
    for rec, o in zip(recs, out):
        (a, b), score = _reference_best(path, rec["question"], rec["context"], max_answer_length=5)
        assert (o["start"], o["end"]) == (a, b) and o["windows"] == 1
        assert o["score"] == pytest.approx(score, rel=1e-4)


def test_batch_size_invariance(tiny_models):
    rng = random.Random(3)
    recs = [{"question": _random_text(rng, 3), "context": _random_text(rng, rng.randint(5, 60))} for _ in range(12)]
    path = str(tiny_models["bert-qa"])
    a = run("qa", recs, model=path, batch_size=1, max_length=40, doc_stride=10)
    b = run("qa", recs, model=path, batch_size=8, max_length=40, doc_stride=10)
    assert [(x["start"], x["end"]) for x in a] == [(x["start"], x["end"]) for x in b]
    assert [x["score"] for x in a] == pytest.approx([x["score"] for x in b], rel=1e-4)


@pytest.fixture(scope="module")
def rigged_qa(tiny_models, tmp_path_factory):
    """Build tiny BERT QA models whose start/end logits are ~32 on one chosen token id and ~0 elsewhere:
    attention/FFN outputs zeroed (hidden state = normalized word embedding), position and segment
    embeddings zeroed, every other word embedding made orthogonal to a direction v, qa_outputs = v."""
    import torch
    from transformers import AutoTokenizer, BertForQuestionAnswering

    src = str(tiny_models["bert-qa"])
    tok = AutoTokenizer.from_pretrained(src)

    def build(token: str):
        target = tok.convert_tokens_to_ids(token)
        model = BertForQuestionAnswering.from_pretrained(src)
        h = model.config.hidden_size
        v = torch.tensor([1.0] * (h // 2) + [-1.0] * (h // 2))
        with torch.no_grad():
            for layer in model.bert.encoder.layer:
                for lin in (layer.attention.output.dense, layer.output.dense):
                    lin.weight.zero_()
                    lin.bias.zero_()
            emb = model.bert.embeddings
            emb.position_embeddings.weight.zero_()
            emb.token_type_embeddings.weight.zero_()
            w = emb.word_embeddings.weight
            w -= (w @ v)[:, None] * v[None, :] / (v @ v)
            w[target] = v
            model.qa_outputs.weight.copy_(torch.stack([v, v]))
            model.qa_outputs.bias.zero_()
        out = tmp_path_factory.mktemp(f"rigged-{target}")
        model.save_pretrained(out)
        tok.save_pretrained(out)
        return str(out)

    return build


def test_answer_only_in_last_window_is_found(rigged_qa):
    path = rigged_qa("zebra")
    filler = "the cat sees a book and the dog likes the house . " * 12
    context = filler + "  the animal in the last line is a zebra"
    task = load_task("qa", path, max_length=48, doc_stride=16)
    out = task.predict([{"question": "which animal?", "context": context},
                        {"question": "which animal?", "context": "a zebra runs ."}])
    o = out[0]
    assert o["windows"] > 3
    assert o["answer"] == "zebra" and (o["start"], o["end"]) == (context.index("zebra"), len(context))
    assert o["answer"] == context[o["start"]:o["end"]]
    assert o["score"] > 0.99
    # the premise: among this record's windows, only the last one contains the answer
    _, owners, offsets, _ = task._encode([{"question": "which animal?", "context": context}])
    covers = [any(x is not None and x[0] <= o["start"] and o["end"] <= x[1] for x in offs) for offs in offsets]
    assert len(covers) == o["windows"] and covers == [False] * (len(covers) - 1) + [True]
    assert out[1]["answer"] == "zebra" and out[1]["start"] == 2


def test_allow_impossible_end_to_end(rigged_qa):
    path = rigged_qa("[CLS]")  # the null (CLS) logits dominate every window
    rec = {"question": "which animal?", "context": "the cat sees a book . " * 20}
    out = run("qa", [rec], model=path, allow_impossible=True, max_length=32, doc_stride=8, top_k=2)[0]
    assert out["answer"] == "" and out["start"] is None and out["end"] is None and out["score"] > 0.99
    assert len(out["answers"]) == 2 and all(a["answer"] for a in out["answers"])
    # a huge threshold lets the best span through; without --allow-impossible a span always comes back
    out = run("qa", [rec], model=path, allow_impossible=True, null_threshold=1e6, max_length=32, doc_stride=8)[0]
    assert out["answer"] and out["answer"] == rec["context"][out["start"]:out["end"]]
    assert run("qa", [rec], model=path, max_length=32, doc_stride=8)[0]["answer"]
    assert load_task("qa", path, allow_impossible=True).metrics == ("squad_v2",)


def test_bad_records_and_options(tiny_models):
    path = str(tiny_models["distilbert-qa"])
    with pytest.raises(InputError, match="record 2: field 'context' is empty"):
        run("qa", [{"question": "q", "context": "c"}, {"question": "q", "context": "  "}], model=path)
    with pytest.raises(InputError, match="line 5: field 'question' is a number; expected a string"):
        run("qa", [{"question": 3, "context": "c", "__line__": 5}], model=path)
    with pytest.raises(InputError, match="missing field 'context'"):
        run("qa", [{"question": "q"}], model=path)
    with pytest.raises(InputError, match=r"line 2: the question is \d+ tokens: it leaves no room"):
        run("qa", [{"question": "q", "context": "c", "__line__": 1},
                   {"question": "word " * 80, "context": "c", "__line__": 2}], model=path, max_length=64)
    # a question that leaves less room than the stride still works (the stride shrinks for that record)
    out = run("qa", [{"question": "word " * 40, "context": "the cat sees a book . " * 10}], model=path,
              max_length=64, doc_stride=32)
    assert out[0]["windows"] > 1
    with pytest.raises(Exception, match="--top-k must be a positive integer, got 0"):
        run("qa", [{"question": "q", "context": "c"}], model=path, top_k=0)


# -- CLI -----------------------------------------------------------------------------------------------

def test_cli_jsonl_file_and_stdin(cli, tmp_path, tiny_models):
    rows = [{"id": 1, "question": "who reads?", "context": "my friend reads a long letter."},
            {"id": 2, "question": "what?", "context": "the cat sees a book."}]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    r = cli("run", "qa", "--model", tiny_models["bert-qa"], "--input", f)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, 2]
    for row, o in zip(rows, out):
        assert o["answer"] == row["context"][o["start"]:o["end"]] and 0 < o["score"] <= 1
    r2 = cli("run", "question-answering", "--model", tiny_models["bert-qa"], input=f.read_text())
    assert r2.returncode == 0, r2.stderr
    assert [json.loads(x) for x in r2.stdout.splitlines()] == out


def test_cli_question_and_context_file(cli, tmp_path, tiny_models):
    ctx = tmp_path / "ctx.txt"
    text = "The old man builds a red car.\nA small bird finds the river.\n"
    ctx.write_text(text, encoding="utf-8")
    r = cli("run", "qa", "--model", tiny_models["distilbert-qa"], "--question", "Who builds a car?",
            "--context-file", ctx, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["question"] == "Who builds a car?" and o["answer"] == text[o["start"]:o["end"]]
    r = cli("run", "qa", "--model", tiny_models["distilbert-qa"], "--question", "Who?", "--context-file", ctx)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1 and "\t" in r.stdout  # text: answer<TAB>score


@pytest.mark.parametrize("args,content,expected", [
    (["--input", "in.jsonl"], '{"question": "q", "context": "c"}\n{"question": "q2", "text": "c"}\n',
     "line 2: missing field 'context'"),
    (["--input", "in.jsonl"], '{"question": "q", "context": ""}\n', "line 1: field 'context' is empty"),
    (["--question", "q", "--context-file", "ctx.txt"], "", "ctx.txt: input is empty"),
    (["--question", "q", "--context-file", "ctx.txt"], "\x00\x01binary", "binary"),
    (["--question", "q", "--context-file", "missing.txt"], None, "missing.txt: no such file"),
    (["--question", "q"], None, "--question and --context-file go together"),
    (["--question", "q", "--context-file", "ctx.txt", "--input", "in.jsonl"], "text",
     "--input cannot be combined"),
])
def test_cli_bad_input_one_line(cli, tmp_path, tiny_models, args, content, expected):
    if content is not None:
        (tmp_path / ("in.jsonl" if "--context-file" not in args else "ctx.txt")).write_text(content, encoding="utf-8")
    r = cli("run", "qa", "--model", tiny_models["bert-qa"], *args)
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.data
def test_real_squad_slice_offsets(shared_data, tiny_models):
    rows = [json.loads(x) for x in (shared_data / "qa" / "validation.jsonl").read_text(encoding="utf-8").splitlines()[:8]]
    out = run("qa", [{"question": r["question"], "context": r["context"]} for r in rows],
              model=str(tiny_models["distilbert-qa"]), max_length=96, doc_stride=32)
    for r, o in zip(rows, out):
        assert o["answer"] == r["context"][o["start"]:o["end"]] and o["answer"]
