"""Start-up cost (issue 24, item 6): what a process imports before it does any work.

* Building the CLI parser (``nlptasks --help``, every command's and every task's parser) imports no
  numpy, torch, transformers, datasets or pandas.
* ``nlptasks run sentiment`` / ``run qa`` on the packaged models import no peft, datasets, pyarrow, sklearn
  or scipy, and none of transformers' model machinery (``modeling_utils``, ``activations``, which pulls in
  ``torch.distributed.tensor``, ``generation`` utilities, which pull in ``torch._dynamo``): the packaged
  adapters merge into :mod:`nlptasks.backend.bert_light`, whose outputs are bit-for-bit transformers'.
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PARSER_FORBIDDEN = ("numpy", "torch", "transformers", "datasets", "pandas",
                    "nlptasks.training.families", "nlptasks.training.distillation")  # no training code either
RUN_FORBIDDEN = ("peft", "datasets", "pyarrow", "pandas", "sklearn", "scipy", "accelerate",
                 "torch.distributed.tensor", "torch._dynamo", "transformers.modeling_utils",
                 "transformers.activations", "transformers.generation.utils",
                 "transformers.models.bert.modeling_bert")


def _child(code: str, tmp_path) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NLPTASKS_CACHE_DIR": str(tmp_path / "cache"),
           "NLPTASKS_STORE": str(tmp_path / "results.sqlite")}
    env.pop("NLPTASKS_LIGHT_BERT", None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_building_every_parser_imports_no_heavy_library(tmp_path):
    code = f"""
import contextlib, io, json, sys
from nlptasks.cli import COMMANDS, build_parser, main
from nlptasks.registry import TASKS
build_parser()
helps = [["--help"]] + [[c, "--help"] for c in COMMANDS] + [["run", t, "--help"] for t, _ in TASKS.items()]
out = io.StringIO()
for argv in helps:
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(argv)
print(json.dumps({{"help_chars": len(out.getvalue()),
                  "loaded": [m for m in {PARSER_FORBIDDEN!r} if m in sys.modules]}}))
"""
    got = _child(code, tmp_path)
    assert got["help_chars"] > 1000  # the help texts were really printed
    assert got["loaded"] == [], f"building the parser imported {got['loaded']}"


def test_packaged_sentiment_and_qa_runs_skip_peft_datasets_and_model_machinery(tmp_path):
    (tmp_path / "one.txt").write_text("a fine film\n", encoding="utf-8")
    (tmp_path / "qa.jsonl").write_text(json.dumps({"question": "Who wrote it?", "context": "The book was written "
                                                   "by Ann Smith in 1990."}) + "\n", encoding="utf-8")
    code = f"""
import contextlib, io, json, sys
from nlptasks.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = [main(["run", "sentiment", "-i", "one.txt"]), main(["run", "qa", "-i", "qa.jsonl"])]
print(json.dumps({{"rc": rc, "out": out.getvalue(),
                  "loaded": [m for m in {RUN_FORBIDDEN!r} if m in sys.modules],
                  "model": type(sys.modules["nlptasks.backend.loading"]._CACHE[next(iter(
                      sys.modules["nlptasks.backend.loading"]._CACHE))].model).__module__}}))
