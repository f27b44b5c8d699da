"""Chat models that ship with nlptasks and need no download: the retrieval default and two baselines.

* ``minilm-retrieval`` (default): the packaged retrieval model (:mod:`nlptasks.models.chat_retrieval`),
  built by ``scripts/build_models_chat_sum.sh chat`` with ``nlptasks finetune chat --model minilm``.
* ``repeat-last-turn`` (baseline): answers with the last turn of the conversation, unchanged.
* ``most-frequent-response`` (baseline): always the most frequent response of DailyDialog train.

A folder written by ``nlptasks finetune chat --retrieval`` loads like the packaged one. None of these
models scores references, so they have no perplexity.
"""
from __future__ import annotations

from pathlib import Path

# the most frequent response of the DailyDialog train split (62 of 19,999 rows; shared data README)
MOST_FREQUENT_RESPONSE = "Thank you ."

RETRIEVAL = "minilm-retrieval"
REPEAT = "repeat-last-turn"
MOST_FREQUENT = "most-frequent-response"


class _Baseline:
    name = ""

    def describe(self) -> dict:
        return {"name": self.name, "revision": None, "weights_hash": None, "parameters": 0,
                "variant": {"dtype": "none", "quantize": None}, "baseline": True, "perplexity": None}

    def settings(self) -> dict:
        return {}

    def respond(self, conversations: list[list[str]], batch_size: int | None = None) -> list[dict]:
        return [{"response": self.answer(turns), "dropped_turns": 0} for turns in conversations]


class RepeatLastTurn(_Baseline):
    name = REPEAT

    def answer(self, turns: list[str]) -> str:
        return next(t for t in reversed(turns) if t.strip()).strip()


class MostFrequentResponse(_Baseline):
    name = MOST_FREQUENT

    def answer(self, turns: list[str]) -> str:
        from ..detokenize import detokenize

        return detokenize(MOST_FREQUENT_RESPONSE)  # "Thank you." (DailyDialog's text is tokenised)

    def settings(self) -> dict:
        from ..detokenize import detokenizer

        return {"detokenize": detokenizer()}


def load_offline(model: str, *, device: str = "auto", dtype: str = "auto", quantize: str | None = None):
    """The offline chat model called ``model`` (a packaged name or a retrieval-model folder), or None
    when ``model`` is something else (a hub id or a transformers folder)."""
    name = str(model).lower()
    if name == REPEAT:
        return RepeatLastTurn()
    if name == MOST_FREQUENT:
        return MostFrequentResponse()
    from .chat_retrieval import RetrievalChat, is_retrieval_model

    if name == RETRIEVAL or is_retrieval_model(model):
        from ..backend.device import resolve_device

        path = None if name == RETRIEVAL else Path(model)
        return RetrievalChat.load(path, device=str(resolve_device(device)),
                                  dtype=None if dtype == "auto" else dtype, quantize=quantize,
                                  name=RETRIEVAL if path is None else None)
    return None
