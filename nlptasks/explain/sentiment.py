"""Explanations for text classification (the sentiment task): a score per word toward the predicted label.
The default method is ``occlusion`` (see ``METHODS``).

- ``ig``: integrated gradients (:mod:`.ig`) of the label's log-odds ``log p / (1 - p)`` on a transformers classifier
  (packaged LoRA model, any hub/local ``AutoModelForSequenceClassification``). A text longer than the
  model's window is explained in the same overlapping windows the task predicted with; the prediction
  averages the windows' logits, so a token's score is the mean of its scores over the windows
  (a token outside a window scores 0 there).
- ``occlusion``: leave one word out, model-agnostic (any model kind, baselines included):
  ``score(w) = p(label | text) - p(label | text without w)``.

Positive scores support the predicted label, negative ones speak against it.
"""
from __future__ import annotations

from .faithfulness import remove_words
from .ig import (DEFAULT_STEPS, DELTA_ABS, DELTA_REL, IG_TOKENS, REFINE_STEPS, baseline_ids, check_differentiable,
                 integrate, pad_batch)
from .words import group_subwords, normalise_token_offsets, word_spans, words_to_tokens

# the first is --explain's default: occlusion, as faithful as integrated gradients on sst2_local (ERASER
# comprehensiveness and sufficiency, benchmarks/explain_faithfulness.py) at about half its cost
# (benchmarks/explain_speed.py: IG needs 16-32 forward and backward passes per sentence, occlusion one
# forward pass per word); integrated gradients stays one flag away (--explain-method ig)
METHODS = ("occlusion", "ig")


def log_odds(logits):
    """``log p_c - log(1 - p_c)`` for every class ``c`` of softmax(``logits``) (what IG attributes: it does
    not saturate as ``log p`` does for confident predictions)."""
    import torch

    out = torch.empty_like(logits)
    for c in range(logits.shape[-1]):
        others = torch.cat([logits[..., :c], logits[..., c + 1:]], dim=-1)
        out[..., c] = logits[..., c] - torch.logsumexp(others, dim=-1)
    return out


def explain(task, records: list[dict], outputs: list[dict], method: str) -> list[dict]:
    texts = [r["text"] for r in records]
    targets = [task.labels.index(o["label"]) for o in outputs]
    if method == "occlusion":
        scores = occlusion_scores(task, texts, targets)
        return [{"method": method, "target": o["label"], "tokens": words_to_tokens(text, word_spans(text), sc)}
                for text, o, sc in zip(texts, outputs, scores)]
    scores, deltas, steps = ig_attributions(task, texts, targets)
    return [{"method": method, "target": o["label"], "tokens": words_to_tokens(text, word_spans(text), sc),
             "steps": k, "delta": d}
            for text, o, sc, d, k in zip(texts, outputs, scores, deltas, steps)]


def occlusion_scores(task, texts: list[str], targets: list[int]) -> list[list[float]]:
    """Leave-one-word-out: the drop in the target's probability when each word is removed."""
    variants, owners = [], []
    for i, text in enumerate(texts):
        spans = word_spans(text)
        for w in range(len(spans)):
            variants.append(remove_words(text, spans, [w]))
            owners.append(i)
    full = task._probabilities(texts)
    probs = task._probabilities(variants) if variants else None
    out: list[list[float]] = [[] for _ in texts]
    for row, owner in enumerate(owners):
        t = targets[owner]
        out[owner].append(float(full[owner, t]) - float(probs[row, t]))
    return out


def ig_scores(task, texts: list[str], targets: list[int], n_steps: int = DEFAULT_STEPS) -> list[list[float]]:
    """Integrated-gradients word scores of the target's log-odds (summed sub-words, mean over windows)."""
    return ig_attributions(task, texts, targets, n_steps)[0]


def tolerance(difference: float) -> float:
    """The completeness error accepted for a window whose target log-odds differ by ``difference`` between
    the text and the baseline: :data:`~.ig.DELTA_ABS` + :data:`~.ig.DELTA_REL` ``* |difference|``."""
    return DELTA_ABS + DELTA_REL * abs(difference)


