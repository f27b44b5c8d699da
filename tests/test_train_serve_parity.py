"""Train = serve: for the same record, what the trainer feeds a model (input ids, special and language
tokens, the forced first token, windows) equals what ``nlptasks run`` feeds the served model. The trainer
side is ``nlptasks.training.features.prepare`` (what ``finetune`` calls); the serving side is captured
at the backend call of each task (``generate_batched`` / ``forward_batched``), so nothing is re-derived
here. Tiny random models of every family: Marian (single- and multi-target), mBART-50, T5, BART, GPT-2,
BERT.
"""
from __future__ import annotations

import pytest

from nlptasks.training.families import training_spec
from nlptasks.training.features import prepare
from nlptasks.training.settings import FinetuneSettings

TEXT = "the cat sees a book."
TARGET = "Der Hund liest ein Buch."


@pytest.fixture(scope="module")
def models(tiny_models, tmp_path_factory):
    """The session's tiny models plus a multi-target Marian (``>>de<<``/``>>fr<<`` tokens) and an mBART-50
    with an ``MBart50TokenizerFast`` (language codes as special tokens), built offline."""
    import torch
    from tiny_models import _save, _wrap, train_bpe
    from transformers import MarianConfig, MarianMTModel, MBart50TokenizerFast, MBartConfig, MBartForConditionalGeneration

    root = tmp_path_factory.mktemp("parity-models")
    torch.manual_seed(0)
    small = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                 decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128)
    raw = train_bpe(["</s>", "<unk>"], eos="</s>")
    raw.add_special_tokens([">>de<<", ">>fr<<"])
    raw.add_special_tokens(["<pad>"])
    tok = _wrap(raw, eos_token="</s>", unk_token="<unk>", pad_token="<pad>")
    pad = raw.token_to_id("<pad>")
    cfg = MarianConfig(vocab_size=len(tok), pad_token_id=pad, decoder_start_token_id=pad, eos_token_id=0,
                       forced_eos_token_id=0, bos_token_id=0, scale_embedding=True,
                       share_encoder_decoder_embeddings=True, **small)
    out = dict(tiny_models)
    out["marian-multi"] = _save(MarianMTModel(cfg), tok, root / "marian-multi")
    raw = train_bpe(["<s>", "<pad>", "</s>", "<unk>"], eos="</s>")
    raw.add_special_tokens(["en_XX", "de_DE", "fr_XX", "<mask>"])
    mtok = MBart50TokenizerFast(tokenizer_object=raw, src_lang="en_XX", tgt_lang="de_DE", bos_token="<s>",
                                eos_token="</s>", pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    mcfg = MBartConfig(vocab_size=len(mtok), pad_token_id=mtok.pad_token_id, eos_token_id=mtok.eos_token_id,
                       bos_token_id=mtok.bos_token_id, decoder_start_token_id=mtok.eos_token_id, **small)
    out["mbart"] = _save(MBartForConditionalGeneration(mcfg), mtok, root / "mbart")
    return out


def _trained(task: str, path, records: list[dict], label2id: dict | None = None, eval_records=None, **settings):
    """The trainer's features for ``records`` (``finetune``'s own ``prepare``) and its ``Prepared``."""
    from transformers import AutoConfig, AutoTokenizer

    s = FinetuneSettings(task=task, model=str(path), train="-", **{"metric": "loss", **settings})
    tok, cfg = AutoTokenizer.from_pretrained(path), AutoConfig.from_pretrained(path)
    return prepare(training_spec(task), s, tok, cfg, records, eval_records, label2id)


def _capture(monkeypatch, name: str) -> dict:
    """Replace ``nlptasks.backend.inference.NAME`` by a recorder of what the task feeds the model."""
    import nlptasks.backend.inference as inference

    seen: dict = {}

    def generate(lm, items, cfg, **kw):
        seen.update(items=items, forced=getattr(cfg, "forced_bos_token_id", None))
        return [[lm.tokenizer.eos_token_id] for _ in items]

    def forward(lm, items, outputs=("logits",), per_token=False, **kw):
        import torch

        seen.update(items=items)
        n = len(lm.config.id2label) if not per_token else None
        return [tuple(torch.zeros(n if n else len(it["input_ids"])) for _ in outputs) for it in items]

    monkeypatch.setattr(inference, name, generate if name == "generate_batched" else forward)
    return seen


# -- translate: prefixes, language tokens, forced first token ----------------------------------------------
@pytest.mark.parametrize("family, src, tgt", [
    ("marian", "en", "de"),        # one pair, no prefix
    ("marian-multi", "en", "fr"),  # >>fr<< before the input
    ("mbart", "en", "de"),         # en_XX source code, de_DE label code and forced first token
    ("t5", "en", "de"),            # the prefix from task_specific_params
    ("t5", "en", "fr"),            # no such params: "translate English to French: " (the fallback)
    ("bart", "en", "de"),          # a generic seq2seq model
])
def test_translation_inputs_equal(models, monkeypatch, family, src, tgt):
    from nlptasks.tasks.translate import TranslateTask

    from transformers import AutoModelForSeq2SeqLM

    seen = _capture(monkeypatch, "generate_batched")
    TranslateTask(str(models[family]), source_lang=src, target_lang=tgt, device="cpu").predict([{"text": TEXT}])
    (served,) = seen["items"]
    forced = seen["forced"]
    records = [{"translation": {src: TEXT, tgt: TARGET}}]
    prepared = _trained("translate", models[family], records, eval_records=records, metric=None,
                        source_lang=src, target_lang=tgt)
    feature = prepared.train[0]
    assert feature["input_ids"] == served["input_ids"]
    seen.clear()  # validation during finetune feeds the model what run feeds it, the forced first token included
    prepared.validate(AutoModelForSeq2SeqLM.from_pretrained(models[family]))
    assert seen["items"] == [served] and seen["forced"] == forced
    from transformers import AutoTokenizer

    tokens = AutoTokenizer.from_pretrained(models[family]).convert_ids_to_tokens(served["input_ids"])
    if family == "marian-multi":
        assert tokens[0] == ">>fr<<"
    if family == "mbart":
        assert tokens[0] == "en_XX" and forced is not None
        assert feature["labels"][0] == forced  # the model learns to start with the forced token
    if family == "t5":
        assert prepared.info["prefix"] == ("translate English to German: " if tgt == "de"
                                           else "translate English to French: ")


# -- sentiment: one window when the text fits ---------------------------------------------------------------
def test_sentiment_inputs_equal(models, monkeypatch):
    from nlptasks.tasks.sentiment import SentimentTask

    seen = _capture(monkeypatch, "forward_batched")
    SentimentTask(str(models["bert-cls"]), device="cpu").predict([{"text": TEXT}])
    prepared = _trained("sentiment", models["bert-cls"], [{"text": TEXT, "label": "POSITIVE"}],
                        label2id={"NEGATIVE": 0, "POSITIVE": 1})
    (served,) = seen["items"]
    assert prepared.train[0]["input_ids"] == served["input_ids"]


# -- qa: the same windows over a long context ----------------------------------------------------------------
def test_qa_windows_equal(models, monkeypatch):
    from nlptasks.tasks.qa import QATask

    context = " ".join(f"the cat number {i} sees a book." for i in range(30)) + " the dog reads the letter."
    record = {"question": "what does the dog read?", "context": context}
    answer = {"text": ["the letter"], "answer_start": [context.index("the letter")]}
    seen = _capture(monkeypatch, "forward_batched")
    QATask(str(models["bert-qa"]), device="cpu", max_length=48, doc_stride=16).predict([record])
    prepared = _trained("qa", models["bert-qa"], [{**record, "answers": answer}], max_length=48, doc_stride=16)
    served = [it["input_ids"] for it in seen["items"]]
    assert len(served) > 2  # several windows
    assert [f["input_ids"] for f in prepared.train] == served
    # a stride that does not fit the room the question leaves: both halve that room
    seen.clear()
    QATask(str(models["bert-qa"]), device="cpu", max_length=48, doc_stride=40).predict([record])
    prepared = _trained("qa", models["bert-qa"], [{**record, "answers": answer}], max_length=48, doc_stride=40)
    assert [f["input_ids"] for f in prepared.train] == [it["input_ids"] for it in seen["items"]]


# -- chat: the prompt the served model continues is the trained prompt -------------------------------------
def test_chat_prompt_equal(models, monkeypatch):
    from nlptasks.tasks.chat import ChatTask

    history = ["Hello , how are you ?", "Fine , thanks .", "What are you reading ?"]
    seen = _capture(monkeypatch, "generate_batched")
    ChatTask(str(models["gpt2"]), device="cpu").predict([{"history": history}])
    prepared = _trained("chat", models["gpt2"], [{"history": history, "response": "A book ."}])
    feature = prepared.train[0]
    prompt = [t for t, lab in zip(feature["input_ids"], feature["labels"]) if lab == -100]
    (served,) = seen["items"]
    assert prompt == list(served["input_ids"]) and len(prompt) < len(feature["input_ids"])


def test_chat_long_history_cut_alike(models, monkeypatch):
    """A history longer than the model takes is cut by one rule (``ChatTask.fit_prompt``: whole turns dropped,
    oldest first) in the training features, in the validation prompts that ``finetune`` generates from, and in
    what ``run`` sends for the same budget."""
    from transformers import AutoTokenizer

    from nlptasks.tasks.chat import ChatTask

    history = [f"turn {i} : the cat number {i} sees a book and reads it ." for i in range(20)]
    record = {"history": history, "response": "A book ."}
    tok = AutoTokenizer.from_pretrained(models["gpt2"])
    assert len(ChatTask.prompt_ids(tok, history)) > 128  # longer than the tiny GPT-2 takes (n_positions 128)

    # training features: the prompt gets the room the response leaves in --max-length
    prepared = _trained("chat", models["gpt2"], [record], max_length=96)
    feature = prepared.train[0]
    prompt = [t for t, lab in zip(feature["input_ids"], feature["labels"]) if lab == -100]
    room = 96 - (len(feature["input_ids"]) - len(prompt))
    seen = _capture(monkeypatch, "generate_batched")
    (out,) = ChatTask(str(models["gpt2"]), device="cpu", max_context_tokens=room).predict([{"history": history}])
    (served,) = seen["items"]
    assert prompt == list(served["input_ids"])
    dropped = out["dropped_turns"]
    assert dropped > 0 and prompt == ChatTask.prompt_ids(tok, history[dropped:])  # whole turns, oldest first

    # validation prompts during finetune (generated with --max-new-tokens): the served prompt at the model's
    # limit, where run's default budget is that limit minus --max-new-tokens
    from transformers import AutoModelForCausalLM

    prepared = _trained("chat", models["gpt2"], [record], eval_records=[record], metric=None, max_new_tokens=40)
    seen.clear()
    ChatTask(str(models["gpt2"]), device="cpu", max_new_tokens=40).predict([{"history": history}])
    served = [list(it["input_ids"]) for it in seen["items"]]
    seen.clear()
    prepared.validate(AutoModelForCausalLM.from_pretrained(models["gpt2"]))
    assert [list(it["input_ids"]) for it in seen["items"]] == served


# -- sentiment: a long text is windowed alike in training, validation and serving ----------------------------
LONG = " ".join(f"the cat number {i} sees a book and the dog reads a letter." for i in range(12))


def test_sentiment_long_text_windows_equal(models, monkeypatch):
    """Training features of a long text are the windows ``run`` feeds (``SentimentTask.windows``), every one
    labelled with the text's label."""
    from nlptasks.tasks.sentiment import SentimentTask

    seen = _capture(monkeypatch, "forward_batched")
    SentimentTask(str(models["bert-cls"]), device="cpu", max_length=32).predict([{"text": LONG}])
    prepared = _trained("sentiment", models["bert-cls"], [{"text": LONG, "label": "POSITIVE"}, {"text": TEXT,
                        "label": "negative"}], label2id={"NEGATIVE": 0, "POSITIVE": 1}, max_length=32)
    served = [it["input_ids"] for it in seen["items"]]
    assert len(served) > 2  # several windows
    assert [f["input_ids"] for f in prepared.train[:len(served)]] == served
    assert [f["labels"] for f in prepared.train] == [1] * len(served) + [0]
    assert prepared.info["windows_train"] == len(served) + 1


def test_sentiment_validation_is_the_served_prediction(models, monkeypatch):
    """Validation during ``finetune`` predicts through the task (``Prepared.validate``): it feeds the model the
    served windows and scores the served labels (a long text's windows averaged)."""
    from transformers import AutoModelForSequenceClassification

    from nlptasks.tasks.sentiment import SentimentTask

    texts = [LONG, TEXT, LONG.replace("cat", "bird")]
    served = [o["label"] for o in SentimentTask(str(models["bert-cls"]), device="cpu", max_length=32).predict(
        [{"text": t} for t in texts])]
    flip = {"NEGATIVE": "POSITIVE", "POSITIVE": "NEGATIVE"}
    label2id = {"NEGATIVE": 0, "POSITIVE": 1}
    model = AutoModelForSequenceClassification.from_pretrained(models["bert-cls"])
    model.train()
    for labels, accuracy in ((served, 100.0), ([flip[x] for x in served], 0.0)):  # accuracy in percent
        records = [{"text": t, "label": lab} for t, lab in zip(texts, labels)]
        prepared = _trained("sentiment", models["bert-cls"], records, label2id=label2id, eval_records=records,
                            metric=None, max_length=32)
        assert prepared.compute_metrics is None and prepared.validate is not None
        assert prepared.validate(model)["accuracy"] == accuracy
    assert model.training  # validation leaves the model as it found it
    seen = _capture(monkeypatch, "forward_batched")
    prepared.validate(model)
    fed = [it["input_ids"] for it in seen["items"]]
    seen.clear()
    SentimentTask(str(models["bert-cls"]), device="cpu", max_length=32).predict([{"text": t} for t in texts])
    assert fed == [it["input_ids"] for it in seen["items"]] and len(fed) > len(texts)


# -- validation of the generating tasks is the served prediction ---------------------------------------------
def _validation_predictions(monkeypatch, prepared, model) -> list:
    """The predictions that ``prepared.validate(model)`` (validation during ``finetune``) scores."""
    from nlptasks.training.spec import TrainingSpec

    seen: dict = {}
    score = TrainingSpec.score

    def spy(self, predictions, references):
        seen["predictions"] = list(predictions)
        return score(self, predictions, references)

    monkeypatch.setattr(TrainingSpec, "score", spy)
    prepared.validate(model)
    monkeypatch.setattr(TrainingSpec, "score", score)
    return seen["predictions"]


def _spy_predict(monkeypatch, cls) -> list:
    """The model names that ``cls._predict`` runs with (validation's task serves the model as "in-memory")."""
    names: list = []
    predict = cls._predict

    def spy(self, records):
        names.append(self.model_name)
        return predict(self, records)

    monkeypatch.setattr(cls, "_predict", spy)
    return names


DOC = " ".join(f"The cat number {i} sees a book. The dog reads the long letter number {i}." for i in range(8))


@pytest.mark.parametrize("task, family, settings, record", [
    # two sentences: run translates each alone and joins them
    ("translate", "marian", {}, {"translation": {"en": TEXT + " A dog likes the house.", "de": TARGET}}),
    ("translate", "t5", {"source_lang": "en", "target_lang": "de"},     # the prefix
     {"translation": {"en": TEXT, "de": TARGET}}),
    ("translate", "mbart", {"source_lang": "en", "target_lang": "de"},  # source code, forced first token dropped
     {"translation": {"en": TEXT, "de": TARGET}}),
    ("summarize", "bart", {}, {"document": DOC, "summary": TEXT}),      # longer than the model: map-reduce windows
    ("chat", "gpt2", {}, {"history": [f"turn {i} : the cat number {i} sees a book ." for i in range(14)],
                          "response": "A book ."}),                     # a history cut as run cuts it
])
def test_generation_validation_is_the_served_prediction(models, monkeypatch, task, family, settings, record):
    """Validation during ``finetune`` of a generating task predicts through the task itself
    (``Task.serving(model).predict``, greedy, ``--max-new-tokens``) with the model being trained: its
    predictions are what ``nlptasks run`` answers with the same weights and those flags."""
    import transformers

    from nlptasks.registry import TASKS

    cls = TASKS.get(task)
    auto = getattr(transformers, cls.model_class)
    model = auto.from_pretrained(models[family])
    model.train()
    names = _spy_predict(monkeypatch, cls)
    prepared = _trained(task, models[family], [record], eval_records=[record, record], metric=None,
                        max_new_tokens=6, **settings)
    assert prepared.compute_metrics is None and prepared.validate is not None
    validated = _validation_predictions(monkeypatch, prepared, model)
    assert model.training and names == ["in-memory"]  # the task's own predict path, the model left as found
    options = {"num_beams": 1} if task != "chat" else {}
    out = cls(str(models[family]), device="cpu", max_new_tokens=6, **options, **settings).predict(
        [{k: v for k, v in record.items() if k in cls.input_fields} if task != "translate"
         else {"text": record["translation"]["en"]}] * 2)
    served = [o[cls.output_fields[0]] for o in out]
    assert validated == served
    if task == "summarize":
        assert out[0]["strategy"]["windows"] > 1  # the document was windowed, as run windows it
    if task == "chat":
        assert out[0]["dropped_turns"] > 0
    if family == "marian":
        assert out[0].get("pieces") == 2


def test_qa_validation_is_the_served_prediction(models, monkeypatch):
    """QA validation answers through ``QATask`` with the model being trained (its windows over a long
    context and its span choice): the answers scored are ``nlptasks run qa``'s."""
    from transformers import AutoModelForQuestionAnswering

    from nlptasks.tasks.qa import QATask

    context = " ".join(f"the cat number {i} sees a book." for i in range(30)) + " the dog reads the letter."
    records = [{"question": q, "context": context,
                "answers": {"text": ["the letter"], "answer_start": [context.index("the letter")]}}
               for q in ("what does the dog read?", "who sees a book?")]
    model = AutoModelForQuestionAnswering.from_pretrained(models["bert-qa"])
    names = _spy_predict(monkeypatch, QATask)
    prepared = _trained("qa", models["bert-qa"], records, eval_records=records, metric=None, max_length=48,
                        doc_stride=16)
    assert prepared.compute_metrics is None
    validated = _validation_predictions(monkeypatch, prepared, model)
    assert names == ["in-memory"]
    out = QATask(str(models["bert-qa"]), device="cpu", max_length=48, doc_stride=16).predict(
        [{"question": r["question"], "context": context} for r in records])
    assert validated == [o["answer"] for o in out] and out[0]["windows"] > 2


def test_validation_options_are_checked_before_training(models, tmp_path):
    """Validation sets the task up around the model before the first step: a --max-new-tokens that leaves
    the prompt no room in the model fails at once, with run's message, and writes nothing."""
    from train_data import ROWS, write_jsonl

    from nlptasks.api import finetune
    from nlptasks.errors import NlpTasksError

    data = write_jsonl(tmp_path / "chat.jsonl", ROWS["chat"]())
    with pytest.raises(NlpTasksError, match="too few for a prompt plus 125 new tokens; lower --max-new-tokens"):
        finetune("chat", str(models["gpt2"]), data, data, str(tmp_path / "out"), max_steps=2, max_new_tokens=125)
    assert not (tmp_path / "out").exists()
