"""Summarization: ``{document}`` -> ``{summary}``.

- ``minilm-extsum`` (offline, the default): a supervised extractive scorer (packaged;
  ``nlptasks.models.extractive_supervised``): MiniLM sentence features + position features, trained on greedy-ROUGE
  oracle labels of CNN/DailyMail train by ``nlptasks finetune summarize --model minilm --extractive``;
  top sentences up to the summary length it learned (a word budget, chosen by cross-validation on the
  training documents), unless ``--sentences``/``--ratio`` say otherwise. A folder written by that command
  loads the same way (``--model DIR``).
- ``minilm-extractive`` (offline, unsupervised): sentences embedded with the packaged MiniLM encoder, picked
  by maximal marginal relevance around the document centroid plus a lead bias (news states its key facts
  first), kept in document order. Defaults (diversity 0.3, position weight 1.0) were chosen on the first
  150 CNN/DailyMail *train* documents (`benchmarks/tune_extractive.py`), never on validation.
- ``lead-3`` (baseline): the first three sentences.
- any ``AutoModelForSeq2SeqLM`` (BART, T5, Pegasus, ...): abstractive. A document longer than the model's
  input limit is never truncated: it is split into token windows at sentence boundaries, each window is
  summarized, the partial summaries are merged, and the merge is summarized again while it is longer
  than the summary length (map-reduce). ``strategy`` in each output says what was done.
"""
from __future__ import annotations

from ..errors import InputError
from ..optypes import fraction, non_negative_float, non_negative_int, positive_int, unit_interval
from .base import EmbeddedModel, Option, Task

MAX_ROUNDS = 4


