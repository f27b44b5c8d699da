"""``--class-weights balanced`` for classification fine-tuning: per-class weights of the cross-entropy loss.

``balanced`` is scikit-learn's rule: class ``c`` gets ``n / (k * n_c)``, where ``n`` is the number of training
examples, ``k`` the number of classes of the head and ``n_c`` the training examples labelled ``c``, so every
class contributes the same total weight. The weights are recorded in the run (``preprocessing.class_weights``
of ``training_result.json`` and the model card) and the loss is PyTorch's weighted mean
(``sum w_y * loss / sum w_y`` over the batch), the one ``torch.nn.CrossEntropyLoss(weight=...)`` computes.
"""
from __future__ import annotations

from collections import Counter

from ..errors import InputError


def balanced(labels: list[int], names: list[str]) -> dict[str, float]:
    """``{class name: n / (k * n_c)}`` for the training label ids ``labels`` of a head with classes ``names``;
    a class without a training example cannot be balanced (its weight would be infinite): one clear error."""
    counts, n, k = Counter(int(y) for y in labels), len(labels), len(names)
    missing = [names[i] for i in range(k) if counts.get(i, 0) == 0]
    if missing:
        raise InputError(f"--class-weights balanced: no training example of class {', '.join(missing)} "
                         f"(every class of the head needs at least one)")
    return {names[i]: n / (k * counts[i]) for i in range(k)}


def loss_function(weights: list[float], label_smoothing: float = 0.0):
    """A ``Trainer(compute_loss_func=...)``: weighted cross-entropy of the logits against the labels."""
    import torch
    import torch.nn.functional as F

    w = torch.tensor(weights, dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), labels.view(-1),
                               weight=w.to(logits.device), label_smoothing=label_smoothing)

    return loss
