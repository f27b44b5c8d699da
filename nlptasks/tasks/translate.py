"""Translation: ``{text}`` (+ optional ``source_lang`` / ``target_lang``) -> ``{translation}``.

Models: any ``AutoModelForSeq2SeqLM``. The family is read from the model config and decides how the
language pair is given to the model:

- Marian (opus-mt): one pair per model, read from the name ``opus-mt-{src}-{tgt}``; multi-target Marian
  models (vocabulary tokens like ``>>fr<<``) get the target token put before each input.
- T5: a text prefix, from ``config.task_specific_params["translation_{src}_to_{tgt}"]`` when present,
  else ``translate English to German: `` built from the language names.
- mBART-50, M2M100, NLLB: ``tokenizer.src_lang`` for the source and the target language token forced as
  the first generated token. Plain ISO codes (``de``) are mapped to each family's codes (``de_DE``,
  ``de``, ``deu_Latn``); native codes are accepted as given (see ``languages``).

Multilingual models and T5 accept a different pair per JSONL record (records are grouped by pair and
each group is batched); a bilingual model asked for another pair is an error, also when its languages
are known only from its model card or config (``languages.model_languages``). A line of several
sentences is split into sentences (``nlptasks.text.split_sentences``), which are translated as one batch
and joined with a space, unless ``--no-sentence-split``; lines longer than the model's input limit are
split at sentence boundaries too (``pieces`` in the output says how many). ``copy-source`` is the baseline that returns the input.

The offline default for English->German is the embedded ``marian-multi30k-en-de`` (a 7.7M-parameter
Marian model trained from scratch on Multi30k image captions by ``scripts/build_translate_model.sh``;
``nlptasks/embedded/marian-multi30k-en-de/``, an ordinary transformers folder). Other pairs default to
the hub's ``Helsinki-NLP/opus-mt-{src}-{tgt}``.
"""
from __future__ import annotations

import copy
import re

from ..errors import InputError, ModelLoadError
from ..optypes import positive_int
from ..backend.embedded import embedded_model_dir
from .base import EmbeddedModel, Option, Task
from .languages import (FAMILY_LABELS, MULTILINGUAL, iso_base, language_name, model_family, model_languages,
                        resolve_code, supported_codes)

OPUS_MT = "Helsinki-NLP/opus-mt-{src}-{tgt}"
EMBEDDED_MT = {"marian-multi30k-en-de": ("en", "de")}  # packaged model folders -> their one language pair
DEFAULT_PAIR = ("en", "de")
_OPUS_NAME = re.compile(r"opus-mt-([A-Za-z]+)-([A-Za-z]+)/?$")
_MARIAN_TARGET = re.compile(r"^>>(\w+)<<$")
_ISO = re.compile(r"^[a-z]{2,3}$")
GEN_PARAMS = ("max_length", "min_length", "num_beams", "length_penalty", "no_repeat_ngram_size", "early_stopping")


def t5_params(config, src: str, tgt: str) -> dict:
    """T5's ``task_specific_params`` for the pair (its ``prefix`` and generation defaults), or {}."""
    tsp = getattr(config, "task_specific_params", None) or {}
    return dict(tsp.get(f"translation_{iso_base(src)}_to_{iso_base(tgt)}", {}))


def marian_targets_of(tokenizer) -> set[str]:
    """The target languages of a multi-target Marian vocabulary (tokens like ``>>fr<<``); empty otherwise."""
    return {m.group(1) for t in tokenizer.get_vocab() if (m := _MARIAN_TARGET.match(t))}


def plan_inputs(family: str, src: str | None, tgt: str | None, *, config, prefix: str | None = None,
                codes: dict | None = None, marian_targets=(), model_name: str = "model") -> dict:
    """How one language pair is given to a model of ``family``, the one rule for serving
    (:class:`TranslateTask`) and training (``nlptasks.training.families.Translation``): the text
    ``prefix`` (T5's, else a multi-target Marian ``>>tgt<<``; ``prefix`` given wins), the tokenizer's
    ``src_code``/``tgt_code`` and the ``forced_bos`` first generated token (mBART-50, M2M100, NLLB)."""
    src_code = tgt_code = forced = None
    if family == "t5" and prefix is None:
        if not (src and tgt):
            raise InputError("T5 needs a language pair: pass --source-lang and --target-lang (or --prefix)")
        prefix = t5_params(config, src, tgt).get("prefix") or \
            f"translate {language_name(src)} to {language_name(tgt)}: "
    elif family in MULTILINGUAL:
        src_code = resolve_code(family, src, codes, what="source language")
        tgt_code = resolve_code(family, tgt, codes, what="target language")
        forced = codes[tgt_code]
    elif marian_targets and prefix is None:
        if not tgt:
            raise InputError(f"model {model_name!r} translates into several languages; pass --target-lang "
                             f"(one of: {', '.join(sorted(marian_targets))})")
        prefix = f">>{resolve_code('marian', tgt, marian_targets, what='target language')}<< "
    return {"prefix": prefix or "", "src_code": src_code, "tgt_code": tgt_code, "forced_bos": forced}