"""
    got = _child(code, tmp_path)
    assert got["rc"] == [0, 0]
    lines = got["out"].splitlines()
    assert lines[0].split("\t")[0] == "positive"
    assert json.loads(lines[1])["answer"] == "Ann Smith"
    assert got["model"] == "nlptasks.backend.bert_light"
    assert got["loaded"] == [], f"a packaged-model run imported {got['loaded']}"


@pytest.mark.parametrize("name, auto_class", [("minilm-sentiment3-lora", "AutoModelForSequenceClassification"),
                                              ("minilm-squad", "AutoModelForQuestionAnswering")])
def test_light_bert_gives_bit_identical_outputs_to_transformers(name, auto_class, monkeypatch):
    import torch

    from nlptasks.backend import adapters
    from nlptasks.backend.hf import quantize_model

    folder = adapters.embedded_folder(name)
    monkeypatch.delenv("NLPTASKS_LIGHT_BERT", raising=False)
    light, tok, _ = adapters.build_merged(folder, auto_class)
    monkeypatch.setenv("NLPTASKS_LIGHT_BERT", "0")
    full, _, _ = adapters.build_merged(folder, auto_class)
    assert type(light).__module__ == "nlptasks.backend.bert_light"
    assert type(full).__module__.startswith("transformers.")
    assert light.config.id2label == full.config.id2label
    texts = ["a fine film", "Dull, far too long, and the actors were wooden.", "ok"]
    names = ["logits"] if "Sequence" in auto_class else ["start_logits", "end_logits"]
    variants = [(light, full, "float32"), (quantize_model(light, "int8"), quantize_model(full, "int8"), "int8")]
    variants.append((copy.deepcopy(light).to(torch.bfloat16), copy.deepcopy(full).to(torch.bfloat16), "bfloat16"))
    for a, b, what in variants:  # bfloat16: what --dtype auto picks for the packaged models on AMX
        for batch in (texts[:1], texts):  # unpadded (no mask) and padded (boolean mask)
            enc = tok(batch, padding=True, return_tensors="pt")
            with torch.inference_mode():
                oa, ob = a(**enc), b(**enc)
            for n in names:
                assert torch.equal(getattr(oa, n), getattr(ob, n)), (name, what, len(batch), n)


def test_large_file_hashes_are_kept_on_disk_for_the_next_process(tmp_path, monkeypatch):
    from nlptasks import hashing

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x01" * (hashing.DISK_CACHE_MIN_BYTES + 1))
    first = hashing.cached_file_hash(weights)
    assert first == hashing.file_hash(weights)
    hashing._cached_file_hash.cache_clear()  # a new process: only the disk cache is left

    def no_reading(*a, **k):
        raise AssertionError("the file was read again")

    real = hashing.file_hash
    monkeypatch.setattr(hashing, "file_hash", no_reading)
    assert hashing.cached_file_hash(weights) == first
    monkeypatch.setattr(hashing, "file_hash", real)
    weights.write_bytes(b"\x02" * (hashing.DISK_CACHE_MIN_BYTES + 1))  # same size, new content
    hashing._cached_file_hash.cache_clear()
    second = hashing.cached_file_hash(weights)
    assert second == hashing.file_hash(weights) != first
    kept = json.loads((tmp_path / "prediction-cache" / "file-hashes.json").read_text())
    assert list(kept.values()) == [second]  # the file's older entry was replaced


# -- the packaged MiniLM's tokenizer and config without transformers (light_tokenizer.py, bert_light.Config) --
RUN_SENTIMENT_FORBIDDEN = ("transformers", "huggingface_hub", "peft", "accelerate")

TOKENIZER_TEXTS = [
    "a fine film", "Café crème brûlée, naïve résumé: ÀÉÎÕÜ", "我喜欢这部电影 😀 ok", "ǅ ﬁ ℌ Ⅻ ½ Straße", " ", "", ".",
    "\x00\u200b\tTAB\nnew line\r\n", "[CLS] [SEP] [PAD] [MASK] [UNK] literally", "x" * 3000,
    " ".join(f"The plot, however, was dull ({i}); the acting-wooden!" for i in range(400)),
]


def _full_tokenizer():
    from transformers import AutoTokenizer

    from nlptasks.backend.embedded import minilm_path

    return AutoTokenizer.from_pretrained(minilm_path())


def _same(a, b):
    import torch

    assert set(a.keys()) == set(b.keys())
    for k in a.keys():
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def test_light_tokenizer_gives_transformers_ids_masks_windows_and_padding():
    from nlptasks.backend.embedded import minilm_path
    from nlptasks.backend.light_tokenizer import LightTokenizer, load
    from nlptasks.tasks.sentiment import SentimentTask

    light, full = load(minilm_path()), _full_tokenizer()
    assert isinstance(light, LightTokenizer)
    # the backend transformers builds is the file's (normalizer, pre-tokenizer, WordPiece, template)
    assert json.loads(light.backend_tokenizer.to_str()) == json.loads(full.backend_tokenizer.to_str())
    for name in ("model_max_length", "pad_token_id", "pad_token", "unk_token_id", "cls_token_id", "sep_token_id",
                 "mask_token_id", "padding_side", "truncation_side", "model_input_names", "pad_token_type_id"):
        assert getattr(light, name) == getattr(full, name), name
    texts = TOKENIZER_TEXTS
    for limit, stride in [(512, None), (512, 64), (32, 8), (16, 0), (8, 4)]:  # long texts: several windows
        got = SentimentTask.windows(light, texts, limit, stride)
        assert got == SentimentTask.windows(full, texts, limit, stride), (limit, stride)
    assert max(got[1].count(i) for i in range(len(texts))) > 100  # really windowed
    kw = dict(truncation=True, max_length=20, stride=5, return_overflowing_tokens=True, return_offsets_mapping=True)
    _same(light(texts, **kw), full(texts, **kw))  # what --explain-method ig asks
    for one in texts[:3] + texts[-1:]:  # one text: no batch dimension
        _same(light(one, truncation=True), full(one, truncation=True))
    for kw in (dict(padding=True, truncation=True, max_length=64, return_tensors="pt"),
               dict(padding="longest", truncation=True, return_tensors="pt", return_special_tokens_mask=True,
                    return_length=True), dict(truncation="longest_first", max_length=12, add_special_tokens=False)):
        _same(light(texts, **kw), full(texts, **kw))
    items, _ = SentimentTask.windows(light, texts, 24, 6)  # batches as inference.py pads them
    for batch in (items[:1], items[:7], items[-5:] + items[:3]):
        for multiple in (None, 16):
            for side in ("right", "left"):
                _same(light.pad(batch, return_tensors="pt", padding_side=side, pad_to_multiple_of=multiple),
                      full.pad(batch, return_tensors="pt", padding_side=side, pad_to_multiple_of=multiple))
    no_mask = [{"input_ids": it["input_ids"]} for it in items[:4]]
    _same(light.pad(no_mask, return_tensors="pt"), full.pad(no_mask, return_tensors="pt"))
    # calls it does not serve itself are transformers' own (text pairs, decode, no truncation)
    _same(light("Who?", "Ann wrote it.", truncation="only_second", max_length=16),
          full("Who?", "Ann wrote it.", truncation="only_second", max_length=16))
    ids = full(texts[1])["input_ids"]
    assert light.decode(ids) == full.decode(ids) and light.convert_ids_to_tokens(ids) == full.convert_ids_to_tokens(ids)


def test_light_tokenizer_refuses_a_folder_transformers_would_tokenize_otherwise(tmp_path):
    """A config that disagrees with tokenizer.json's normalizer (transformers rebuilds it) or adds special
    tokens is left to transformers."""
    import shutil

    from nlptasks.backend.embedded import minilm_path
    from nlptasks.backend.light_tokenizer import load

    cfg = json.loads((Path(minilm_path()) / "tokenizer_config.json").read_text(encoding="utf-8"))
    for change in ({"do_lower_case": False}, {"strip_accents": True}, {"additional_special_tokens": ["[X]"]},
                   {"tokenizer_class": "RobertaTokenizer"}):
        folder = tmp_path / "tok"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        shutil.copy(Path(minilm_path()) / "tokenizer.json", folder)
        (folder / "tokenizer_config.json").write_text(json.dumps({**cfg, **change}), encoding="utf-8")
        assert load(folder) is None, change
        (folder / "tokenizer_config.json").write_text(json.dumps(cfg), encoding="utf-8")
        assert load(folder) is not None


@pytest.mark.parametrize("kwargs", [{}, {"num_labels": 3, "id2label": {0: "negative", 1: "neutral", 2: "positive"},
                                         "label2id": {"negative": 0, "neutral": 1, "positive": 2}},
                                    {"num_labels": 5}])
def test_light_config_equals_bert_config(kwargs):
    from transformers.models.bert.configuration_bert import BertConfig

    from nlptasks.backend.bert_light import Config
    from nlptasks.backend.embedded import minilm_path

    full = BertConfig.from_pretrained(minilm_path(), **kwargs).to_dict()
    full.pop("transformers_version", None)
    light = Config.from_pretrained(minilm_path(), **kwargs)
    assert light.to_dict() == full
    assert light.num_labels == len(full["id2label"])


def test_light_sentiment_predictions_equal_the_transformers_path(monkeypatch):
    """Model, config and tokenizer together: the same labels and scores (float32) as the run with
    transformers' classes and tokenizer, long texts (averaged windows) and padded batches included."""
    from nlptasks.backend import loading
    from nlptasks.backend.bert_light import Config
    from nlptasks.backend.light_tokenizer import LightTokenizer
    from nlptasks.tasks.sentiment import SentimentTask

    long = " ".join(f"The plot, however, was dull ({i}); the acting-wooden, but the music won me over!" for i in range(20))
    records = [{"text": t} for t in [*TOKENIZER_TEXTS[:-1], long]]  # the long one: about 12 windows of 64
    out = {}
    for light in ("1", "0"):
        monkeypatch.setenv("NLPTASKS_LIGHT_BERT", light)
        monkeypatch.setattr(loading, "_CACHE", {})  # a fresh load each time
        task = SentimentTask(dtype="float32", all_scores=True, max_length=64, stride=16, batch_size=4)
        out[light] = task.predict(records)
        # NLPTASKS_LIGHT_BERT=0: transformers' classes, config and tokenizer
        assert isinstance(task._lm.tokenizer, LightTokenizer) == isinstance(task._lm.config, Config) == (light == "1")
    assert task.labels == ["negative", "neutral", "positive"]
    assert out["1"] == out["0"]


