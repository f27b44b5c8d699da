"""ERASER faithfulness of sentiment explanations on sst2_local: integrated gradients, occlusion, random.

    python benchmarks/explain_faithfulness.py [--n 872] [--steps 16] [--dtype auto] [--fractions 0.1,0.2,0.5]

For each validation sentence (``/work/shared/data/sentiment/validation.jsonl``, i.e. ../shared/data) the
packaged sentiment model predicts a label; each method ranks the sentence's words toward that label and
``nlptasks.explain.faithfulness`` removes (comprehensiveness) or keeps only (sufficiency) the top k% of
them; the model predicts again. Reported: the mean over sentences with a 95% percentile-bootstrap
interval, for k = 10/20/50% and their mean (ERASER's aggregate over bins), and the cost of explaining
one sentence (wall time and energy through ``nlptasks.cost``; the plain prediction beside it).

Quality figures (comprehensiveness, sufficiency) do not depend on the machine's load; the timing and
energy figures do: run the script on an idle machine before quoting them. Writes
``benchmarks/results/explain_faithfulness.json`` (``--out``).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA / "sentiment" / "validation.jsonl"))
    ap.add_argument("--n", type=int, default=None, help="first N sentences (default: all)")
    ap.add_argument("--model", default="minilm-sst2-lora", help="sentiment model (default: the packaged SST-2 model)")
    ap.add_argument("--steps", type=int, default=None, help="integrated-gradients steps (default: nlptasks')")
    ap.add_argument("--dtype", default="auto", help="the model's dtype (default auto: bfloat16 on CPUs with AMX)")
    ap.add_argument("--fractions", default="0.1,0.2,0.5")
    ap.add_argument("--methods", default="ig,occlusion,random")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap resamples")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "explain_faithfulness.json"))
    args = ap.parse_args()

    import torch

    from nlptasks.api import load_task
    from nlptasks.cost import CostTracker
    from nlptasks.explain import faithfulness as F
    from nlptasks.explain.ig import DEFAULT_STEPS
    from nlptasks.explain.sentiment import ig_attributions, occlusion_scores
    from nlptasks.explain.words import word_spans

    path = Path(args.data)
    if not path.is_file():
        log(f"no data at {path}")
        return 2
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    texts = [r["text"] for r in rows][: args.n]
    fractions = [float(x) for x in args.fractions.split(",")]
    methods = args.methods.split(",")
    steps = args.steps or DEFAULT_STEPS
    torch.manual_seed(args.seed)
    task = load_task("sentiment", args.model, device="cpu", dtype=args.dtype).load()
    task.predict([{"text": t} for t in texts[:16]])  # warm-up

    with CostTracker() as plain_cost:
        t0 = time.perf_counter()
        probs = task._probabilities(texts)
        plain_s = time.perf_counter() - t0
    targets = probs.argmax(dim=-1).tolist()
    p_full = [float(probs[i, y]) for i, y in enumerate(targets)]
    spans = [word_spans(t) for t in texts]
    log(f"{len(texts)} sentences predicted in {plain_s:.2f} s")

    results: dict = {"methods": {}}
    for method in methods:
        log(f"{method}: attributing")
        with CostTracker() as cost:
            t0 = time.perf_counter()
            if method == "ig":
                scores, deltas, used = ig_attributions(task, texts, targets, n_steps=steps)
            elif method == "occlusion":
                scores = occlusion_scores(task, texts, targets)
            elif method == "random":
                scores = [F.random_scores(len(s), args.seed * 1_000_003 + i) for i, s in enumerate(spans)]
            else:
                raise SystemExit(f"unknown method {method!r}")
            secs = time.perf_counter() - t0
        c = cost.result()
        variants, where = [], []
        for i, (text, sp, sc) in enumerate(zip(texts, spans, scores)):
            for k, (removed, kept) in F.perturbed_texts(text, sp, sc, fractions).items():
                variants += [removed, kept]
                where.append((i, k))
        log(f"{method}: scoring {len(variants)} perturbed texts")
        pv = task._probabilities(variants)
        comp = {k: [] for k in fractions}
        suff = {k: [] for k in fractions}
        for j, (i, k) in enumerate(where):
            y = targets[i]
            comp[k].append(F.comprehensiveness(p_full[i], float(pv[2 * j, y])))
            suff[k].append(F.sufficiency(p_full[i], float(pv[2 * j + 1, y])))
        entry = {"seconds_per_example": secs / len(texts),
                 "energy_kwh_per_example": (c["energy_kwh"] / len(texts)) if c["energy_kwh"] is not None else None,
                 "energy_source": c["energy_source"], "energy_is_estimate": c["energy_is_estimate"]}
        for name, table in (("comprehensiveness", comp), ("sufficiency", suff)):
            for k in fractions:
                entry[f"{name}@{k:g}"] = F.bootstrap_ci(table[k], n_boot=args.boot, seed=args.seed)
            aggregate = [sum(v) / len(fractions) for v in zip(*(table[k] for k in fractions))]
            entry[f"{name}@mean"] = F.bootstrap_ci(aggregate, n_boot=args.boot, seed=args.seed)
        if method == "ig":  # completeness: |sum(scores) - (f(text) - f(baseline))|, and the points used
            ad = sorted(abs(d) for d in deltas)
            entry.update({"abs_delta_mean": sum(ad) / len(ad), "abs_delta_p95": ad[int(0.95 * (len(ad) - 1))],
                          "abs_delta_max": ad[-1], "steps": {str(k): used.count(k) for k in sorted(set(used))}})
            log(f"ig: |delta| mean {entry['abs_delta_mean']:.3f}, p95 {entry['abs_delta_p95']:.3f}, max "
                f"{entry['abs_delta_max']:.3f} log-odds; points used {entry['steps']}")
        results["methods"][method] = entry

    pr = plain_cost.result()
    results.update({
        "command": "python " + " ".join(sys.argv), "dtype": task.model_info()["variant"]["dtype"],
        "data": str(path), "n": len(texts), "model": task.model_name, "ig_steps": steps, "fractions": fractions,
        "seed": args.seed, "bootstrap": args.boot, "accuracy_note": "labels are the model's predictions",
        "plain_seconds_per_example": plain_s / len(texts),
        "plain_energy_kwh_per_example": pr["energy_kwh"] / len(texts) if pr["energy_kwh"] is not None else None,
        "torch_threads": torch.get_num_threads(),
        "timing_note": "time/energy depend on machine load; quote them only from a run on an idle machine",
    })

    cols = [f"comprehensiveness@{k:g}" for k in fractions] + ["comprehensiveness@mean"] + \
           [f"sufficiency@{k:g}" for k in fractions] + ["sufficiency@mean"]
    print(f"\nERASER faithfulness, sentiment ({task.model_name}), {len(texts)} sentences of {path.name}; "
          f"mean [95% bootstrap interval]; IG {steps} steps")
    for col in cols:
        line = f"{col:<24}" + "".join(
            f"  {m}: {e[col][0]:+.3f} [{e[col][1]:+.3f}, {e[col][2]:+.3f}]" for m, e in results["methods"].items())
        print(line)
    print("cost per explained sentence (machine-load dependent):")
    print(f"  plain prediction: {results['plain_seconds_per_example'] * 1000:.2f} ms")
    for m, e in results["methods"].items():
        ratio = e["seconds_per_example"] / results["plain_seconds_per_example"]
        energy = f", {e['energy_kwh_per_example'] * 3.6e6:.3f} J" if e["energy_kwh_per_example"] else ""
        print(f"  {m}: {e['seconds_per_example'] * 1000:.2f} ms ({ratio:.1f}x the plain prediction{energy})")
    if "ig" in results["methods"] and "random" in results["methods"]:
        ig, rnd = (results["methods"][m]["comprehensiveness@0.2"][0] for m in ("ig", "random"))
        ratio = ig / rnd if rnd > 0 else float("inf")
        results["ig_over_random_comprehensiveness@0.2"] = ratio
        print(f"target: IG comprehensiveness@20% >= 2x random: {ratio:.2f}x -> {'PASS' if ratio >= 2 else 'FAIL'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