class SummarizeTask(Task):
    name = "summarize"
    aliases = ("summarization", "summary")
    description = "Summarize documents (extractive by default, abstractive with a seq2seq model)."
    input_fields = ("document",)
    text_field = "document"
    text_mode = "document"
    output_fields = ("summary",)
    model_class = "AutoModelForSeq2SeqLM"
    default_model = "minilm-extsum"
    recommended_models = ("sshleifer/distilbart-cnn-12-6", "facebook/bart-large-cnn",
                          "google/pegasus-cnn_dailymail", "google-t5/t5-small")
    embedded_models = (
        EmbeddedModel("minilm-extsum", "extractive: a sentence scorer trained on CNN/DailyMail oracle labels over "
                                       "MiniLM features (packaged, offline; built by `nlptasks finetune summarize "
                                       "--model minilm --extractive`)"),
        EmbeddedModel("minilm-extractive", "extractive: MiniLM sentence embeddings + MMR (packaged, offline)"),
        EmbeddedModel("lead-3", "baseline: the first three sentences", baseline=True),
    )
    options = (
        Option("--sentences", type=positive_int, default=None,
               help="extractive: number of sentences (default 3, or a trained scorer's learned length; "
                    "lead-3 always takes 3)"),
        Option("--ratio", type=fraction, default=None,
               help="extractive: fraction of the sentences to keep, in (0, 1] (overrides --sentences)"),
        Option("--diversity", type=unit_interval, default=0.3, help="extractive: MMR redundancy penalty in [0, 1]"),
        Option("--position-weight", type=non_negative_float, default=1.0,
               help="extractive: bonus w/(1+i) for the i-th sentence (news puts key facts first; 0 = none)"),
        Option("--max-new-tokens", type=positive_int, default=None, help="abstractive: longest summary in tokens"),
        Option("--min-new-tokens", type=non_negative_int, default=None, help="abstractive: shortest summary in tokens"),
        Option("--num-beams", type=positive_int, default=None, help="abstractive: beam size (default: model's config)"),
        Option("--no-repeat-ngram-size", type=non_negative_int, default=None, help="abstractive: block repeated n-grams"),
        Option("--length-penalty", type=float, default=None, help="abstractive: beam length penalty"),
        Option("--prefix", type=str, default=None,
               help="abstractive: text put before each input (default: the model config's, e.g. T5's 'summarize: ')"),
        Option("--engine", type=str, default="transformers", choices=("transformers", "ctranslate2"),
               help="abstractive: generation engine: transformers (default) or ctranslate2 (pip install "
                    "'nlptasks[ctranslate2]'; the model is converted once and cached by weights hash)"),
        Option("--window-tokens", type=positive_int, default=None,
               help="abstractive: window size for long documents (default: the model's input limit)"),
    )
    metrics = ("rouge",)
    primary_metric = "rougeLsum"
    reference_column = "summary"
    explainer = "nlptasks.explain.summarize"

    training_family = "Seq2Seq"

    @classmethod
    def training_options(cls) -> dict:
        return {"source_field": cls.input_fields[0], "target_field": cls.reference_column,
                "prefix_key": "summarization", "pipeline_tag": "summarization", "extractive": True}

    GEN_KEYS = ("max_new_tokens", "min_new_tokens", "num_beams", "no_repeat_ngram_size", "length_penalty")

    def _load(self) -> None:
        name = self.model_name.lower()
        from ..models.extractive_supervised import DEFAULT_NAME, ExtractiveScorer, is_extractive_model

        extractive = name in ("lead-3", DEFAULT_NAME, "minilm-extractive") or is_extractive_model(self.model_name)
        if extractive and self.settings["engine"] != "transformers":
            raise InputError(f"--engine {self.settings['engine']} runs abstractive (encoder-decoder) models; "
                             f"{self.model_name!r} is extractive")
        if name == "lead-3":
            self._kind = "lead"
        elif name == DEFAULT_NAME or is_extractive_model(self.model_name):
            # the packaged supervised scorer, or a folder built by `finetune summarize --extractive`
            from ..backend.device import resolve_device

            self._kind = "supervised"
            self._scorer = ExtractiveScorer.load(None if name == DEFAULT_NAME else self.model_name,
                                                 device=str(resolve_device(self.device)),
                                                 dtype=None if self.dtype == "auto" else self.dtype,
                                                 quantize=self.quantize, name=DEFAULT_NAME if name == DEFAULT_NAME else None)
        elif name == "minilm-extractive":
            from ..backend.device import resolve_device
            from ..backend.encoder import SentenceEncoder

            self._kind = "extractive"
            self._encoder = SentenceEncoder.load(device=str(resolve_device(self.device)),
                                                 dtype=None if self.dtype == "auto" else self.dtype, quantize=self.quantize)
        else:
            from ..backend.loading import load_pretrained

            self._serve(load_pretrained(self.model_name, self.model_class, revision=self.revision,
                                        device=self.device, dtype=self.dtype, quantize=self.quantize,
                                        trust_remote_code=self.trust_remote_code, engine=self.settings["engine"]))

    def _serve(self, lm) -> None:
        """Serve a seq2seq model (abstractive): one loaded by :meth:`_load`, or one in memory
        (``Task.serving``: the model being fine-tuned, a distillation teacher): prefix and generation settings."""
        from ..backend.inference import generation_config, model_max_input

        self._kind = "abstractive"
        self._lm = lm
        params = dict((getattr(self._lm.config, "task_specific_params", None) or {}).get("summarization", {}))
        prefix = params.pop("prefix", "")
        self.prefix = self.settings["prefix"] if self.settings["prefix"] is not None else prefix
        defaults = {k: v for k, v in params.items() if k in ("max_length", "min_length", "num_beams",
                                                             "length_penalty", "no_repeat_ngram_size",
                                                             "early_stopping")}
        user = {k: self.settings[k] for k in self.GEN_KEYS if self.settings[k] is not None}
        if "max_new_tokens" in user:
            defaults.pop("max_length", None)
        if "min_new_tokens" in user:
            defaults.pop("min_length", None)
        self.gen_config = generation_config(self._lm.model, {**defaults, **user})
        self.input_limit = model_max_input(self._lm)

    def model_info(self) -> dict:
        self.load()
        if self._kind == "abstractive":
            return self._lm.describe()
        if self._kind == "extractive":
            return self._encoder.describe() | {"name": "minilm-extractive"}
        if self._kind == "supervised":
            return self._scorer.describe()
        return {"name": "lead-3", "revision": None, "weights_hash": None, "parameters": 0,
                "variant": {"dtype": "none", "quantize": None}, "baseline": True}

    def run_settings(self) -> dict:
        s = super().run_settings()
        if self._loaded and self._kind == "abstractive":
            s["generation"] = {k: v for k, v in self.gen_config.to_diff_dict().items()
                               if not k.startswith("transformers_version")}
        return s

    # -- prediction ---------------------------------------------------------------------------------
    def _predict(self, records: list[dict]) -> list[dict]:
        docs = [r["document"] for r in records]
        if self._kind == "abstractive":
            return self._abstractive(docs)
        return self._extract(docs)

    def _extract(self, docs: list[str]) -> list[dict]:
        from ..text import split_sentences
        from .extractive import select_sentences, summary_length

        sents = [split_sentences(d) or [d.strip()] for d in docs]
        s = self.settings
        if self._kind == "lead":
            picks = [list(range(min(3, len(ss)))) for ss in sents]
            strategy = "lead-3"
        elif self._kind == "supervised":
            from ..models.extractive_supervised import select

            block = bool(self._scorer.settings.get("trigram_block", True))
            scored = self._scorer.sentence_scores(
                [ss[: self._scorer.settings.get("max_sentences") or len(ss)] for ss in sents], self.batch_size)
            # the length the scorer learned (a word budget, up to 3 sentences), unless the user set one
            budget = self._scorer.settings.get("summary_words") if s["sentences"] is None and s["ratio"] is None else None
            picks = [select(sc, ss, summary_length(len(sc), s["sentences"], s["ratio"]), block, max_words=budget)
                     for sc, ss in zip(scored, sents)]
            strategy = "extractive-supervised"
        else:
            flat = [x for ss in sents for x in ss]
            emb = self._encoder.encode(flat, batch_size=self.batch_size or 64, max_tokens=self.max_tokens).float().cpu().numpy()
            picks, start = [], 0
            for ss in sents:
                k = summary_length(len(ss), s["sentences"], s["ratio"])
                picks.append(select_sentences(emb[start:start + len(ss)], k, diversity=s["diversity"],
                                              position_weight=s["position_weight"]))
                start += len(ss)
            strategy = "extractive-mmr"
        return [{"summary": "\n".join(ss[i] for i in pick),
                 "strategy": {"method": strategy, "sentences": len(pick), "of": len(ss)}}
                for ss, pick in zip(sents, picks)]

    # abstractive, with map-reduce over windows for long documents
    def _windows(self, doc: str) -> list[str]:
        from ..text import split_sentences

        tok = self._lm.tokenizer
        specials = len(tok("", add_special_tokens=True)["input_ids"])
        prefix_len = len(tok(self.prefix, add_special_tokens=False)["input_ids"]) if self.prefix else 0
        limit = min(self.settings["window_tokens"] or self.input_limit, self.input_limit)
        budget = max(8, limit - specials - prefix_len - 2)
        if len(tok(doc, add_special_tokens=False)["input_ids"]) <= budget:
            return [doc]
        windows, current, used = [], [], 0
        for sent in split_sentences(doc) or [doc]:
            ids = tok(sent, add_special_tokens=False)["input_ids"]
            if len(ids) > budget:  # a single over-long "sentence": cut it into token pieces
                if current:
                    windows.append(" ".join(current))
                    current, used = [], 0
                windows.extend(tok.decode(ids[i:i + budget]) for i in range(0, len(ids), budget))
                continue
            if current and used + len(ids) + 1 > budget:
                windows.append(" ".join(current))
                current, used = [], 0
            current.append(sent)
            used += len(ids) + 1
        if current:
            windows.append(" ".join(current))
        return windows

    def _generate(self, texts: list[str]) -> list[str]:
        from ..backend.inference import generate_batched

        tok = self._lm.tokenizer
        enc = tok([self.prefix + t for t in texts], truncation=True, max_length=self.input_limit)
        items = [{k: enc[k][i] for k in enc.keys()} for i in range(len(texts))]
        ids = generate_batched(self._lm, items, self.gen_config, batch_size=self.batch_size,
                               max_tokens=self.max_tokens, desc="summarize")
        return [tok.decode(x, skip_special_tokens=True).strip() for x in ids]

    def _summary_budget(self) -> int:
        cfg = self.gen_config
        return cfg.max_new_tokens or cfg.max_length or 64

    def _abstractive(self, docs: list[str]) -> list[dict]:
        tok = self._lm.tokenizer
        current = list(docs)
        info = [{"method": "abstractive", "mode": "", "windows": 0, "rounds": 0} for _ in docs]
        todo = list(range(len(docs)))
        results: list[str | None] = [None] * len(docs)
        for rnd in range(1, MAX_ROUNDS + 1):
            windows = {i: self._windows(current[i]) for i in todo}
            flat = [w for i in todo for w in windows[i]]
            outs = iter(self._generate(flat))
            next_todo = []
            for i in todo:
                parts = [next(outs) for _ in windows[i]]
                info[i]["rounds"] = rnd
                if rnd == 1:
                    info[i]["windows"] = len(windows[i])
                merged = " ".join(p for p in parts if p)
                if len(windows[i]) == 1:
                    results[i] = merged
                elif rnd < MAX_ROUNDS and len(tok(merged, add_special_tokens=False)["input_ids"]) > self._summary_budget():
                    current[i] = merged
                    next_todo.append(i)
                else:
                    results[i] = merged
            todo = next_todo
            if not todo:
                break
        for i, inf in enumerate(info):
            inf["mode"] = "single-pass" if inf["windows"] <= 1 else "map-reduce over sentence windows"
        return [{"summary": s or "", "strategy": inf} for s, inf in zip(results, info)]
