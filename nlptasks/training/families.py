"""The model families of the built-in tasks, as reusable :class:`TrainingSpec` classes.

Four train transformer weights on ``transformers.Trainer``; two more build a model on the packaged
MiniLM encoder in one pass (``trainer_kind = "fit"``, :mod:`nlptasks.training.fitted`):
:class:`RetrievalChat` (a response index, ``finetune chat --model minilm [--retrieval]``) and
:class:`ExtractiveSummary` (a sentence scorer, ``finetune summarize --model minilm [--extractive]``).

A task names its family (``training_family = "SequenceClassification"``, a key of :data:`FAMILIES`)
and gives it its own field names as plain data (``training_options()``, e.g. ``{"text_field":
"sentence", "label_field": "topic"}``), so a task imports nothing from training; a third-party plugin
may instead return a spec from its own ``training_spec()`` classmethod. Nothing here
switches on a task name: what differs between tasks is a constructor argument or a method of the
task class (chat prompts come from ``ChatTask.prompt_ids``/``target_ids``, the same functions
``nlptasks run chat`` uses). Validation, and a distillation teacher's outputs, predict through the task
itself with the model in memory (``Task.serving``; ``TrainingSpec.validation``/``served_outputs``), so
they are what ``nlptasks run``/``eval`` answer.
"""
from __future__ import annotations

from . import preprocess
from .spec import Prepared, TrainingSpec


def _logits(p):
    return p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions


class SequenceClassification(TrainingSpec):
    """``{text_field, label_field}`` -> an ``AutoModelForSequenceClassification`` head."""

    lengths = (128, 0)
    pipeline_tag = "text-classification"
    peft_task_type = "SEQ_CLS"
    head_suffix = "ForSequenceClassification"
    logit_keys = ("logits",)
    freeze_base_ok = True
    class_weights_ok = True
    default_base_model = "minilm"  # the packaged MiniLM encoder

    # with more than two labels the best checkpoint is the one with the best macro-averaged recall (so a
    # model that drops a class cannot win on the majority classes); accuracy and macro-F1 are recorded too
    multiclass_metric = "macro_recall"
    multiclass_extra = ("accuracy", "f1")

    def __init__(self, task_cls, *, text_field: str = "text", label_field: str = "label",
                 binary_names: tuple[str, str] | None = None):
        super().__init__(task_cls)
        self.text_field, self.label_field, self.binary_names = text_field, label_field, binary_names
        self.num_labels: int | None = None  # known once the model's labels are (model_labels, labels_of)

    @property
    def metric_key(self) -> str:
        if (self.num_labels or 0) > 2 and self.multiclass_metric in self._producible():
            return self.multiclass_metric
        return super().metric_key

    def _producible(self) -> set[str]:
        from ..registry import metric_info

        return {v for name in self.task.metrics for v in metric_info(name).get("produces", ())}

    def score(self, predictions, references):
        scores = super().score(predictions, references)
        if self.metric_key == self.multiclass_metric:
            from ..metrics import compute

            for name in self.multiclass_extra:
                scores.update({k: float(v.score) for k, v in compute(name, predictions, references,
                                                                     bootstrap=0).items()})
        return scores

    def model_labels(self, s, config, train_records, val_records):
        from ..errors import InputError
        from .models import has_head

        if has_head(config, self.head_suffix) and not s.new_head:
            if s.labels:
                raise InputError("--labels names the classes of a new head, but the model already has one; "
                                 "add --new-head to replace it")
            self.num_labels = config.num_labels
            return [config.id2label[i] for i in range(config.num_labels)], {}
        names = preprocess.infer_labels({"train": train_records, "validation": val_records or []}, s.labels,
                                        self.binary_names, label_field=self.label_field)
        self.num_labels = len(names)
        return names, dict(num_labels=len(names), id2label=dict(enumerate(names)),
                           label2id={n: i for i, n in enumerate(names)}, ignore_mismatched_sizes=True)

    def labels_of(self, model):
        self.num_labels = model.config.num_labels
        return [model.config.id2label[i] for i in range(model.config.num_labels)]

    def _validation(self, s, tokenizer, records, label2id, max_length):
        """Validation through the task's own predict path (``task.serving(model).predict``: a long text's
        windows averaged, as ``nlptasks run`` does) with the model being trained: ``validate(model) ->
        scores``, called by the Trainer at each evaluation (``Prepared.validate``)."""
        field = self.task.input_fields[0]
        inputs = [{field: str(r[self.text_field])} for r in records]
        refs = preprocess.map_labels(records, label2id, "--validation", self.label_field)

        def validate(model, tokenizer=tokenizer) -> dict[str, float]:
            labels = self.served_outputs(model, tokenizer, inputs, batch_size=s.eval_batch_size or s.batch_size,
                                         max_length=max_length)
            return self.score([label2id[x] for x in labels], refs)

        return validate

    def reference_fields(self, value, *, path, lookup, label_names):
        if label_names and isinstance(value, int) and 0 <= value < len(label_names):
            value = label_names[value]
        return {self.label_field: value}

    def student_kwargs(self, teacher):
        cfg = teacher.config
        return dict(num_labels=cfg.num_labels, id2label=dict(cfg.id2label), label2id=dict(cfg.label2id),
                    ignore_mismatched_sizes=True)

    def prepare(self, s, tokenizer, config, train_records, eval_records, label2id, max_length, max_target):
        from transformers import DataCollatorWithPadding

        # a task with a long-text rule (sentiment: SentimentTask.windows) gets one feature per window, each
        # labelled with its text's label, as `run` windows the text; else one truncated feature per text
        windows = getattr(self.task, "windows", None)
        fields = dict(text_field=self.text_field, label_field=self.label_field, windows=windows)
        tr = preprocess.classification(train_records, tokenizer, label2id, max_length=max_length, name="--train",
                                       **fields)
        ev = None
        if eval_records is not None:
            ev = preprocess.classification(eval_records, tokenizer, label2id, max_length=max_length,
                                           name="--validation", **fields)

        def metrics(p):
            return self.score(_logits(p).argmax(-1).tolist(), [int(x) for x in p.label_ids])

        validate = None
        if eval_records is not None and s.metric != "loss" and self.task.can_serve():
            validate = self._validation(s, tokenizer, eval_records, label2id, max_length)
        scorer = None if s.metric == "loss" or validate else metrics  # no predict path: argmax per feature
        window_info = {"windows": "every window labelled with its text's label", "windows_train": len(tr)} \
            if windows is not None else {}

        info: dict = {"max_length": max_length}
        weights = None
        if s.class_weights == "balanced":
            from .class_weights import balanced

            names = sorted(label2id, key=label2id.get)
            info["class_weights"] = balanced([f["labels"] for f in tr], names)
            weights = [info["class_weights"][n] for n in names]
        return Prepared(tr, ev, DataCollatorWithPadding(tokenizer), scorer,
                        info={**info, **window_info}, class_weights=weights, validate=validate)


