"""Digests of what nlptasks outputs on the speed benchmarks' inputs, and the metric parity values: run it
against two checkouts to show that a refactoring left behaviour unchanged.

    python benchmarks/outputs_digest.py                      # this checkout
    python benchmarks/outputs_digest.py --tree ../old-checkout  # another one (its nlptasks package)
    python benchmarks/outputs_digest.py --tree ../old-checkout > old.txt; python benchmarks/outputs_digest.py > new.txt; diff old.txt new.txt

Each line is one workload: its inputs (those of speed_sentiment.py, speed_summarize.py,
speed_translation.py, plus every packaged model: sentiment, summarize, QA on 300 SQuAD validation records,
chat on 300 DailyDialog validation records, the packaged translator, and the metric parity benchmark), the
number of outputs and the sha256 of their JSON; the same models (benchmarks/.cache, built by this
checkout's _models.py) serve both trees. A model that a tree does not have gives "not available in this
tree". Every model runs in --dtype float32 (default; ``--dtype auto`` picks bfloat16 for packaged models on
an AMX CPU since issue 21's round, which would compare unlike with like). ``--outputs DIR`` also writes
each workload's full outputs to DIR/<workload>.jsonl, to diff two trees' outputs. No timing: the
machine's load does not matter.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
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
    ap.add_argument("--only", default="sentiment,summarize,qa,chat,translate,metrics,parity",
                    help="comma-separated workloads (default: all)")
    ap.add_argument("--dtype", default="float32",
                    help="every model's dtype (default float32, the same in both trees; 'auto' is each tree's own default)")
    ap.add_argument("--n-qa", type=int, default=300)
    ap.add_argument("--n-chat", type=int, default=300)
    ap.add_argument("--outputs", default=None, help="also write each workload's full outputs to DIR/<workload>.jsonl")
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
    dtype = args.dtype
    out_dir = Path(args.outputs) if args.outputs else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)

    def line(name: str, outputs, project=None) -> None:
        """``outputs``: a list or a callable giving one; ``project`` maps each output to what is digested."""
        try:
            outputs = outputs() if callable(outputs) else outputs
        except Exception as exc:  # e.g. a packaged model that the other tree does not have
            print(f"{name}: not available in this tree ({type(exc).__name__}: {str(exc).splitlines()[0][:100]})")
            return
        if out_dir:
            slug = re.sub(r"[^A-Za-z0-9]+", "_", name.split(" (")[0]).strip("_")
            with open(out_dir / f"{slug}.jsonl", "w", encoding="utf-8") as f:
                for o in outputs:
                    f.write(json.dumps(o, sort_keys=True, ensure_ascii=False) + "\n")
        shown = [project(o) for o in outputs] if project else outputs
        print(f"{name}: {len(shown)} outputs, sha256 {digest(shown)}", flush=True)

    def label_score(o):
        return (o["label"], round(o["score"], 4))

    only = set(args.only.split(","))
    for n in ((1000,) if "sentiment" in only else ()):
        data = [{"text": t} for t in texts(n)]
        hf = load_task("sentiment", str(_models.minilm_hf_classifier()), device="cpu", dtype=dtype)
        line(f"sentiment minilm-sst2-hf ({n} SST-2 texts)", hf.predict(data), label_score)
        for name in ("minilm-sst2", "minilm-sst2-lora", "minilm-sentiment3-lora"):
            line(f"sentiment {name} ({n} SST-2 texts)",
                 lambda name=name: load_task("sentiment", name, device="cpu", dtype=dtype).predict(data), label_score)

    need_data("summarization")
    docs = [{"document": r["document"]} for r in read_jsonl(DATA / "summarization" / "validation.jsonl")]
    for name in (("minilm-extractive", "lead-3", "minilm-extsum") if "summarize" in only else ()):
        line(f"summarize {name} (195 CNN/DM documents)",
             lambda name=name: load_task("summarize", name, device="cpu", dtype=dtype).predict(docs),
             lambda o: o["summary"])

    if "qa" in only:
        need_data("qa")
        qs = [{"question": r["question"], "context": r["context"]}
              for r in read_jsonl(DATA / "qa" / "validation.jsonl", args.n_qa)]
        line(f"qa minilm-squad ({len(qs)} SQuAD validation records)",
             lambda: load_task("qa", "minilm-squad", device="cpu", dtype=dtype).predict(qs),
             lambda o: (o["answer"], round(o["score"], 4), o["start"], o["end"]))

    if "chat" in only:
        need_data("dialogue")
        hist = [{"history": r["history"]} for r in read_jsonl(DATA / "dialogue" / "validation.jsonl", args.n_chat)]
        line(f"chat minilm-retrieval ({len(hist)} DailyDialog validation histories)",
             lambda: load_task("chat", "minilm-retrieval", device="cpu", dtype=dtype).predict(hist),
             lambda o: o["response"])

    if "translate" in only:
        need_data("translation")
        src = [{"text": r["translation"]["en"]}
               for r in read_jsonl(DATA / "translation" / "validation.jsonl", args.n_translate)]
        t = load_task("translate", str(_models.marian_en_de()), device="cpu", dtype=dtype, max_new_tokens=32).load()
        t.gen_config.min_new_tokens = 32  # speed_translation.py's setting: exactly 32 new tokens
        t.gen_config.min_length = 0
        line(f"translate Marian 74M random, 32 tokens ({len(src)} Multi30k sources)", t.predict(src),
             lambda o: o["translation"])
        for kw in ({}, {"quantize": "int8"}):
            line(f"translate marian-multi30k-en-de {kw or 'fp32'} ({len(src)} Multi30k sources)",
                 lambda kw=kw: load_task("translate", "marian-multi30k-en-de", device="cpu",
                                         **({"dtype": dtype} if not kw else {}), **kw).predict(src),
                 lambda o: o["translation"])
    if "metrics" in only:
        metric_lines(line, read_jsonl, DATA)
    if "parity" not in only:
        return 0
    parity = subprocess.run([sys.executable, str(tree / "benchmarks" / "metric_parity.py")], capture_output=True,
                            text=True)  # the tree's own copy: it imports the nlptasks beside it
    rows = [ln.strip() for ln in parity.stdout.splitlines() if ln.strip()]
    line("metric parity (benchmarks/metric_parity.py output lines)", rows)
    return 0


def metric_inputs(read_jsonl, data: Path) -> dict:
    """Fixed, seeded inputs for every metric nlptasks registers (predictions, references)."""
    import random

    rng = random.Random(0)
    sst = read_jsonl(data / "sentiment" / "validation.jsonl")
    names = ["negative", "neutral", "positive"]
    gold = [names[2 * r["label"]] for r in sst]
    labels = (gold, [g if rng.random() > 0.2 else rng.choice(names) for g in gold])
    mt = read_jsonl(data / "translation" / "validation.jsonl", 300)
    refs = [r["translation"]["de"] for r in mt]
    mt_preds = [" ".join(w for j, w in enumerate(x.split()) if (i + j) % 5 != 4) for i, x in enumerate(refs)]
    cnn = read_jsonl(data / "summarization" / "validation.jsonl", 50)
    dd = read_jsonl(data / "dialogue" / "validation.jsonl")
    dd_preds, dd_refs = [r["history"][-1] for r in dd], [r["response"] for r in dd]
    qa = read_jsonl(data / "qa" / "validation.jsonl", 300)
    qa_preds = [r["answers"]["text"][0] if i % 3 else " ".join(r["context"].split()[:4]) for i, r in enumerate(qa)]
    qa_refs = [{"answers": r["answers"]} for r in qa]
    v2_refs = [ref if i % 4 else {"answers": {"text": [], "answer_start": []}} for i, ref in enumerate(qa_refs)]
    v2_preds = [p if i % 8 else "" for i, p in enumerate(qa_preds)]
    cls = (labels[1], labels[0])
    return {
        "accuracy": cls, "f1": cls, "mcc": cls, "macro_recall": cls,
        "bleu": (mt_preds, refs), "chrf": (mt_preds, refs), "ter": (mt_preds, refs),
        "rouge": ([r["document"][:400] for r in cnn], [r["summary"] for r in cnn]),
        "squad": (qa_preds, qa_refs), "squad_v2": (v2_preds, v2_refs),
        "bleu4": (dd_preds, dd_refs), "unigram_f1": (dd_preds, dd_refs), "distinct": (dd_preds, None),
        "perplexity": ([{"nll": 2.0 + (i % 7) * 0.5, "tokens": 5 + i % 11} for i in range(500)], None),
        "retrieval_recall": ([[r["context"][:300], r["context"][300:600]] for r in qa], qa_refs),
    }


def metric_lines(line, read_jsonl, data: Path) -> None:
    """One line per metric: every value's score and interval (rounded to 1e-6) on fixed inputs."""
    import logging

    from nlptasks.metrics import compute

    logging.getLogger("sacrebleu").setLevel(logging.ERROR)  # DailyDialog is tokenised (" ." endings)
    for name, (preds, refs) in metric_inputs(read_jsonl, data).items():
        def values(name=name, preds=preds, refs=refs):
            out = compute(name, preds, refs)
            return [{"value": k, "score": round(v.score, 6),
                     "ci": [round(c, 6) for c in v.ci] if v.ci is not None else None} for k, v in sorted(out.items())]
        line(f"metric {name} (fixed inputs)", values)


if __name__ == "__main__":
    sys.exit(main())
