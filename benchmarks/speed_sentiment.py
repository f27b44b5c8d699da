"""Benchmark 1: sentiment on 2,000 SST-2 sentences, ``nlptasks`` vs ``transformers.pipeline``.

    python benchmarks/speed_sentiment.py [--runs 3] [--n 2000]

Both sides load the same Hugging Face directory (the packaged MiniLM encoder as a
BertForSequenceClassification, built offline by ``_models.minilm_hf_classifier``) and classify the same
texts: the 872 SST-2 validation sentences followed by SST-2 training phrases (from row 10,000, unseen
by the head). Labels must be identical. Also timed: the embedded default ``minilm-sst2`` (when present)
and the CLI end to end (start-up, imports, load, predict).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _speed import (DATA, check, fmt_table, fraction, interleaved, linear_params, log, machine, need_data,
                     print_machine, probe_all, read_jsonl)


def texts(n: int) -> list[str]:
    need_data("sentiment")
    rows = read_jsonl(DATA / "sentiment" / "validation.jsonl")
    rows += read_jsonl(DATA / "sentiment" / "train.jsonl", 10_000 + n)[10_000:]
    return [r["text"] for r in rows[:n]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()

    import torch
    from transformers import pipeline

    import _models
    from nlptasks.api import load_task

    info = machine()
    print_machine(info)
    peaks = probe_all(("float32",))
    data = texts(args.n)
    model_dir = str(_models.minilm_hf_classifier())

    pipe = pipeline("text-classification", model=model_dir, device="cpu")
    task = load_task("sentiment", model_dir, device="cpu").load()
    fns = {
        "pipeline (default batch size)": lambda: [r["label"] for r in pipe(data)],
        "pipeline (batch_size=32)": lambda: [r["label"] for r in pipe(data, batch_size=32)],
        "nlptasks": lambda: [r["label"] for r in task.predict([{"text": t} for t in data])],
    }
    for fn in fns.values():  # warm-up on a slice
        pipe(data[:64]), pipe(data[:64], batch_size=32), task.predict([{"text": t} for t in data[:64]])
        break
    log(f"timing {len(data)} texts, {args.runs} interleaved runs")
    secs, outs = interleaved(fns, args.runs)

    tok = task._lm.tokenizer
    n_tokens = sum(len(x) for x in tok(data)["input_ids"])
    flops = 2 * linear_params(task._lm.model) * n_tokens
    ours = secs["nlptasks"]
    rows = [[name, f"{s:.2f}", f"{len(data) / s:.0f}", f"{s / ours:.2f}x", fraction(flops, s, peaks["float32"])]
            for name, s in secs.items()]
    print(f"\nsentiment: {len(data)} SST-2 texts ({n_tokens} tokens), MiniLM-L6 BertForSequenceClassification, "
          f"fp32 CPU, median of {args.runs}")
    print(fmt_table(["contender", "seconds", "texts/s", "nlptasks speed-up", "achieved matmul (of fp32 probe)"],
                    rows))
    ok = True
    for name in fns:
        if name != "nlptasks":
            same = outs[name] == outs["nlptasks"]
            ok &= check(f"labels identical to {name}", same,
                        "" if same else f"{sum(a != b for a, b in zip(outs[name], outs['nlptasks']))} differ")
    ok &= check("speed-up >= 3x vs pipeline default", secs["pipeline (default batch size)"] / ours >= 3,
                f"{secs['pipeline (default batch size)'] / ours:.2f}x")
    ok &= check("speed-up >= 1.3x vs pipeline batch 32", secs["pipeline (batch_size=32)"] / ours >= 1.3,
                f"{secs['pipeline (batch_size=32)'] / ours:.2f}x")

    # the embedded default (packaged encoder + its own head), speed only: a different model
    try:
        emb = load_task("sentiment", device="cpu").load()
    except Exception as exc:  # the embedded classifier may not be installed
        print(f"embedded default minilm-sst2: not available ({type(exc).__name__}: {exc})")
    else:
        recs = [{"text": t} for t in data]
        emb.predict(recs[:64])
        s, _ = interleaved({"nlptasks (embedded minilm-sst2)": lambda: emb.predict(recs)}, args.runs)
        v = next(iter(s.values()))
        print(f"embedded default minilm-sst2: {v:.2f} s, {len(data) / v:.0f} texts/s")

    # end to end: one CLI line, including interpreter start, imports and model load
    inp = "\n".join(data) + "\n"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nlptasks", "run", "sentiment", "--model", model_dir, "--device", "cpu"],
                   input=inp, capture_output=True, text=True, check=True)
    cli = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, transformers, nlptasks.backend.loading"], check=True)
    imports = time.perf_counter() - t
    print(f"CLI end to end (`nlptasks run sentiment --model <dir>` on {len(data)} lines): {cli:.2f} s, "
          f"of which interpreter + torch/transformers imports {imports:.2f} s, predict {ours:.2f} s")
    print(f"threads: torch {torch.get_num_threads()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
