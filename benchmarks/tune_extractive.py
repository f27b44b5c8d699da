"""Grid over the extractive summarizer's MMR diversity and lead-bias settings on CNN/DailyMail *train*.

    python benchmarks/tune_extractive.py [--data-dir ../shared/data] [--docs 150]

Prints ROUGE-Lsum/1/2 per setting beside lead-3 on the same documents. The package defaults
(diversity 0.3, position weight 1.0, prior w/(1+i)) come from this run; validation is never used here.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlptasks.backend.encoder import SentenceEncoder
from nlptasks.metrics import compute
from nlptasks.tasks.extractive import select_sentences
from nlptasks.text import split_sentences


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--docs", type=int, default=150)
    a = ap.parse_args()
    path = Path(a.data_dir) / "summarization" / "train.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()][: a.docs]
    sents = [split_sentences(r["document"]) for r in rows]
    refs = [r["summary"] for r in rows]
    emb = SentenceEncoder.load().encode([s for ss in sents for s in ss]).numpy()

    def score(preds):
        r = compute("rouge", preds, refs, bootstrap=0)
        return " ".join(f"{k} {r[k].score:6.2f}" for k in ("rougeLsum", "rouge1", "rouge2"))

    lead = ["\n".join(ss[:3]) for ss in sents]
    print(f"lead-3                        {score(lead)}")
    for pw in (0.0, 0.3, 0.5, 1.0, 2.0):
        for div in (0.0, 0.15, 0.3, 0.5):
            preds, start = [], 0
            for ss in sents:
                idx = select_sentences(emb[start:start + len(ss)], min(3, len(ss)), diversity=div, position_weight=pw)
                start += len(ss)
                preds.append("\n".join(ss[i] for i in idx))
            print(f"position {pw:3.1f} diversity {div:4.2f}   {score(preds)}", flush=True)


if __name__ == "__main__":
    main()
