"""Distil the fine-tuned sentiment model (benchmarks/finetune_sentiment.py) into a 3-layer student.

    python benchmarks/distill_sentiment.py --teacher runs/minilm-sst2 [--layers 3] [--epochs 1]

The student is the teacher with its first N of 6 transformer layers (initialised from them), trained
with logit distillation (T=2, alpha=0.5) on ../shared/data/sentiment/train.jsonl by the real
`nlptasks distill` CLI. Reports validation accuracy of teacher and student, the share kept, and the
inference speed of both measured the same independent way (plain transformers, 872 sentences,
length-sorted batches of 64, best of 3 passes) -> sentences/s gained.
"""
from __future__ import annotations

import argparse
import json
import os

from _training_common import DATA, classify, read_jsonl, run_cli


def accuracy_and_speed(model_dir: str, val: list[dict], max_length: int) -> tuple[float, float]:
    texts = [r["text"] for r in val]
    gold = ["negative" if r["label"] == 0 else "positive" for r in val]
    best = 0.0
    for _ in range(3):
        preds, rate, config = classify(model_dir, texts, max_length=max_length)
        best = max(best, rate)
    acc = sum(config.id2label[p].lower() == g for p, g in zip(preds, gold)) / len(gold)
    return acc, best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="runs/minilm-sst2")
    ap.add_argument("--output", default="runs/minilm-sst2-3l")
    ap.add_argument("--layers", default="3")
    ap.add_argument("--epochs", default="1")
    ap.add_argument("--lr", default="1e-4")
    ap.add_argument("--max-length", default="64")
    ap.add_argument("--limit-train", default=None)
    ap.add_argument("--measure-only", action="store_true", help="skip distillation; compare existing outputs")
    a = ap.parse_args()
    args = ["distill", "sentiment", "--teacher", a.teacher, "--student-layers", a.layers,
            "--train", str(DATA / "sentiment/train.jsonl"), "--validation", str(DATA / "sentiment/validation.jsonl"),
            "--output", a.output, "--epochs", a.epochs, "--lr", a.lr, "--warmup", "0.06", "--batch-size", "32",
            "--max-length", a.max_length, "--temperature", "2", "--alpha", "0.5", "--logging-steps", "100",
            "--overwrite"]
    if a.limit_train:
        args += ["--limit-train", a.limit_train]
    result, wall = {"cpu_s": 0.0}, 0.0
    if not a.measure_only:
        print("command: python -m nlptasks " + " ".join(args), flush=True)
        result, wall = run_cli(*args)
    val = read_jsonl(DATA / "sentiment/validation.jsonl")
    t_acc, t_rate = accuracy_and_speed(a.teacher, val, int(a.max_length))
    s_acc, s_rate = accuracy_and_speed(a.output, val, int(a.max_length))
    report = {"teacher": {"accuracy": round(t_acc, 4), "sentences_per_s": round(t_rate, 1)},
              "student": {"layers": int(a.layers), "accuracy": round(s_acc, 4), "sentences_per_s": round(s_rate, 1)},
              "accuracy_kept": round(s_acc / t_acc, 4), "speedup": round(s_rate / t_rate, 2),
              "nlptasks_comparison": result.get("comparison"), "distill_wall_s": round(wall, 1),
              "distill_cpu_s": round(result["cpu_s"], 1), "load_average_1_5_15": os.getloadavg()}
    print(json.dumps(report, indent=2, default=str))
    print(f"student ({a.layers} layers) keeps {s_acc / t_acc:.1%} of the teacher's accuracy "
          f"({s_acc:.1%} vs {t_acc:.1%}) at {s_rate / t_rate:.2f}x the sentences/s")


if __name__ == "__main__":
    main()
