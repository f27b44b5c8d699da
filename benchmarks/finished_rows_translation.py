"""How many decoder steps go to rows that have already finished, when the packaged en->de model
(marian-multi30k-en-de, real end-of-sentence behaviour) translates Multi30k validation sources through
nlptasks' batched generation, and (``--rounds N``) what they cost in time.

    python benchmarks/finished_rows_translation.py [--n 1014] [--batch-size 64] [--rounds 3]

transformers' greedy search keeps every row of a batch in the decoder until the longest row emits
``</s>``; a row that finished earlier still costs one decoder position per step (its output is padding).
For every batch the script records the steps run (longest output + its ``</s>``) and each row's own
length, and reports: row-steps computed = sum(batch rows x steps), row-steps needed = sum(own lengths),
wasted = computed - needed.

The time: the same sources are generated in batches of the same size twice, taking turns for ``--rounds``
rounds (median): once grouped by source length (what nlptasks does), once grouped by each row's own
output length as measured above (an oracle grouping, in which rows of a batch finish together: about
what dropping finished rows from the batch could save). Outputs of the two groupings are compared.
"""
from __future__ import annotations

import argparse
import sys

from _speed import DATA, log, need_data, read_jsonl


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1014)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=0, help="also time both groupings, N interleaved rounds")
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
    own_len: dict[str, int] = {}
    recs = task.predict([{"text": s} for s in src])
    tok = task._lm.tokenizer
    for s_, r in zip(src, recs):
        own_len[s_] = len(tok(r["translation"], add_special_tokens=False)["input_ids"]) + 1
    model.generate = generate
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
    if args.rounds:
        timed(task, src, own_len, args)
    return 0


def timed(task, src, own_len, args) -> None:
    import time

    import torch

    from _speed import machine, print_machine

    model, tok, cfg = task._lm.model, task._lm.tokenizer, task.gen_config
    bs = args.batch_size
    by_source = sorted(range(len(src)), key=lambda i: len(tok(src[i])["input_ids"]))
    by_output = sorted(range(len(src)), key=lambda i: own_len[src[i]])

    def run(order):
        out = {}
        with torch.inference_mode():
            for b in range(0, len(order), bs):
                idx = order[b:b + bs]
                enc = tok([src[i] for i in idx], return_tensors="pt", padding=True)
                gen = model.generate(**enc, generation_config=cfg)
                for i, text in zip(idx, tok.batch_decode(gen, skip_special_tokens=True)):
                    out[i] = text.strip()
        return [out[i] for i in sorted(out)]

    print_machine(machine())
    secs: dict[str, list] = {"grouped by source length": [], "grouped by output length (oracle)": []}
    outs = {}
    run(by_source[:bs])  # warm-up
    for _ in range(args.rounds):
        for name, order in (("grouped by source length", by_source), ("grouped by output length (oracle)", by_output)):
            t0 = time.perf_counter()
            outs[name] = run(order)
            secs[name].append(time.perf_counter() - t0)
    med = {k: sorted(v)[len(v) // 2] for k, v in secs.items()}
    a, b = med["grouped by source length"], med["grouped by output length (oracle)"]
    same = sum(x == y for x, y in zip(*outs.values()))
    print(f"time, median of {args.rounds} interleaved rounds, batch {bs}, {torch.get_num_threads()} threads: "
          f"by source length {a:.2f} s, by output length {b:.2f} s: the oracle grouping takes {b / a:.2f}x the "
          f"time ({100 * (1 - b / a):.0f}% less); outputs identical on {same}/{len(src)} lines")


if __name__ == "__main__":
    sys.exit(main())