class SpanQA(TrainingSpec):
    """``{question, context, answers}`` -> an ``AutoModelForQuestionAnswering`` (start/end logits);
    validation answers through the task's own predict path (``nlptasks run qa``'s windows and span choice)."""

    lengths = (384, 0)
    pipeline_tag = "question-answering"
    peft_task_type = "QUESTION_ANS"
    head_suffix = "ForQuestionAnswering"
    logit_keys = ("start_logits", "end_logits")
    freeze_base_ok = True
    default_base_model = "minilm"  # the packaged MiniLM encoder

    def __init__(self, task_cls, *, max_answer_length: int = 30):
        super().__init__(task_cls)
        self.max_answer_length = max_answer_length

    def reference_fields(self, value, *, path, lookup, label_names):
        """``answers.text`` references bring their ``answers.answer_start`` along when the row has them."""
        starts = None
        if path.endswith(".text"):
            try:
                starts = lookup(path[:-len(".text")] + ".answer_start")
            except Exception:
                starts = None
        texts = value if isinstance(value, list) else [value]
        return {"answers": {"text": texts, **({"answer_start": list(starts)} if starts is not None else {})}}

    def prepare(self, s, tokenizer, config, train_records, eval_records, label2id, max_length, max_target):
        from transformers import DataCollatorWithPadding

        stride = s.doc_stride  # windows as `run qa` makes them (qa_postprocess.window_stride)
        tr, _ = preprocess.qa(train_records, tokenizer, max_length=max_length, stride=stride, name="--train")
        ev = validate = None
        if eval_records is not None:
            ev, _ = preprocess.qa(eval_records, tokenizer, max_length=max_length, stride=stride, name="--validation")
            if s.metric != "loss":  # answers from the task's own predict path (windows, span choice) on the model
                inputs = [{"question": str(r["question"]), "context": str(r["context"])} for r in eval_records]
                refs = [[str(t) for t in r["answers"]["text"]] for r in eval_records]
                validate = self.validation(s, tokenizer, inputs, refs, max_length=max_length, doc_stride=stride,
                                           max_answer_length=self.max_answer_length)
        return Prepared(tr, ev, DataCollatorWithPadding(tokenizer), None, validate=validate,
                        label_names=["start_positions", "end_positions"],
                        info={"max_length": max_length, "doc_stride": stride, "windows_train": len(tr)})


