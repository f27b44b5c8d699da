"""Chat plugin on tiny local models: chat-template and EOS-joined prompts, parity with direct generate,
batching, history truncation, sampling seeds, reference NLL, the interactive command, errors."""
import json
import math
import shutil

import pytest

from nlptasks import run
from nlptasks.api import load_task
from nlptasks.errors import InputError, ModelLoadError

HISTORIES = [
    ["hello there"],
    ["the cat sees a book.", "a dog likes the house.", "my friend reads a long letter."],
    ["Guten Morgen!", "Wie geht es dir?"],
    ["the teacher writes the story.", "a small bird finds the river.", "this movie loves good food.",
     "the old man builds a red car.", "the cat hates the garden."],
]


@pytest.fixture(scope="module")
def gpt2_no_template(tiny_models, tmp_path_factory):
    """The tiny GPT-2 without its chat template: the DialoGPT (EOS-joined) path."""
    d = tmp_path_factory.mktemp("gpt2-plain") / "gpt2"
    shutil.copytree(tiny_models["gpt2"], d)
    (d / "chat_template.jinja").unlink()
    cfg = json.loads((d / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (d / "tokenizer_config.json").write_text(json.dumps(cfg))
    return str(d)


def _direct(path, prompts, seq2seq=False, **gen):
    """Greedy generate, one prompt (token ids) at a time; the decoded new tokens."""
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = (AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM).from_pretrained(path).eval()
    outs = []
    for ids in prompts:
        x = torch.tensor([ids])
        with torch.inference_mode():
            y = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=False, num_beams=1,
                               pad_token_id=tok.pad_token_id, **gen)
        new = y[0, 1:] if seq2seq else y[0, x.shape[1]:]
        outs.append(tok.decode(new, skip_special_tokens=True).strip())
    return outs


def test_chat_template_prompt_and_parity(tiny_models):
    from transformers import AutoTokenizer

    path = str(tiny_models["gpt2"])
    tok = AutoTokenizer.from_pretrained(path)
    task = load_task("chat", path, max_new_tokens=8).load()
    assert task.template
    prompt = tok.decode(task.encode(HISTORIES[2]))
    assert prompt == "assistant: Guten Morgen!\nuser: Wie geht es dir?\nassistant:"  # the last turn is the user's
    prompts = [tok(tok.apply_chat_template([{"role": r, "content": t} for r, t in zip(task.roles(len(h)), h)],
                                           tokenize=False, add_generation_prompt=True),
                   add_special_tokens=False)["input_ids"] for h in HISTORIES]
    ours = task.predict([{"history": h} for h in HISTORIES])
    assert [o["response"] for o in ours] == _direct(path, prompts, max_new_tokens=8)
    assert all(o["dropped_turns"] == 0 for o in ours)


def test_eos_joined_prompt_and_parity(gpt2_no_template):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gpt2_no_template)
    task = load_task("chat", gpt2_no_template, max_new_tokens=8).load()
    assert not task.template and task.run_settings()["prompt"] == "eos-joined"
    # DialoGPT's convention: every turn followed by the EOS token
    prompts = [tok("".join(t + tok.eos_token for t in h), add_special_tokens=False)["input_ids"] for h in HISTORIES]
    assert [task.encode(h) for h in HISTORIES] == prompts
    ours = run(task, [{"history": h} for h in HISTORIES])
    assert [o["response"] for o in ours] == _direct(gpt2_no_template, prompts, max_new_tokens=8)


def test_seq2seq_dialogue_model(tiny_models):
    from transformers import AutoTokenizer

    path = str(tiny_models["bart"])   # an encoder-decoder model: loaded as AutoModelForSeq2SeqLM
    task = load_task("chat", path, max_new_tokens=6).load()
    assert task.seq2seq and task.run_settings()["prompt"] == "blenderbot"
    tok = AutoTokenizer.from_pretrained(path)
    prompts = [tok("  ".join((" " + t) if r == "user" else t for r, t in zip(task.roles(len(h)), h)))["input_ids"]
               for h in HISTORIES]
    ours = task.predict([{"history": h} for h in HISTORIES])
    assert [o["response"] for o in ours] == _direct(path, prompts, seq2seq=True, max_new_tokens=6)


