"""Explanations for the retrieval chat model: the retrieved neighbours and their similarities.

For each conversation, the ``top_k`` training contexts most similar to it (cosine of the turn-weighted
context vectors, ``chat_retrieval``), each with the response that followed it, its ``similarity``, its
``consensus`` (mean unigram F1 with the other candidates' responses) and the ``combined`` score
``similarity_weight * similarity + (1 - similarity_weight) * consensus`` the model chose by; ``chosen``
marks the answer. Generative chat models and the baselines have no retrieval to show.
"""
from __future__ import annotations

from collections import Counter

from ..errors import NlpTasksError

METHODS = ("neighbours",)


def explain(task, records: list[dict], outputs: list[dict], method: str) -> list[dict]:
    import numpy as np  # here, not at the top: the CLI parser imports this module for METHODS

    from ..models.chat_retrieval import RetrievalChat, _f1, _tokens, choose, context_vectors

    from ..detokenize import detokenize as shown  # responses as the model answers with them

    model = getattr(task, "_offline", None)
    if not isinstance(model, RetrievalChat):
        raise NlpTasksError(f"--explain for chat explains the retrieval model (minilm-retrieval or a folder "
                            f"from `finetune chat --retrieval`); {task.model_name!r} is not one")
    n = len(model.turn_weights)
    convs = [[t for t in task.turns(r) if t.strip()][-n:] for r in records]
    flat = [t for turns in convs for t in turns]
    emb = model.encoder.encode(flat, batch_size=task.batch_size or 64).numpy()
    per, at = [], 0
    for turns in convs:
        per.append(emb[at:at + len(turns)])
        at += len(turns)
    queries = context_vectors(per, model.turn_weights)
    out = []
    for q, o in zip(queries, outputs):
        sims = model.contexts @ q
        k = min(model.top_k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = [int(t) for t in top[np.argsort(-sims[top], kind="stable")]]
        bags = [Counter(_tokens(model.responses[c])) for c in top]
        sizes = [max(sum(b.values()), 1) for b in bags]
        cons = np.zeros(len(top))
        for i in range(len(top)):
            for j in range(i + 1, len(top)):
                f = _f1(bags[i], sizes[i], bags[j], sizes[j])
                cons[i] += f
                cons[j] += f
        if len(top) > 1:
            cons /= len(top) - 1
        w = model.similarity_weight
        chosen = choose(top, sims[top], model.responses, w)
        out.append({"method": "neighbours", "target": o.get("response", ""), "similarity_weight": w,
                    "turn_weights": model.turn_weights,
                    "neighbours": [{"index": c, "response": shown(model.responses[c]), "similarity": float(sims[c]),
                                    "consensus": float(cons[r]),
                                    "combined": float(w * sims[c] + (1 - w) * cons[r]), "chosen": c == chosen}
                                   for r, c in enumerate(top)]})
    return out
