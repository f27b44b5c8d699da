"""Language codes for translation models; pure Python (no torch), used by the translate task.

Multilingual families name languages their own way: mBART-50 ``de_DE``, M2M100 ``de`` (token
``__de__``), NLLB ``deu_Latn``. Users may pass plain ISO 639-1 codes (``en``, ``de``) or the family's
native codes; :func:`resolve_code` maps either to a code the tokenizer knows, or fails with the list of
the codes it does know. :func:`supported_codes` reads that list (code -> token id) from a tokenizer.
"""
from __future__ import annotations

import re
from typing import Iterable

from ..errors import InputError

MULTILINGUAL = ("mbart", "m2m_100", "nllb")

NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian",
    "nl": "Dutch", "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "th": "Thai", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}

# ISO 639-1 -> mBART-50 (the 52 codes of facebook/mbart-large-50*; mBART-cc25 uses a subset of them)
MBART = {
    "ar": "ar_AR", "cs": "cs_CZ", "de": "de_DE", "en": "en_XX", "es": "es_XX", "et": "et_EE", "fi": "fi_FI",
    "fr": "fr_XX", "gu": "gu_IN", "hi": "hi_IN", "it": "it_IT", "ja": "ja_XX", "kk": "kk_KZ", "ko": "ko_KR",
    "lt": "lt_LT", "lv": "lv_LV", "my": "my_MM", "ne": "ne_NP", "nl": "nl_XX", "ro": "ro_RO", "ru": "ru_RU",
    "si": "si_LK", "tr": "tr_TR", "vi": "vi_VN", "zh": "zh_CN", "af": "af_ZA", "az": "az_AZ", "bn": "bn_IN",
    "fa": "fa_IR", "he": "he_IL", "hr": "hr_HR", "id": "id_ID", "ka": "ka_GE", "km": "km_KH", "mk": "mk_MK",
    "ml": "ml_IN", "mn": "mn_MN", "mr": "mr_IN", "pl": "pl_PL", "ps": "ps_AF", "pt": "pt_XX", "sv": "sv_SE",
    "sw": "sw_KE", "ta": "ta_IN", "te": "te_IN", "th": "th_TH", "tl": "tl_XX", "uk": "uk_UA", "ur": "ur_PK",
    "xh": "xh_ZA", "gl": "gl_ES", "sl": "sl_SI",
}

# ISO 639-1 -> NLLB-200 (FLORES-200 codes) for common languages; other NLLB codes are accepted as given
NLLB = {
    "ar": "arb_Arab", "bg": "bul_Cyrl", "bn": "ben_Beng", "ca": "cat_Latn", "cs": "ces_Latn", "da": "dan_Latn",
    "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn", "fa": "pes_Arab",
    "fi": "fin_Latn", "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn",
    "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn",
    "nl": "nld_Latn", "no": "nob_Latn", "nb": "nob_Latn", "pl": "pol_Latn", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sk": "slk_Latn", "sl": "slv_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn", "sw": "swh_Latn",
    "ta": "tam_Taml", "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn",
    "zh": "zho_Hans",
}

TABLES = {"mbart": MBART, "nllb": NLLB}
# how each family's language tokens look in a vocabulary (used when the tokenizer has no lang_code_to_id)
TOKEN_PATTERNS = {"mbart": re.compile(r"^([a-z]{2}_[A-Z]{2})$"),
                  "nllb": re.compile(r"^([a-z]{3}_[A-Z][a-z]{3})$"),
                  "m2m_100": re.compile(r"^__([a-z]{2,3})__$")}
FAMILY_LABELS = {"mbart": "mBART", "m2m_100": "M2M100", "nllb": "NLLB", "marian": "multi-target Marian"}


def model_family(model_type: str, tokenizer) -> str:
    """``marian``, ``t5``, ``mbart``, ``m2m_100``, ``nllb`` or ``generic`` (any other seq2seq model)."""
    mt = (model_type or "").lower().replace("-", "_")
    if mt == "marian":
        return "marian"
    if mt == "t5":
        return "t5"
    if mt == "mbart":
        return "mbart"
    if mt in ("m2m_100", "nllb_moe"):
        if mt == "nllb_moe" or "nllb" in type(tokenizer).__name__.lower():
            return "nllb"
        return "m2m_100"
    return "generic"


