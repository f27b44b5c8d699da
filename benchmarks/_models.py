"""Benchmark models built offline (no hub access), cached under ``benchmarks/.cache``.

- ``marian_en_de``: an opus-mt-en-de-shaped MarianMT (d_model 512, 6+6 layers, 8 heads, ffn 2048,
  vocabulary 58,101 with the opus layout </s>=0, <unk>=1, <pad>=58100 = decoder start; 74M parameters)
  with random weights, and a byte-level BPE tokenizer trained on the Multi30k training text (the
  vocabulary is filled up to 58,100 with unused entries so every id the model can emit decodes).
- ``minilm_hf_classifier``: the packaged MiniLM encoder as a ``BertForSequenceClassification`` directory
  (for the ``transformers.pipeline`` baseline); see ``speed_sentiment.py`` for where its head comes from.
"""
from __future__ import annotations

import json
from pathlib import Path

from _speed import CACHE, DATA, log, read_jsonl

MARIAN_VOCAB = 58101


def marian_en_de(root: Path = CACHE) -> Path:
    out = Path(root) / "marian-en-de-74m"
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    log(f"building the Marian benchmark model in {out} (random weights, BPE on Multi30k train)")
    rows = read_jsonl(DATA / "translation" / "train.jsonl")
    text = [r["translation"][lang] for r in rows for lang in ("en", "de")]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(
        vocab_size=MARIAN_VOCAB - 1, special_tokens=["</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    trained = len(vocab)
    for i in range(trained, MARIAN_VOCAB - 1):
        vocab[f"<unused{i}>"] = i
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.add_special_tokens(["<pad>"])
    pad = tok.token_to_id("<pad>")
    assert pad == MARIAN_VOCAB - 1, pad
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>",
                                                       special_tokens=[("</s>", 0)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, eos_token="</s>",
                                   unk_token="<unk>", pad_token="<pad>")
    cfg = MarianConfig(vocab_size=MARIAN_VOCAB, d_model=512, encoder_layers=6, decoder_layers=6,
                       encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                       decoder_ffn_dim=2048, activation_function="swish", max_position_embeddings=512,
                       pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0, bos_token_id=0,
                       forced_eos_token_id=None, scale_embedding=True, share_encoder_decoder_embeddings=True,
                       tie_word_embeddings=True)
    torch.manual_seed(0)
    model = MarianMTModel(cfg).eval()
    model.generation_config = GenerationConfig(
        decoder_start_token_id=pad, pad_token_id=pad, eos_token_id=0, bos_token_id=0, num_beams=1,
        max_length=512, bad_words_ids=[[pad]])
    model.save_pretrained(out)
    fast.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    log(f"Marian: {n / 1e6:.1f}M parameters, BPE trained vocabulary {trained} (+ unused up to {pad}, <pad>={pad})")
    return out


def minilm_hf_classifier(root: Path = CACHE, n_train: int = 4000) -> Path:
    """The packaged MiniLM as a ``BertForSequenceClassification`` (pooler + linear classifier).

    A BertForSequenceClassification classifies the pooler output ([CLS] -> dense -> tanh), unlike the
    embedded ``minilm-sst2`` head over mean-pooled embeddings, so its classifier is fitted here
    (logistic regression on the frozen pooler outputs of ``n_train`` SST-2 training phrases, 200 steps of
    L-BFGS, seed 0) and saved with the encoder: an honest, deterministic SST-2 classifier that both the
    pipeline baseline and ``nlptasks`` load from the same directory.
    """
    out = Path(root) / "minilm-sst2-hf"
    if (out / "config.json").exists():
        return out
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from nlptasks.backend.embedded import minilm_path

    log(f"building the MiniLM classifier directory {out} (head fitted on {n_train} SST-2 train phrases)")
    src = minilm_path()
    labels = {0: "negative", 1: "positive"}
    tok = AutoTokenizer.from_pretrained(src)
    model = BertForSequenceClassification.from_pretrained(src, num_labels=2, id2label=labels,
                                                          label2id={v: k for k, v in labels.items()}).eval()
    rows = read_jsonl(DATA / "sentiment" / "train.jsonl", n_train)
    feats = []
    with torch.inference_mode():
        for i in range(0, len(rows), 128):
            enc = tok([r["text"] for r in rows[i:i + 128]], padding=True, truncation=True, max_length=128,
                      return_tensors="pt")
            feats.append(model.bert(**enc).pooler_output)
    x = torch.cat(feats)
    y = torch.tensor([int(r["label"]) for r in rows])
    torch.manual_seed(0)
    head = torch.nn.Linear(x.shape[1], 2)
    opt = torch.optim.LBFGS(head.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(x), y) + 1e-4 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    acc = (head(x).argmax(-1) == y).float().mean().item()
    with torch.no_grad():
        model.classifier.weight.copy_(head.weight)
        model.classifier.bias.copy_(head.bias)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    log(f"MiniLM classifier: train accuracy of the fitted head {acc:.3f}")
    return out
