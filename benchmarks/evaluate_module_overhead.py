"""What the ``evaluate`` wrapper costs: nlptasks' metric function called directly vs the same metric through
``nlptasks.metrics.hf_evaluate.evaluate_module`` (``add_batch`` + ``compute``, in memory and with evaluate's on-disk
Arrow cache), on the same baselines built from the shared data, interleaved, with identical results checked.

Usage: python benchmarks/evaluate_module_overhead.py [--n 1014] [--repeats 3] [--bootstrap 1000]
Prints, per metric, the median seconds of each path and the ratio wrapper / direct.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _speed import DATA, log, read_jsonl  # noqa: E402  (sets HF_HUB_OFFLINE etc.)


def cases(n: int) -> dict[str, tuple[list, list]]:
    from nlptasks.metrics.summarization import split_sentences

    mt = read_jsonl(DATA / "translation" / "validation.jsonl", n)
    sm = read_jsonl(DATA / "summarization" / "validation.jsonl", min(n, 195))
    st = read_jsonl(DATA / "sentiment" / "validation.jsonl", n)
    gold = [("negative", "positive")[r["label"]] for r in st]
    return {"bleu": ([r["translation"]["en"] for r in mt], [r["translation"]["de"] for r in mt]),
            "chrf": ([r["translation"]["en"] for r in mt], [r["translation"]["de"] for r in mt]),
            "rouge": (["\n".join(split_sentences(r["document"]).split("\n")[:3]) for r in sm],
                      [r["summary"] for r in sm]),
            "accuracy": (gold[1:] + gold[:1], gold)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1014, help="examples per metric (summaries: at most 195)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bootstrap", type=int, default=1000)
    a = p.parse_args(argv)
    from nlptasks.metrics.hf_evaluate import evaluate_module
    from nlptasks.registry import METRICS

    print(f"{'metric':10} {'n':>5} {'direct s':>9} {'in-memory s':>12} {'on-disk s':>10} {'ratio mem':>10} "
          f"{'ratio disk':>11}")
    with tempfile.TemporaryDirectory() as cache:
        for name, (preds, refs) in cases(a.n).items():
            fn = METRICS.get(name)
            times = {"direct": [], "memory": [], "disk": []}
            fn(preds, refs, bootstrap=0)  # warm-up (imports, tokenizers, the module class), not timed
            evaluate_module(name, keep_in_memory=True).compute(predictions=preds, references=refs, bootstrap=0)
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                direct = fn(preds, refs, bootstrap=a.bootstrap)
                times["direct"].append(time.perf_counter() - t0)
                for how, kwargs in (("memory", {"keep_in_memory": True}), ("disk", {"cache_dir": cache})):
                    t0 = time.perf_counter()
                    module = evaluate_module(name, **kwargs)
                    module.add_batch(predictions=preds, references=refs)
                    got = module.compute(bootstrap=a.bootstrap)
                    times[how].append(time.perf_counter() - t0)
                    for key, value in direct.items():
                        if got[key] != value.score:
                            log(f"{name}: {key} differs ({got[key]} vs {value.score})")
                            return 1
            med = {k: statistics.median(v) for k, v in times.items()}
            print(f"{name:10} {len(preds):5d} {med['direct']:9.3f} {med['memory']:12.3f} {med['disk']:10.3f} "
                  f"{med['memory'] / med['direct']:10.2f} {med['disk'] / med['direct']:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
