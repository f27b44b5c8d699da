"""Data-parallel fine-tuning: two CPU processes (gloo) launched through `accelerate launch` by
`nlptasks finetune --num-processes 2`. Both ranks must end with identical weights, and only the main
process writes: exactly one checkpoint, one model, one model card, one result line on stdout."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rank_digests.sitecustomize import DIGESTS_ENV, weights_digest
from train_data import ROWS, write_jsonl

PROBE = Path(__file__).resolve().parent / "rank_digests"  # its sitecustomize reaches every rank


def test_two_processes_train_identical_weights(tiny_models, tmp_path, cli):
    from transformers import AutoModelForSequenceClassification

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](8))
    digests = tmp_path / "digests"
    proc = cli("finetune", "sentiment", "--model", tiny_models["bert-cls"], "--train", data, "--validation", data,
               "--output", tmp_path / "out", "--max-steps", "3", "--batch-size", "2", "--lr", "1e-3",
               "--metric", "loss", "--num-processes", "2",
               env={DIGESTS_ENV: str(digests), "OMP_NUM_THREADS": "1",
                    "PYTHONPATH": os.pathsep.join([str(PROBE), os.environ.get("PYTHONPATH", "")])}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "accelerate.commands.launch" in proc.stderr and "--num_processes 2" in proc.stderr
    assert "2 process(es)" in proc.stderr
    ranks = sorted(p.name for p in digests.iterdir())
    assert ranks == ["rank0.sha256", "rank1.sha256"]
    d0, d1 = ((digests / r).read_text() for r in ranks)
    assert d0 == d1
    out = tmp_path / "out"
    saved = AutoModelForSequenceClassification.from_pretrained(out)
    assert weights_digest(saved) == d0  # the published model is the trained one
    assert [p.name for p in (out / "checkpoints").glob("checkpoint-*")] == ["checkpoint-3"]
    assert len(list(out.rglob("README.md"))) == 1 and len(list(out.rglob("training_result.json"))) == 1
    result_lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert len(result_lines) == 1
    assert json.loads(result_lines[0])["train"]["steps"] == 3
    assert json.loads((out / "training_result.json").read_text())["world_size"] == 2
