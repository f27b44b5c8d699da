"""Start-up (issue 24, item 6): whole processes, ``nlptasks run sentiment`` vs a plain transformers pipeline script.

    python benchmarks/startup.py [--runs 7] [--n 1000] [--save]

Each contender is a fresh ``python`` process, timed from start to exit (imports, model load, prediction,
output), all of them interleaved in every round (so other load hits each alike), median of ``--runs``
after one untimed warm-up round (the files are then in the page cache for every contender):

* ``nlptasks run sentiment`` (the packaged default ``minilm-sentiment3-lora``) on one line and on ``--n``
  texts (the SST-2 validation sentences, repeated);
* a plain script: ``transformers.pipeline("text-classification")`` over a folder holding the same model
  (the packaged adapter merged over its base by transformers' own class, ``save_pretrained`` into a
  temporary folder once), printing one label per text, on the same inputs;
* ``python -c "import torch, transformers"``: the pipeline script's floor, and ``python -c "import torch"``:
  nlptasks' (a packaged sentiment model imports no transformers: ``nlptasks/backend/light_tokenizer.py``).

nlptasks is byte-compiled first (``python -m compileall nlptasks``), as ``pip install`` leaves a package and
as torch and transformers already are: in an editable install under ``PYTHONDONTWRITEBYTECODE=1`` every
process would otherwise compile nlptasks' sources again (about 400 kB for a sentiment run). ``--no-compile``
skips the step (to time that case, also delete ``nlptasks/**/__pycache__``, which an earlier run left).

Both sides must give the same labels (at least 98% of them: on a CPU with AMX nlptasks runs the
packaged model in bfloat16, the pipeline in float32). Targets: one line in at most 2.2 s, and ``--n`` texts at least 2x
faster than the pipeline script. ``--save`` writes ``benchmarks/results/startup_sentiment.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _speed import DATA, REPO, log, need_data, read_jsonl

TARGET_ONE_LINE_S = 2.2
TARGET_RATIO_N = 2.0
MIN_AGREEMENT = 0.98  # label agreement required between the two sides

PIPELINE_SCRIPT = '''\
import sys
from transformers import pipeline

pipe = pipeline("text-classification", model=sys.argv[1], device="cpu")
with open(sys.argv[2], encoding="utf-8") as f:
    texts = [line.rstrip("\\n") for line in f if line.strip()]
for r in pipe(texts):
    print(f"{r['label']}\\t{r['score']:.4f}")
'''


def cpu_model() -> str:
    """``lscpu``'s model name and CPU count (``/proc/cpuinfo`` when lscpu is missing)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
        name = fields.get("Model name", "").strip()
        cpus = fields.get("CPU(s)", "").strip()
        amx = " with AMX (amx_bf16)" if "amx_bf16" in fields.get("Flags", "") else ""
        if name:
            return f"{name}{amx}, {cpus} CPUs (lscpu)"
    except (OSError, subprocess.SubprocessError):
        pass
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "unknown CPU")
    return f"{name}, {os.cpu_count()} CPUs"


def merged_model_dir(folder: Path) -> Path:
    """The packaged default sentiment adapter merged over its base with transformers' own class, saved as a
    plain model folder the pipeline can load."""
    os.environ["NLPTASKS_LIGHT_BERT"] = "0"  # transformers' BertForSequenceClassification, saved as such
    try:
        from nlptasks.backend.adapters import build_merged, embedded_folder

        model, tok, _ = build_merged(embedded_folder("minilm-sentiment3-lora"), "AutoModelForSequenceClassification")
    finally:
        os.environ.pop("NLPTASKS_LIGHT_BERT", None)
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def texts(n: int) -> list[str]:
    need_data("sentiment")
    base = [r["text"] for r in read_jsonl(DATA / "sentiment" / "validation.jsonl")]
    return [base[i % len(base)] for i in range(n)]


