"""Helpers shared by the training benchmarks: run the real CLI, time it, score a saved model independently."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def run_cli(*args: str) -> tuple[dict, float]:
    """Run ``python -m nlptasks ARGS`` (stderr passed through); returns (stdout JSON, wall seconds).
    The CPU seconds of the run (user + system, all threads) are added as ``cpu_s``: unlike wall time
    they do not grow when other work shares the machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nlptasks", *args], stdout=subprocess.PIPE, text=True, env=env,
                          cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): nlptasks {' '.join(args)}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = proc.stdout.strip()
    try:
        result = json.loads(out.splitlines()[-1])  # `finetune`/`distill`: one JSON line last
    except json.JSONDecodeError:
        result = json.loads(out)  # `eval --json`: one indented record
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result, wall


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def classify(model_dir: str, texts: list[str], batch_size: int = 64, max_length: int = 128):
    """Independent check: label ids predicted by a saved classifier (plain transformers, no nlptasks),
    and the sentences/s of that pass (dynamic padding, length-sorted batches)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    preds = [0] * len(texts)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            enc = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
            for i, p in zip(idx, model(**enc).logits.argmax(-1).tolist()):
                preds[i] = p
    elapsed = time.perf_counter() - t0
    return preds, len(texts) / elapsed, model.config


def has_metrics() -> bool:
    try:
        from nlptasks.metrics import compute  # noqa: F401
    except ImportError:
        return False
    return True
