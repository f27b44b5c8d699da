"""CTranslate2 as an optional engine for encoder-decoder generation (``--engine ctranslate2``, extra
``nlptasks[ctranslate2]``).

The transformers model is loaded as usual (tokenizer, config, identity); its weights are converted once
with CTranslate2's converter and cached by weights hash in ``<user cache>/nlptasks/ctranslate2/``; then
:func:`nlptasks.backend.inference.generate_batched` hands every batch to ``Translator.translate_batch``
with the same greedy/beam settings, and gets token ids back exactly as the transformers path returns
them (decoder start dropped, stopped at EOS, no padding).

One conversion detail: CTranslate2's Marian converter assumes the Marian-NMT convention that the decoder
starts from a zero embedding (the ``<pad>`` row, which it drops from the vocabulary). That holds for
opus-mt models; a Marian trained in transformers (``nlptasks finetune --from-scratch``) learns a
non-zero ``<pad>`` row through its tied output layer and starts from it. Such models are converted with
``<pad>`` kept as the decoder start token (and suppressed in the output), which is what transformers
computes.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ModelLoadError, NlpTasksError

log = logging.getLogger("nlptasks")

ENGINES = ("transformers", "ctranslate2")
CACHE_ENV = "NLPTASKS_CT2_CACHE"


def cache_root() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("nlptasks")) / "ctranslate2"


def _import():
    try:
        import ctranslate2
    except ImportError:
        raise NlpTasksError("--engine ctranslate2 needs the ctranslate2 package: pip install 'nlptasks[ctranslate2]'"
                            ) from None
    return ctranslate2


def _starts_from_trained_pad(model) -> bool:
    """A Marian whose decoder-start (``<pad>``) embedding row is not zero (see the module docstring)."""
    import torch

    cfg = model.config
    start = cfg.decoder_start_token_id
    emb = model.get_decoder().embed_tokens.weight
    return start is not None and start < emb.shape[0] and bool(torch.any(emb[start] != 0))


def _convert(loaded, out: Path) -> None:
    import ctranslate2.converters.transformers as ct2t

    model_type = getattr(loaded.config, "model_type", "")
    if loaded.source.kind != "local":
        raise ModelLoadError(f"--engine ctranslate2: model {loaded.source.ref!r} has no local files to convert")
    path = loaded.source.path
    override = None
    if model_type == "marian" and _starts_from_trained_pad(loaded.model):

        class PadStartMarian(ct2t.MarianMTLoader):
            def get_model_spec(self, model):
                model.config.normalize_before = False
                model.config.normalize_embedding = False
                return ct2t.BartLoader.get_model_spec(self, model)  # keeps the <pad> row

            def set_config(self, config, model, tokenizer):
                config.eos_token = tokenizer.eos_token
                config.unk_token = tokenizer.unk_token
                config.decoder_start_token = tokenizer.pad_token

            def set_decoder(self, spec, decoder):
                ct2t.BartLoader.set_decoder(self, spec, decoder)  # no zero start embedding

            def get_vocabulary(self, model, tokenizer):
                return ct2t.BartLoader.get_vocabulary(self, model, tokenizer)

        override = PadStartMarian()
    config_name = type(loaded.config).__name__
    stock = ct2t._MODEL_LOADERS.get(config_name)
    if override is not None:
        ct2t._MODEL_LOADERS[config_name] = override
    try:
        ct2t.TransformersConverter(path, low_cpu_mem_usage=True).convert(str(out), quantization="float32",
                                                                         force=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"--engine ctranslate2: cannot convert {loaded.source.ref!r} ({model_type}): {first}"
                             ) from exc
    finally:
        if override is not None:
            ct2t._MODEL_LOADERS[config_name] = stock
    if override is not None:
        (out / "nlptasks_suppress_pad").write_text(loaded.tokenizer.pad_token or "", encoding="utf-8")


def converted_dir(loaded) -> Path:
    """The CTranslate2 copy of ``loaded`` (converted on first use, cached by weights hash)."""
    from ..hashing import json_hash
    from .hf import weights_hash

    _import()
    wh = weights_hash(loaded.source)
    if wh is None:
        raise ModelLoadError(f"--engine ctranslate2: model {loaded.source.ref!r} has no local weights to convert")
    import ctranslate2

    out = cache_root() / f"{wh}-{json_hash([ctranslate2.__version__, 1], 8)}"
    if (out / "model.bin").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=out.parent))
    try:
        log.info("converting %s for CTranslate2 into %s", loaded.source.ref, out)
        _convert(loaded, tmp)
        try:
            tmp.rename(out)
        except OSError:  # another process converted it first
            if not (out / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@dataclasses.dataclass
class Ct2Generator:
    translator: object
    compute_type: str
    suppress: list  # token sequences never generated (a kept <pad>)
    path: Path


COMPUTE_TYPES = {"int8": "int8", "bfloat16": "bfloat16", "float16": "float16"}


def attach(loaded, *, quantize: str | None = None, dtype: str = "auto", threads: int | None = None):
    """A copy of ``loaded`` whose generation runs in CTranslate2 (weights converted on first use)."""
    ctranslate2 = _import()
    if not getattr(loaded.config, "is_encoder_decoder", False):
        raise NlpTasksError("--engine ctranslate2 runs encoder-decoder models only (Marian, BART, T5, mBART, "
                            f"M2M100, NLLB); {loaded.source.ref!r} is not one")
    path = converted_dir(loaded)
    compute_type = COMPUTE_TYPES.get(quantize or "", COMPUTE_TYPES.get(str(dtype), "float32"))
    device = "cuda" if str(loaded.device).startswith("cuda") else "cpu"
    if threads is None:
        import torch

        threads = torch.get_num_threads()  # what configure_threads() set for the transformers path
    try:
        translator = ctranslate2.Translator(str(path), device=device, compute_type=compute_type,
                                            inter_threads=1, intra_threads=threads)
    except Exception as exc:
        raise ModelLoadError(f"--engine ctranslate2: cannot load the converted model {path} ({exc})") from exc
    marker = path / "nlptasks_suppress_pad"
    suppress = [[marker.read_text(encoding="utf-8")]] if marker.is_file() else []
    gen = Ct2Generator(translator, compute_type, suppress, path)
    import torch

    shown = getattr(torch, str(dtype)) if str(dtype) in ("bfloat16", "float16") else loaded.dtype
    return dataclasses.replace(loaded, ct2=gen, quantize=quantize, dtype=shown, info={**loaded.info})


def generate(loaded, batch: list[dict], gen_config) -> list[list[int]]:
    """``generate_batched``'s per-batch step on CTranslate2: new token ids per input, EOS excluded."""
    gen: Ct2Generator = loaded.ct2
    tok = loaded.tokenizer
    if gen_config.do_sample:
        raise NlpTasksError("--engine ctranslate2 runs greedy or beam search; sampling is not supported here")
    sources = [tok.convert_ids_to_tokens(list(b["input_ids"])) for b in batch]
    kw = dict(beam_size=gen_config.num_beams or 1, max_batch_size=len(batch), return_scores=False,
              repetition_penalty=gen_config.repetition_penalty or 1.0,
              no_repeat_ngram_size=gen_config.no_repeat_ngram_size or 0,
              length_penalty=gen_config.length_penalty if gen_config.length_penalty is not None else 1.0,
              min_decoding_length=gen_config.min_new_tokens or 0)
    limit = gen_config.max_new_tokens if gen_config.max_new_tokens is not None else gen_config.max_length
    if limit is not None:
        # transformers forces EOS as the last token that fits (forced_eos_token_id): one token fewer
        kw["max_decoding_length"] = max(1, limit - (gen_config.forced_eos_token_id is not None))
    if gen.suppress:
        kw["suppress_sequences"] = gen.suppress
    prefix = None
    if gen_config.forced_bos_token_id is not None:
        prefix = [[tok.convert_ids_to_tokens(gen_config.forced_bos_token_id)] for _ in batch]
    results = gen.translator.translate_batch(sources, target_prefix=prefix, **kw)
    return [tok.convert_tokens_to_ids(r.hypotheses[0]) for r in results]
