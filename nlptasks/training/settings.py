"""Settings of a fine-tuning run (the CLI flags and the API keywords are the same names)."""
from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields

from ..errors import InputError

SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
              "inverse_sqrt")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass
class FinetuneSettings:
    task: str
    model: str
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
    lora_targets: list[str] | None = None
    seed: int = 0
    group_by_length: bool = False     # batch examples of similar length (less padding, faster)
    max_length: int | None = None     # input tokens (qa: window length); default: the task's training spec
    max_target_length: int | None = None
    stride: int = 128                 # qa: overlap between windows
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
    resume: bool = False
    overwrite: bool = False

    def __post_init__(self):
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"--scheduler {self.scheduler!r}: use one of {', '.join(SCHEDULERS)}")
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
        if self.metric not in (None, "loss"):
            raise InputError(f"--metric {self.metric!r}: use 'loss' (or leave it out for the task's metric)")

    def record(self) -> dict:
        """The settings as plain data (for run.json, the result and the model card)."""
        d = asdict(self)
        d.pop("resume")
        d.pop("overwrite")
        return d

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def defaults(cls) -> dict:
        """The default of each setting that has one (the CLI flags' defaults)."""
        return {f.name: f.default for f in fields(cls) if f.default is not MISSING}
