"""Settings of a fine-tuning run (the CLI flags and the API keywords are the same names)."""
from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields

from ..errors import InputError

# distillation's defaults, here (a light module) so that building the `distill` parser loads no training code
DISTILL_TEMPERATURE = 2.0  # default softmax temperature of logit distillation
DISTILL_ALPHA = 0.5        # default weight of the distillation loss (1 - alpha: the hard-label loss)

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
ARCHS = ("marian", "bart")          # --from-scratch architectures (nlptasks.training.scratch)
SCRATCH_ONLY = ("arch", "vocab_size", "d_model", "layers", "encoder_layers", "decoder_layers", "heads", "ffn_dim",
                "dropout", "max_positions")
NOT_WITH_SCRATCH = ("lora", "freeze_base", "new_head", "labels")
LORA_SAVES = ("merged", "adapter")
ADAPTER_DTYPES = ("float32", "float16", "bfloat16")
CLASS_WEIGHTS = ("balanced",)     # --class-weights (classification): n / (k * n_c) from the training labels


@dataclass
class FinetuneSettings:
    task: str
    model: str | None
    train: str
    validation: str | None = None
    output: str = "finetuned-model"
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 16
    eval_batch_size: int | None = None
    lr: float = 5e-5
    weight_decay: float = 0.0
    scheduler: str = "linear"
    warmup: float = 0.0               # a fraction of the steps (< 1) or a number of steps
    grad_accum: int = 1
    precision: str = "auto"           # auto: bf16 (or fp16) on CUDA, fp32 on CPU
    gradient_checkpointing: bool = False
    freeze_base: bool = False
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_targets: list[str] | None = None  # module names, or ["all-linear"] (every Linear but the task head)
    lora_save: str = "merged"         # merged: a plain transformers model; adapter: peft adapter files
    adapter_dtype: str = "float32"    # --lora-save adapter: storage dtype of the adapter weights
    seed: int = 0
    group_by_length: bool = False     # batch examples of similar length (less padding, faster)
    max_length: int | None = None     # input tokens (qa: window length); default: the task's training spec
    max_target_length: int | None = None
    doc_stride: int = 128             # qa: overlap between context windows (--doc-stride, as in run/eval qa)
    prefix: str | None = None         # seq2seq input prefix (default: the model's, e.g. T5's)
    source_lang: str | None = None
    target_lang: str | None = None
    labels: list[str] | None = None   # names of label ids for a new classification head
    new_head: bool = False            # replace an existing classification head
    retrieval: bool = False           # chat: a retrieval model over the training pairs (MiniLM encoder)
    extractive: bool = False          # summarize: a supervised extractive sentence scorer (MiniLM encoder)
    eval_steps: int | None = None     # evaluate (and checkpoint) every N steps; default: every epoch
    save_steps: int | None = None     # checkpoint every N steps when there is no validation data
    save_total_limit: int | None = 2
    early_stopping: int | None = None  # patience, in evaluations
    metric: str | None = None         # "loss" to select checkpoints by validation loss (no generation)
    limit_train: int | None = None
    limit_validation: int | None = None
    max_new_tokens: int = 64          # generation length for seq2seq/chat evaluation
    logging_steps: int = 50
    device: str = "auto"
    trust_remote_code: bool = False  # let model folders run their own Python code
    label_smoothing: float = 0.0      # cross-entropy label smoothing (e.g. 0.1 for translation)
    class_weights: str | None = None  # classification: "balanced" weighs the loss of class c by n / (k * n_c)
    # --from-scratch: a new tokenizer and encoder-decoder model (defaults in nlptasks.training.scratch)
    from_scratch: bool = False
    arch: str | None = None           # marian (default) or bart
    vocab_size: int | None = None     # joint source+target BPE vocabulary (default 8000)
    d_model: int | None = None
    layers: int | None = None         # encoder and decoder layers (default 3 each)
    encoder_layers: int | None = None
    decoder_layers: int | None = None
    heads: int | None = None
    ffn_dim: int | None = None        # default 4 x d_model
    dropout: float | None = None
    max_positions: int | None = None
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self):
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"--scheduler {self.scheduler!r}: use one of {', '.join(SCHEDULERS)}")
        if self.lora_save not in LORA_SAVES:
            raise InputError(f"--lora-save {self.lora_save!r}: use one of {', '.join(LORA_SAVES)}")
        if self.adapter_dtype not in ADAPTER_DTYPES:
            raise InputError(f"--adapter-dtype {self.adapter_dtype!r}: use one of {', '.join(ADAPTER_DTYPES)}")
        if not self.lora and (self.lora_save != "merged" or self.adapter_dtype != "float32"):
            raise InputError("--lora-save/--adapter-dtype apply to LoRA training: add --lora")
        if self.lora_save == "merged" and self.adapter_dtype != "float32":
            raise InputError("--adapter-dtype applies to --lora-save adapter")
        if self.precision not in PRECISIONS:
            raise InputError(f"--precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        for name in ("batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise InputError(f"--{name.replace('_', '-')} must be at least 1")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise InputError("--epochs must be positive (or give --max-steps)")
        if self.lr <= 0:
            raise InputError("--lr must be positive")
        if self.early_stopping is not None and not self.validation:
            raise InputError("--early-stopping needs --validation data")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise InputError("--label-smoothing must be in [0, 1)")
        if self.class_weights is not None and self.class_weights not in CLASS_WEIGHTS:
            raise InputError(f"--class-weights {self.class_weights!r}: use one of {', '.join(CLASS_WEIGHTS)}")
        self._check_scratch()
        if self.metric not in (None, "loss"):
            raise InputError(f"--metric {self.metric!r}: use 'loss' (or leave it out for the task's metric)")

    def _check_scratch(self) -> None:
        flag = lambda name: "--" + name.replace("_", "-")  # noqa: E731
        if not self.from_scratch:
            given = [flag(k) for k in SCRATCH_ONLY if getattr(self, k) is not None]
            if given:
                raise InputError(f"{', '.join(given)} size a new model: add --from-scratch (or leave "
                                 f"{'it' if len(given) == 1 else 'them'} out to fine-tune --model)")
            return
        if self.model:
            raise InputError(f"--from-scratch builds a new model and tokenizer: leave out --model ({self.model})")
        clash = [flag(k) for k in NOT_WITH_SCRATCH if getattr(self, k)]
        if clash:
            raise InputError(f"--from-scratch trains every weight of a new model: {', '.join(clash)} "
                             f"{'does' if len(clash) == 1 else 'do'} not apply")
        if self.arch is not None and self.arch not in ARCHS:
            raise InputError(f"--arch {self.arch!r}: use one of {', '.join(ARCHS)}")
        for k in ("vocab_size", "d_model", "layers", "encoder_layers", "decoder_layers", "heads", "ffn_dim",
                  "max_positions"):
            v = getattr(self, k)
            if v is not None and v < 1:
                raise InputError(f"{flag(k)} must be at least 1")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise InputError("--dropout must be in [0, 1)")

    def record(self) -> dict:
        """The settings as plain data (for run.json, the result and the model card)."""
        d = asdict(self)
        d.pop("resume")
        d.pop("overwrite")
        return d

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    # old keyword -> its name now (accepted with a DeprecationWarning by finetune() and distill())
    RENAMED = {"stride": "doc_stride"}

    @classmethod
    def renamed(cls, settings: dict) -> dict:
        """``settings`` with deprecated keywords (``stride``) under their current names."""
        import warnings

        out = dict(settings)
        for old, new in cls.RENAMED.items():
            if old in out:
                warnings.warn(f"the setting {old!r} is now {new!r}", DeprecationWarning, stacklevel=3)
                out.setdefault(new, out.pop(old))
                out.pop(old, None)
        return out

    @classmethod
    def defaults(cls) -> dict:
        """The default of each setting that has one (the CLI flags' defaults)."""
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}