@pytest.mark.parametrize("which", ["gpt2", "plain"])
def test_batch_size_invariance(tiny_models, gpt2_no_template, which):
    path = str(tiny_models["gpt2"]) if which == "gpt2" else gpt2_no_template
    recs = [{"history": h[i:]} for h in HISTORIES for i in range(len(h))]  # 11 prompts of varied lengths
    # the random model ends EOS-joined prompts with EOS at once; a repetition penalty (EOS is in the prompt)
    # makes it talk, which also exercises --repetition-penalty
    kw = dict(model=path, max_new_tokens=10, repetition_penalty=None if which == "gpt2" else 3.0)
    a = run("chat", recs, batch_size=1, **kw)
    b = run("chat", recs, batch_size=8, **kw)
    assert [x["response"] for x in a] == [x["response"] for x in b]
    assert len({x["response"] for x in a}) > 1  # the prompts really differ in what they produce


def test_history_truncation_keeps_most_recent_turns(tiny_models):
    task = load_task("chat", str(tiny_models["gpt2"]), max_new_tokens=4, max_context_tokens=40).load()
    history = [f"turn {i}: the cat sees a book." for i in range(12)]
    ids, dropped, cut = task.fit(history)
    assert 0 < dropped < 12 and cut == 0 and len(ids) <= 40
    assert ids == task.encode(history[dropped:])               # exactly the most recent turns
    assert len(task.encode(history[dropped - 1:])) > 40         # and as many of them as fit
    tok = task._lm.tokenizer
    assert "turn 11" in tok.decode(ids) and "turn 0:" not in tok.decode(ids)
    out = task.predict([{"history": history}])[0]
    assert out["dropped_turns"] == dropped
    same = task.predict([{"history": history[dropped:]}])[0]
    assert same["response"] == out["response"] and same["dropped_turns"] == 0


def test_overlong_last_turn_keeps_its_tail(gpt2_no_template):
    task = load_task("chat", gpt2_no_template, max_new_tokens=4, max_context_tokens=20).load()
    words = [f"w{i}" for i in range(60)]
    ids, dropped, cut = task.fit(["an earlier turn", " ".join(words)])
    tok = task._lm.tokenizer
    assert dropped == 1 and cut > 0 and len(ids) <= 20
    kept = tok.decode(ids, skip_special_tokens=True)
    assert kept.endswith("w59") and "w0 " not in kept


def test_default_context_budget_leaves_room_for_new_tokens(tiny_models):
    task = load_task("chat", str(tiny_models["gpt2"]), max_new_tokens=30).load()
    assert task.context_budget == 128 - 30        # 128 positions in the tiny GPT-2
    out = task.predict([{"history": ["the cat sees a book. " * 20] * 4}])[0]
    assert out["dropped_turns"] >= 1


def test_sampling_is_reproducible_with_a_seed(tiny_models):
    path = str(tiny_models["gpt2"])
    recs = [{"history": h} for h in HISTORIES]
    kw = dict(model=path, max_new_tokens=12, do_sample=True, temperature=1.5, top_k=0)
    a = run("chat", recs, seed=3, **kw)
    b = run("chat", recs, seed=3, **kw)
    c = run("chat", recs, seed=4, **kw)
    greedy = run("chat", recs, model=path, max_new_tokens=12)
    assert a == b
    assert [x["response"] for x in a] != [x["response"] for x in c]
    assert [x["response"] for x in a] != [x["response"] for x in greedy]


@pytest.mark.parametrize("which", ["gpt2", "plain", "bart"])
def test_reference_nll_matches_direct_loss(tiny_models, gpt2_no_template, which):
    import torch

    path = gpt2_no_template if which == "plain" else str(tiny_models[which])
    task = load_task("chat", path, batch_size=3).load()
    refs = ["a dog likes the house.", "Guten Morgen!", "the story", "my friend reads a long letter."]
    recs = [{"history": h} for h in HISTORIES]
    got = task.reference_nll(recs, refs)
    model = task._lm.model
    for rec, ref, g in zip(recs, refs, got):
        prompt = task.encode(rec["history"])
        target = task._target_ids(rec["history"], ref)
        with torch.inference_mode():
            if task.seq2seq:
                loss = model(input_ids=torch.tensor([prompt]), labels=torch.tensor([target])).loss
            else:
                x = torch.tensor([prompt + target])
                loss = model(input_ids=x, labels=torch.tensor([[-100] * len(prompt) + target])).loss
        assert g["tokens"] == len(target)
        assert math.isclose(g["nll"], loss.item() * len(target), rel_tol=1e-4)
    if which == "plain":  # DialoGPT convention: the response is scored with its closing EOS
        assert task._target_ids(["x"], "the story")[-1] == task._lm.tokenizer.eos_token_id


