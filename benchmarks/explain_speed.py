"""What ``--explain`` costs for sentiment on the CPU: the same texts predicted plainly and with each
explanation method, on one loaded model, interleaved runs (median), plus the CLI end to end.

    python benchmarks/explain_speed.py [--n 200] [--runs 3] [--dtype auto] [--out FILE]

The issue's target: ``--explain`` (the default method: occlusion since integrated gradients, the other
method, measured above 20x) at most 20x the plain prediction's time; both methods are timed. Reported both ways: the prediction call alone (model loaded) and the whole command (interpreter
start, imports, model load, prediction), which is what a user waits for. Also printed: the Gauss-Legendre
points integrated gradients used and their completeness errors (``delta`` of each explanation). Run on an
idle machine; ``--out`` writes the figures as JSON (``benchmarks/results/explain_speed_sentiment.json``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
import time

from _speed import DATA, check, fmt_table, interleaved, log, machine, need_data, print_machine, read_jsonl

MODEL = "minilm-sst2-lora"  # the packaged SST-2 model (the task's default may be a three-class one)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="SST-2 validation sentences (default 200)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI timing")
    ap.add_argument("--dtype", default="auto", help="the model's dtype, for every run (default auto: bfloat16 on AMX)")
    ap.add_argument("--out", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()

    from nlptasks.api import load_task

    info = machine()
    print_machine(info)
    need_data("sentiment")
    texts = [r["text"] for r in read_jsonl(DATA / "sentiment" / "validation.jsonl", args.n)]
    recs = [{"text": t} for t in texts]
    plain = load_task("sentiment", MODEL, device="cpu", dtype=args.dtype).load()
    from nlptasks.explain.sentiment import METHODS

    default = f"--explain (default: {METHODS[0]})"
    ig = load_task("sentiment", MODEL, device="cpu", dtype=args.dtype, explain_method="ig").load()
    occ = load_task("sentiment", MODEL, device="cpu", dtype=args.dtype, explain_method="occlusion").load()
    named = {"ig": ("--explain-method ig", ig), "occlusion": ("--explain-method occlusion", occ)}
    named[METHODS[0]] = (default, named[METHODS[0]][1])
    fns = {"plain": lambda: plain.predict(recs)}
    fns.update({name: (lambda t=t: t.predict(recs)) for name, t in named.values()})
    plain.predict(recs[:16]), ig.predict(recs[:16]), occ.predict(recs[:16])  # warm-up
    log(f"timing {len(texts)} sentences, {args.runs} interleaved runs")
    secs, outs = interleaved(fns, args.runs)
    ig_name = named["ig"][0]
    same = all([o["label"] for o in outs["plain"]] == [o["label"] for o in outs[name]] for name, _ in named.values())
    base = secs["plain"]
    rows = [[name, f"{s:.2f}", f"{s / len(texts) * 1000:.1f}", f"{s / base:.1f}x"] for name, s in secs.items()]
    print(f"\nsentiment --explain, {len(texts)} SST-2 sentences, packaged {plain.model_name}, CPU, median of {args.runs}")
    print(fmt_table(["run", "seconds", "ms/sentence", "vs plain"], rows))
    expl = [o["explanation"] for o in outs[ig_name]]
    deltas = sorted(abs(e["delta"]) for e in expl)
    steps = {k: sum(e["steps"] == k for e in expl) for k in sorted({e["steps"] for e in expl})}
    quality = {"dtype": plain.model_info()["variant"]["dtype"], "steps": steps,
               "abs_delta_mean": statistics.fmean(deltas), "abs_delta_p95": deltas[int(0.95 * (len(deltas) - 1))],
               "abs_delta_max": deltas[-1]}
    print(f"integrated gradients ({quality['dtype']}): Gauss-Legendre points {steps} (sentences); completeness "
          f"|delta| mean {quality['abs_delta_mean']:.3f}, p95 {quality['abs_delta_p95']:.3f}, "
          f"max {quality['abs_delta_max']:.3f} log-odds")
    ok = check("labels identical with and without --explain", same)
    ok &= check(f"{default} <= 20x the plain prediction (prediction call)", secs[default] / base <= 20,
                f"{secs[default] / base:.1f}x")
    print(f"integrated gradients (--explain-method ig): {secs[ig_name] / base:.1f}x the plain prediction")
    cli = {}
    if not args.no_cli:
        inp = "\n".join(texts) + "\n"
        for name, extra in (("plain", []), ("--explain", ["--explain", "--format", "jsonl"])):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "nlptasks", "run", "sentiment", "--model", MODEL, "--device", "cpu",
                            *extra],
                           input=inp, capture_output=True, text=True, check=True)
            cli[name] = time.perf_counter() - t
        print(f"CLI end to end: plain {cli['plain']:.2f} s, --explain {cli['--explain']:.2f} s "
              f"({cli['--explain'] / cli['plain']:.1f}x)")
        ok &= check("--explain <= 20x the plain command (end to end)", cli["--explain"] / cli["plain"] <= 20,
                    f"{cli['--explain'] / cli['plain']:.1f}x")
    if args.out:
        record = {"command": "python " + " ".join(sys.argv), "machine": info,
                  "date": datetime.date.today().isoformat(), "model": MODEL, "n": len(texts),
                  "statistic": f"median of {args.runs}",
                  "prediction_call": {name: {"seconds": round(s, 3), "ms_per_sentence": round(s / len(texts) * 1000, 2),
                                             "vs_plain": round(s / base, 2)} for name, s in secs.items()},
                  "integrated_gradients": quality}
        if cli:
            record["cli_end_to_end_seconds"] = {"plain": round(cli["plain"], 2),
                                                f"explain_{METHODS[0]}": round(cli["--explain"], 2)}
        record["default_method"] = METHODS[0]
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(json.dumps(record, indent=1) + "\n")
        log(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
