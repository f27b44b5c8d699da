"""The packaged MiniLM's tokenizer without ``transformers``: its ``tokenizer.json`` driven through the
``tokenizers`` library exactly as transformers' fast tokenizer drives it.

Importing ``transformers`` (for ``AutoTokenizer``) costs more than the rest of a one-line ``nlptasks run
sentiment`` bar torch itself. transformers' fast tokenizer is a thin layer over a ``tokenizers.Tokenizer``
loaded from the same ``tokenizer.json``: before each call it sets the backend's truncation (``max_length``,
``stride``, ``longest_first``, right side) and padding, calls ``encode_batch``, then flattens each
encoding's overflowing windows into rows with ``overflow_to_sample_mapping``. :class:`LightTokenizer` does
the same with the same backend, so its ids, masks and windows are transformers' (``tests/test_startup.py``
compares them, and that the backend transformers builds is the file's). ``pad`` pads token-id lists as
transformers' ``pad`` does. :func:`load` serves only folders whose tokenizer transformers builds as the
file's own (a BERT WordPiece file whose normalizer agrees with ``tokenizer_config.json``, no extra special
tokens); it returns ``None`` for any other, which then loads through transformers.

Only the calls nlptasks' packaged-encoder paths make are served here (texts, not pairs; truncation on;
no padding or padding to the longest); any other call, argument or attribute (``decode``,
``convert_ids_to_tokens``, text pairs, ...) goes to transformers' own tokenizer, loaded on first need, so
nothing behaves differently.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

VERY_LARGE_INTEGER = int(1e30)  # transformers' model_max_length when the tokenizer config gives none
LARGE_INTEGER = int(1e20)
_SPECIAL = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# what __call__ serves itself (anything else is transformers' call)
_CALL_KEYS = {"add_special_tokens", "truncation", "max_length", "stride", "padding", "return_tensors",
              "return_overflowing_tokens", "return_offsets_mapping", "return_attention_mask",
              "return_token_type_ids", "return_special_tokens_mask", "return_length", "verbose"}
_PADDED_KEYS = ("input_ids", "attention_mask", "token_type_ids", "special_tokens_mask")


def _token(value):
    """A special token as written in tokenizer_config.json: a string or an AddedToken dict."""
    if isinstance(value, dict):
        return value.get("content")
    return value


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _config_supported(folder: Path) -> dict | None:
    """``tokenizer_config.json`` of a folder whose tokenizer transformers builds as the file's own: a
    ``BertTokenizer`` with no extra special tokens, special tokens not split; ``None`` otherwise."""
    if not (folder / "tokenizer.json").is_file():
        return None
    cfg = _read(folder / "tokenizer_config.json")
    if cfg.get("tokenizer_class") not in ("BertTokenizer", "BertTokenizerFast") or cfg.get("split_special_tokens"):
        return None
    if cfg.get("additional_special_tokens") or cfg.get("extra_special_tokens") or cfg.get("auto_map"):
        return None
    if (folder / "added_tokens.json").is_file() or (folder / "chat_template.jinja").is_file():
        return None
    return cfg


def load(folder) -> "LightTokenizer | None":
    """A :class:`LightTokenizer` of ``folder``, or ``None`` where transformers would not simply drive the
    folder's ``tokenizer.json``: not a ``BertTokenizer`` config (:func:`_config_supported`), not a WordPiece
    model with a BERT normalizer, or a config whose ``do_lower_case``/``strip_accents``/
    ``tokenize_chinese_chars`` disagree with that normalizer (transformers would rebuild it)."""
    from tokenizers import models, normalizers

    folder = Path(folder)
    cfg = _config_supported(folder)
    if cfg is None:
        return None
    try:
        tok = LightTokenizer(folder, cfg)
    except Exception:  # an unreadable file: transformers' loader reports it
        return None
    norm, model = tok.backend_tokenizer.normalizer, tok.backend_tokenizer.model
    if not (isinstance(model, models.WordPiece) and isinstance(norm, normalizers.BertNormalizer)
            and norm.lowercase == bool(cfg.get("do_lower_case", True)) and norm.strip_accents == cfg.get("strip_accents")
            and norm.handle_chinese_chars == bool(cfg.get("tokenize_chinese_chars", True))):
        return None
    return tok


def supports(folder) -> bool:
    """Whether :func:`load` serves ``folder``."""
    return load(folder) is not None


class Encoded(dict):
    """A tokenizer call's result: ``enc["input_ids"]`` or ``enc.input_ids``, like ``BatchEncoding``; the
    backend encodings behind its rows are ``enc.encodings``."""

    def __init__(self, data: dict, encodings=None):
        super().__init__(data)
        self.encodings = encodings

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def word_ids(self, batch_index: int = 0):
        return self.encodings[batch_index].word_ids

    def sequence_ids(self, batch_index: int = 0):
        return self.encodings[batch_index].sequence_ids

    def tokens(self, batch_index: int = 0):
        return self.encodings[batch_index].tokens

    def to(self, device):
        import torch

        return Encoded({k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in self.items()},
                       self.encodings)


def _tensors(data: dict, return_tensors):
    if return_tensors is None:
        return data
    import torch

    return {k: torch.tensor(v) for k, v in data.items()}


class LightTokenizer:
    """transformers' fast tokenizer for a :func:`supports` folder, served by ``tokenizers`` alone for the
    calls that nlptasks' packaged-encoder paths make; everything else is delegated (see the module)."""

    padding_side = "right"
    truncation_side = "right"
    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    pad_token_type_id = 0
    is_fast = True

    def __init__(self, folder, config: dict | None = None):
        """Use :func:`load`, which checks that the folder is one this class serves."""
        from tokenizers import Tokenizer

        folder = Path(folder)
        self.name_or_path = str(folder)
        self.backend_tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        cfg = _read(folder / "tokenizer_config.json") if config is None else config
        specials = {**_read(folder / "special_tokens_map.json"), **{k: cfg[k] for k in _SPECIAL if k in cfg}}
        for name in _SPECIAL:
            setattr(self, name, _token(specials.get(name)))
        max_len = cfg.get("model_max_length")
        self.model_max_length = max_len if isinstance(max_len, int) and max_len > 0 else VERY_LARGE_INTEGER
        for name in _SPECIAL:  # unk_token_id, ..., pad_token_id
            token = getattr(self, name)
            setattr(self, f"{name}_id", self.backend_tokenizer.token_to_id(token) if token else None)
        self._lock = threading.Lock()  # the backend's truncation/padding are set per call
        self._full = None

    # -- transformers' own tokenizer for everything else ---------------------------------------------------
    def transformers_tokenizer(self):
        """transformers' tokenizer for the same folder (imported and loaded on first use)."""
        if self.__dict__.get("_full") is None:
            from .hf import load_tokenizer

            self._full = load_tokenizer(self.name_or_path)
        return self._full

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_full", "_lock", "backend_tokenizer", "name_or_path"):
            raise AttributeError(name)
        return getattr(self.transformers_tokenizer(), name)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_lock", None)
        state["_full"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.backend_tokenizer.get_vocab_size(with_added_tokens=True)

    def __repr__(self) -> str:
        return f"LightTokenizer({self.name_or_path!r})"

    # -- tokenizing --------------------------------------------------------------------------------------
    def __call__(self, text=None, text_pair=None, **kwargs):
        plan = self._plan(text, text_pair, kwargs)
        if plan is None:
            return self.transformers_tokenizer()(text, text_pair, **kwargs)
        return self._encode(text, kwargs, *plan)

    def _plan(self, text, text_pair, kw):
        """``(max_length, pad)`` when this call is served here, else ``None`` (transformers serves it). The
        rules are transformers' ``_get_padding_truncation_strategies`` for the cases kept."""
        if text_pair is not None or not set(kw) <= _CALL_KEYS:
            return None
        if not (isinstance(text, str) or (isinstance(text, (list, tuple)) and text
                                          and all(isinstance(t, str) for t in text))):
            return None
        if kw.get("truncation") not in (True, "longest_first") or kw.get("return_tensors") not in (None, "pt"):
            return None
        if kw.get("return_attention_mask") is False or kw.get("return_token_type_ids") is False:
            return None
        padding = kw.get("padding", False)
        if padding not in (False, None, "do_not_pad", True, "longest"):
            return None
        max_length = kw.get("max_length")
        if max_length is None:
            if self.model_max_length > LARGE_INTEGER:
                return None
            max_length = self.model_max_length
        if not isinstance(max_length, int) or isinstance(max_length, bool):
            return None
        pad = padding in (True, "longest")
        if pad and self.pad_token_id is None:
            return None
        return max_length, pad

    def _encode(self, text, kw, max_length: int, pad: bool):
        batched = isinstance(text, (list, tuple))
        texts = list(text) if batched else [text]
        backend = self.backend_tokenizer
        with self._lock:
            backend.enable_truncation(max_length=max_length, stride=kw.get("stride", 0) or 0,
                                      strategy="longest_first", direction=self.truncation_side)
            if pad:
                backend.enable_padding(direction=self.padding_side, pad_id=self.pad_token_id,
                                       pad_type_id=self.pad_token_type_id, pad_token=self.pad_token,
                                       length=None, pad_to_multiple_of=None)
            else:
                backend.no_padding()
            if backend.encode_special_tokens:
                backend.encode_special_tokens = False
            encodings = backend.encode_batch(texts, add_special_tokens=kw.get("add_special_tokens", True))
        overflow = bool(kw.get("return_overflowing_tokens"))
        rows, owners = [], []
        for i, e in enumerate(encodings):
            for w in ([e, *e.overflowing] if overflow and e.overflowing is not None else [e]):
                rows.append(w)
                owners.append(i)
        data = {"input_ids": [w.ids for w in rows], "token_type_ids": [w.type_ids for w in rows],
                "attention_mask": [w.attention_mask for w in rows]}
        if kw.get("return_special_tokens_mask"):
            data["special_tokens_mask"] = [w.special_tokens_mask for w in rows]
        if kw.get("return_offsets_mapping"):
            data["offset_mapping"] = [w.offsets for w in rows]
        if kw.get("return_length"):
            data["length"] = [len(w.ids) for w in rows]
        if overflow:
            data["overflow_to_sample_mapping"] = owners
        return_tensors = kw.get("return_tensors")
        if not batched and return_tensors is None and not overflow:  # one text: no batch dimension
            data = {k: v[0] if v and isinstance(v[0], list) else v for k, v in data.items()}
        return Encoded(_tensors(data, return_tensors), rows)

    def pad(self, encoded_inputs, padding=True, max_length=None, pad_to_multiple_of=None, padding_side=None,
            return_attention_mask=None, return_tensors=None, verbose=True):
        """transformers' ``pad`` for a list of token-id dicts padded to the longest (optionally to a
        multiple); other inputs are transformers' call."""
        simple = (isinstance(encoded_inputs, (list, tuple)) and encoded_inputs and padding in (True, "longest")
                  and self.pad_token_id is not None
                  and max_length is None and return_attention_mask is None and return_tensors in (None, "pt")
                  and (padding_side or self.padding_side) in ("right", "left")
                  and all(isinstance(e, dict) and "input_ids" in e and set(e) <= set(_PADDED_KEYS)
                          and all(isinstance(v, list) for v in e.values()) for e in encoded_inputs)
                  and len({tuple(e) for e in encoded_inputs}) == 1)
        if not simple:
            return self.transformers_tokenizer().pad(
                encoded_inputs, padding=padding, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of,
                padding_side=padding_side, return_attention_mask=return_attention_mask,
                return_tensors=return_tensors, verbose=verbose)
        side = padding_side or self.padding_side
        width = max(len(e["input_ids"]) for e in encoded_inputs)
        if pad_to_multiple_of is not None and width % pad_to_multiple_of != 0:
            width = (width // pad_to_multiple_of + 1) * pad_to_multiple_of
        fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "token_type_ids": self.pad_token_type_id,
                "special_tokens_mask": 1}
        out: dict[str, list] = {}
        for e in encoded_inputs:
            row = dict(e)
            if "attention_mask" not in row:
                row["attention_mask"] = [1] * len(row["input_ids"])
            n = width - len(row["input_ids"])
            for k, v in row.items():
                extra = [fill[k]] * n
                out.setdefault(k, []).append(v + extra if side == "right" else extra + v)
        return Encoded(_tensors(out, return_tensors))