def ig_attributions(task, texts: list[str], targets: list[int], n_steps: int = DEFAULT_STEPS,
                    refine_steps: int | None = REFINE_STEPS) -> tuple[list[list[float]], list[float], list[int]]:
    """``(word scores, deltas, steps)``: integrated gradients of each text's target log-odds, its completeness
    error ``delta = sum(scores) - (f(text) - f(baseline))`` (the mean over a long text's windows, as the scores
    are) and the Gauss-Legendre points used.

    Windows of all texts are integrated together: sorted by length and grouped so that a group's
    interpolation points (``n_steps`` per window) fill one forward/backward pass of at most
    :data:`~.ig.IG_TOKENS` padded tokens. A window whose ``|delta|`` is above :func:`tolerance` is integrated
    again with ``refine_steps`` points (``None``: never)."""
    import torch

    from ..backend.batching import plan_batches
    from ..backend.inference import model_max_input
    from ..errors import NlpTasksError

    if getattr(task, "_kind", None) != "hf":
        raise NlpTasksError(f"--explain-method ig needs a transformers classifier; model {task.model_name!r} "
                            f"is not one (use --explain-method occlusion)")
    lm = task._lm
    check_differentiable(lm)
    tok, model = lm.tokenizer, lm.model
    limit = min(task.settings["max_length"] or 10**9, model_max_input(lm))
    stride = min(task.settings["stride"], limit // 2)
    enc = tok(texts, truncation=True, max_length=limit, stride=stride, return_overflowing_tokens=True,
              return_offsets_mapping=True)
    owners = enc.get("overflow_to_sample_mapping", list(range(len(texts))))
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    rows = []
    for w, owner in enumerate(owners):
        row = {k: enc[k][w] for k in keys}
        row["baseline_ids"] = baseline_ids(tok, row["input_ids"])
        rows.append((owner, row, normalise_token_offsets(enc["offset_mapping"][w])))
    n_windows = [0] * len(texts)
    for owner, _, _ in rows:
        n_windows[owner] += 1
    spans = [word_spans(t) for t in texts]
    scores = [[0.0] * len(s) for s in spans]
    deltas = [0.0] * len(texts)
    steps = [0] * len(texts)

    def forward(input_ids, attention_mask, token_type_ids=None):
        kw = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kw["token_type_ids"] = token_type_ids
        return log_odds(model(**kw).logits.float())

    pad = tok.pad_token_id if tok.pad_token_id is not None else 0

    def run(which: list[int], points: int) -> dict[int, tuple]:
        found = {}
        lengths = [len(rows[i][1]["input_ids"]) for i in which]
        for idx in plan_batches(lengths, batch_size=None, max_tokens=max(1, IG_TOKENS // points)):
            group = [which[i] for i in idx]
            batch = pad_batch([rows[i][1] for i in group], pad, keys + ["baseline_ids"])
            extra = (batch["attention_mask"],) + ((batch["token_type_ids"],) if "token_type_ids" in batch else ())
            target = torch.tensor([targets[rows[i][0]] for i in group])
            attr, delta = integrate(model, forward, batch["input_ids"], batch["baseline_ids"], extra, target, points)
            for i, a, d in zip(group, attr, delta):
                found[i] = (a[:len(rows[i][2])].tolist(), float(d), points)
        return found

    found = run(list(range(len(rows))), n_steps)
    if refine_steps and refine_steps > n_steps:  # windows whose quadrature error is above tolerance, again
        rough = [i for i, (a, d, _) in found.items() if abs(d) > tolerance(sum(a) - d)]
        found.update(run(rough, refine_steps))
    for i, (owner, _, offs) in enumerate(rows):
        attr, d, used = found[i]
        for j, s in enumerate(group_subwords(spans[owner], offs, attr)):
            scores[owner][j] += s / n_windows[owner]
        deltas[owner] += d / n_windows[owner]
        steps[owner] = max(steps[owner], used)
    return scores, deltas, steps