class Seq2Seq(TrainingSpec):
    """``{source_field, target_field}`` -> an ``AutoModelForSeq2SeqLM``; evaluated by the task's own predict
    path (greedy generation, as ``nlptasks run`` generates) on the model being trained."""

    pipeline_tag = "text2text-generation"
    peft_task_type = "SEQ_2_SEQ_LM"
    trainer_kind = "seq2seq"

    def __init__(self, task_cls, *, source_field: str, target_field: str, prefix_key: str | None = None,
                 pipeline_tag: str | None = None, extractive: bool = False):
        super().__init__(task_cls)
        self.source_field, self.target_field, self.prefix_key = source_field, target_field, prefix_key
        self.extractive = extractive
        if pipeline_tag:
            self.pipeline_tag = pipeline_tag

    def variants(self):
        if not self.extractive:
            return {}
        return {"extractive": ExtractiveSummary(self.task, source_field=self.source_field,
                                                target_field=self.target_field)}

    # overridable pieces -------------------------------------------------------------------------
    def languages(self, records: list[dict], s) -> tuple[str | None, str | None]:
        return None, None

    def pairs(self, records: list[dict], name: str, src, tgt) -> tuple[list[str], list[str]]:
        preprocess.require_fields(records, (self.source_field, self.target_field), name)
        return [str(r[self.source_field]) for r in records], [str(r[self.target_field]) for r in records]

    def prefix(self, config, src, tgt, override: str | None) -> str:
        """The input prefix a T5-style model expects (``task_specific_params``), unless given."""
        if override is not None:
            return override
        params = getattr(config, "task_specific_params", None) or {}
        key = self.prefix_key.format(src=src, tgt=tgt) if self.prefix_key else None
        return str((params.get(key) or {}).get("prefix", "")) if key else ""

    def input_plan(self, tokenizer, config, src, tgt, override: str | None) -> dict:
        """How inputs are given to the model: ``prefix``, the tokenizer's ``src_code``/``tgt_code`` and the
        ``forced_bos`` first generated token (None where the family has none)."""
        return {"prefix": self.prefix(config, src, tgt, override), "src_code": None, "tgt_code": None,
                "forced_bos": None}

    @staticmethod
    def _use_codes(tokenizer, plan: dict) -> None:
        """Language codes onto the tokenizer (mBART/NLLB/M2M100: source and label special tokens)."""
        if plan.get("src_code") is not None:
            tokenizer.src_lang = plan["src_code"]
        if plan.get("tgt_code") is not None:
            tokenizer.tgt_lang = plan["tgt_code"]

    def with_targets(self, records, outputs, s):
        return [{**r, self.target_field: o} for r, o in zip(records, outputs)]

    def reference_fields(self, value, *, path, lookup, label_names):
        return {self.target_field: value}

    def serving_options(self, s, src, tgt, max_new_tokens: int) -> dict:
        """The task options with which validation and teacher outputs predict (``nlptasks run`` flags):
        greedy, ``max_new_tokens`` long, with the run's ``--prefix`` and language pair."""
        return {"prefix": s.prefix, "num_beams": 1, "max_new_tokens": max_new_tokens}

    def inputs(self, sources: list[str]) -> list[dict]:
        """Task input records for the source texts."""
        return [{self.task.input_fields[0]: x} for x in sources]

    # -------------------------------------------------------------------------------------------
    def prepare(self, s, tokenizer, config, train_records, eval_records, label2id, max_length, max_target):
        from transformers import DataCollatorForSeq2Seq

        src, tgt = self.languages(train_records, s)
        plan = self.input_plan(tokenizer, config, src, tgt, s.prefix)
        self._use_codes(tokenizer, plan)
        prefix = plan["prefix"]
        xs, ys = self.pairs(train_records, "--train", src, tgt)
        tr = preprocess.seq2seq(xs, ys, tokenizer, prefix=prefix, max_source=max_length, max_target=max_target)
        ev = validate = None
        info = {"max_length": max_length, "max_target_length": max_target, "prefix": prefix}
        if eval_records is not None:
            exs, refs = self.pairs(eval_records, "--validation", src, tgt)
            ev = preprocess.seq2seq(exs, refs, tokenizer, prefix=prefix, max_source=max_length,
                                    max_target=max_target)
            if s.metric != "loss":  # the task's own predict path (greedy, --max-new-tokens) on the trained model
                options = self.serving_options(s, src, tgt, s.max_new_tokens)
                validate = self.validation(s, tokenizer, self.inputs(exs), refs, **options)
                info["validation"] = {k: v for k, v in options.items() if v is not None}
        if src:
            info.update(source_lang=src, target_lang=tgt)
        if plan["forced_bos"] is not None:
            info.update(src_lang_code=plan["src_code"], tgt_lang_code=plan["tgt_code"])
        shifter = preprocess.DecoderInputs(config) if s.label_smoothing else None  # see DecoderInputs
        collator = DataCollatorForSeq2Seq(tokenizer, model=shifter, label_pad_token_id=preprocess.IGNORE)
        return Prepared(tr, ev, collator, None, info=info, validate=validate)

    def teacher_outputs(self, s, teacher, tokenizer, records):
        """Greedy teacher outputs for the training inputs: what ``nlptasks run`` answers with the teacher
        (``--num-beams 1 --max-new-tokens`` ``--max-target-length``, the run's prefix and language pair)."""
        src, tgt = self.languages(records, s)
        sources, _ = self.pairs(records, "--train", src, tgt)
        options = self.serving_options(s, src, tgt, s.max_target_length or 128)
        return self.served_outputs(teacher, tokenizer, self.inputs(sources),
                                   batch_size=s.eval_batch_size or s.batch_size, **options)