def timed(cmd: list[str], env: dict) -> tuple[float, list[str]]:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"startup: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return secs, [ln.split("\t")[0] for ln in proc.stdout.splitlines() if ln.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed rounds (median reported); default 7")
    ap.add_argument("--n", type=int, default=1000, help="texts of the batch contenders; default 1000")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/startup_sentiment.json")
    ap.add_argument("--no-compile", action="store_true",
                    help="do not byte-compile nlptasks first (bytecode an earlier run left is still used; "
                         "see above); recorded in the result")
    args = ap.parse_args()
    if args.runs < 1 or args.n < 1:
        ap.error("--runs and --n must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="nlptasks-startup-"))
    try:
        log("building the merged model folder for the pipeline script")
        model_dir = merged_model_dir(tmp / "model")
        one, many = tmp / "one.txt", tmp / "many.txt"
        data = texts(args.n)
        one.write_text(data[0] + "\n", encoding="utf-8")
        many.write_text("\n".join(data) + "\n", encoding="utf-8")
        script = tmp / "pipeline_script.py"
        script.write_text(PIPELINE_SCRIPT, encoding="utf-8")

        py = sys.executable
        if not args.no_compile:  # as pip install leaves it (see the module docstring)
            subprocess.run([py, "-m", "compileall", "-q", str(REPO / "nlptasks")], check=True, cwd=REPO)
        nlp = [py, "-m", "nlptasks", "run", "sentiment", "-i"]
        contenders = {
            "nlptasks, 1 line": nlp + [str(one)],
            "pipeline script, 1 line": [py, str(script), str(model_dir), str(one)],
            f"nlptasks, {args.n} texts": nlp + [str(many)],
            f"pipeline script, {args.n} texts": [py, str(script), str(model_dir), str(many)],
            "import torch, transformers": [py, "-c", "import torch, transformers"],
            "import torch": [py, "-c", "import torch"],
        }
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
               "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NLPTASKS_PROGRESS": "0",
               "NLPTASKS_CACHE_DIR": str(tmp / "cache"), "NLPTASKS_STORE": str(tmp / "results.sqlite")}
        env.pop("NLPTASKS_LIGHT_BERT", None)

        log("warm-up round (untimed)")
        labels = {name: timed(cmd, env)[1] for name, cmd in contenders.items()}
        agreement = {}
        for a, b in (("nlptasks, 1 line", "pipeline script, 1 line"),
                     (f"nlptasks, {args.n} texts", f"pipeline script, {args.n} texts")):
            same = sum(x == y for x, y in zip(labels[a], labels[b]))
            agreement[a] = same / max(len(labels[b]), 1)
            # identical in float32; on a CPU with AMX, nlptasks' --dtype auto is bfloat16 (the pipeline stays
            # float32), which may flip a near-tie
            if len(labels[a]) != len(labels[b]) or not labels[a] or agreement[a] < MIN_AGREEMENT:
                sys.exit(f"startup: {a!r} and {b!r} disagree ({len(labels[a])} vs {len(labels[b])} labels, "
                         f"{len(labels[b]) - same} different)")
        times: dict[str, list[float]] = {k: [] for k in contenders}
        for r in range(args.runs):
            names = list(contenders)
            names = names[r % len(names):] + names[:r % len(names)]  # rotate who goes first
            for name in names:
                times[name].append(timed(contenders[name], env)[0])
                log(f"  round {r + 1}/{args.runs} {name}: {times[name][-1]:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    one_ratio = med["pipeline script, 1 line"] / med["nlptasks, 1 line"]
    n_ratio = med[f"pipeline script, {args.n} texts"] / med[f"nlptasks, {args.n} texts"]
    machine = f"{cpu_model()}, load average at end {os.getloadavg()[0]:.1f}"
    print(f"machine: {machine}")
    print(f"whole processes, median of {args.runs} interleaved runs; labels agree on "
          f"{100 * agreement[f'nlptasks, {args.n} texts']:.1f}% of the {args.n} texts")
    for name, secs in med.items():
        print(f"  {name:<34} {secs:6.2f} s   (min {min(times[name]):.2f}, max {max(times[name]):.2f})")
    print(f"  pipeline / nlptasks, 1 line:     {one_ratio:.2f}x")
    print(f"  pipeline / nlptasks, {args.n} texts: {n_ratio:.2f}x")
    print(f"targets: 1 line <= {TARGET_ONE_LINE_S} s: "
          f"{'met' if med['nlptasks, 1 line'] <= TARGET_ONE_LINE_S else 'not met'}; "
          f"{args.n} texts >= {TARGET_RATIO_N}x the pipeline script: {'met' if n_ratio >= TARGET_RATIO_N else 'not met'}")
    if args.save:
        import torch
        import transformers

        out = REPO / "benchmarks" / "results" / "startup_sentiment.json"
        record = {
            "command": " ".join(["python", "benchmarks/startup.py", *sys.argv[1:]]),
            "machine": machine, "date": dt.date.today().isoformat(),
            "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                         "transformers": transformers.__version__},
            "model": "minilm-sentiment3-lora", "runs": args.runs, "n_texts": args.n,
            "nlptasks_bytecode": "not compiled first (--no-compile)" if args.no_compile else "compiled first (compileall)",
            "median_seconds": {k: round(v, 3) for k, v in med.items()},
            "label_agreement": round(agreement[f"nlptasks, {args.n} texts"], 4),
            "ratio_pipeline_over_nlptasks": {"1 line": round(one_ratio, 3), f"{args.n} texts": round(n_ratio, 3)},
            "targets": {"one_line_seconds_at_most": TARGET_ONE_LINE_S, "ratio_n_texts_at_least": TARGET_RATIO_N},
        }
        out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
