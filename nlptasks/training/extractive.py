"""Training a supervised extractive summarizer (``nlptasks finetune summarize --model minilm --extractive``).

1. Every training document is split into sentences (``nlptasks.text.split_sentences``, the splitter
   ``nlptasks run summarize`` uses; the first ``MAX_SENTENCES``) and embedded once with the packaged
   MiniLM encoder.
2. Oracle labels: sentences picked greedily (at most ``ORACLE_SENTENCES``) while they raise ROUGE-1 +
   ROUGE-2 F1 against the reference summary (the repository's ROUGE: rouge-score's tokenizer and
   stemmer, ``nlptasks.metrics.summarization``).
3. A scorer (:mod:`nlptasks.models.extractive_supervised`: logistic regression or a small MLP over
   embedding, similarity, position and length features) is trained with binary cross-entropy.
4. Its size (``hidden_dim``), L2 penalty, trigram blocking and summary length (3 sentences, or whole
   sentences up to a word budget) are chosen by ``FOLDS``-fold cross-validation on the *training*
   documents, by the task's primary metric, never on ``--validation``; the chosen scorer is then trained
   on all training documents.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from ..models import extractive_supervised as es

MAX_SENTENCES = 40
ORACLE_SENTENCES = 3
FOLDS = 5
STEPS = 300
LR = 0.01
GRID = [{"hidden_dim": h, "l2": l2, "trigram_block": b} for h in (0, 64) for l2 in (1e-4, 1e-2) for b in (True, False)]
SUMMARY_SENTENCES = 3
# summary length: 3 sentences (None) or whole sentences up to a word budget (CNN/DailyMail highlights
# average 34 words; three lead sentences 74): chosen with the scorer on the held-out training documents
SUMMARY_WORDS = (None, 30, 35, 40, 45, 50, 55, 60)


def oracle(sentences: list[str], summary: str, max_pick: int = ORACLE_SENTENCES) -> list[int]:
    """Greedy ROUGE-1 + ROUGE-2 oracle: indices of the sentences that best rebuild ``summary``."""
    from ..metrics.summarization import ngram_f1, rouge_tokens

    ref = rouge_tokens(summary)
    toks = [rouge_tokens(s) for s in sentences]
    picked: list[int] = []
    best = 0.0
    for _ in range(max_pick):
        current = [t for i in picked for t in toks[i]]
        gain, arg = best, None
        for i, t in enumerate(toks):
            if i in picked or not t:
                continue
            cand = current + t
            score = ngram_f1(ref, cand, 1) + ngram_f1(ref, cand, 2)
            if score > gain:
                gain, arg = score, i
        if arg is None:
            break
        picked.append(arg)
        best = gain
    return sorted(picked)


def _fit(x: np.ndarray, y: np.ndarray, hidden_dim: int, l2: float, seed: int):
    import torch

    torch.manual_seed(seed)
    net = es.build_scorer(x.shape[1], hidden_dim, dropout=0.1 if hidden_dim else 0.0)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    pos = float(max(y.sum(), 1.0))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(y) - pos) / pos))
    opt = torch.optim.Adam(net.parameters(), lr=LR, weight_decay=l2)
    net.train()
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(net(xt).squeeze(-1), yt)
        loss.backward()
        opt.step()
    net.eval()
    return net, float(loss.item())


def _summaries(net, docs: list[dict], trigram_block: bool, summary_words: int | None = None) -> list[str]:
    import torch

    out = []
    with torch.inference_mode():
        for d in docs:
            scores = net(torch.from_numpy(d["x"])).squeeze(-1).numpy()
            pick = es.select(scores, d["sents"], SUMMARY_SENTENCES, trigram_block, max_words=summary_words)
            out.append("\n".join(d["sents"][i] for i in pick))
    return out


def build(spec, s, train: list[dict], validation: list[dict] | None, out: Path) -> dict:
    from safetensors.torch import save_file

    from ..backend.embedded import minilm_path
    from ..backend.encoder import SentenceEncoder, encoder_weights_hash
    from ..text import split_sentences
    from . import preprocess

    src, tgt = spec.source_field, spec.target_field
    preprocess.require_fields(train, (src, tgt), "--train")
    if validation is not None:
        preprocess.require_fields(validation, (src, tgt), "--validation")
    encoder = SentenceEncoder.load(device="cuda" if _cuda(s) else "cpu")

    def prepare(records):
        sents = [(split_sentences(str(r[src])) or [str(r[src]).strip()])[:MAX_SENTENCES] for r in records]
        flat = [x for ss in sents for x in ss]
        emb = encoder.encode(flat, batch_size=s.eval_batch_size or 64, desc="embed sentences").numpy()
        docs, start = [], 0
        for r, ss in zip(records, sents):
            x = es.features(ss, emb[start:start + len(ss)])
            start += len(ss)
            y = np.zeros(len(ss), dtype=np.float32)
            y[oracle(ss, str(r[tgt]))] = 1.0
            docs.append({"sents": ss, "x": x, "y": y, "ref": str(r[tgt])})
        return docs

    docs = prepare(train)
    folds = FOLDS if len(docs) >= 10 * FOLDS else 0
    trials, chosen = [], {"hidden_dim": 0, "l2": 1e-4, "trigram_block": True, "summary_words": None}
    if folds:
        # k-fold cross-validation on the training documents (contiguous folds): every document is scored
        # once by a scorer that did not see it; validation data is never used to choose
        bounds = [round(i * len(docs) / folds) for i in range(folds + 1)]
        parts = [docs[bounds[i]:bounds[i + 1]] for i in range(folds)]
        refs = [d["ref"] for d in docs]
        lead = spec.score(["\n".join(d["sents"][:SUMMARY_SENTENCES]) for d in docs], refs)
        for cfg in GRID:
            outs: dict = {w: [] for w in SUMMARY_WORDS}
            for i, part in enumerate(parts):
                rest = [d for j, p in enumerate(parts) if j != i for d in p]
                net, _ = _fit(np.concatenate([d["x"] for d in rest]), np.concatenate([d["y"] for d in rest]),
                              cfg["hidden_dim"], cfg["l2"], s.seed)
                for words in SUMMARY_WORDS:
                    outs[words] += _summaries(net, part, cfg["trigram_block"], words)
            for words in SUMMARY_WORDS:
                scores = spec.score(outs[words], refs)
                trials.append({**cfg, "summary_words": words, **{k: round(v, 3) for k, v in scores.items()}})
        best = (max if spec.greater_is_better else min)(trials, key=lambda t: t[spec.metric_key])
        chosen = {k: best[k] for k in ("hidden_dim", "l2", "trigram_block", "summary_words")}
        print(f"nlptasks: extractive scorer chosen by {folds}-fold cross-validation on the {len(docs)} training "
              f"documents: {chosen} ({spec.metric_key} {best[spec.metric_key]:.2f}; lead-3 "
              f"{lead[spec.metric_key]:.2f})", file=sys.stderr, flush=True)
        trials.append({"lead-3": True, **{k: round(v, 3) for k, v in lead.items()}})
    x = np.concatenate([d["x"] for d in docs])
    y = np.concatenate([d["y"] for d in docs])
    net, loss = _fit(x, y, chosen["hidden_dim"], chosen["l2"], s.seed)
    save_file({k: v.detach().contiguous() for k, v in net.state_dict().items()}, str(out / es.WEIGHTS))
    meta = {"format": es.FORMAT, "name": Path(s.output).name, "task": "summarize", "kind": "extractive-supervised",
            "encoder": {"name": "all-MiniLM-L6-v2", "weights_sha256": encoder_weights_hash(minilm_path())},
            "architecture": {"input_dim": int(x.shape[1]), "hidden_dim": chosen["hidden_dim"]},
            "settings": {"trigram_block": chosen["trigram_block"], "max_sentences": MAX_SENTENCES,
                         "summary_words": chosen["summary_words"]},
            "training": {"documents": len(docs), "sentences": int(len(y)), "oracle_positive": int(y.sum()),
                         "l2": chosen["l2"], "steps": STEPS, "lr": LR, "final_loss": loss}}
    (out / es.META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

    metrics = {}
    if validation is not None:  # reported, not used to choose anything
        vdocs = prepare(validation)
        metrics = spec.score(_summaries(net, vdocs, chosen["trigram_block"], chosen["summary_words"]),
                             [d["ref"] for d in vdocs])
    return {"metrics": metrics,
            "preprocessing": {"max_sentences": MAX_SENTENCES, "oracle_sentences": ORACLE_SENTENCES,
                              "cross_validation_folds": folds, "settings": chosen, "trials": trials},
            "parameters": encoder.num_parameters() + sum(p.numel() for p in net.parameters())}


def _cuda(s) -> bool:
    import torch

    return torch.cuda.is_available() and s.device != "cpu"
