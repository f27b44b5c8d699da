"""Extractive question answering: ``{question, context}`` -> ``{answer, score, start, end}``.

Any ``AutoModelForQuestionAnswering`` with a fast tokenizer (BERT, DistilBERT, RoBERTa, MiniLM, ...).
A context longer than ``--max-length`` is split into overlapping token windows (``--doc-stride`` tokens
of overlap); the answer is the best span over ALL windows of the record (see ``qa_postprocess``), and
``start``/``end`` are character offsets into the original context: ``answer == context[start:end]``.
With ``--allow-impossible`` (SQuAD 2.0 models) the answer is empty, with ``start``/``end`` null, when
the no-answer score beats the best span by more than ``--null-threshold``.
"""
from __future__ import annotations

import logging

from ..errors import InputError, ModelLoadError, NlpTasksError
from ..optypes import int_at_least, non_negative_int, positive_int
from .base import EmbeddedModel, Option, Task
from .qa_open import OPEN_OPTIONS

log = logging.getLogger("nlptasks")

DEFAULT_MAX_LENGTH = 384
DEFAULT_STRIDE = 128


def _where(rec: dict, i: int) -> str:
    return f"line {rec['__line__']}" if "__line__" in rec else f"record {i + 1}"


class QATask(Task):
    name = "qa"
    aliases = ("question-answering",)
    description = "Answer questions with a span of a given context (extractive QA)."
    input_fields = ("question", "context")
    text_field = "question"
    text_mode = "lines"
    output_fields = ("answer", "score", "start", "end")
    model_class = "AutoModelForQuestionAnswering"
    default_model = "minilm-squad"
    recommended_models = ("distilbert-base-cased-distilled-squad", "deepset/roberta-base-squad2",
                          "distilbert-base-uncased-distilled-squad", "deepset/minilm-uncased-squad2")
    embedded_models = (
        EmbeddedModel("minilm-squad", "all-MiniLM-L6-v2 encoder (packaged) + LoRA adapters and a span head "
                                      "fine-tuned on SQuAD v1.1 (nlptasks/embedded/minilm-squad)"),
        EmbeddedModel("sliding-window", "baseline: the word-overlap + sliding-window scorer of the SQuAD "
                                        "paper (Rajpurkar et al., 2016), no parser", baseline=True),
    )
    options = (
        Option("--question", type=str, default=None,
               help="input: one question (with --context-file) instead of --input"),
        Option("--context-file", type=str, default=None,
               help="input: a UTF-8 text file holding the context of --question ('-' = stdin)"),
        Option("--max-length", type=int_at_least(8), default=None,
               help=f"window length in tokens, question included (default: {DEFAULT_MAX_LENGTH} or the model's limit)"),
        Option("--doc-stride", type=non_negative_int, default=None,
               help=f"overlap in tokens between consecutive context windows, below --max-length (default "
                    f"{DEFAULT_STRIDE}, at most half a window)"),
        Option("--max-answer-length", type=positive_int, default=30, help="longest answer in tokens (default 30)"),
        Option("--top-k", type=positive_int, default=1,
               help="also output 'answers': the N best distinct spans over all windows (default 1: off)"),
        Option("--allow-impossible", action="store_true", default=False,
               help="SQuAD 2.0 models: answer \"\" when the no-answer score wins"),
        Option("--null-threshold", type=float, default=0.0,
               help="with --allow-impossible: answer \"\" when null_logit - best_span_logit > this (default 0)"),
    ) + OPEN_OPTIONS  # --index, --retriever, --top-k-passages: answers from a knowledge base (qa_open)
    metrics = ("squad",)
    primary_metric = "f1"
    reference_column = "answers.text"
    explainer = "nlptasks.explain.qa"

    training_family = "SpanQA"

    @classmethod
    def training_options(cls) -> dict:
        return {"max_answer_length": next(o.default for o in cls.options if o.dest == "max_answer_length")}

    INPUT_OPTIONS = ("question", "context_file")

    def __init__(self, model: str | None = None, **kwargs):
        super().__init__(model, **kwargs)
        if self.settings["doc_stride"] is None:  # not given: the default, shrunk for short windows
            self.settings["doc_stride"] = DEFAULT_STRIDE
        if self.settings["allow_impossible"]:
            self.metrics = ("squad_v2",)

    # -- input ----------------------------------------------------------------------------------
    @classmethod
    def records_from_options(cls, options: dict) -> tuple[list[dict], str] | None:
        if options.get("index"):
            from .qa_open import records_from_options

            return records_from_options(options)
        question, path = options.get("question"), options.get("context_file")
        if question is None and path is None:
            return None
        if question is None or path is None:
            raise InputError("--question and --context-file go together (or give JSON Lines "
                             "{\"question\", \"context\"} records with --input)")
        if not question.strip():
            raise InputError("--question is empty")
        from ..io import read_text

        context, name = read_text(path)
        return [{"question": question, "context": context, "__line__": 1}], name

    @classmethod
    def required_fields(cls, options: dict | None = None) -> tuple[str, ...]:
        return ("question",) if (options or {}).get("index") else cls.input_fields

    def check_options(self) -> None:
        s = self.settings
        if s["index"]:  # a missing index, or one built with another encoder: one line, before loading
            from .qa_open import check_index

            check_index(s)
        window = s["max_length"] or DEFAULT_MAX_LENGTH
        if s["doc_stride"] is not None and s["doc_stride"] >= window:
            given = "--max-length" if s["max_length"] else "the default --max-length"
            raise NlpTasksError(f"--doc-stride must be smaller than {given} ({window}): allowed 0 to "
                                f"{window - 1}, got {s['doc_stride']}")

    def validate(self, records: list[dict], source: str | None = None, **kwargs) -> None:
        kwargs["allow_empty"] = False
        super().validate(records, source, **kwargs)

    # -- model ----------------------------------------------------------------------------------
    def _load(self) -> None:
        from ..backend.loading import load_pretrained

        name = self.model_name.lower()
        self._kind = "baseline" if name == "sliding-window" else "model"
        if self._kind == "baseline":
            return
        if name == "minilm-squad":
            from ..backend.loading import load_embedded

            self._serve(load_embedded(name, self.model_class, device=self.device, dtype=self.dtype,
                                      quantize=self.quantize))
        else:
            self._serve(load_pretrained(self.model_name, self.model_class, revision=self.revision,
                                        device=self.device, dtype=self.dtype, quantize=self.quantize,
                                        trust_remote_code=self.trust_remote_code))

    def _serve(self, lm) -> None:
        """Serve a span model: one loaded by :meth:`_load`, or one in memory (``Task.serving``: validation
        during ``finetune`` answers through it, so its F1 is the one ``nlptasks eval`` gives): window length
        and the inputs its forward takes."""
        import inspect

        from ..backend.inference import model_max_input

        self._kind, self._lm = "model", lm
        if not getattr(self._lm.tokenizer, "is_fast", False):
            raise ModelLoadError(f"model {self.model_name!r}: extractive QA needs a fast tokenizer "
                                 f"(character offsets); this model has only a slow one")
        limit = model_max_input(self._lm)
        wanted = self.settings["max_length"] or DEFAULT_MAX_LENGTH
        if wanted > limit:
            if self.settings["max_length"]:
                log.warning("--max-length %d is over the model's limit; using %d", wanted, limit)
            wanted = limit
        self.max_length = wanted
        params = inspect.signature(self._lm.model.forward).parameters
        self._keys = ["input_ids", "attention_mask"] + (["token_type_ids"] if "token_type_ids" in params else [])

    def model_info(self) -> dict:
        self.load()
        if self._kind == "baseline":
            info = {"name": "sliding-window", "revision": None, "weights_hash": None, "parameters": 0,
                    "variant": {"dtype": "none", "quantize": None}, "baseline": True}
        else:
            info = self._lm.describe()
        if self.settings["index"]:
            from .qa_open import model_info

            info = model_info(self, info)
        return info

    def run_settings(self) -> dict:
        s = super().run_settings()
        for key in self.INPUT_OPTIONS:
            s.pop(key, None)
        if s.get("index"):  # the index by its content, not by where it lies
            from .qa_open import index_fingerprint

            s["index"] = index_fingerprint(s["index"])
        else:  # reading comprehension: the settings (and run ids) it had before --index existed
            for key in ("index", "retriever", "top_k_passages", "passage_prior", "answer_aggregation"):
                s.pop(key, None)
        return s

    # -- prediction -------------------------------------------------------------------------------
    def _encode(self, records: list[dict]):
        """Tokenize every record into windows; returns (items, owners, window offsets, null indices)."""
        from .qa_postprocess import window_stride

        tok = self._lm.tokenizer
        questions = [r["question"].strip() for r in records]
        contexts = [r["context"] for r in records]
        swap = tok.padding_side == "left"  # e.g. XLNet: the context comes first
        specials = tok.num_special_tokens_to_add(pair=True)
        q_lens = [len(x) for x in tok(questions, add_special_tokens=False)["input_ids"]]
        stride = self.settings["doc_stride"]
        groups: dict[int, list[int]] = {}
        for i, (rec, n) in enumerate(zip(records, q_lens)):
            room = self.max_length - specials - n
            if room < 1:
                raise InputError(f"{_where(rec, i)}: the question is {n} tokens: it leaves no room for the "
                                 f"context in a {self.max_length}-token window (shorten the question or "
                                 f"raise --max-length)")
            groups.setdefault(window_stride(stride, room), []).append(i)

        items, owners, offsets, nulls = [], [], [], []
        ctx_id = 0 if swap else 1
        cls_id = tok.cls_token_id
        for s, idx in sorted(groups.items()):
            first = [contexts[i] for i in idx] if swap else [questions[i] for i in idx]
            second = [questions[i] for i in idx] if swap else [contexts[i] for i in idx]
            enc = tok(first, second, truncation="only_first" if swap else "only_second",
                      max_length=self.max_length, stride=s, return_overflowing_tokens=True,
                      return_offsets_mapping=True, padding=False)
            for w, owner in enumerate(enc["overflow_to_sample_mapping"]):
                ids = enc["input_ids"][w]
                items.append({k: enc[k][w] for k in self._keys if k in enc})
                owners.append(idx[owner])
                seq = enc.sequence_ids(w)
                offsets.append([tuple(o) if sid == ctx_id else None
                                for o, sid in zip(enc["offset_mapping"][w], seq)])
                nulls.append(ids.index(cls_id) if cls_id is not None and cls_id in ids else 0)
        return items, owners, offsets, nulls

    def _predict(self, records: list[dict]) -> list[dict]:
        from ..backend.inference import forward_batched
        from .qa_postprocess import Window, select_spans

        if self.settings["index"]:
            from .qa_open import predict_open

            return predict_open(self, records)
        if self._kind == "baseline":
            return [self._baseline_answer(r) for r in records]
        items, owners, offsets, nulls = self._encode(records)
        logits = forward_batched(self._lm, items, outputs=("start_logits", "end_logits"), per_token=True,
                                 batch_size=self.batch_size, max_tokens=self.max_tokens, desc="qa")
        per_record: list[list] = [[] for _ in records]
        for owner, (start, end), offs, null in zip(owners, logits, offsets, nulls):
            per_record[owner].append(Window(start.numpy(), end.numpy(), offs, null))
        s = self.settings
        out = []
        for rec, windows in zip(records, per_record):
            ctx = rec["context"]
            answer, best = select_spans(windows, max_answer_length=s["max_answer_length"], top_k=s["top_k"],
                                        allow_impossible=s["allow_impossible"],
                                        null_threshold=s["null_threshold"], context=ctx)
            row = self._span_dict(answer, ctx)
            row["windows"] = len(windows)
            if s["top_k"] > 1:
                row["answers"] = [self._span_dict(b, ctx) for b in best]
            out.append(row)
        return out

    def _baseline_answer(self, rec: dict) -> dict:
        from ..models.qa_baseline import answer

        found = answer(rec["question"], rec["context"])
        if found is None:
            return {"answer": "", "score": 0.0, "start": None, "end": None, "windows": 0}
        start, end, score = found
        return {"answer": rec["context"][start:end], "score": score, "start": start, "end": end, "windows": 0}

    @staticmethod
    def _span_dict(span, context: str) -> dict:
        if span.is_null:
            return {"answer": "", "score": span.score, "start": None, "end": None}
        return {"answer": context[span.start:span.end], "score": span.score, "start": span.start,
                "end": span.end}

    def format_text(self, output: dict) -> str:
        same = lambda a: a["start"] == output["start"] and a["end"] == output["end"]  # noqa: E731
        spans = [output] + [a for a in output.get("answers", []) if not same(a)]
        text = "\t".join(f"{' '.join(a['answer'].split())}\t{a['score']:.4f}" for a in spans)
        return text + (f"\t{output['source']}" if "passage_id" in output else "")
