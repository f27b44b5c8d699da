"""Building a retrieval dialogue model (``nlptasks finetune chat --model minilm [--retrieval]``).

No gradient steps: the "training" encodes the contexts of the training pairs with the packaged MiniLM
encoder and stores them (int8) with the responses (:mod:`nlptasks.models.chat_retrieval`). The scoring
settings (turn weights, ``top_k``, similarity/consensus mix) are chosen on a held-out piece of the
*training* data, never on ``--validation``: the last ``HELD_OUT`` of the training dialogues (rows that
continue one another form a dialogue; file order kept), one example per held-out dialogue at a seeded
random position, answered from the pairs of the other dialogues. The setting with the best unigram F1
among those whose distinct-2 is at least ``MIN_DISTINCT_2`` wins (all of them if none reaches it).
The final index holds every distinct training pair (at most ``MAX_CANDIDATES``).
"""
from __future__ import annotations

import gzip
import json
import logging
import random
import sys
from pathlib import Path

import numpy as np

from ..models import chat_retrieval as cr

log = logging.getLogger("nlptasks")

HELD_OUT = 0.1
MAX_CANDIDATES = 20000
MIN_DISTINCT_2 = 20.0
TURN_WEIGHTS = ([1.0], [1.0, 0.5], [1.0, 0.5, 0.25])
TOP_K = (1, 10, 20, 40, 80)
SIMILARITY_WEIGHT = (1.0, 0.5, 0.3, 0.0)


def dialogues(records: list[dict], history_field: str, response_field: str) -> list[list[int]]:
    """Indices of ``records`` grouped into dialogues: a row whose history is the previous row's history
    plus its response continues that dialogue."""
    groups: list[list[int]] = []
    for i, r in enumerate(records):
        if i:
            p = records[i - 1]
            h = r[history_field]
            if h[:-1] == p[history_field] and h[-1] == p[response_field]:
                groups[-1].append(i)
                continue
        groups.append([i])
    return groups


class _Embedder:
    """Embeds each distinct turn once."""

    def __init__(self, encoder, batch_size: int):
        self.encoder, self.batch_size, self.vectors = encoder, batch_size, {}

    def add(self, texts) -> None:
        new = sorted({t for t in texts if t not in self.vectors})
        if new:
            emb = self.encoder.encode(new, batch_size=self.batch_size, desc="embed turns").numpy()
            self.vectors.update(zip(new, emb))

    def contexts(self, histories: list[list[str]], weights) -> np.ndarray:
        n = len(weights)
        return cr.context_vectors([np.stack([self.vectors[t] for t in h[-n:]]) for h in histories], weights)


def _last_turns(history: list[str], n: int) -> list[str]:
    return [t for t in history if t.strip()][-n:] or [history[-1]]


