"""Fine-tune the packaged MiniLM encoder for extractive QA on ../shared/data/qa (SQuAD v1.1 articles).

    python benchmarks/finetune_qa.py [--limit-train 2000] [--limit-validation 300] [--epochs 1]

Runs the real `nlptasks finetune qa` CLI (windows of --max-length tokens, --stride overlap) and reports
validation exact match / F1 (SQuAD v1.1 rules, nlptasks.metrics), wall time and CPU time. State the
subset (the --limit-* values) with any figure.
"""
from __future__ import annotations

import argparse
import json
import os

from _training_common import DATA, run_cli


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", default="runs/minilm-squad")
    ap.add_argument("--epochs", default="1")
    ap.add_argument("--lr", default="1e-4")
    ap.add_argument("--batch-size", default="32")
    ap.add_argument("--max-length", default="256")
    ap.add_argument("--stride", default="64")
    ap.add_argument("--no-group-by-length", action="store_true", help="random batches (more padding)")
    ap.add_argument("--limit-train", default=None)
    ap.add_argument("--limit-validation", default=None)
    a = ap.parse_args()
    args = ["finetune", "qa", "--model", "minilm", "--train", str(DATA / "qa/train.jsonl"),
            "--validation", str(DATA / "qa/validation.jsonl"), "--output", a.output, "--epochs", a.epochs,
            "--lr", a.lr, "--warmup", "0.1", "--batch-size", a.batch_size, "--max-length", a.max_length,
            "--stride", a.stride, "--logging-steps", "50", "--overwrite"]
    if not a.no_group_by_length:
        args.append("--group-by-length")
    for flag, value in (("--limit-train", a.limit_train), ("--limit-validation", a.limit_validation)):
        if value:
            args += [flag, value]
    print("command: python -m nlptasks " + " ".join(args), flush=True)
    result, wall = run_cli(*args)
    report = {"validation": result.get("metrics"), "train_wall_s": round(wall, 1),
              "train_cpu_s": round(result["cpu_s"], 1), "load_average_1_5_15": os.getloadavg(),
              "subset": {"train": a.limit_train or "all 8619", "validation": a.limit_validation or "all 1039"},
              "training_cost": result.get("cost")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