def supported_codes(tokenizer, family: str) -> dict[str, int]:
    """The language codes ``tokenizer`` knows for a multilingual ``family``, each with its token id."""
    table = getattr(tokenizer, "lang_code_to_id", None)
    if isinstance(table, dict) and table:
        return {str(k): int(v) for k, v in table.items()}
    pattern = TOKEN_PATTERNS[family]
    codes = {}
    for token, idx in tokenizer.get_vocab().items():
        m = pattern.match(token)
        if m:
            codes[m.group(1)] = int(idx)
    return codes


def resolve_code(family: str, code: str, supported: Iterable[str], *, what: str = "language") -> str:
    """Map ``code`` (plain ISO like ``de`` or ``de-AT``, or the family's native code) to a native code in
    ``supported``; an unknown or ambiguous code is an ``InputError`` listing the supported ones."""
    supported = set(supported)
    c = str(code).strip()
    if c in supported:
        return c
    base = re.split(r"[-_]", c)[0].lower()
    mapped = TABLES.get(family, {}).get(base)
    if mapped in supported:
        return mapped
    if base in supported:
        return base
    matches = sorted(s for s in supported if s.split("_")[0].lower() == base)
    if len(matches) == 1:
        return matches[0]
    label = FAMILY_LABELS.get(family, family)
    if len(matches) > 1:
        raise InputError(f"{what} {code!r} is ambiguous for this {label} model: use one of {', '.join(matches)}")
    raise InputError(f"{what} {code!r} is not supported by this {label} model; it knows: "
                     f"{', '.join(sorted(supported)) or 'no language codes'}")


def iso_base(code: str | None) -> str | None:
    """The plain language part of a code (``de_DE`` -> ``de``, ``deu_Latn`` -> ``deu``), lower-cased."""
    if not code:
        return None
    return re.split(r"[-_]", str(code).strip())[0].lower() or None


def language_name(code: str) -> str:
    """English name of an ISO 639-1 code (for T5 prompts like ``translate English to German: ``)."""
    name = NAMES.get(iso_base(code) or "")
    if name is None:
        raise InputError(f"no language name known for {code!r} to build a T5 prompt; pass --prefix "
                         f"(e.g. 'translate English to German: ') or use one of: {', '.join(sorted(NAMES))}")
    return name


def model_languages(folder) -> set[str]:
    """The languages a local translation model folder says it does, lower-cased, or an empty set when it
    does not say: the model card's ``language:`` metadata (``README.md`` front matter), and
    ``source_lang``/``target_lang`` (or ``src_lang``/``tgt_lang``) in ``config.json`` or
    ``tokenizer_config.json`` (Marian tokenizers keep them there)."""
    import json
    from pathlib import Path

    folder = Path(str(folder))
    found: set[str] = set()
    card = folder / "README.md"
    if card.is_file():
        try:
            text = card.read_text(encoding="utf-8", errors="replace")[: 1 << 16]
        except OSError:
            text = ""
        if text.startswith("---"):
            front = text[3:].split("\n---", 1)[0]
            try:
                from ..yamlsafe import load_yaml

                meta = load_yaml(front, str(card))
            except Exception:  # a card that is not YAML says nothing
                meta = None
            langs = meta.get("language") if isinstance(meta, dict) else None
            if isinstance(langs, str):
                langs = [langs]
            if isinstance(langs, list):
                found |= {str(x).strip().lower() for x in langs if isinstance(x, str) and x.strip()}
    for name in ("config.json", "tokenizer_config.json"):
        p = folder / name
        if not p.is_file():
            continue
        try:
            cfg = json.loads(p.read_text(encoding="utf-8")[: 1 << 22])
        except (OSError, ValueError):
            continue
        if isinstance(cfg, dict):
            for key in ("source_lang", "target_lang", "src_lang", "tgt_lang"):
                v = cfg.get(key)
                if isinstance(v, str) and v.strip() and _ISO_LIKE.match(v.strip()):
                    found.add(v.strip().lower())
    return found


_ISO_LIKE = re.compile(r"^[A-Za-z]{2,3}$")
