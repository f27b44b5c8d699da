"""Seconds per training step of the sentiment3 recipe (scripts/build_models.sh sentiment3: LoRA r=16, bf16,
batch 32, max length 96, grouped by length) with 1 and with 2 torch threads, each in a fresh process.

    python benchmarks/finetune_threads.py [--steps 40] [--threads 1,2] [--precision bf16]

Why: while building minilm-sentiment3-lora on 2 cores shared with other jobs (load ~15), two torch threads
ran at 10-25 s/step and one thread at ~0.5 s/step: time-sliced intra-op threads wait for each other. Run
it in a quiet window and under load to see which setting the build should use. Prints one JSON line per
thread count: steps, training runtime (trainer's), s/step.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NLPTASKS_DATA", REPO.parent / "shared" / "data"))


def combined_train(folder: Path) -> Path:
    out = folder / "train.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for name in ("sst3", "tweeteval"):
            for line in (DATA / name / "train.jsonl").read_text(encoding="utf-8").splitlines():
                if line.strip():
                    r = json.loads(line)
                    f.write(json.dumps({"text": r["text"], "label": int(r["label"])}) + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--precision", default="bf16")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        train = combined_train(Path(tmp))
        for n in [int(x) for x in a.threads.split(",")]:
            env = {**os.environ, "OMP_NUM_THREADS": str(n), "MKL_NUM_THREADS": str(n), "HF_HUB_OFFLINE": "1",
                   "PYTHONPATH": str(REPO)}
            cmd = [sys.executable, "-m", "nlptasks", "finetune", "sentiment", "--model", "minilm", "--train",
                   str(train), "--labels", "negative,neutral,positive", "--output", f"{tmp}/run{n}", "--overwrite",
                   "--seed", "0", "--device", "cpu", "--lora", "--lora-targets", "all-linear", "--lora-r", "16",
                   "--lora-alpha", "32", "--lora-save", "adapter", "--max-steps", str(a.steps), "--precision",
                   a.precision, "--lr", "5e-4", "--batch-size", "32", "--max-length", "96", "--group-by-length"]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
            if proc.returncode != 0:
                sys.exit(proc.stderr[-2000:])
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            runtime = result["train"]["runtime_s"]
            print(json.dumps({"threads": n, "steps": result["train"]["steps"], "runtime_s": round(runtime, 2),
                              "s_per_step": round(runtime / result["train"]["steps"], 3),
                              "load": os.getloadavg()[0]}), flush=True)


if __name__ == "__main__":
    main()
