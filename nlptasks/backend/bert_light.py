"""The packaged MiniLM (a BERT encoder) with a classification or extractive-QA head, in plain PyTorch.

Importing ``transformers``' BERT model classes costs more than the rest of a one-line ``nlptasks run``:
``modeling_bert`` pulls in ``modeling_utils``, ``activations`` (which imports ``torch.distributed.tensor``)
and ``generation`` (which imports ``torch._dynamo``), none of which inference on a 6-layer encoder needs.
The packaged adapters (``minilm-sentiment3-lora``, ``minilm-sst2-lora``, ``minilm-squad``) are therefore
merged into these modules instead. They have the parameter names of
``BertForSequenceClassification`` / ``BertForQuestionAnswering`` (so LoRA deltas and saved heads merge by
the same names) and the same operations in the same order as transformers' BERT with its default SDPA
attention (embeddings summed word + token type + position; the boolean padding mask, or none when
nothing is padded; exact GELU), so their outputs are bit-for-bit those of transformers' classes
(``tests/test_startup.py`` compares them). Inference only: no dropout, no loss, no cache. Their config is
:class:`Config` (``config.json`` read as JSON, with ``BertConfig``'s defaults) and their tokenizer
:mod:`.light_tokenizer`'s, so loading them imports no ``transformers`` at all.

``NLPTASKS_LIGHT_BERT=0`` loads the packaged adapters through transformers' classes instead.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

HEADS = {"AutoModelForSequenceClassification": "sequence", "AutoModelForQuestionAnswering": "qa"}


_OFF = __import__("contextvars").ContextVar("nlptasks_light_bert_off", default=False)


def enabled() -> bool:
    return not _OFF.get() and os.environ.get("NLPTASKS_LIGHT_BERT", "1") != "0"


class transformers_classes:
    """``with transformers_classes(): ...`` loads through transformers' BERT classes: training needs
    them (Trainer, peft, layer truncation for distillation students), serving does not."""

    def __enter__(self):
        self._token = _OFF.set(True)
        return self

    def __exit__(self, *exc):
        _OFF.reset(self._token)
        return False


def supports(base: str, auto_class: str) -> bool:
    """Whether the model folder ``base`` as ``auto_class`` can be built here: a plain post-norm BERT encoder
    (absolute positions, exact GELU, no decoder) with a sequence-classification or extractive-QA head."""
    if auto_class not in HEADS or not enabled():
        return False
    try:
        cfg = json.loads((Path(base) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(cfg, dict) and cfg.get("model_type") == "bert" and not cfg.get("is_decoder")
            and not cfg.get("add_cross_attention") and cfg.get("hidden_act", "gelu") == "gelu"
            and cfg.get("position_embedding_type", "absolute") == "absolute" and not cfg.get("auto_map")
            and not cfg.get("chunk_size_feed_forward") and (Path(base) / "model.safetensors").is_file())


# BertConfig's defaults (transformers 5), for the keys a config.json may leave out
CONFIG_DEFAULTS = {
    "architectures": None, "output_hidden_states": False, "output_attentions": False, "return_dict": True,
    "dtype": None, "chunk_size_feed_forward": 0, "is_encoder_decoder": False, "problem_type": None,
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
    "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0, "use_cache": True,
    "classifier_dropout": None, "is_decoder": False, "add_cross_attention": False, "bos_token_id": None,
    "eos_token_id": None, "tie_word_embeddings": True, "model_type": "bert",
    "position_embedding_type": "absolute",
}


class Config:
    """``BertConfig.from_pretrained(folder, **kwargs)`` read as plain JSON (importing transformers' config
    classes costs most of its import): the same attribute values (``tests/test_startup.py`` compares
    ``to_dict()``), labels included (``num_labels`` is ``len(id2label)``; ``LABEL_i`` names by default)."""

    def __init__(self, values: dict):
        values = {**CONFIG_DEFAULTS, **values}
        values.pop("transformers_version", None)
        if "_name_or_path" in values:
            values["name_or_path"] = values.pop("_name_or_path")
        num_labels = values.pop("num_labels", None)
        id2label = values.pop("id2label", None)
        if id2label is None:
            id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else int(num_labels))}
        values["id2label"] = {int(k): v for k, v in id2label.items()}
        label2id = values.pop("label2id", None)
        values["label2id"] = dict(label2id) if label2id is not None else {v: k for k, v in values["id2label"].items()}
        self.__dict__.update(values)

    @classmethod
    def from_pretrained(cls, folder, **kwargs) -> "Config":
        values = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return cls({**values, **kwargs})

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "name_or_path"}
        if "name_or_path" in self.__dict__:
            out["_name_or_path"] = self.name_or_path
        return out

    def __repr__(self) -> str:
        return f"Config({json.dumps(self.to_dict(), sort_keys=True, default=str)})"


class _NoInitLinear(nn.Linear):
    def reset_parameters(self) -> None:  # every weight is copied in from the checkpoint (or zeroed)
        pass


class _NoInitEmbedding(nn.Embedding):
    def reset_parameters(self) -> None:
        pass


def _linear(n_in: int, n_out: int) -> nn.Linear:
    """An ``nn.Linear`` (its own class: dynamic int8 quantization matches it by type) whose weights are
    left uninitialised, since they are loaded next: random initialisation of 22M parameters costs time."""
    m = _NoInitLinear(n_in, n_out)
    m.__class__ = nn.Linear
    return m


def _embedding(n: int, dim: int, padding_idx=None) -> nn.Embedding:
    m = _NoInitEmbedding(n, dim, padding_idx=padding_idx)
    m.__class__ = nn.Embedding
    return m


class Output(dict):
    """The model's outputs by name (``out.logits``, ``out["logits"]``), like transformers' ``ModelOutput``."""

    __getattr__ = dict.__getitem__


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = _embedding(c.vocab_size, c.hidden_size, padding_idx=c.pad_token_id)
        self.position_embeddings = _embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = _embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None):
        b, t = input_ids.shape if input_ids is not None else inputs_embeds.shape[:-1]
        dev = (input_ids if input_ids is not None else inputs_embeds).device
        if position_ids is None:
            position_ids = torch.arange(t, device=dev).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = torch.zeros((b, t), dtype=torch.long, device=dev)
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        x = inputs_embeds + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.head_size = c.hidden_size // c.num_attention_heads
        self.scaling = self.head_size ** -0.5
        self.query = _linear(c.hidden_size, c.hidden_size)
        self.key = _linear(c.hidden_size, c.hidden_size)
        self.value = _linear(c.hidden_size, c.hidden_size)

    def forward(self, x, mask):
        shape = (*x.shape[:-1], -1, self.head_size)
        q = self.query(x).view(*shape).transpose(1, 2)
        k = self.key(x).view(*shape).transpose(1, 2)
        v = self.value(x).view(*shape).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=0.0, scale=self.scaling,
                                             is_causal=False)
        out = out.reshape(out.shape[0], -1, q.shape[2], v.shape[-1]).transpose(1, 2).contiguous()
        return out.reshape(*x.shape[:-1], -1).contiguous()


class DenseNorm(nn.Module):
    """``LayerNorm(dense(x) + residual)`` (BertSelfOutput and BertOutput)."""

    def __init__(self, n_in, c):
        super().__init__()
        self.dense = _linear(n_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c.hidden_size, c)

    def forward(self, x, mask):
        return self.output(self.self(x, mask), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = _linear(c.hidden_size, c.intermediate_size)

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c.intermediate_size, c)

    def forward(self, x, mask):
        a = self.attention(x, mask)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = _linear(c.hidden_size, c.hidden_size)

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(nn.Module):
    def __init__(self, c, pooler: bool):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c) if pooler else None

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None):
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids or inputs_embeds")
        x = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)
        mask = None
        if attention_mask is not None:  # as transformers' SDPA path: none when nothing is padded
            pad = attention_mask.to(device=x.device, dtype=torch.bool)
            if not bool(pad.all()):
                b, t = pad.shape
                mask = pad[:, None, None, :].expand(b, 1, x.shape[1], t).contiguous()
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x, (self.pooler(x) if self.pooler is not None else None)


class _Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config

    def get_input_embeddings(self):
        return self.bert.embeddings.word_embeddings


class SequenceClassifier(_Model):
    """``BertForSequenceClassification`` at inference."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = Bert(config, pooler=True)
        self.classifier = _linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None):
        _, pooled = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        return Output(logits=self.classifier(pooled))


