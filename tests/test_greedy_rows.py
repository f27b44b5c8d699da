"""nlptasks' greedy loop (backend/greedy.py) drops finished rows from the batch and gives the same tokens
as transformers' own greedy search: on tiny Marian/BART/T5/GPT-2 models whose rows finish at many
different steps, with row-wise logits processors, with a processor that forbids dropping, and on the
packaged en->de translator through the task API."""
import pytest

from nlptasks.backend import greedy
from nlptasks.backend.inference import DROP_FINISHED_ENV, drop_finished_rows

TEXTS = ["the quick brown fox jumps over the lazy dog again and again", "red", "blue car",
         "we went home after the long game in the rain", "a man rides a bike", "two dogs play in the snow and run",
         "hello", "the cat sat on the mat with a hat on", "x y z", "one two three four five six seven eight", "a",
         "people walk down a busy street at night", "green", "a child eats an apple in the kitchen"]


def _load(path, causal):
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    model = (AutoModelForCausalLM if causal else AutoModelForSeq2SeqLM).from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    if causal:
        tok.padding_side = "left"
    # Larger random weights than the init: outputs then depend on the input, so rows finish at different steps
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    return model, tok


def _count_rows(model):
    """Record the number of rows in each forward call of ``model``."""
    seen = []

    def hook(module, args, kwargs):
        ids = kwargs.get("decoder_input_ids")
        if ids is None:
            ids = kwargs.get("input_ids")
        seen.append(ids.shape[0])

    return seen, model.register_forward_pre_hook(hook, with_kwargs=True)


def _eos_with_spread(model, tok, enc, start):
    """The token whose first appearance falls on the most different steps across rows: used as EOS, it
    makes rows finish at many different steps."""
    import torch

    with torch.inference_mode():
        rows = model.generate(**enc, max_new_tokens=24, do_sample=False)[:, start:].tolist()

    def spread(t):
        firsts = [r.index(t) for r in rows if t in r[1:]]
        return len(set(firsts)), len(firsts)

    return max(sorted({t for r in rows for t in r[1:]}), key=spread)


@pytest.fixture(scope="module")
def models(tiny_models):
    out = {}
    for name in ("marian", "bart", "t5", "gpt2"):
        causal = name == "gpt2"
        model, tok = _load(tiny_models[name], causal)
        enc = tok(TEXTS, return_tensors="pt", padding=True)
        start = enc["input_ids"].shape[1] if causal else 1
        out[name] = (model, tok, enc, start, _eos_with_spread(model, tok, enc, start), causal)
    return out


def _both(model, enc, **kw):
    import torch

    with torch.inference_mode():
        expected = model.generate(**enc, **kw)
        seen, handle = _count_rows(model)
        try:
            got = model.generate(**enc, **kw, custom_generate=greedy.decode)
        finally:
            handle.remove()
    return expected, got, seen


@pytest.mark.parametrize("name", ["marian", "bart", "t5", "gpt2"])
@pytest.mark.parametrize("options", [{}, {"min_new_tokens": 3, "no_repeat_ngram_size": 2, "repetition_penalty": 1.3}],
                         ids=["plain", "processors"])
def test_same_tokens_as_transformers_with_rows_leaving(models, name, options):
    model, tok, enc, start, eos, causal = models[name]
    kw = dict(max_new_tokens=24, do_sample=False, num_beams=1, eos_token_id=eos, **options)
    if not causal:
        kw["forced_eos_token_id"] = eos
    expected, got, seen = _both(model, enc, **kw)
    assert got.shape == expected.shape
    assert got.tolist() == expected.tolist()
    lengths = [r.index(eos) if eos in r else len(r) for r in expected[:, start:].tolist()]
    assert len(set(lengths)) >= 3, f"the rows should finish at several steps: {lengths}"
    # rows left the batch as they finished: fewer rows in later steps, fewer row-steps than transformers
    assert seen[0] == len(TEXTS) and min(seen) < len(TEXTS)
    assert sum(seen) < len(TEXTS) * len(seen)


@pytest.mark.parametrize("name", ["marian", "t5"])
def test_a_processor_with_per_row_state_keeps_every_row(models, name):
    """The encoder repetition penalty keeps each row's source: rows may not leave, tokens stay the same."""
    model, tok, enc, start, eos, _ = models[name]
    expected, got, seen = _both(model, enc, max_new_tokens=24, do_sample=False, eos_token_id=eos,
                                forced_eos_token_id=eos, encoder_repetition_penalty=1.2)
    assert got.tolist() == expected.tolist()
    assert set(seen) == {len(TEXTS)}