def build(spec, s, train: list[dict], validation: list[dict] | None, out: Path) -> dict:
    """Choose the settings on held-out training dialogues, write the index into ``out``; returns the
    result's ``metrics``/``preprocessing``/``train`` parts."""
    from ..backend.embedded import minilm_path
    from ..backend.encoder import SentenceEncoder, encoder_weights_hash
    from . import preprocess

    hf, rf = spec.history_field, spec.response_field
    preprocess.check_chat(train, "--train", hf, rf)
    if validation is not None:
        preprocess.check_chat(validation, "--validation", hf, rf)
    pairs = [{hf: _last_turns(preprocess.turns(r, hf), 3), rf: str(r[rf]).strip()} for r in train]
    encoder = SentenceEncoder.load(device="cuda" if _cuda(s) else "cpu")
    emb = _Embedder(encoder, s.eval_batch_size or 128)
    emb.add(t for p in pairs for t in p[hf])

    # 1. settings, on held-out training dialogues
    groups = dialogues([{hf: preprocess.turns(r, hf), rf: str(r[rf])} for r in train], hf, rf)
    rng = random.Random(s.seed)
    n_held = max(1, int(len(groups) * HELD_OUT)) if len(groups) > 1 else 0
    chosen = dict(cr.DEFAULTS)
    trials = []
    if n_held:
        held = [rng.choice(g) for g in groups[len(groups) - n_held:]]
        pool = [i for g in groups[:len(groups) - n_held] for i in g]
        refs = [pairs[i][rf] for i in held]
        responses = [pairs[i][rf] for i in pool]
        for weights in TURN_WEIGHTS:
            ctx = emb.contexts([pairs[i][hf] for i in pool], weights)
            queries = emb.contexts([pairs[i][hf] for i in held], weights)
            for k in TOP_K:
                for sw in SIMILARITY_WEIGHT:
                    if (k == 1) != (sw == 1.0):
                        continue  # top-1 is pure similarity; pure similarity needs no pool
                    picks = cr.retrieve(queries, ctx, responses, top_k=k, similarity_weight=sw)
                    scores = _scores(spec, [responses[i] for i, _ in picks], refs)
                    trials.append({"turn_weights": list(weights), "top_k": k, "similarity_weight": sw,
                                   **{m: round(v, 3) for m, v in scores.items()}})
        ok = [t for t in trials if t.get("distinct_2", 0.0) >= MIN_DISTINCT_2] or trials
        best = (max if spec.greater_is_better else min)(ok, key=lambda t: t[spec.metric_key])
        chosen = {k: best[k] for k in ("turn_weights", "top_k", "similarity_weight")}
        print(f"nlptasks: retrieval settings chosen on {n_held} held-out training dialogues: {chosen} "
              f"({spec.metric_key} {best[spec.metric_key]:.2f})", file=sys.stderr, flush=True)

    # 2. the index: every distinct pair, capped
    seen, keep = set(), []
    for p in pairs:
        key = (tuple(p[hf]), p[rf])
        if p[rf] and key not in seen:
            seen.add(key)
            keep.append(p)
    cap = MAX_CANDIDATES
    if len(keep) > cap:
        keep = [keep[i] for i in sorted(random.Random(s.seed).sample(range(len(keep)), cap))]
    contexts = emb.contexts([p[hf] for p in keep], chosen["turn_weights"])
    q, scales = cr.quantize_rows(contexts)
    responses = [p[rf] for p in keep]
    _write(out, q, scales, responses, chosen, encoder_weights_hash(minilm_path()), s, len(train))

    # 3. validation (reported, not used to choose anything)
    metrics = {}
    if validation is not None:
        deq = q.astype(np.float32) * scales.astype(np.float32)[:, None]
        hist = [_last_turns(preprocess.turns(r, hf), len(chosen["turn_weights"])) for r in validation]
        emb.add(t for h in hist for t in h)
        picks = cr.retrieve(emb.contexts(hist, chosen["turn_weights"]), deq, responses,
                            top_k=chosen["top_k"], similarity_weight=chosen["similarity_weight"])
        metrics = _scores(spec, [responses[i] for i, _ in picks], [str(r[rf]) for r in validation])
    size = sum(f.stat().st_size for f in out.iterdir() if f.is_file())
    return {"metrics": metrics,
            "preprocessing": {"candidates": len(responses), "dim": int(q.shape[1]), "index_bytes": size,
                              "held_out_dialogues": n_held, "settings": chosen, "trials": trials,
                              "distinct_turns_embedded": len(emb.vectors)},
            "parameters": encoder.num_parameters()}


def _scores(spec, predictions: list[str], references: list[str]) -> dict[str, float]:
    """The task's metric plus distinct-1/2 (a retrieval model must not answer everything alike)."""
    from ..metrics.dialogue import distinct

    return {**spec.score(predictions, references),
            **{k: float(v.score) for k, v in distinct(predictions).items()}}


def _cuda(s) -> bool:
    import torch

    return torch.cuda.is_available() and s.device != "cpu"


def _write(out: Path, q, scales, responses, chosen, weights_hash, s, rows: int) -> None:
    from safetensors.numpy import save_file

    save_file({"contexts": np.ascontiguousarray(q), "scales": np.ascontiguousarray(scales)}, str(out / cr.INDEX))
    with gzip.GzipFile(out / cr.RESPONSES, "wb", mtime=0) as f:  # mtime 0: the same bytes on every build
        f.write(json.dumps(responses, ensure_ascii=False).encode("utf-8"))
    meta = {"format": cr.FORMAT, "name": Path(s.output).name, "task": "chat", "kind": "retrieval",
            "encoder": {"name": "all-MiniLM-L6-v2", "weights_sha256": weights_hash},
            "settings": chosen, "candidates": len(responses), "training_rows": rows,
            "perplexity": "none: a retrieval model does not assign probabilities to responses"}
    (out / cr.META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
