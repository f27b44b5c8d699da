"""Make a smaller encoder-decoder student from a teacher folder by keeping some of its layers.

    python scripts/shrink_seq2seq.py TEACHER_DIR STUDENT_DIR --encoder-layers 0,2 --decoder-layers 0

The student keeps the teacher's embeddings, tokenizer and generation config and the listed layers
(0-based, in order), the "shrink" initialisation of DistilBART; it is then trained on the teacher's
greedy outputs by `nlptasks distill translate --teacher TEACHER_DIR --student STUDENT_DIR ...`
(sequence-level distillation). Works for Marian, BART and other models whose encoder and decoder keep
their blocks in ``.layers``; the student is saved in float32.
"""
from __future__ import annotations

import argparse
import sys


def _indices(text: str, n: int, what: str) -> list[int]:
    try:
        idx = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        sys.exit(f"shrink_seq2seq: error: --{what}-layers takes comma-separated layer numbers, not {text!r}")
    if not idx or any(not 0 <= i < n for i in idx) or len(set(idx)) != len(idx):
        sys.exit(f"shrink_seq2seq: error: --{what}-layers {text!r}: distinct numbers from 0 to {n - 1}")
    return idx


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("teacher")
    ap.add_argument("student")
    ap.add_argument("--encoder-layers", required=True, help="teacher encoder layers to keep, e.g. 0,2")
    ap.add_argument("--decoder-layers", required=True, help="teacher decoder layers to keep, e.g. 0")
    a = ap.parse_args(argv)

    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    model = AutoModelForSeq2SeqLM.from_pretrained(a.teacher, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(a.teacher)
    base = model.get_encoder(), model.get_decoder()
    for stack, spec, what, attr in ((base[0], a.encoder_layers, "encoder", "encoder_layers"),
                                    (base[1], a.decoder_layers, "decoder", "decoder_layers")):
        keep = _indices(spec, len(stack.layers), what)
        stack.layers = torch.nn.ModuleList([stack.layers[i] for i in keep])
        for new, layer in enumerate(stack.layers):  # caches index self-attention layers by position
            for mod in layer.modules():
                if hasattr(mod, "layer_idx"):
                    mod.layer_idx = new
        setattr(model.config, attr, len(keep))
    if hasattr(model.config, "num_hidden_layers"):
        model.config.num_hidden_layers = model.config.encoder_layers
    model.save_pretrained(a.student)
    tok.save_pretrained(a.student)
    n = sum(p.numel() for p in model.parameters())
    print(f"{a.student}: {model.config.encoder_layers}+{model.config.decoder_layers} layers, {n / 1e6:.2f}M parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
