"""`nlptasks finetune TASK --from-scratch`: a joint BPE tokenizer and a new encoder-decoder trained on the
Trainer path; the folder is an ordinary transformers model that `nlptasks run/eval/distill` accept."""
from __future__ import annotations

import json

import pytest
from tiny_models import CORPUS
from train_data import write_jsonl

from nlptasks.errors import InputError

SIZES = dict(vocab_size=300, d_model=32, layers=1, heads=2, max_positions=64, max_target_length=32)


def mt_rows(n: int = 64) -> list[dict]:
    return [{"translation": {"en": CORPUS[i * 7], "de": CORPUS[i * 7].upper()}} for i in range(n)]


@pytest.fixture(scope="module")
def scratch_model(tmp_path_factory):
    """A tiny Marian-layout model trained from scratch (6 steps, validation every 3, label smoothing)."""
    from nlptasks.api import finetune

    root = tmp_path_factory.mktemp("scratch")
    data = write_jsonl(root / "d.jsonl", mt_rows())
    result = finetune("translate", None, data, data, str(root / "out"), from_scratch=True, max_steps=6,
                      eval_steps=3, batch_size=8, lr=3e-3, logging_steps=1, max_new_tokens=8, limit_validation=8,
                      label_smoothing=0.1, **SIZES)
    return root / "out", result, data


def test_from_scratch_folder_is_a_plain_transformers_model(scratch_model):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    out, result, _ = scratch_model
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "README.md",
                 "training_result.json"):
        assert (out / name).is_file(), name
    curve = [loss for _, loss in result["train"]["loss_curve"]]
    assert len(curve) == 6 and curve[-1] < curve[0], curve
    assert result["metric_for_best"] == "eval_bleu" and result["best_checkpoint"] in (3, 6)
    cfg, tok, gen = AutoConfig.from_pretrained(out), AutoTokenizer.from_pretrained(out), \
        GenerationConfig.from_pretrained(out)
    assert cfg.model_type == "marian" and (cfg.d_model, cfg.encoder_layers, cfg.decoder_layers) == (32, 1, 1)
    assert cfg.use_cache is True  # the Trainer turns the KV cache off for training; the saved model has it on
    # opus-mt layout: </s>=0, <unk>=1, <pad> the last id and the decoder start; vocabulary <= --vocab-size
    assert tok.convert_tokens_to_ids(["</s>", "<unk>"]) == [0, 1]
    assert tok.pad_token_id == len(tok) - 1 == cfg.vocab_size - 1 == cfg.decoder_start_token_id
    assert len(tok) <= 300 and tok("a dog").input_ids[-1] == 0
    assert (gen.num_beams, gen.do_sample, gen.forced_eos_token_id, gen.decoder_start_token_id) == \
        (1, False, 0, tok.pad_token_id)
    assert gen.bad_words_ids == [[tok.pad_token_id]]
    settings = json.loads((out / "training_result.json").read_text())["settings"]
    assert settings["from_scratch"] is True and settings["arch"] == "marian" and settings["ffn_dim"] == 128
    assert settings["label_smoothing"] == 0.1
    card = (out / "README.md").read_text()
    assert "base_model:" not in card and "(trained from scratch)" in card


def test_nlptasks_run_equals_plain_generate(scratch_model, cli):
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    out, _, _ = scratch_model
    texts = ["the cat sees a book.", "a small bird loves the river.", "my friend builds a red car."]
    proc = cli("run", "translate", "--model", out, "--max-new-tokens", "8", "--format", "jsonl",
               "--input-format", "text", input="".join(t + "\n" for t in texts))
    assert proc.returncode == 0, proc.stderr
    got = [json.loads(line)["translation"] for line in proc.stdout.splitlines()]
    model, tok = AutoModelForSeq2SeqLM.from_pretrained(out).eval(), AutoTokenizer.from_pretrained(out)
    want = []
    with torch.no_grad():
        for t in texts:
            ids = model.generate(**tok(t, return_tensors="pt"), max_new_tokens=8)
            want.append(tok.decode(ids[0], skip_special_tokens=True).strip())
    assert got == want


@pytest.mark.data
def test_eval_benchmark_accepts_the_folder(scratch_model, cli, shared_data):
    out, _, _ = scratch_model
    proc = cli("eval", "multi30k_en_de_local", "--model", out, "--limit", "4", "--set", "max_new_tokens=4",
               "--no-store", "--json", "--data-dir", shared_data)
    assert proc.returncode == 0, proc.stderr
    assert "bleu" in proc.stdout


def test_distill_accepts_the_folder_as_teacher(scratch_model, tmp_path):
    from nlptasks.api import distill

    out, _, data = scratch_model
    result = distill("translate", str(out), data, None, str(tmp_path / "student"), student=str(out), max_steps=1,
                     batch_size=8, limit_train=8, max_target_length=8, max_new_tokens=8)
    assert (tmp_path / "student" / "model.safetensors").is_file() and result["kind"] == "distill"