class Translation(Seq2Seq):
    """Seq2seq over ``{translation: {SRC: ..., TGT: ...}}`` pairs (or flat ``{text, target}``)."""

    def __init__(self, task_cls):
        super().__init__(task_cls, source_field="text", target_field="target",
                         prefix_key="translation_{src}_to_{tgt}", pipeline_tag="translation")

    def languages(self, records, s):
        return preprocess.translation_langs(records, s.source_lang, s.target_lang)

    def input_plan(self, tokenizer, config, src, tgt, override):
        """The translation task's own rule (``TranslateTask.input_plan``): T5 prefixes, multi-target
        Marian ``>>tgt<<``, mBART/NLLB/M2M100 language codes and forced first token, as ``run`` sends."""
        return self.task.input_plan(tokenizer, config, src, tgt, override)

    def pairs(self, records, name, src, tgt):
        return preprocess.translation_pairs(records, name, src, tgt)

    def serving_options(self, s, src, tgt, max_new_tokens):
        return {**super().serving_options(s, src, tgt, max_new_tokens), "source_lang": src, "target_lang": tgt}

    def with_targets(self, records, outputs, s):
        if all("translation" in r for r in records):
            _, tgt = self.languages(records, s)
            return [{**r, "translation": {**r["translation"], tgt: o}} for r, o in zip(records, outputs)]
        return super().with_targets(records, outputs, s)


