"""Fine-tune the packaged MiniLM encoder for extractive QA on ../shared/data/qa (SQuAD v1.1 articles).

    python benchmarks/finetune_qa.py [--limit-train 2000] [--limit-validation 300] [--epochs 1]

Runs the real `nlptasks finetune qa` CLI (windows of --max-length tokens, --stride overlap), then scores
the saved model a second, independent way: `nlptasks eval squad_local --model OUTPUT` (the inference
path users run: its own windows of 384 tokens, stride 128, n-best span search). Reports both exact match /
F1 (SQuAD v1.1 rules, nlptasks.metrics) with the eval's 95% intervals, wall time and CPU time. State the
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
    ev_args = ["eval", "squad_local", "--model", a.output, "--no-store", "--json"]
    if a.limit_validation:
        ev_args += ["--limit", a.limit_validation]
    print("command: python -m nlptasks " + " ".join(ev_args), flush=True)
    record, ev_wall = run_cli(*ev_args)
    report = {"validation_during_training": result.get("metrics"),
              "validation_nlptasks_eval": record.get("metrics"), "eval_wall_s": round(ev_wall, 1),
              "train_wall_s": round(wall, 1),
              "train_cpu_s": round(result["cpu_s"], 1), "load_average_1_5_15": os.getloadavg(),
              "subset": {"train": a.limit_train or "all 8619", "validation": a.limit_validation or "all 1039"},
              "training_cost": result.get("cost")}
    print(json.dumps(report, indent=2))
    m = record["metrics"]
    print(f"nlptasks eval: EM {m['exact_match']['score']:.1f} {fmt_ci(m['exact_match'])}, "
          f"F1 {m['f1']['score']:.1f} {fmt_ci(m['f1'])} on {record.get('n', '?')} questions; "
          f"training {wall / 60:.1f} min wall, {result['cpu_s'] / 60:.1f} min CPU")


def fmt_ci(metric: dict) -> str:
    lo, hi = metric.get("ci") or (float("nan"), float("nan"))
    return f"[{lo:.1f}-{hi:.1f}]"


if __name__ == "__main__":
    main()