def test_bart_layout_for_summarize(tmp_path):
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from nlptasks.api import finetune

    rows = [{"document": " ".join(CORPUS[i:i + 3]), "summary": CORPUS[i]} for i in range(0, 64, 4)]
    data = write_jsonl(tmp_path / "d.jsonl", rows)
    finetune("summarize", None, data, None, str(tmp_path / "out"), from_scratch=True, arch="bart", max_steps=2,
             batch_size=8, **SIZES)
    tok = AutoTokenizer.from_pretrained(tmp_path / "out")
    model = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "out")
    assert model.config.model_type == "bart"
    assert tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"]) == [0, 1, 2, 3]
    ids = tok("a dog").input_ids
    assert ids[0] == 0 and ids[-1] == 2 and model.config.decoder_start_token_id == 2
    gen = model.generate(**tok("the cat sees a book.", return_tensors="pt"), max_new_tokens=4)
    assert gen[0, 0].item() == 2


def test_resume_of_a_scratch_run(tmp_path, cli):
    """Killed after the checkpoint at step 2, resumed: the same weights as an uninterrupted run (the
    tokenizer comes back from the checkpoint); a changed model size is refused on --resume."""
    import torch
    from safetensors.torch import load_file

    data = write_jsonl(tmp_path / "d.jsonl", mt_rows(32))
    args = ["--from-scratch", "--train", data, "--max-steps", "4", "--save-steps", "2", "--batch-size", "8",
            "--lr", "3e-3", "--save-total-limit", "5", "--vocab-size", "300", "--d-model", "32", "--layers", "1",
            "--heads", "2", "--max-positions", "64", "--max-target-length", "32"]
    a = cli("finetune", "translate", *args, "--output", tmp_path / "a")
    assert a.returncode == 0, a.stderr
    b = cli("finetune", "translate", *args, "--output", tmp_path / "b", env={"NLPTASKS_TEST_STOP_AT_STEP": "2"})
    assert b.returncode == 75, b.stderr
    smaller = [("16" if prev == "--d-model" else a) for prev, a in zip([None] + args, args)]
    changed = cli("finetune", "translate", *smaller, "--output", tmp_path / "b", "--resume")
    assert changed.returncode == 2 and "d_model: 32 then, 16 now" in changed.stderr.strip().splitlines()[-1]
    r = cli("finetune", "translate", *args, "--output", tmp_path / "b", "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming from checkpoint-2" in r.stderr
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()
    wa, wb = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert set(wa) == set(wb)
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


@pytest.mark.parametrize("task, kw, message", [
    ("translate", dict(model="some/model"), "--from-scratch builds a new model and tokenizer: leave out --model"),
    ("translate", dict(lora=True), "--lora does not apply"),
    ("translate", dict(d_model=30, heads=4), "--d-model 30 must be a multiple of --heads 4"),
    ("translate", dict(vocab_size=100), "--vocab-size 100: at least 264"),
    ("translate", dict(max_positions=16, max_target_length=32), "--max-target-length 32 exceeds --max-positions 16"),
    ("translate", dict(arch="t5"), "--arch 't5': use one of marian, bart"),
    ("sentiment", dict(), "applies to seq2seq tasks (translate, summarize), not sentiment"),
    ("translate", dict(from_scratch=False, model="m", vocab_size=300, d_model=32),
     "--vocab-size, --d-model size a new model: add --from-scratch"),
])
def test_bad_combinations_are_refused_before_anything_is_written(task, kw, message, tmp_path):
    from nlptasks.api import finetune

    data = write_jsonl(tmp_path / "d.jsonl", mt_rows(4))
    kw = {"from_scratch": True, "model": None, **kw}
    model = kw.pop("model")
    with pytest.raises(InputError) as err:
        finetune(task, model, data, None, str(tmp_path / "o"), max_steps=1, **kw)
    assert message in str(err.value)
    assert not (tmp_path / "o").exists()


def test_cli_refuses_model_with_from_scratch_in_one_line(tmp_path, cli):
    data = write_jsonl(tmp_path / "d.jsonl", mt_rows(4))
    proc = cli("finetune", "translate", "--from-scratch", "--model", "x", "--train", data, "--output", tmp_path / "o")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("nlptasks: error: --from-scratch builds a new model")
    none = cli("finetune", "translate", "--train", data, "--output", tmp_path / "o")
    assert none.returncode == 2 and none.stderr.strip().endswith("or --from-scratch")
    assert not (tmp_path / "o").exists()


def test_decoder_inputs_shift_the_labels():
    """With --label-smoothing, Trainer removes the labels from the batch, so the collator must give the
    model its decoder inputs: the labels shifted right after the decoder start, -100 as padding."""
    import torch
    from transformers import MarianConfig

    from nlptasks.training.preprocess import DecoderInputs

    shift = DecoderInputs(MarianConfig(pad_token_id=9, decoder_start_token_id=9))
    got = shift.prepare_decoder_input_ids_from_labels(torch.tensor([[5, 6, 0, -100], [7, 0, -100, -100]]))
    assert got.tolist() == [[9, 5, 6, 0], [9, 7, 0, 9]]