def test_packaged_sentiment_run_does_not_import_transformers(tmp_path):
    (tmp_path / "one.txt").write_text("a fine film\n", encoding="utf-8")
    code = f"""
import contextlib, io, json, sys
from nlptasks.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = [main(["run", "sentiment", "--input", "one.txt"]), main(["run", "sentiment", "-i", "one.txt", "--format", "jsonl"])]
print(json.dumps({{"rc": rc, "out": out.getvalue(), "tokenizer": type(sys.modules["nlptasks.backend.loading"]._CACHE[
                      next(iter(sys.modules["nlptasks.backend.loading"]._CACHE))].tokenizer).__name__,
                  "loaded": sorted({{m.split(".")[0] for m in sys.modules}} & set({RUN_SENTIMENT_FORBIDDEN!r})),
                  "commands": sorted(m for m in sys.modules if m.startswith("nlptasks.cli.cmd_")),
                  "training": sorted(m for m in sys.modules if m.startswith("nlptasks.training."))}}))
"""
    got = _child(code, tmp_path)
    assert got["rc"] == [0, 0]
    # main() builds the parser of the command it runs only: no other command's module, no training code
    assert got["commands"] == ["nlptasks.cli.cmd_run"] and got["training"] == []
    text, jsonl = got["out"].splitlines()
    assert text.split("\t")[0] == json.loads(jsonl)["label"] == "positive"
    assert got["tokenizer"] == "LightTokenizer"
    assert got["loaded"] == [], f"a packaged sentiment run imported {got['loaded']}"
