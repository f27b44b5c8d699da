"""Digests of what nlptasks outputs on the speed benchmarks' inputs, and the metric parity values: run it
against two checkouts to show that a refactoring left behaviour unchanged.

    python benchmarks/outputs_digest.py                      # this checkout
    python benchmarks/outputs_digest.py --tree ../old-checkout  # another one (its nlptasks package)
    python benchmarks/outputs_digest.py --tree ../old-checkout > old.txt; python benchmarks/outputs_digest.py > new.txt; diff old.txt new.txt

Each line is one workload: its inputs (those of speed_sentiment.py, speed_summarize.py,
speed_translation.py, plus the packaged translator and the metric parity benchmark), the number of
outputs and the sha256 of their JSON; the same models (benchmarks/.cache, built by this checkout's
_models.py) serve both trees. No timing: the machine's load does not matter.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", default=str(HERE.parent), help="checkout whose nlptasks package is used")
    ap.add_argument("--n-translate", type=int, default=500)
    ap.add_argument("--only", default="sentiment,summarize,translate,parity",
                    help="comma-separated workloads (default: all)")
    args = ap.parse_args()
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    sys.path.insert(1, str(HERE))
    import _models
    import torch
    from _speed import DATA, need_data, read_jsonl
    from speed_sentiment import texts

    import nlptasks
    from nlptasks.api import load_task

    rev = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--", "nlptasks"],
                           capture_output=True, text=True).stdout.strip()
    print(f"# nlptasks from {Path(nlptasks.__file__).parent} (commit {rev}{' + changes' if dirty else ''}), "
          f"torch {torch.__version__}", file=sys.stderr)
    torch.manual_seed(0)

    def line(name: str, outputs) -> None:
        try:
            outputs = outputs() if callable(outputs) else outputs
        except Exception as exc:  # e.g. a packaged model that the other tree does not have
            print(f"{name}: not available in this tree ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})")
            return
        print(f"{name}: {len(outputs)} outputs, sha256 {digest(outputs)}", flush=True)

    only = set(args.only.split(","))
    for n in ((1000,) if "sentiment" in only else ()):
        data = [{"text": t} for t in texts(n)]
        hf = load_task("sentiment", str(_models.minilm_hf_classifier()), device="cpu")
        line(f"sentiment minilm-sst2-hf ({n} SST-2 texts)", [(o["label"], round(o["score"], 4)) for o in hf.predict(data)])
        for name in ("minilm-sst2", "minilm-sst2-lora"):
            line(f"sentiment {name} ({n} SST-2 texts)",
                 lambda name=name: [(o["label"], round(o["score"], 4))
                                    for o in load_task("sentiment", name, device="cpu").predict(data)])

    need_data("summarization")
    docs = [{"document": r["document"]} for r in read_jsonl(DATA / "summarization" / "validation.jsonl")]
    for name in (("minilm-extractive", "lead-3") if "summarize" in only else ()):
        t = load_task("summarize", name, device="cpu")
        line(f"summarize {name} (195 CNN/DM documents)", [o["summary"] for o in t.predict(docs)])

    if "translate" in only:
        need_data("translation")
        src = [{"text": r["translation"]["en"]}
               for r in read_jsonl(DATA / "translation" / "validation.jsonl", args.n_translate)]
        t = load_task("translate", str(_models.marian_en_de()), device="cpu", max_new_tokens=32).load()
        t.gen_config.min_new_tokens = 32  # speed_translation.py's setting: exactly 32 new tokens
        t.gen_config.min_length = 0
        line(f"translate Marian 74M random, 32 tokens ({len(src)} Multi30k sources)",
             [o["translation"] for o in t.predict(src)])
        for kw in ({}, {"quantize": "int8"}):
            line(f"translate marian-multi30k-en-de {kw or 'fp32'} ({len(src)} Multi30k sources)",
                 lambda kw=kw: [o["translation"] for o in
                                load_task("translate", "marian-multi30k-en-de", device="cpu", **kw).predict(src)])
    if "parity" not in only:
        return 0
    parity = subprocess.run([sys.executable, str(tree / "benchmarks" / "metric_parity.py")], capture_output=True,
                            text=True)  # the tree's own copy: it imports the nlptasks beside it
    rows = [ln.strip() for ln in parity.stdout.splitlines() if ln.strip()]
    line("metric parity (benchmarks/metric_parity.py output lines)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