def test_which_configs_use_the_loop(models, monkeypatch):
    from transformers import GenerationConfig

    model = models["marian"][0]
    greedy_cfg = GenerationConfig(do_sample=False, num_beams=1)
    monkeypatch.delenv(DROP_FINISHED_ENV, raising=False)
    assert drop_finished_rows(model, greedy_cfg, "cpu")
    assert not drop_finished_rows(model, GenerationConfig(do_sample=True), "cpu")
    assert not drop_finished_rows(model, GenerationConfig(num_beams=4), "cpu")
    assert not drop_finished_rows(model, greedy_cfg, "cuda:0")  # not timed on a GPU: opt in there
    monkeypatch.setenv(DROP_FINISHED_ENV, "1")
    assert drop_finished_rows(model, greedy_cfg, "cuda:0")
    monkeypatch.setenv(DROP_FINISHED_ENV, "0")
    assert not drop_finished_rows(model, greedy_cfg, "cpu")


def test_ranks_in_lockstep_keep_transformers_loop(models, monkeypatch):
    """Under DeepSpeed ZeRO-3 or FSDP with several ranks, transformers' loop (with synced_gpus) runs."""
    import torch.distributed as dist
    import transformers.integrations.deepspeed as ds
    from transformers import GenerationConfig

    model = models["marian"][0]
    cfg = GenerationConfig(do_sample=False, num_beams=1)
    monkeypatch.delenv(DROP_FINISHED_ENV, raising=False)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 2)
    assert drop_finished_rows(model, cfg, "cpu")  # plain DDP: every rank decodes its own shard
    monkeypatch.setattr(ds, "is_deepspeed_zero3_enabled", lambda: True)
    assert not drop_finished_rows(model, cfg, "cpu")
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: 1)
    assert drop_finished_rows(model, cfg, "cpu")


def test_training_helpers_use_the_loop_on_the_cpu(models, monkeypatch):
    """Teacher outputs, chat responses and seq2seq validation ask greedy_loop_kwargs for their loop."""
    from nlptasks.backend.inference import greedy_loop_kwargs

    model = models["marian"][0]
    sampling = model.generation_config.do_sample
    monkeypatch.delenv(DROP_FINISHED_ENV, raising=False)
    assert greedy_loop_kwargs(model, "cpu") == {"custom_generate": greedy.decode}
    assert greedy_loop_kwargs(model, "cuda") == {}
    monkeypatch.setenv(DROP_FINISHED_ENV, "0")
    assert greedy_loop_kwargs(model, "cpu") == {}
    assert model.generation_config.do_sample == sampling  # the model's own config is left alone


CAPTIONS = ["A man rides a bike.", "Two dogs play in the snow.", "A woman is reading a book in a park.",
            "A group of children are playing soccer on a green field while their parents watch.",
            "A dog.", "Three men in orange vests work on the road next to a yellow truck.", "People walk.",
            "A little girl in a pink dress is climbing the stairs of a wooden playground.", "Sunset.",
            "An old man sits on a bench and feeds the pigeons.", "Two women are talking at a cafe table.",
            "A surfer rides a large wave in the ocean.", "A crowd gathers to watch a street performer juggle fire."]


def _translate(monkeypatch, setting, texts, batch_size):
    from nlptasks.api import load_task

    monkeypatch.setenv(DROP_FINISHED_ENV, setting)
    task = load_task("translate", device="cpu", batch_size=batch_size)
    return [r["translation"] for r in task.predict([{"text": t} for t in texts])]


def test_packaged_translator_same_output_with_and_without_the_loop(monkeypatch):
    from nlptasks.backend import inference

    calls = []
    real = greedy.decode
    monkeypatch.setattr(greedy, "decode", lambda *a, **k: calls.append(1) or real(*a, **k))
    ours = _translate(monkeypatch, "", CAPTIONS, 16)
    assert calls, "greedy translation on the CPU should run nlptasks' loop"
    n = len(calls)
    theirs = _translate(monkeypatch, "0", CAPTIONS, 16)
    assert len(calls) == n  # NLPTASKS_DROP_FINISHED_ROWS=0: transformers' loop
    assert ours == theirs
    assert inference.DROP_FINISHED_ENV == DROP_FINISHED_ENV


@pytest.mark.data
def test_packaged_translator_on_multi30k_same_output(monkeypatch, shared_data):
    import json

    lines = (shared_data / "translation" / "validation.jsonl").read_text().splitlines()[:256]
    texts = [json.loads(x)["translation"]["en"] for x in lines]
    assert _translate(monkeypatch, "", texts, 64) == _translate(monkeypatch, "0", texts, 64)