class QuestionAnswering(_Model):
    """``BertForQuestionAnswering`` at inference."""

    def __init__(self, config):
        super().__init__(config)
        self.bert = Bert(config, pooler=False)
        self.qa_outputs = _linear(config.hidden_size, config.num_labels)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None,
                inputs_embeds=None):
        seq, _ = self.bert(input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds)
        start, end = self.qa_outputs(seq).split(1, dim=-1)
        return Output(start_logits=start.squeeze(-1).contiguous(), end_logits=end.squeeze(-1).contiguous())


def load_model(base: str, auto_class: str, **config_kwargs):
    """``(model, loading_info)`` as ``transformers.<auto_class>.from_pretrained(base, dtype=float32,
    output_loading_info=True, **config_kwargs)`` gives them for a BERT folder (:func:`supports`); weights the
    folder lacks (the new head) are zeros and listed in ``missing_keys``, for the caller to fill."""
    from safetensors.torch import load_file

    config_kwargs = {k: v for k, v in config_kwargs.items() if k != "ignore_mismatched_sizes"}
    config = Config.from_pretrained(base, **config_kwargs)
    cls = SequenceClassifier if HEADS[auto_class] == "sequence" else QuestionAnswering
    model = cls(config)
    state = {}
    for key, value in load_file(str(Path(base) / "model.safetensors")).items():
        name = key if key.startswith("bert.") else f"bert.{key}"
        state[name] = value
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    # the checkpoint's tensors become the parameters (no second copy of the weights)
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items() if k in own and k not in mismatched},
                          strict=False, assign=True)
    with torch.no_grad():
        for name, p in model.state_dict(keep_vars=True).items():
            if name in missing or name in mismatched:
                p.zero_()
    model.eval()
    return model, {"missing_keys": missing, "mismatched_keys": mismatched,
                   "unexpected_keys": [k for k in state if k not in own]}
