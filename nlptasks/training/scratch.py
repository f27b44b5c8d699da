"""``finetune --from-scratch``: a new tokenizer and encoder-decoder model for a seq2seq task.

The tokenizer is a joint byte-level BPE over the training sources and targets (no ``<unk>`` at
inference: any text is bytes), trained with the ``tokenizers`` library; the model is a standard
transformers config with random weights, so the trained folder is an ordinary transformers model
(``from_pretrained``, ``nlptasks run/eval/distill --model DIR``). Two layouts:

- ``marian`` (default): the opus-mt layout, ``</s>`` = 0, ``<unk>`` = 1, ``<pad>`` = the last id and the
  decoder start; sinusoidal positions, shared and tied embeddings, post-norm (MarianMTModel).
- ``bart``: ``<s>`` = 0, ``<pad>`` = 1, ``</s>`` = 2 (decoder start), ``<unk>`` = 3; learned positions
  (BartForConditionalGeneration). Inputs and targets are ``<s> ... </s>``.

The generation config saved with the model is greedy (one beam, no sampling), forces ``</s>`` at the
length limit (``max_length`` = the position limit) and never emits ``<pad>``.

Training itself is the ordinary ``finetune`` path (``trainer.run``): this module only supplies the model
and tokenizer in place of ``from_pretrained``. ``--resume`` takes the tokenizer saved with the last
checkpoint (the weights come from the checkpoint as usual) and refuses changed sizes.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from ..errors import InputError
from .settings import SCRATCH_ONLY, FinetuneSettings

log = logging.getLogger("nlptasks")

DEFAULTS = dict(arch="marian", vocab_size=8000, d_model=256, layers=3, heads=4, dropout=0.1, max_positions=512)
BYTE_ALPHABET = 256
SPECIALS = {"marian": ("</s>", "<unk>"), "bart": ("<s>", "<pad>", "</s>", "<unk>")}
MIN_VOCAB = BYTE_ALPHABET + 8  # the byte symbols, the special tokens and a few merges


def resolve(s: FinetuneSettings) -> None:
    """Fill the architecture settings left out with their defaults (recorded in run.json and the result)."""
    for k, v in DEFAULTS.items():
        if getattr(s, k) is None:
            setattr(s, k, v)
    s.encoder_layers = s.encoder_layers or s.layers
    s.decoder_layers = s.decoder_layers or s.layers
    s.ffn_dim = s.ffn_dim or 4 * s.d_model


def check(spec, s: FinetuneSettings, max_target: int) -> None:
    from .families import Seq2Seq

    if not isinstance(spec, Seq2Seq):
        raise InputError(f"--from-scratch builds an encoder-decoder model: it applies to seq2seq tasks "
                         f"(translate, summarize), not {spec.name}")
    if s.d_model % s.heads:
        raise InputError(f"--d-model {s.d_model} must be a multiple of --heads {s.heads}")
    if s.d_model % 2:
        raise InputError(f"--d-model {s.d_model} must be even")
    if s.vocab_size < MIN_VOCAB:
        raise InputError(f"--vocab-size {s.vocab_size}: at least {MIN_VOCAB} (the {BYTE_ALPHABET} byte symbols of "
                         f"the byte-level BPE, the special tokens and some merges)")
    if max_target > s.max_positions:
        raise InputError(f"--max-target-length {max_target} exceeds --max-positions {s.max_positions} (the longest "
                         f"sequence the decoder can hold)")


def _previous_run(out: Path) -> dict | None:
    from . import outputs

    try:
        return json.loads((out / outputs.CHECKPOINTS / outputs.RUN).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _resumed_tokenizer(s: FinetuneSettings):
    """On ``--resume``: the tokenizer of the last checkpoint, after checking the sizes did not change."""
    from . import outputs

    out = Path(s.output)
    prev = _previous_run(out)
    if prev is not None:
        keys = ("from_scratch",) + SCRATCH_ONLY
        diff = [k for k in keys if prev.get(k) != getattr(s, k)]
        if diff:
            shown = ", ".join(f"{k}: {prev.get(k)!r} then, {getattr(s, k)!r} now" for k in diff[:4])
            raise InputError(f"--resume: the model differs from the interrupted run's ({shown}); resume with the "
                             f"same settings, or start over with --overwrite")
    cps = outputs.checkpoints(out)
    if cps and (cps[-1] / "tokenizer.json").is_file():
        from .models import load_tokenizer

        return load_tokenizer(str(cps[-1]))
    return None  # outputs.check says what is missing


def train_tokenizer(texts: list[str], arch: str, vocab_size: int, max_positions: int):
    """A joint byte-level BPE tokenizer over ``texts`` in the layout of ``arch`` (see the module doc)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIALS[arch])
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trained = vocab_size - 1 if arch == "marian" else vocab_size  # Marian: <pad> is added after the merges
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=trained, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    if arch == "marian":
        tok.add_special_tokens(["<pad>"])
        tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                           special_tokens=[("</s>", 0)])
        names = dict(eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    else:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                           special_tokens=[("<s>", 0), ("</s>", 2)])
        names = dict(bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_positions, **names)


