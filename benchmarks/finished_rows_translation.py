"""How many decoder steps go to rows that have already finished, when the packaged en->de model
(marian-multi30k-en-de, real end-of-sentence behaviour) translates Multi30k validation sources through
nlptasks' batched generation. A count, not a time.

    python benchmarks/finished_rows_translation.py [--n 1014] [--batch-size 64]

transformers' greedy search keeps every row of a batch in the decoder until the longest row emits
``</s>``; a row that finished earlier still costs one decoder position per step (its output is padding).
For every batch the script records the steps run (longest output + its ``</s>``) and each row's own
length, and reports: row-steps computed = sum(batch rows x steps), row-steps needed = sum(own lengths),
wasted = computed - needed.
"""
from __future__ import annotations

import argparse
import sys

from _speed import DATA, log, need_data, read_jsonl


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1014)
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args()
    from nlptasks.api import load_task

    need_data("translation")
    src = [r["translation"]["en"] for r in read_jsonl(DATA / "translation" / "validation.jsonl", args.n)]
    task = load_task("translate", device="cpu", batch_size=args.batch_size, max_new_tokens=128).load()
    model, eos = task._lm.model, task.gen_config.eos_token_id
    batches = []  # (rows, steps, [own lengths])
    generate = model.generate

    def counting(*a, **kw):
        out = generate(*a, **kw)
        steps = out.shape[1] - 1  # minus the decoder start token
        own = []
        for row in out[:, 1:].tolist():
            own.append(row.index(eos) + 1 if eos in row else len(row))
        batches.append((out.shape[0], steps, own))
        return out

    model.generate = counting
    log(f"translating {len(src)} sources in batches of {args.batch_size}")
    task.predict([{"text": s} for s in src])
    computed = sum(rows * steps for rows, steps, _ in batches)
    needed = sum(sum(own) for _, _, own in batches)
    wasted = computed - needed
    print(f"marian-multi30k-en-de, {len(src)} Multi30k validation sources, greedy, batch size {args.batch_size}, "
          f"{len(batches)} batches (nlptasks groups inputs by source length)")
    print(f"decoder steps run (batch steps): {sum(s for _, s, _ in batches)}")
    print(f"row-steps computed: {computed}; needed (each row up to its </s>): {needed}; "
          f"wasted on finished rows: {wasted} ({100 * wasted / computed:.1f}% of computed)")
    worst = max(batches, key=lambda b: b[0] * b[1] - sum(b[2]))
    print(f"worst batch: {worst[0]} rows x {worst[1]} steps, own lengths {min(worst[2])}-{max(worst[2])} "
          f"(mean {sum(worst[2]) / len(worst[2]):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
