"""Parity of nlptasks.metrics with direct sacrebleu / rouge-score (/ scikit-learn) calls on real data.

Usage: python benchmarks/metric_parity.py [--data-dir ../shared/data] [--n-sum 50]
Prints one row per value: ours, direct, difference (all differences should be 0.0).
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from pathlib import Path

import sacrebleu
from rouge_score import rouge_scorer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from nlptasks.metrics import aggregate, compute  # noqa: E402
from nlptasks.metrics.summarization import split_sentences  # noqa: E402


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rows.append(json.loads(line))
                if limit and len(rows) >= limit:
                    break
    return rows


def perturb(sentence: str, rng: random.Random) -> str:
    """Drop, swap or duplicate a word (some sentences stay intact)."""
    words = sentence.split()
    op = rng.random()
    if len(words) > 3 and op < 0.3:
        del words[rng.randrange(len(words))]
    elif len(words) > 3 and op < 0.6:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    elif op < 0.8:
        words.insert(rng.randrange(len(words) + 1), rng.choice(words))
    return " ".join(words)


def report(rows: list[tuple[str, float, float]]) -> float:
    """Print the rows; the largest |difference| over rows not marked "(info)"."""
    worst = 0.0
    for name, ours, direct in rows:
        diff = ours - direct
        if "(info" not in name:
            worst = max(worst, abs(diff))
        print(f"  {name:<36} ours {ours:12.6f}   direct {direct:12.6f}   diff {diff:.1e}")
    return worst


def translation(data: Path, rng: random.Random) -> list:
    rows = read_jsonl(data / "translation" / "validation.jsonl")
    refs = [r["translation"]["de"] for r in rows]
    hyps = [perturb(s, rng) for s in refs]
    k = len(hyps) // 10  # shuffle a tenth of the hypotheses among themselves (wrong sentences)
    idx = rng.sample(range(len(hyps)), k)
    moved = [hyps[i] for i in idx[1:] + idx[:1]]
    for i, h in zip(idx, moved):
        hyps[i] = h
    refs2 = [perturb(s, rng) for s in refs]
    print(f"translation: Multi30k validation de, {len(refs)} perturbed/shuffled hypotheses")
    out = []
    for name, fn in (("bleu", sacrebleu.corpus_bleu), ("chrf", sacrebleu.corpus_chrf), ("ter", sacrebleu.corpus_ter)):
        ours = compute(name, hyps, refs)[name]
        out.append((f"{name} (1 ref)", ours.score, fn(hyps, [refs]).score))
        multi = compute(name, hyps, [[a, b] for a, b in zip(refs, refs2)])[name]
        out.append((f"{name} (2 refs)", multi.score, fn(hyps, [refs, refs2]).score))
        shards = [compute(name, hyps[i:i + 250], refs[i:i + 250])[name].stats for i in range(0, len(hyps), 250)]
        out.append((f"{name} aggregate of {len(shards)} shards", aggregate(name, shards).score, ours.score))
    ci = compute("bleu", hyps, refs, bootstrap=1000)["bleu"].ci
    print(f"  bleu bootstrap 95% CI (1000 resamples): [{ci[0]:.2f}, {ci[1]:.2f}]")
    return out


def summarization(data: Path, n: int) -> list:
    rows = read_jsonl(data / "summarization" / "validation.jsonl", n)
    lead3 = ["\n".join(split_sentences(r["document"]).split("\n")[:3]) for r in rows]
    refs = [r["summary"] for r in rows]
    print(f"summarization: lead-3 of the first {len(rows)} CNN/DailyMail validation documents")
    ours = compute("rouge", lead3, refs)
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    scorer = rouge_scorer.RougeScorer(types, use_stemmer=True)
    direct = [scorer.score(r, p) for p, r in zip(lead3, refs)]
    out = [(t, ours[t].score, 100 * sum(d[t].fmeasure for d in direct) / len(direct)) for t in types]
    flat = compute("rouge", [p.replace("\n", " ") for p in lead3], refs, rouge_types=["rougeLsum"])
    # info only: pysbd re-splitting the joined lead-3 may cut sentences differently from the document split
    out.append(("rougeLsum (info: unsplit input)", flat["rougeLsum"].score, out[3][2]))
    for t in types:
        print(f"  {t} bootstrap 95% CI: [{ours[t].ci[0]:.2f}, {ours[t].ci[1]:.2f}]")
    return out


def dialogue(data: Path) -> list:
    rows = read_jsonl(data / "dialogue" / "validation.jsonl")
    preds, refs = [r["history"][-1] for r in rows], [r["response"] for r in rows]
    print(f"dialogue: DailyDialog validation, {len(rows)} examples, prediction = last history turn")
    from nlptasks.metrics.dialogue import spaced  # bleu4's default normalisation (normalize="spaced")

    sp_preds, sp_refs = [spaced(p) for p in preds], [spaced(r) for r in refs]
    return [("bleu4", compute("bleu4", preds, refs)["bleu4"].score, sacrebleu.corpus_bleu(sp_preds, [sp_refs]).score),
            ("bleu4 (normalize none)", compute("bleu4", preds, refs, normalize="none")["bleu4"].score,
             sacrebleu.corpus_bleu(preds, [refs]).score)]


def classification(data: Path, rng: random.Random) -> list:
    try:
        from sklearn import metrics
    except ImportError:
        print("classification: scikit-learn not installed, skipped")
        return []
    gold = [r["label"] for r in read_jsonl(data / "sentiment" / "validation.jsonl")]
    pred = [g if rng.random() < 0.8 else 1 - g for g in gold]
    print(f"classification: SST-2 validation labels, {len(gold)} examples, 20% flipped predictions vs scikit-learn")
    return [("accuracy", compute("accuracy", pred, gold)["accuracy"].score, 100 * metrics.accuracy_score(gold, pred)),
            ("f1 (macro)", compute("f1", pred, gold)["f1"].score, 100 * metrics.f1_score(gold, pred, average="macro")),
            ("mcc", compute("mcc", pred, gold)["mcc"].score, 100 * metrics.matthews_corrcoef(gold, pred))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n-sum", type=int, default=50, help="CNN/DailyMail documents to score")
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        print(f"no data folder at {args.data_dir}; nothing to compare", file=sys.stderr)
        return 0
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)  # DailyDialog is tokenised (" ." endings)
    rng = random.Random(0)
    worst = max(report(translation(args.data_dir, rng)), report(summarization(args.data_dir, args.n_sum)),
                report(dialogue(args.data_dir)), report(classification(args.data_dir, rng)))
    print(f"largest absolute difference (parity rows): {worst:.1e}  (float summation order only if < 1e-9)")
    return 0 if worst < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