def build_config(s: FinetuneSettings, tokenizer):
    """The transformers config of the new model (sizes from ``s``, special ids from ``tokenizer``)."""
    from transformers import BartConfig, MarianConfig

    sizes = dict(vocab_size=len(tokenizer), d_model=s.d_model, encoder_layers=s.encoder_layers,
                 decoder_layers=s.decoder_layers, encoder_attention_heads=s.heads, decoder_attention_heads=s.heads,
                 encoder_ffn_dim=s.ffn_dim, decoder_ffn_dim=s.ffn_dim, dropout=s.dropout,
                 attention_dropout=s.dropout, activation_dropout=0.0, max_position_embeddings=s.max_positions,
                 encoder_layerdrop=0.0, decoder_layerdrop=0.0, tie_word_embeddings=True)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    if s.arch == "marian":
        return MarianConfig(**sizes, pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=eos,
                            bos_token_id=None, forced_eos_token_id=eos, activation_function="swish",
                            scale_embedding=True, share_encoder_decoder_embeddings=True)
    return BartConfig(**sizes, pad_token_id=pad, bos_token_id=tokenizer.bos_token_id, eos_token_id=eos,
                      decoder_start_token_id=eos, forced_eos_token_id=eos, activation_function="gelu",
                      scale_embedding=True)


def generation_config(config):
    from transformers import GenerationConfig

    pad = config.pad_token_id
    return GenerationConfig(decoder_start_token_id=config.decoder_start_token_id, pad_token_id=pad,
                            eos_token_id=config.eos_token_id, bos_token_id=config.bos_token_id,
                            forced_eos_token_id=config.eos_token_id, max_length=config.max_position_embeddings,
                            num_beams=1, do_sample=False, bad_words_ids=[[pad]])


def build(spec, s: FinetuneSettings, train_records: list[dict]):
    """``(model, tokenizer)``: a new random-weight encoder-decoder and the BPE tokenizer trained on the
    training pairs (all input checks first; nothing is written)."""
    import transformers

    resolve(s)
    check(spec, s, s.max_target_length or spec.lengths[1])
    tokenizer = _resumed_tokenizer(s) if s.resume else None
    src, tgt = spec.languages(train_records, s)
    sources, targets = spec.pairs(train_records, "--train", src, tgt)  # a bad record fails here
    if tokenizer is None:
        tokenizer = train_tokenizer(sources + targets, s.arch, s.vocab_size, s.max_positions)
    config = build_config(s, tokenizer)
    transformers.set_seed(s.seed)
    model = getattr(transformers, spec.auto_class).from_config(config)
    model.generation_config = generation_config(config)
    n = sum(p.numel() for p in model.parameters())
    if os.environ.get("RANK", "0") == "0":
        print(f"nlptasks: from scratch: {s.arch}, {len(tokenizer)}-token joint BPE vocabulary "
              f"({len(sources) + len(targets)} training texts), d_model {s.d_model}, {s.encoder_layers}+"
              f"{s.decoder_layers} layers, {s.heads} heads, ffn {s.ffn_dim}: {n / 1e6:.1f}M parameters",
              file=sys.stderr, flush=True)
    return model, tokenizer
