"""What finished rows cost when the packaged en->de model (marian-multi30k-en-de, real end-of-sentence
behaviour) translates Multi30k validation sources in batches, and what nlptasks' greedy loop that drops
them (nlptasks/backend/greedy.py) saves.

    python benchmarks/finished_rows_translation.py [--n 1014] [--batch-size 64] [--rounds 3]

transformers' greedy search keeps every row of a batch in the decoder until the longest row emits
``</s>``; a row that finished earlier still costs one decoder position per step (its output is padding).
The script counts, over batches grouped by source length as nlptasks groups them, the decoder row-steps
each loop computes: transformers' (batch rows x steps) and nlptasks' (rows still decoding at each step),
against the row-steps needed (each row up to its ``</s>``).

The time (``--rounds N``, median of N interleaved rounds, one process): the same sources in batches of the
same size, three ways: transformers' loop grouped by source length (the baseline); nlptasks' loop grouped
by source length (what ``nlptasks run/eval`` does on the CPU); transformers' loop grouped by each row's
own output length (an oracle grouping in which the rows of a batch finish together). The outputs of the
three are compared token for token.
"""
from __future__ import annotations

import argparse
import sys

from _speed import DATA, log, need_data, read_jsonl


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1014)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=0, help="also time the three ways, N interleaved rounds")
    args = ap.parse_args()
    import torch

    from nlptasks.api import load_task
    from nlptasks.backend import greedy

    need_data("translation")
    src = [r["translation"]["en"] for r in read_jsonl(DATA / "translation" / "validation.jsonl", args.n)]
    task = load_task("translate", device="cpu", batch_size=args.batch_size, max_new_tokens=128).load()
    model, tok, cfg = task._lm.model, task._lm.tokenizer, task.gen_config
    eos, bs = cfg.eos_token_id, args.batch_size
    by_source = sorted(range(len(src)), key=lambda i: (len(tok(src[i])["input_ids"]), i))

    rows_seen: list[int] = []
    hook = model.register_forward_pre_hook(
        lambda m, a, kw: rows_seen.append(kw["decoder_input_ids"].shape[0]) if "decoder_input_ids" in kw else None,
        with_kwargs=True)

    def run(order, custom=None):
        out = {}
        with torch.inference_mode():
            for b in range(0, len(order), bs):
                idx = order[b:b + bs]
                enc = tok([src[i] for i in idx], return_tensors="pt", padding=True)
                kw = {"custom_generate": custom} if custom else {}
                gen = model.generate(**enc, generation_config=cfg, **kw)
                for i, row in zip(idx, gen[:, 1:].tolist()):
                    out[i] = row[:row.index(eos) + 1] if eos in row else row
        return [out[i] for i in sorted(out)]

    log(f"translating {len(src)} sources in batches of {bs}")
    ref = run(by_source)
    theirs, rows_seen[:] = sum(rows_seen), []
    ours_out = run(by_source, greedy.decode)
    ours = sum(rows_seen)
    hook.remove()
    needed = sum(len(r) for r in ref)
    print(f"marian-multi30k-en-de, {len(src)} Multi30k validation sources, greedy, batch size {bs}, "
          f"{-(-len(src) // bs)} batches grouped by source length")
    print(f"decoder row-steps needed (each row up to its </s>): {needed}")
    print(f"transformers' loop computes {theirs} ({100 * (theirs - needed) / theirs:.1f}% on finished rows); "
          f"nlptasks' loop computes {ours} ({100 * (ours - needed) / max(ours, 1):.1f}% on finished rows); "
          f"token ids identical on {sum(a == b for a, b in zip(ref, ours_out))}/{len(src)} lines")
    if args.rounds:
        own = {i: len(r) for i, r in enumerate(ref)}
        by_output = sorted(range(len(src)), key=lambda i: (own[i], i))
        timed(run, by_source, by_output, ref, greedy.decode, args)
    return 0


def timed(run, by_source, by_output, ref, decode, args) -> None:
    import time

    import torch

    from _speed import machine, print_machine

    ways = {"transformers' loop, grouped by source length": (by_source, None),
            "nlptasks' loop (drops finished rows), grouped by source length": (by_source, decode),
            "transformers' loop, grouped by output length (oracle)": (by_output, None)}
    print_machine(machine())
    secs: dict[str, list] = {k: [] for k in ways}
    same: dict[str, int] = {}
    run(by_source[:args.batch_size])  # warm-up
    run(by_source[:args.batch_size], decode)
    for _ in range(args.rounds):
        for name, (order, custom) in ways.items():
            t0 = time.perf_counter()
            out = run(order, custom)
            secs[name].append(time.perf_counter() - t0)
            same[name] = sum(a == b for a, b in zip(ref, out))
    base = sorted(secs[next(iter(ways))])[args.rounds // 2]
    print(f"time, median of {args.rounds} interleaved rounds, batch {args.batch_size}, "
          f"{torch.get_num_threads()} threads:")
    for name in ways:
        med = sorted(secs[name])[args.rounds // 2]
        print(f"  {name}: {med:.2f} s ({base / med:.2f}x the baseline's speed, {100 * (1 - med / base):.0f}% less "
              f"time); token ids identical to the baseline's on {same[name]}/{len(ref)} lines")


if __name__ == "__main__":
    sys.exit(main())
