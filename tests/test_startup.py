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