class TranslateTask(Task):
    name = "translate"
    aliases = ("translation", "mt")
    description = "Translate text (opus-mt/Marian, T5, mBART-50, M2M100, NLLB); one line in, one line out."
    input_fields = ("text",)
    text_field = "text"
    text_mode = "lines"
    output_fields = ("translation",)
    model_class = "AutoModelForSeq2SeqLM"
    default_model = "marian-multi30k-en-de"
    recommended_models = ("Helsinki-NLP/opus-mt-en-de", "Helsinki-NLP/opus-mt-de-en", "google-t5/t5-small",
                          "facebook/mbart-large-50-many-to-many-mmt", "facebook/m2m100_418M",
                          "facebook/nllb-200-distilled-600M")
    embedded_models = (
        EmbeddedModel("marian-multi30k-en-de", "English->German Marian Transformer (7.7M parameters, fp16 on "
                                               "disk) trained from scratch on Multi30k image captions by "
                                               "`nlptasks finetune --from-scratch` "
                                               "(nlptasks/embedded/marian-multi30k-en-de)"),
        EmbeddedModel("copy-source", "baseline: the source text unchanged", baseline=True),
    )
    options = (
        Option("--source-lang", help="source language: ISO code (en) or the model's own (en_XX, eng_Latn); "
                                     "default: from the opus-mt model name, else en"),
        Option("--target-lang", help="target language (default: from the opus-mt model name, else de); "
                                     "without --model, en->de picks the embedded marian-multi30k-en-de and "
                                     "other pairs Helsinki-NLP/opus-mt-{src}-{tgt}"),
        Option("--max-new-tokens", type=positive_int, default=None, help="longest translation of a piece, in tokens"),
        Option("--num-beams", type=positive_int, default=None, help="beam size (default: the model's generation config)"),
        Option("--prefix", type=str, default=None,
               help="text put before each input (default: T5's from its config, e.g. 'translate English to German: ')"),
        Option("--engine", type=str, default="transformers", choices=("transformers", "ctranslate2"),
               help="generation engine: transformers (default) or ctranslate2 (pip install "
                    "'nlptasks[ctranslate2]'; the model is converted once and cached by weights hash)"),
        Option("--max-input-tokens", type=positive_int, default=None,
               help="longest piece fed to the model; longer lines are split at sentence boundaries "
                    "(default: the model's input limit)"),
        Option("--no-sentence-split", action="store_true", default=False,
               help="translate each line whole; by default a line of several sentences is split into "
                    "sentences, translated as a batch and joined (a model trained on single sentences "
                    "drops the rest)"),
    )
    metrics = ("bleu", "chrf", "ter")
    primary_metric = "bleu"
    data_columns = {"text": "translation.{src}"}
    reference_column = "translation.{tgt}"
    explainer = "nlptasks.explain.translate"

    training_family = "Translation"

    def __init__(self, model: str | None = None, **kwargs):
        super().__init__(model, **kwargs)
        src, tgt = self.settings["source_lang"], self.settings["target_lang"]
        if model is None and (src or tgt):
            pair = ((src or DEFAULT_PAIR[0]).strip().lower(), (tgt or DEFAULT_PAIR[1]).strip().lower())
            if (iso_base(pair[0]), iso_base(pair[1])) != DEFAULT_PAIR:
                self.model_name = OPUS_MT.format(src=pair[0], tgt=pair[1])
        fixed = EMBEDDED_MT.get(self.model_name.lower())
        for asked, have, what in ((src, fixed and fixed[0], "source"), (tgt, fixed and fixed[1], "target")):
            if fixed and asked and iso_base(asked) != have:
                raise InputError(f"model {self.model_name!r} translates {fixed[0]}->{fixed[1]} only, not "
                                 f"{what} language {asked!r}; leave out --model to get "
                                 f"Helsinki-NLP/opus-mt-{{src}}-{{tgt}} for other pairs")

    # -- loading ------------------------------------------------------------------------------------
    def _load(self) -> None:
        src, tgt = self.settings["source_lang"], self.settings["target_lang"]
        self._plans: dict[tuple, dict] = {}
        if self.model_name.lower() == "copy-source":
            self._kind, self.family = "copy", "copy"
            self.source_lang, self.target_lang = src, tgt
            return
        from ..backend.loading import load_pretrained

        embedded = EMBEDDED_MT.get(self.model_name.lower())
        ref = str(embedded_model_dir(self.model_name.lower())) if embedded else self.model_name
        self._serve(load_pretrained(ref, self.model_class, revision=self.revision, device=self.device,
                                    dtype=self.dtype, quantize=self.quantize,
                                    trust_remote_code=self.trust_remote_code, engine=self.settings["engine"]))

    def _serve(self, lm) -> None:
        """Serve a seq2seq model: one loaded by :meth:`_load`, or one in memory (``Task.serving``: the model
        being fine-tuned, a distillation teacher): family, language pair and codes, generation settings."""
        from ..backend.inference import generation_config, model_max_input

        src, tgt = self.settings["source_lang"], self.settings["target_lang"]
        self._plans = {}
        self._kind = "model"
        self._lm = lm
        embedded = EMBEDDED_MT.get(self.model_name.lower())
        tok = lm.tokenizer
        self.family = model_family(getattr(lm.config, "model_type", ""), tok)
        self.codes = supported_codes(tok, self.family) if self.family in MULTILINGUAL else {}
        if self.family in MULTILINGUAL and not self.codes:
            raise ModelLoadError(f"model {self.model_name!r} is a {FAMILY_LABELS[self.family]} model but its "
                                 f"tokenizer lists no language codes")
        self.marian_targets = marian_targets_of(tok) if self.family == "marian" else set()
        named = _OPUS_NAME.search(self.model_name) if self.family == "marian" else None
        name_src, name_tgt = (named.group(1), named.group(2)) if named else embedded or (None, None)
        fallback = ("en", "de") if self.family == "t5" or self.family in MULTILINGUAL else (None, None)
        self.source_lang = src or (name_src if name_src and _ISO.match(name_src) else None) or fallback[0]
        self.target_lang = tgt or (name_tgt if name_tgt and _ISO.match(name_tgt) else None) or fallback[1]
        # one model, several pairs: T5 (prefixes), multilingual models (codes), multi-target Marian
        self.multi_pair = self.family == "t5" or self.family in MULTILINGUAL or bool(self.marian_targets)
        # the languages a bilingual model says it does (card, config): a pair outside them is refused
        source = getattr(lm, "source", None)  # a model in memory has no files to read them from
        self.known_languages = set() if self.multi_pair or source is None else model_languages(source.path)
        self._check_languages(self.source_lang, self.target_lang, "")

        defaults = {}
        if self.family == "t5" and self.source_lang and self.target_lang:
            defaults = {k: v for k, v in self._t5_params(self.source_lang, self.target_lang).items() if k in GEN_PARAMS}
        user = {k: self.settings[k] for k in ("max_new_tokens", "num_beams") if self.settings[k] is not None}
        if "max_new_tokens" in user:
            defaults.pop("max_length", None)
        self.gen_config = generation_config(lm.model, {**defaults, **user})
        limit = model_max_input(lm)
        self.input_limit = min(self.settings["max_input_tokens"] or limit, limit)
        if self.multi_pair and self.target_lang and (self.source_lang or self.marian_targets):
            self._plan((self.source_lang, self.target_lang))  # a bad --source/--target-lang fails here, early

    def _t5_params(self, src: str, tgt: str) -> dict:
        return t5_params(self._lm.config, src, tgt)

    @classmethod
    def input_plan(cls, tokenizer, config, src: str | None, tgt: str | None, prefix: str | None = None,
                   model_name: str = "model") -> dict:
        """:func:`plan_inputs` for a model given by its tokenizer and config (what training calls)."""
        family = model_family(getattr(config, "model_type", ""), tokenizer)
        codes = supported_codes(tokenizer, family) if family in MULTILINGUAL else {}
        targets = marian_targets_of(tokenizer) if family == "marian" else set()
        return plan_inputs(family, src, tgt, config=config, prefix=prefix, codes=codes, marian_targets=targets,
                           model_name=model_name)

    def model_info(self) -> dict:
        self.load()
        if self._kind == "model":
            info = self._lm.describe()
            if self.model_name.lower() in EMBEDDED_MT:  # the packaged name, not its install path
                info["name"] = self.model_name.lower()
            return info
        return {"name": "copy-source", "revision": None, "weights_hash": None, "parameters": 0,
                "variant": {"dtype": "none", "quantize": None}, "baseline": True}

    def run_settings(self) -> dict:
        s = super().run_settings()
        if self._loaded:
            s["source_lang"], s["target_lang"] = self.source_lang, self.target_lang
            if self._kind == "model":
                s["generation"] = {k: v for k, v in self.gen_config.to_diff_dict().items()
                                   if not k.startswith("transformers_version")}
        return s

    # -- validation and language pairs ------------------------------------------------------------
    def validate(self, records: list[dict], source: str | None = None, **kwargs) -> None:
        from ..io import check_record

        super().validate(records, source, **kwargs)
        for i, rec in enumerate(records):  # optional per-record language pair: null or a string
            check_record(rec, [f for f in ("source_lang", "target_lang") if rec.get(f) is not None], source,
                         index=i)

    def _check_languages(self, src: str | None, tgt: str | None, where: str) -> None:
        known = getattr(self, "known_languages", None)
        if not known:
            return
        bad = [(what, lang) for what, lang in (("source", src), ("target", tgt))
               if lang and iso_base(lang) not in known and str(lang).lower() not in known]
        if bad:
            asked = ", ".join(f"{what} language {lang!r}" for what, lang in bad)
            raise InputError(f"{where}model {self.model_name!r} translates between {', '.join(sorted(known))} only "
                             f"(its model card / config), not {asked}; choose a model for that pair")

    def _pair(self, rec: dict) -> tuple:
        src = (rec.get("source_lang") or "").strip() or self.source_lang
        tgt = (rec.get("target_lang") or "").strip() or self.target_lang
        if self._kind == "copy" or self.multi_pair:
            return (src, tgt)
        self._check_languages(src, tgt, f"line {rec.get('__line__', '?')}: ")
        for asked, have, what in ((src, self.source_lang, "source"), (tgt, self.target_lang, "target")):
            if asked and have and iso_base(asked) != iso_base(have):
                raise InputError(
                    f"line {rec.get('__line__', '?')}: model {self.model_name!r} translates "
                    f"{self.source_lang or '?'}->{self.target_lang or '?'} only, but the record asks for "
                    f"{what} language {asked!r}; use a multilingual model (mBART-50, M2M100, NLLB) or T5 "
                    f"for per-record language pairs")
        return (src, tgt)

    def _plan(self, pair: tuple) -> dict:
        """How to feed one language pair to the model: text prefix, source code, forced first token."""
        if pair in self._plans:
            return self._plans[pair]
        src, tgt = pair
        plan = plan_inputs(self.family, src, tgt, config=self._lm.config, prefix=self.settings["prefix"],
                           codes=self.codes, marian_targets=self.marian_targets, model_name=self.model_name)
        self._plans[pair] = plan
        return plan

    # -- prediction ---------------------------------------------------------------------------------
    def _predict(self, records: list[dict]) -> list[dict]:
        texts = [r["text"] for r in records]
        pairs = [self._pair(r) for r in records]
        if self._kind == "copy":
            return [{"translation": t} for t in texts]
        if not self.multi_pair and len({p for p, t in zip(pairs, texts) if t.strip()}) > 1:
            raise InputError(f"model {self.model_name!r} translates one language pair, but the records ask for "
                             f"several; use a multilingual model (mBART-50, M2M100, NLLB) or T5")
        groups: dict[tuple, list[int]] = {}
        for i, (pair, text) in enumerate(zip(pairs, texts)):
            if text.strip():
                groups.setdefault(pair, []).append(i)
        plans = {pair: self._plan(pair) for pair in groups}  # every pair checked before any generation
        results = [""] * len(records)
        counts = [1] * len(records)
        for pair, idxs in groups.items():
            outs, n = self._translate_group([texts[i] for i in idxs], plans[pair], pair[0])
            for i, out, k in zip(idxs, outs, n):
                results[i], counts[i] = out, k
        return [{"translation": t, **({"pieces": k} if k > 1 else {})} for t, k in zip(results, counts)]

    def _translate_group(self, texts: list[str], plan: dict, src: str | None) -> tuple[list[str], list[int]]:
        from ..backend.inference import generate_batched

        tok = self._lm.tokenizer
        if plan["src_code"] is not None:
            tok.src_lang = plan["src_code"]
        pieces = [self._pieces(t, plan["prefix"], src) for t in texts]
        flat = [plan["prefix"] + p for ps in pieces for p in ps]
        enc = tok(flat, truncation=True, max_length=self.input_limit)
        items = [{k: enc[k][i] for k in enc.keys()} for i in range(len(flat))]
        cfg = self.gen_config
        if plan["forced_bos"] is not None:
            cfg = copy.deepcopy(cfg)
            cfg.forced_bos_token_id = plan["forced_bos"]
        ids = generate_batched(self._lm, items, cfg, batch_size=self.batch_size, max_tokens=self.max_tokens,
                               desc="translate")
        decoded = iter(self._decode(x, plan["forced_bos"]) for x in ids)
        outs = [" ".join(s for s in (next(decoded) for _ in ps) if s) for ps in pieces]
        return outs, [len(ps) for ps in pieces]

    def _decode(self, ids: list[int], forced: int | None) -> str:
        if forced is not None and ids and ids[0] == forced:
            ids = ids[1:]
        return self._lm.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def _pieces(self, text: str, prefix: str, src: str | None) -> list[str]:
        """``text`` as the pieces the model translates: each sentence of a multi-sentence line alone (unless
        ``--no-sentence-split``: a model trained on single sentences drops the rest of a longer line), and
        within the input limit (whole sentences packed greedily; a sentence still too long is packed by
        words, and a single word too long is cut into token slices)."""
        from ..text import split_sentences

        tok = self._lm.tokenizer
        specials = len(tok("", add_special_tokens=True)["input_ids"])
        prefix_len = len(tok(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        budget = max(4, self.input_limit - specials - prefix_len - 1)
        language = iso_base(src) or "en"
        if not self.settings.get("no_sentence_split"):  # every sentence alone, as the model was trained
            sentences = split_sentences(text, language=language) or [text]
            if len(sentences) > 1:
                return [p for s in sentences for p in self._pieces_of(s, budget, language)]
        return self._pieces_of(text, budget, language)

    def _pieces_of(self, text: str, budget: int, language: str) -> list[str]:
        from ..text import split_sentences

        if self._ntokens(text) <= budget:
            return [text]
        sentences = split_sentences(text, language=language) or [text]
        target = budget
        while True:  # token counts of joined units can differ from their sum: check, and tighten if needed
            pieces = self._pack(sentences, target, lambda sent, b: self._pack(sent.split(), b, self._token_slices))
            over = max(self._ntokens(p) for p in pieces) - budget
            if over <= 0 or target <= 4:
                return pieces
            target = max(4, target - over)

    def _ntokens(self, text: str) -> int:
        return len(self._lm.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _token_slices(self, word: str, budget: int) -> list[str]:
        tok = self._lm.tokenizer
        ids = tok(word, add_special_tokens=False)["input_ids"]
        return [tok.decode(ids[i:i + budget]).strip() for i in range(0, len(ids), budget)]

    def _pack(self, units: list[str], budget: int, too_long) -> list[str]:
        """Join consecutive ``units`` with spaces into pieces of at most ``budget`` tokens; a unit over
        the budget alone is handed to ``too_long(unit, budget)``."""
        pieces, current, used = [], [], 0
        for unit in units:
            n = self._ntokens(unit)
            if n > budget:
                if current:
                    pieces.append(" ".join(current))
                    current, used = [], 0
                pieces.extend(p for p in too_long(unit, budget) if p)
                continue
            if current and used + n + 1 > budget:
                pieces.append(" ".join(current))
                current, used = [], 0
            current.append(unit)
            used += n + 1
        if current:
            pieces.append(" ".join(current))
        return pieces
