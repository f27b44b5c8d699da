"""Benchmark 3: the extractive summarizer default (``minilm-extractive``) on the 195 CNN/DailyMail
validation documents: documents/s, the share of the time spent in the MiniLM encoder, and the encoder's
achieved fraction of the machine's matmul throughput.

    python benchmarks/speed_summarize.py [--runs 3]

Baseline, measured side by side with identical summaries required: the same summarizer with the encoder
run one sentence at a time (``batch_size=1``): what batching buys.
"""
from __future__ import annotations

import argparse
import sys
import time

from _speed import (DATA, check, fmt_table, fraction, interleaved, linear_params, log, machine, need_data,
                    print_machine, probe_all, read_jsonl)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=195)
    args = ap.parse_args()

    from nlptasks.api import load_task

    info = machine()
    print_machine(info)
    peaks = probe_all(("float32",))
    need_data("summarization")
    docs = [{"document": r["article"] if "article" in r else r["document"]}
            for r in read_jsonl(DATA / "summarization" / "validation.jsonl", args.n)]

    task = load_task("summarize", "minilm-extractive", device="cpu").load()
    single = load_task("summarize", "minilm-extractive", device="cpu", batch_size=1).load()
    clock = {"encoder_s": 0.0, "texts": []}
    for t in (task, single):
        enc = t._encoder
        orig = enc.encode

        def timed(texts, *a, _orig=orig, _enc=enc, **kw):
            start = time.perf_counter()
            out = _orig(texts, *a, **kw)
            clock["encoder_s"] += time.perf_counter() - start
            clock["texts"] = texts  # counted after timing, so the count costs nothing here
            return out

        enc.encode = timed
    task.predict(docs[:8])
    single.predict(docs[:8])

    shares: dict[str, list] = {"nlptasks (default)": [], "encoder batch_size=1": []}

    def run(t, name):
        def fn():
            before = clock["encoder_s"]
            start = time.perf_counter()
            out = [o["summary"] for o in t.predict(docs)]
            shares[name].append((clock["encoder_s"] - before) / (time.perf_counter() - start))
            return out
        return fn

    log(f"timing {len(docs)} documents, {args.runs} interleaved runs")
    secs, outs = interleaved({"encoder batch_size=1": run(single, "encoder batch_size=1"),
                              "nlptasks (default)": run(task, "nlptasks (default)")}, args.runs)
    sents = clock["texts"]  # the sentences embedded by the last predict call (the same every call)
    sent_tokens = sum(len(x["input_ids"]) for x in task._encoder.tokenize(sents))
    flops = 2 * linear_params(task._encoder.model) * sent_tokens
    ours = secs["nlptasks (default)"]
    rows = []
    for name, s in secs.items():
        share = sorted(shares[name])[len(shares[name]) // 2]
        enc_s = share * s
        rows.append([name, f"{s:.2f}", f"{len(docs) / s:.1f}", f"{s / ours:.2f}x", f"{100 * share:.0f}%",
                     fraction(flops, enc_s, peaks["float32"])])
    print(f"\nsummarize (extractive, minilm-extractive, 3 sentences): {len(docs)} CNN/DailyMail validation "
          f"documents ({len(sents)} sentences, {sent_tokens} tokens embedded), fp32 CPU, median of {args.runs}")
    print(fmt_table(["contender", "seconds", "documents/s", "time vs nlptasks", "time in encoder",
                     "encoder achieved matmul (of fp32 probe)"], rows))
    ok = check("summaries identical", outs["encoder batch_size=1"] == outs["nlptasks (default)"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