@pytest.mark.data
def test_real_dialogues_nll_and_responses(shared_data, tiny_models):
    lines = (shared_data / "dialogue" / "validation.jsonl").read_text(encoding="utf-8").splitlines()[:12]
    rows = [json.loads(x) for x in lines]
    task = load_task("chat", str(tiny_models["gpt2"]), max_new_tokens=6)
    scores = task.reference_nll(rows, [r["response"] for r in rows])
    assert all(s["tokens"] > 0 and math.isfinite(s["nll"]) and s["nll"] > 0 for s in scores)
    vocab = len(task._lm.tokenizer)
    ppl = math.exp(sum(s["nll"] for s in scores) / sum(s["tokens"] for s in scores))
    assert 1 < ppl < vocab * 4  # a random model: near-uniform, not degenerate
    outs = task.predict(rows)
    assert len(outs) == 12 and all(isinstance(o["response"], str) for o in outs)


@pytest.mark.parametrize("history,expected", [
    (3, "field 'history' is a number; expected a list of strings"),
    (["hi", 4], "turn 2 of field 'history' is a number; expected a list of strings"),
    ([], "no non-empty turn"),
    (["  ", ""], "no non-empty turn"),
])
def test_bad_histories(history, expected):
    task = load_task("chat", "unused-model")   # validation happens before any model is loaded
    with pytest.raises(InputError, match=expected):
        task.predict([{"history": history, "__line__": 5}])


def test_cli_run_from_file_and_stdin(cli, tmp_path, tiny_models):
    path = str(tiny_models["gpt2"])
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps({"history": h, "id": i}) + "\n" for i, h in enumerate(HISTORIES)), encoding="utf-8")
    r = cli("run", "chat", "--model", path, "--max-new-tokens", "6", "--input", f)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    expected = run("chat", [{"history": h} for h in HISTORIES], model=path, max_new_tokens=6)
    assert [x["response"] for x in rows] == [x["response"] for x in expected]
    assert [x["id"] for x in rows] == [0, 1, 2, 3] and all(x["dropped_turns"] == 0 for x in rows)
    r = cli("run", "dialogue", "--model", path, "--max-new-tokens", "6", input="hello there\n\nGuten Morgen!\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")[:-1]
    one_turn = run("chat", ["hello there", "Guten Morgen!"], model=path, max_new_tokens=6)
    assert lines == [one_turn[0]["response"], "", one_turn[1]["response"]]


def _repl(task, lines):
    """What the interactive command should print: responses with the history kept, the turns that no
    longer fit forgotten, and /reset starting afresh."""
    history, out, dropped = [], [], 0
    for line in lines:
        if line == "/reset":
            history = []
            continue
        history.append(line)
        res = task.predict([{"history": list(history)}])[0]
        history = history[res["dropped_turns"]:] + [res["response"]]
        dropped += res["dropped_turns"]
        out.append(res["response"])
    return out, dropped


def test_interactive_chat_history_reset_and_context_budget(cli, tiny_models):
    path = str(tiny_models["gpt2"])
    long_turns = [f"turn {i}: the cat sees a book and the dog likes the house." for i in range(8)]
    lines = ["hello there", "Wie geht es dir?", "/reset", "hello there", "/reset", *long_turns]
    r = cli("chat", "--model", path, "--max-new-tokens", "6", "--max-context-tokens", "48",
            input="\n".join(lines) + "\n\n/exit\nnot read\n")
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")[:-1]
    task = load_task("chat", path, max_new_tokens=6, max_context_tokens=48)
    expected, dropped = _repl(task, lines)
    assert out == expected and dropped > 0 and len(out) == 11
    first = run("chat", [{"history": ["hello there"]}], model=path, max_new_tokens=6)[0]["response"]
    second = run("chat", [{"history": ["hello there", first, "Wie geht es dir?"]}], model=path,
                 max_new_tokens=6)[0]["response"]
    assert out[:3] == [first, second, first]   # history carried into turn 2; /reset starts afresh


def test_offline_hub_model_is_one_clear_line(cli, monkeypatch):
    r = cli("chat", "--model", "microsoft/DialoGPT-small", input="hello\n", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "microsoft/DialoGPT-small" in r.stderr
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="'microsoft/DialoGPT-small' is not in the local Hugging Face cache"):
        run("chat", ["hello"], model="microsoft/DialoGPT-small")   # `nlptasks run chat` takes this path
