"""Sentiment / text classification: ``{text}`` -> ``{label, score}``.

Models: any ``AutoModelForSequenceClassification`` (labels from its config), the packaged
``minilm-sentiment3-lora`` (negative/neutral/positive; the offline default), ``minilm-sst2-lora`` and
``minilm-sst2`` (binary, SST-2) and the ``majority`` baseline. Texts longer than the model allows are split
into overlapping windows whose logits are averaged, so nothing is silently cut off (:meth:`SentimentTask.windows`,
also the rule of ``finetune``'s features and validation). On a benchmark whose
labels differ from the model's, :meth:`SentimentTask.fit_label_space` applies the label rule
(docs/guide/sentiment.md).
"""
from __future__ import annotations

from ..errors import InputError, NlpTasksError
from ..optypes import int_at_least, non_negative_int
from .base import EmbeddedModel, Option, Task

DEFAULT_STRIDE = 64
MAJORITY_LABEL = "positive"  # the majority class of SST-2 train (11,135 of 20,000 phrases)
# packaged LoRA adapters + heads over the packaged MiniLM (nlptasks/embedded/<name>)
ADAPTER_MODELS = ("minilm-sst2-lora", "minilm-sentiment3-lora")


class SentimentTask(Task):
    name = "sentiment"
    aliases = ("sentiment-analysis", "text-classification", "classify")
    description = "Classify the sentiment (or any label set) of each text."
    input_fields = ("text",)
    text_field = "text"
    text_mode = "lines"
    output_fields = ("label", "score")
    model_class = "AutoModelForSequenceClassification"
    default_model = "minilm-sentiment3-lora"
    recommended_models = ("distilbert-base-uncased-finetuned-sst-2-english",
                          "cardiffnlp/twitter-roberta-base-sentiment-latest",
                          "nlptown/bert-base-multilingual-uncased-sentiment")
    embedded_models = (
        EmbeddedModel("minilm-sentiment3-lora", "negative/neutral/positive: all-MiniLM-L6-v2 encoder (packaged) + "
                                                "LoRA adapters on every linear layer and a three-class head, "
                                                "fine-tuned on SST sentences and SemEval tweets together by "
                                                "`nlptasks finetune` (nlptasks/embedded/minilm-sentiment3-lora)"),
        EmbeddedModel("minilm-sst2-lora", "all-MiniLM-L6-v2 encoder (packaged) + LoRA adapters on every linear "
                                          "layer and a classification head, fine-tuned on SST-2 by `nlptasks "
                                          "finetune` (nlptasks/embedded/minilm-sst2-lora)"),
        EmbeddedModel("minilm-sst2", "all-MiniLM-L6-v2 encoder (packaged) + a linear head over mean-pooled "
                                     "embeddings trained on SST-2 (scripts/train_sentiment_head.py; the first default)"),
        EmbeddedModel("majority", f"baseline: always the SST-2 majority class ({MAJORITY_LABEL!r})", baseline=True),
    )
    options = (
        Option("--all-scores", action="store_true", default=False, help="output the score of every label"),
        Option("--max-length", type=int_at_least(8), default=None,
               help="window length in tokens for long texts (default and upper bound: the model's limit)"),
        Option("--stride", type=non_negative_int, default=None,
               help=f"overlap in tokens between windows of a long text, below --max-length (default "
                    f"{DEFAULT_STRIDE}; at most half a window is used)"),
        Option("--missing-labels", choices=("refuse", "score"), default="refuse",
               help="nlptasks eval: a model that lacks some of the benchmark's labels (a binary model on a "
                    "three-class benchmark) is refused (default), or scored as it is with the missing labels "
                    "named in the record's label_rule"),
    )
    metrics = ("accuracy", "f1", "mcc", "macro_recall")
    primary_metric = "accuracy"
    reference_column = "label"
    label_names = ("negative", "positive")
    predicts_labels = True
    explainer = "nlptasks.explain.sentiment"

    training_family = "SequenceClassification"

    @classmethod
    def training_options(cls) -> dict:
        return {"text_field": cls.input_fields[0], "label_field": cls.reference_column,
                "binary_names": cls.label_names}

    def check_options(self) -> None:
        s = self.settings
        if s["max_length"] is not None and s["stride"] is not None and s["stride"] >= s["max_length"]:
            raise NlpTasksError(f"--stride must be smaller than --max-length ({s['max_length']}): "
                                f"allowed 0 to {s['max_length'] - 1}, got {s['stride']}")
        if s["stride"] is None:  # not given: the default (recorded as such in run settings)
            s["stride"] = DEFAULT_STRIDE

    def _load(self) -> None:
        name = self.model_name.lower()
        if name == "majority":
            self._kind = "majority"
            self.labels = ["negative", "positive"]
        elif name == "minilm-sst2":
            from ..backend.device import resolve_device
            from ..backend.encoder import EncoderClassifier

            self._kind = "embedded"
            self._clf = EncoderClassifier.load(device=str(resolve_device(self.device)),
                                               dtype=None if self.dtype == "auto" else self.dtype, quantize=self.quantize)
            self.labels = list(self._clf.labels)
        elif name in ADAPTER_MODELS:
            from ..backend.loading import load_embedded

            # a transformers classifier once merged: windows long texts like hub models
            self._serve(load_embedded(name, self.model_class, device=self.device, dtype=self.dtype,
                                      quantize=self.quantize))
        else:
            from ..backend.loading import load_pretrained

            self._serve(load_pretrained(self.model_name, self.model_class, revision=self.revision,
                                        device=self.device, dtype=self.dtype, quantize=self.quantize,
                                        trust_remote_code=self.trust_remote_code))

    def model_info(self) -> dict:
        self.load()
        if self._kind == "hf":
            return self._lm.describe()
        if self._kind == "embedded":
            return self._clf.describe()
        return {"name": "majority", "revision": None, "weights_hash": None, "parameters": 0,
                "variant": {"dtype": "none", "quantize": None}, "baseline": True}

    @classmethod
    def model_label_names(cls, model: str | None, *, revision: str | None = None,
                          trust_remote_code: bool = False) -> list[str] | None:
        """The labels ``model`` predicts, in id order, read without loading its weights (the packaged models'
        metadata, an adapter folder's ``nlptasks_adapter.json`` or the model's config); ``None`` when its
        config cannot be read here (loading the model then reports why). ``nlptasks eval sentiment --data``
        takes its label space from them (``nlptasks.evaluation.adhoc_labels``)."""
        from pathlib import Path

        name = (model or cls.default_model).lower()
        if name in ("majority", "minilm-sst2"):
            return list(cls.label_names)
        from ..backend.adapters import embedded_folder, read_meta

        folder = embedded_folder(name) if name in ADAPTER_MODELS else Path(model)
        if folder.is_dir() and read_meta(folder).get("labels"):
            return list(read_meta(folder)["labels"])
        from ..backend.hf import load_config
        from ..backend.resolve import resolve_model

        try:
            source = resolve_model(model, revision)
            hub = {"revision": source.revision, "local_files_only": source.local_files_only} \
                if source.kind == "hub" else {}
            cfg = load_config(source.path, trust_remote_code=trust_remote_code, ref=model, **hub)
        except NlpTasksError:  # offline, gated, not a model: loading it later says why
            return None
        return [cfg.id2label[i] for i in range(cfg.num_labels)]

    def fit_label_space(self, benchmark: str, labels: list[str], normalise) -> None:
        """The label rule between the model's labels and a benchmark's (recorded as ``label_rule``):

        * the same labels: nothing to do (no ``label_rule``);
        * the model has labels the benchmark lacks (a three-class model on binary SST-2): the prediction is
          the highest-scoring of the benchmark's labels, scores renormalised over them;
        * the benchmark has labels the model lacks (a binary model on a three-class benchmark): refused,
          since such a model is wrong on every example of the missing class by construction.

        The ``majority`` baseline predicts one label; it is scored on any benchmark that has that label."""
        self.load()
        self._allowed = None
        self.settings.pop("label_rule", None)
        mapped = [normalise(label) for label in self.labels]
        if self._kind == "majority" and MAJORITY_LABEL in labels:
            return
        missing = [b for b in labels if b not in mapped]
        if missing and self.settings["missing_labels"] != "score":
            raise InputError(f"model {self.model_name} predicts {', '.join(map(str, self.labels))}; benchmark "
                             f"{benchmark} also has {', '.join(missing)}: a model without "
                             f"{'that label' if len(missing) == 1 else 'those labels'} is not scored on it "
                             f"(use a model with the labels {', '.join(labels)}, or --set missing_labels=score "
                             f"to score it anyway)")
        rules = []
        if missing:  # --missing-labels score: scored as it is, every example of a missing label wrong
            rules.append(f"missing labels scored: the model never predicts {', '.join(missing)}")
        extra = [m for m in mapped if m not in labels]
        if extra:
            self._allowed = [i for i, m in enumerate(mapped) if m in labels]
            rules.append(f"benchmark labels only: the highest-scoring of "
                         f"{'/'.join(self.labels[i] for i in self._allowed)} (model label "
                         f"{', '.join(self.labels[i] for i, m in enumerate(mapped) if m in extra)} "
                         f"never predicted; scores renormalised)")
        if rules:
            self.settings["label_rule"] = "; ".join(rules)

    def _probabilities(self, texts: list[str]):
        probs = self._model_probabilities(texts)
        allowed = getattr(self, "_allowed", None)
        if allowed is not None:  # fit_label_space: only the benchmark's labels, renormalised over them
            keep = probs[:, allowed]
            probs = probs.new_zeros(probs.shape)
            probs[:, allowed] = keep / keep.sum(dim=-1, keepdim=True).clamp_min(1e-12)
        return probs

    def _model_probabilities(self, texts: list[str]):
        import torch

        if self._kind == "majority":
            probs = torch.zeros(len(texts), 2)
            probs[:, self.labels.index(MAJORITY_LABEL)] = 1.0
            return probs
        if self._kind == "embedded":
            return self._clf.predict_proba(texts, batch_size=self.batch_size or 64, max_tokens=self.max_tokens,
                                           max_length=self.settings["max_length"], stride=self.settings["stride"])
        return self._hf_probabilities(texts)

    @classmethod
    def windows(cls, tok, texts: list[str], limit: int, stride: int | None = None) -> tuple[list[dict], list[int]]:
        """The one rule for long texts, for ``run``/``eval`` and for ``finetune``: each text becomes windows
        of at most ``limit`` tokens that overlap by ``stride`` (default :data:`DEFAULT_STRIDE`; at most half
        a window). Returns the windows (token-id dicts) and, per window, the index of its text. Serving
        averages the logits of a text's windows; training labels every window with its text's label."""
        stride = min(DEFAULT_STRIDE if stride is None else stride, limit // 2)
        enc = tok(texts, truncation=True, max_length=limit, stride=stride, return_overflowing_tokens=True)
        owners = enc.pop("overflow_to_sample_mapping", list(range(len(texts))))
        return [{k: enc[k][i] for k in enc.keys()} for i in range(len(owners))], list(owners)

    def _serve(self, lm) -> None:
        """Serve a transformers classifier: one loaded by :meth:`_load`, or one in memory (``Task.serving``:
        validation during ``finetune`` predicts through it, so it scores what ``nlptasks run`` answers)."""
        self._kind, self._lm = "hf", lm
        self.labels = [lm.config.id2label[i] for i in range(lm.config.num_labels)]

    def _hf_probabilities(self, texts: list[str]):
        import torch

        from ..backend.inference import forward_batched, model_max_input

        limit = min(self.settings["max_length"] or 10**9, model_max_input(self._lm))
        items, owners = self.windows(self._lm.tokenizer, texts, limit, self.settings["stride"])
        logits = forward_batched(self._lm, items, outputs=("logits",), batch_size=self.batch_size,
                                 max_tokens=self.max_tokens, desc="sentiment")
        sums = torch.zeros(len(texts), len(self.labels))
        counts = torch.zeros(len(texts), 1)
        for owner, (lg,) in zip(owners, logits):
            sums[owner] += lg
            counts[owner] += 1
        mean_logits = sums / counts
        if getattr(self._lm.config, "problem_type", None) == "multi_label_classification":
            return torch.sigmoid(mean_logits)
        return torch.softmax(mean_logits, dim=-1)

    def _predict(self, records: list[dict]) -> list[dict]:
        texts = [r["text"] for r in records]
        probs = self._probabilities(texts)
        out = []
        allowed = getattr(self, "_allowed", None) or range(len(self.labels))
        for row in probs.tolist():
            best = max(allowed, key=row.__getitem__)
            rec = {"label": self.labels[best], "score": row[best]}
            if self.settings["all_scores"]:
                rec["scores"] = {self.labels[i]: row[i] for i in allowed}
            out.append(rec)
        return out

    def format_text(self, output: dict) -> str:
        if "scores" in output:
            return "\t".join(f"{k}={v:.4f}" for k, v in output["scores"].items())
        return f"{output['label']}\t{output['score']:.4f}"