class CausalChat(TrainingSpec):
    """``{history, response}`` -> an ``AutoModelForCausalLM``. Prompts and targets are the task's own
    (``prompt_ids``/``target_ids`` classmethods, shared with ``nlptasks run``); evaluation adds the
    task's metric on the greedy responses that the task's own predict path gives the validation histories."""

    pipeline_tag = "text-generation"
    peft_task_type = "CAUSAL_LM"
    trainer_kind = "generate"

    def __init__(self, task_cls, *, history_field: str = "history", response_field: str = "response",
                 retrieval: bool = True):
        super().__init__(task_cls)
        self.history_field, self.response_field = history_field, response_field
        self.retrieval = retrieval

    def variants(self):
        if not self.retrieval:
            return {}
        return {"retrieval": RetrievalChat(self.task, history_field=self.history_field,
                                           response_field=self.response_field)}

    def reference_fields(self, value, *, path, lookup, label_names):
        return {self.response_field: value}

    def inputs(self, records: list[dict]) -> list[dict]:
        """Task input records (the conversation) for training records."""
        return [{self.task.input_fields[0]: preprocess.turns(r, self.history_field)} for r in records]

    def prepare(self, s, tokenizer, config, train_records, eval_records, label2id, max_length, max_target):
        from transformers import DataCollatorForSeq2Seq

        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        kw = dict(max_length=max_length, max_response=max_target, task=self.task, history_field=self.history_field,
                  response_field=self.response_field)
        tr = preprocess.chat(train_records, tokenizer, name="--train", **kw)
        ev = validate = None
        info = {"max_length": max_length, "max_response_length": max_target}
        if eval_records is not None:
            ev = preprocess.chat(eval_records, tokenizer, name="--validation", **kw)
            if s.metric != "loss":  # greedy responses through the task's own predict path (history cut as run cuts it)
                refs = [str(r[self.response_field]) for r in eval_records]
                validate = self.validation(s, tokenizer, self.inputs(eval_records), refs,
                                           max_new_tokens=s.max_new_tokens)
                info["validation"] = {"max_new_tokens": s.max_new_tokens}
        return Prepared(tr, ev, DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=preprocess.IGNORE), None,
                        info=info, validate=validate)

    def teacher_outputs(self, s, teacher, tokenizer, records):
        """Greedy teacher responses: what ``nlptasks run chat --max-new-tokens`` ``--max-target-length``
        answers with the teacher."""
        return self.served_outputs(teacher, tokenizer, self.inputs(records), batch_size=s.eval_batch_size or s.batch_size,
                                   max_new_tokens=s.max_target_length or 128)

    def with_targets(self, records, outputs, s):
        return [{**r, self.response_field: o} for r, o in zip(records, outputs)]


class RetrievalChat(TrainingSpec):
    """``{history, response}`` -> a retrieval model: the training contexts encoded by the packaged MiniLM,
    their responses as the candidates (:mod:`nlptasks.training.retrieval`). No gradient steps."""

    family = "retrieval index (MiniLM context-context matching + consensus choice)"
    pipeline_tag = "conversational"
    trainer_kind = "fit"
    default_base_model = "minilm"

    def __init__(self, task_cls, *, history_field: str = "history", response_field: str = "response"):
        super().__init__(task_cls)
        self.history_field, self.response_field = history_field, response_field

    def reference_fields(self, value, *, path, lookup, label_names):
        return {self.response_field: value}

    def fit(self, s, train_records, eval_records, out):
        from .retrieval import build

        return build(self, s, train_records, eval_records, out)


class ExtractiveSummary(TrainingSpec):
    """``{document, summary}`` -> a supervised extractive scorer over MiniLM sentence features, trained on
    greedy-ROUGE oracle labels (:mod:`nlptasks.training.extractive`)."""

    family = "supervised extractive scorer (MiniLM sentence features + oracle labels)"
    pipeline_tag = "summarization"
    trainer_kind = "fit"
    default_base_model = "minilm"

    def __init__(self, task_cls, *, source_field: str = "document", target_field: str = "summary"):
        super().__init__(task_cls)
        self.source_field, self.target_field = source_field, target_field

    def reference_fields(self, value, *, path, lookup, label_names):
        return {self.target_field: value}

    def fit(self, s, train_records, eval_records, out):
        from .extractive import build

        return build(self, s, train_records, eval_records, out)


# family name (a task's ``training_family``) -> class; the trainer resolves names here
FAMILIES: dict[str, type[TrainingSpec]] = {cls.__name__: cls for cls in (
    SequenceClassification, SpanQA, Seq2Seq, Translation, CausalChat, RetrievalChat, ExtractiveSummary)}


def training_spec(task: str | type) -> TrainingSpec:
    """The training spec of a task (a name or alias from the task registry, or a task class)."""
    from ..errors import InputError
    from ..registry import TASKS

    cls = TASKS.get(task) if isinstance(task, str) else task
    fn = getattr(cls, "training_spec", None)
    spec = fn() if fn is not None else None  # a plugin's own spec
    family = getattr(cls, "training_family", None)
    if spec is None and family:
        if family not in FAMILIES:
            raise InputError(f"task {cls.name!r}: unknown training family {family!r} (known: "
                             f"{', '.join(sorted(FAMILIES))})")
        spec = FAMILIES[family](cls, **cls.training_options())
    if spec is None:
        raise InputError(f"task {cls.name!r} cannot be fine-tuned: its plugin names no training_family and "
                         f"defines no training_spec()")
    return spec
