"""The longest input a model accepts, in tokens: the one rule run, eval and training apply."""
from __future__ import annotations

import json
from pathlib import Path

POSITION_ATTRS = ("max_position_embeddings", "n_positions", "max_source_positions")


def max_input_tokens(tokenizer, config, *, folder: str | Path | None = None, fallback: int = 512) -> int:
    """The smallest of: sentence-transformers' ``max_seq_length`` (``sentence_bert_config.json`` in
    ``folder``), the tokenizer's ``model_max_length`` (ignored when it is transformers' "no limit"
    placeholder) and the config's position-embedding sizes; ``fallback`` when none is known."""
    limits = []
    st = Path(folder) / "sentence_bert_config.json" if folder else None
    if st is not None and st.is_file():
        try:
            limits.append(int(json.loads(st.read_text(encoding="utf-8"))["max_seq_length"]))
        except (KeyError, ValueError, TypeError):
            pass
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    for attr in POSITION_ATTRS:
        v = getattr(config, attr, None)
        if isinstance(v, int) and v > 0:
            limits.append(v)
    return min(limits) if limits else fallback
