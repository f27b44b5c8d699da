"""Benchmark 2: greedy translation of Multi30k sources with an opus-mt-en-de-shaped Marian (74M, random
weights, built offline), ``nlptasks`` vs a per-sentence ``model.generate`` loop and vs fixed batches of 16
in input order.

    python benchmarks/speed_translation.py [--runs 3] [--n 500]

Random weights give arbitrary tokens, so every contender generates exactly 32 new tokens
(min_new_tokens = max_new_tokens = 32) and the work is like for like. fp32: token ids must be identical
(checked on the ids ``nlptasks``' engine returns and on the translate task's text). bf16 and dynamic
int8 go through the same translate task (``dtype="bfloat16"``, ``quantize="int8"``) and are reported
with their BLEU against the fp32 output.
"""
from __future__ import annotations

import argparse
import sys

from _speed import (DATA, check, fmt_table, fraction, interleaved, linear_params, log, machine, need_data,
                     print_machine, probe_all, read_jsonl)

NEW = 32


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--n", type=int, default=500)
    args = ap.parse_args()

    import sacrebleu
    import torch

    import _models
    from nlptasks.api import load_task
    from nlptasks.backend.inference import generate_batched

    info = machine()
    print_machine(info)
    peaks = probe_all(("float32", "bfloat16"))
    need_data("translation")
    src = [r["translation"]["en"] for r in read_jsonl(DATA / "translation" / "validation.jsonl", args.n)]
    model_dir = str(_models.marian_en_de())

    def task_for(**kw):
        t = load_task("translate", model_dir, device="cpu", max_new_tokens=NEW, **kw).load()
        t.gen_config.min_new_tokens = NEW  # force exactly 32 new tokens (random weights)
        t.gen_config.min_length = 0
        return t

    task = task_for()
    lm, cfg = task._lm, task.gen_config
    model, tok = lm.model, lm.tokenizer
    pad, eos = cfg.pad_token_id, cfg.eos_token_id

    def strip(row: list[int]) -> list[int]:
        out = []
        for t in row[1:]:  # drop the decoder start token
            if t == eos:
                break
            if t != pad:
                out.append(t)
        return out

    def per_sentence():
        res = []
        with torch.inference_mode():
            for s in src:
                enc = tok(s, return_tensors="pt")
                res.append(strip(model.generate(**enc, generation_config=cfg)[0].tolist()))
        return res

    def fixed16():
        res = []
        with torch.inference_mode():
            for i in range(0, len(src), 16):
                enc = tok(src[i:i + 16], padding=True, return_tensors="pt")
                res += [strip(r) for r in model.generate(**enc, generation_config=cfg).tolist()]
        return res

    encodings = [dict(e) for e in (tok(s) for s in src)]
    recs = [{"text": s} for s in src]
    fns = {"per-sentence generate": per_sentence, "fixed batches of 16": fixed16,
           "nlptasks translate (fp32)": lambda: [r["translation"] for r in task.predict(recs)]}
    variants = {"nlptasks translate --dtype bfloat16": task_for(dtype="bfloat16"),
                "nlptasks translate --quantize int8": task_for(quantize="int8")}
    for label, t in variants.items():
        fns[label] = lambda t=t: [r["translation"] for r in t.predict(recs)]
    log("warm-up")
    with torch.inference_mode():
        model.generate(**tok(src[:16], padding=True, return_tensors="pt"), generation_config=cfg)
    for t in (task, *variants.values()):
        t.predict(recs[:64])
    log(f"timing {len(src)} sentences x {NEW} new tokens, {args.runs} interleaved runs")
    secs, outs = interleaved(fns, args.runs)  # every contender in every round: load hits all alike
    engine_ids = generate_batched(lm, encodings, cfg)  # the ids behind the task's text (same engine call)

    n_src = sum(len(e["input_ids"]) for e in encodings)
    n_new = NEW * len(src)
    flops = 2 * (linear_params(model.model.encoder) * n_src
                 + (linear_params(model.model.decoder) + model.lm_head.weight.numel()) * n_new)
    ours = secs["nlptasks translate (fp32)"]
    ref_text = outs["nlptasks translate (fp32)"]
    rows = []
    for name, s in secs.items():
        if name in variants:
            continue
        rows.append([name, f"{s:.2f}", f"{n_new / s:.0f}", f"{s / ours:.2f}x", "",
                     fraction(flops, s, peaks["float32"])])
    for name in variants:
        s, o = secs[name], outs[name]
        bleu = sacrebleu.corpus_bleu(o, [ref_text]).score
        peak = peaks["bfloat16"] if "bfloat16" in name else peaks["float32"]
        rows.append([name, f"{s:.2f}", f"{n_new / s:.0f}", f"{s / ours:.2f}x", f"BLEU {bleu:.1f} vs fp32",
                     fraction(flops, s, peak) + (" (of bf16 probe)" if "bfloat16" in name else "")])
    print(f"\ntranslation: {len(src)} Multi30k sources ({n_src} tokens) -> {NEW} new tokens each, Marian 74M "
          f"({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params), greedy, CPU, median of {args.runs}")
    for r in rows[:3]:
        r[4] = "(reference)" if r[0].startswith("nlptasks") else (
            "same ids as nlptasks" if outs[r[0]] == engine_ids else "DIFFERENT ids")
    print(fmt_table(["contender", "seconds", "new tokens/s", "time vs nlptasks fp32", "output",
                     "achieved matmul (of fp32 probe)"], rows))
    ok = True
    base_text = [tok.decode(x, skip_special_tokens=True).strip() for x in outs["per-sentence generate"]]
    ok &= check("fp32 ids identical: per-sentence loop vs nlptasks engine",
                outs["per-sentence generate"] == engine_ids)
    ok &= check("fp32 ids identical: fixed batches of 16 vs nlptasks engine", outs["fixed batches of 16"] == engine_ids)
    ok &= check("fp32 text identical: nlptasks translate task vs per-sentence loop", base_text == ref_text)
    ok &= check("every output has 32 new tokens", all(len(x) == NEW for x in engine_ids))
    r1 = secs["per-sentence generate"] / ours
    r2 = secs["fixed batches of 16"] / ours
    ok &= check("fp32 speed-up >= 4x vs per-sentence loop", r1 >= 4, f"{r1:.2f}x")
    ok &= check("fp32 speed-up >= 1.5x vs fixed batches of 16", r2 >= 1.5, f"{r2:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
