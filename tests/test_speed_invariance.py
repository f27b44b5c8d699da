"""The speed machinery (length-sorted batching, token budgets, padding per batch) must not change outputs:
forward_batched and generate_batched give the same results at every batch size and token budget in fp32,
and the results equal an unbatched direct call. A CUDA smoke test runs where CUDA is present."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

TEXTS = ["the cat sees a book.", "a dog", "the old man writes a long letter to the teacher about the garden.",
         "Guten Morgen!", "my friend loves the story and the river and good food.", "the model builds",
         "Wie geht es dir?", "this movie likes the house.", "a small bird finds the red car near the river.",
         "the teacher"]
SETTINGS = [dict(batch_size=1), dict(batch_size=3), dict(batch_size=8),
            dict(batch_size=8, max_tokens=12), dict(batch_size=64, max_tokens=100_000)]


def _load(path, **kw):
    from nlptasks.backend.loading import load_pretrained

    cls = "AutoModelForSequenceClassification" if "cls" in path.name else (
        "AutoModelForCausalLM" if path.name == "gpt2" else "AutoModelForSeq2SeqLM")
    return load_pretrained(str(path), cls, device=kw.pop("device", "cpu"), dtype=kw.pop("dtype", "float32"))


def _encode(lm, texts=TEXTS):
    enc = lm.tokenizer(texts)
    return [{k: enc[k][i] for k in enc.keys()} for i in range(len(texts))]


@pytest.mark.parametrize("name", ["bert-cls", "distilbert-cls"])
def test_forward_batched_invariant_to_batching(tiny_models, name):
    import torch

    from nlptasks.backend.inference import forward_batched

    lm = _load(tiny_models[name])
    items = _encode(lm)
    with torch.inference_mode():  # reference: each text alone, no padding at all
        ref = [lm.model(**{k: torch.tensor([v]) for k, v in it.items()}).logits[0] for it in items]
    for s in SETTINGS:
        got = [x for (x,) in forward_batched(lm, items, **s)]
        for r, g in zip(ref, got):
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5, msg=f"{name} {s}")
        assert [int(g.argmax()) for g in got] == [int(r.argmax()) for r in ref]


def test_forward_batched_per_token_lengths(tiny_models):
    from nlptasks.backend.inference import forward_batched

    lm = _load(tiny_models["bert-cls"])
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(tiny_models["bert-cls"])).eval()
    lm2 = type(lm)(base, lm.tokenizer, lm.source, lm.device, lm.dtype)
    items = _encode(lm2)
    small = forward_batched(lm2, items, outputs=("last_hidden_state",), per_token=True, batch_size=3, max_tokens=12)
    large = forward_batched(lm2, items, outputs=("last_hidden_state",), per_token=True, batch_size=64)
    for it, (a,), (b,) in zip(items, small, large):
        assert a.shape[0] == b.shape[0] == len(it["input_ids"])
        assert (a - b).abs().max() < 1e-5


@pytest.mark.parametrize("name", ["marian", "bart", "t5", "gpt2"])
def test_generate_batched_invariant_to_batching(tiny_models, name):
    import torch

    from nlptasks.backend.inference import generate_batched, generation_config

    lm = _load(tiny_models[name])
    decoder_only = name == "gpt2"
    items = _encode(lm)
    cfg = generation_config(lm.model, {"max_new_tokens": 12})
    first = generate_batched(lm, items, cfg, decoder_only=decoder_only, batch_size=1)
    with torch.inference_mode():  # reference: a direct generate call per text
        for it, ids in zip(items, first):
            out = lm.model.generate(**{k: torch.tensor([v]) for k, v in it.items()}, generation_config=cfg)[0]
            out = out[len(it["input_ids"]):] if decoder_only else out[1:]
            direct = []
            for t in out.tolist():
                if t == cfg.eos_token_id:
                    break
                direct.append(t)
            assert ids == [t for t in direct if t != cfg.pad_token_id]
    for s in SETTINGS[1:]:
        assert generate_batched(lm, items, cfg, decoder_only=decoder_only, **s) == first, s


def test_generate_batched_forced_length_is_exact(tiny_models):
    from nlptasks.backend.inference import generate_batched, generation_config

    lm = _load(tiny_models["marian"])
    cfg = generation_config(lm.model, {"max_new_tokens": 7, "min_new_tokens": 7})
    cfg.forced_eos_token_id = None
    cfg.bad_words_ids = [[cfg.pad_token_id]]  # a random model may emit <pad>, which the engine drops
    outs = generate_batched(lm, _encode(lm), cfg, batch_size=4)
    # HF lets EOS through as the last of min_new_tokens (which the engine then drops): 6 or 7 tokens
    assert all(6 <= len(o) <= 7 for o in outs), [len(o) for o in outs]
    assert outs == generate_batched(lm, _encode(lm), cfg, batch_size=1)


def test_thread_setting_respects_environment(tmp_path):
    code = ("import torch; from nlptasks.backend.device import configure_threads; "
            "n = configure_threads(); print(n, torch.get_num_threads())")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env={**env, "NLPTASKS_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["1", "1"]
    out = subprocess.run([sys.executable, "-c", code], env={**env, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == ["None", "1"]  # the user's OMP setting is left alone
    bad = subprocess.run([sys.executable, "-c", code], env={**env, "NLPTASKS_NUM_THREADS": "zero"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "NLPTASKS_NUM_THREADS" in bad.stderr


def _cuda():
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return torch.cuda.is_available()


@pytest.mark.skipif(not _cuda(), reason="CUDA is not available")
def test_cuda_bf16_smoke(tiny_models):
    import torch

    from nlptasks.backend.inference import forward_batched, generate_batched, generation_config

    clf = _load(tiny_models["bert-cls"], device="cuda", dtype="bfloat16")
    assert clf.device.type == "cuda" and next(clf.model.parameters()).dtype == torch.bfloat16
    out = forward_batched(clf, _encode(clf), batch_size=3)
    assert len(out) == len(TEXTS) and all(torch.isfinite(x).all() and x.device.type == "cpu" for (x,) in out)
    cpu = _load(tiny_models["bert-cls"])
    ref = forward_batched(cpu, _encode(cpu))
    for (a,), (b,) in zip(out, ref):
        assert (a - b).abs().max() < 0.1  # bf16 vs fp32 on a tiny random model
    mt = _load(tiny_models["marian"], device="cuda", dtype="bfloat16")
    cfg = generation_config(mt.model, {"max_new_tokens": 6, "min_new_tokens": 6})
    cfg.forced_eos_token_id = None
    cfg.bad_words_ids = [[cfg.pad_token_id]]
    ids = generate_batched(mt, _encode(mt), cfg, batch_size=4)
    assert all(5 <= len(x) <= 6 for x in ids)
    again = generate_batched(mt, _encode(mt), cfg, batch_size=64)  # bf16: padding may flip near-ties
    assert len(again) == len(ids) and all(5 <= len(x) <= 6 for x in again)
