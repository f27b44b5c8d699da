"""Packaged chat (retrieval + baselines) and summarization (supervised extractive) models, and the
`nlptasks finetune` families that build them (RetrievalChat, ExtractiveSummary)."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nlptasks import run
from nlptasks.detokenize import detokenize
from nlptasks.errors import InputError, NlpTasksError
from nlptasks.models import chat_retrieval as cr
from nlptasks.models import extractive_supervised as es

EMBEDDED = Path(__file__).resolve().parents[1] / "nlptasks" / "embedded"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _dialogue(turns: list[str]) -> list[dict]:
    return [{"history": turns[:i], "response": turns[i]} for i in range(1, len(turns))]


DIALOGUES = [
    ["Hello , can I help you ?", "Yes , I would like to buy a pair of shoes .", "What size do you wear ?",
     "Size nine , please ."],
    ["What's the weather like today ?", "It is raining heavily outside .", "Then take an umbrella with you ."],
    ["Where is the train station ?", "Go straight and turn left at the bank .", "Thank you very much ."],
    ["Do you like playing football ?", "I love it , I play every Sunday .", "Which team do you support ?",
     "Manchester United , of course ."],
    ["How much is this book ?", "It costs twenty dollars .", "That is too expensive for me ."],
    ["Are you hungry ?", "Yes , let's order a pizza .", "Good idea , I want extra cheese ."],
    ["When does the movie start ?", "At seven thirty tonight .", "Let's meet at the cinema at seven ."],
    ["Can you help me with my homework ?", "Sure , which subject is it ?", "It is maths , algebra ."],
    ["Did you sleep well ?", "No , my neighbours were very loud .", "You should talk to them ."],
    ["What do you do for a living ?", "I am a nurse at the city hospital .", "That must be hard work ."],
    ["Is this seat taken ?", "No , please sit down .", "Thanks , it is very crowded today ."],
    ["Would you like some coffee ?", "Yes please , with milk and no sugar .", "Here you are ."],
]


@pytest.fixture(scope="module")
def dialogue_file(tmp_path_factory) -> Path:
    rows = [r for d in DIALOGUES for r in _dialogue(d)]
    return _write(tmp_path_factory.mktemp("dd") / "train.jsonl", rows)


@pytest.fixture(scope="module")
def retrieval_model(tmp_path_factory, dialogue_file) -> Path:
    """A retrieval model built by `nlptasks finetune chat --model minilm` (the build command, tiny data)."""
    from nlptasks.training.trainer import finetune

    out = tmp_path_factory.mktemp("built") / "chat-retrieval"
    result = finetune("chat", "minilm", str(dialogue_file), str(dialogue_file), str(out), device="cpu")
    assert result["family"].startswith("retrieval")
    return out


# -- packaged models: present, loadable offline (a missing file fails, never skips) ------------------
def test_packaged_retrieval_chat_loads_offline_and_fits_the_size_budget():
    folder = EMBEDDED / cr.DEFAULT_NAME
    for f in (cr.META, cr.INDEX, cr.RESPONSES, "README.md"):
        assert (folder / f).is_file(), f"packaged chat model file missing: {folder / f}"
    size = sum((folder / f).stat().st_size for f in (cr.META, cr.INDEX, cr.RESPONSES))
    assert size <= 10_000_000
    model = cr.RetrievalChat.load()
    assert model.contexts.shape[0] == len(model.responses) > 10_000
    info = model.describe()
    assert info["name"] == "minilm-retrieval" and info["perplexity"] is None


def test_packaged_extractive_scorer_loads_offline():
    folder = EMBEDDED / es.DEFAULT_NAME
    for f in (es.META, es.WEIGHTS, "README.md"):
        assert (folder / f).is_file(), f"packaged summarization model file missing: {folder / f}"
    scorer = es.ExtractiveScorer.load()
    assert scorer.describe()["name"] == "minilm-extsum"


def test_chat_default_answers_a_multi_turn_history_offline():
    from nlptasks.tasks.chat import ChatTask

    assert ChatTask.default_model == "minilm-retrieval"
    history = ["Hi , what are you going to do this weekend ?", "I'm going to the beach with friends .",
               "Sounds great ! Which beach ?"]
    out = run("chat", [{"history": history}])[0]
    with gzip.open(EMBEDDED / cr.DEFAULT_NAME / cr.RESPONSES, "rt", encoding="utf-8") as f:
        assert out["response"] in {detokenize(r) for r in json.load(f)}  # shown detokenised
    assert out["dropped_turns"] == 0


def test_summarize_default_is_the_supervised_scorer_and_extracts_sentences():
    from nlptasks.tasks.summarize import SummarizeTask

    doc = ("The city council approved a new budget on Monday. It adds money for schools and roads. "
           "The mayor said the plan would create jobs. Critics said taxes would rise. "
           "A final vote is expected next month. Residents can comment online.")
    out = run("summarize", [{"document": doc}], model="minilm-extsum", sentences=3)[0]
    assert out["strategy"]["method"] == "extractive-supervised" and out["strategy"]["sentences"] == 3
    assert all(line in doc for line in out["summary"].split("\n"))
    # without --sentences/--ratio: the length the scorer learned (whole sentences up to a word budget)
    from nlptasks.models.extractive_supervised import ExtractiveScorer

    budget = ExtractiveScorer.load().settings.get("summary_words")
    learned = run("summarize", [{"document": doc}], model="minilm-extsum")[0]
    picked = learned["summary"].split("\n")
    assert 1 <= len(picked) <= 3 and all(line in doc for line in picked)
    if budget:
        assert sum(len(x.split()) for x in picked[:-1]) < budget  # it stops once the budget is reached
    assert SummarizeTask.default_model == "minilm-extsum"  # it beats lead-3 by 2+ ROUGE-1 on validation


# -- baselines ---------------------------------------------------------------------------------------
def test_baselines_repeat_and_most_frequent():
    recs = [{"history": ["Hello .", "How are you ?", "  "]}, {"history": "Nice to meet you ."}]
    assert [o["response"] for o in run("chat", recs, model="repeat-last-turn")] == ["How are you ?",
                                                                                   "Nice to meet you ."]
    out = run("chat", recs, model="most-frequent-response")
    assert [o["response"] for o in out] == ["Thank you."] * 2  # DailyDialog's "Thank you .", detokenised


@pytest.mark.data
def test_most_frequent_response_is_the_dailydialog_train_mode(shared_data):
    from nlptasks.models.chat_offline import MOST_FREQUENT_RESPONSE

    rows = [json.loads(line) for line in (shared_data / "dialogue" / "train.jsonl").open(encoding="utf-8")]
    assert Counter(r["response"] for r in rows).most_common(1)[0][0] == MOST_FREQUENT_RESPONSE


def test_models_lists_the_chat_baselines(cli):
    r = cli("models", "chat", "--json")
    rows = {x["model"]: x for x in json.loads(r.stdout)}
    assert rows["repeat-last-turn"]["kind"] == rows["most-frequent-response"]["kind"] == "baseline"
    assert rows["minilm-retrieval"]["default"] is True
    r = cli("models", "summarize", "--json")
    assert "minilm-extsum" in {x["model"] for x in json.loads(r.stdout)}


def test_baselines_have_no_perplexity():
    from nlptasks.api import load_task

    task = load_task("chat", "repeat-last-turn")
    with pytest.raises(NlpTasksError, match="does not score references"):
        task.reference_nll([{"history": ["hi"]}], ["hello"])


# -- the build command (finetune) on a tiny subset -----------------------------------------------------
def test_built_retrieval_model_answers_from_its_training_responses(retrieval_model):
    files = {p.name for p in retrieval_model.iterdir()}
    assert {cr.META, cr.INDEX, cr.RESPONSES, "README.md", "training_result.json"} <= files
    result = json.loads((retrieval_model / "training_result.json").read_text())
    assert "unigram_f1" in result["metrics"] and "distinct_2" in result["metrics"]
    assert result["cost"]["wall_time_s"] > 0
    out = run("chat", [{"history": ["Hello , can I help you ?", "Yes , I would like to buy a pair of shoes .",
                                    "What size do you wear ?"]}], model=str(retrieval_model))
    training = {detokenize(r) for d in DIALOGUES for r in d[1:]}
    assert out[0]["response"] in training


def test_retrieval_matches_contexts_most_recent_turn_first(retrieval_model):
    """Pure similarity (top-1): the answer follows the training context closest to the conversation,
    and the most recent turn weighs most."""
    model = cr.RetrievalChat.load(retrieval_model)
    model.top_k, model.similarity_weight = 1, 1.0
    a = model.respond([["Hello , can I help you ?", "Yes , I would like to buy a pair of shoes .",
                        "What size do you wear ?"]])[0]["response"]
    assert a == "Size nine, please."
    b = model.respond([["What size do you wear ?", "Where is the train station ?"]])[0]["response"]
    assert b == "Go straight and turn left at the bank."


def test_consensus_choice_prefers_the_typical_candidate():
    responses = ["I am fine , thank you .", "Fine , thank you very much .", "Purple elephants dance ."]
    sims = np.array([0.50, 0.49, 0.51])
    assert cr.choose([2, 0, 1], sims[[2, 0, 1]], responses, similarity_weight=0.3) in (0, 1)
    assert cr.choose([2, 0, 1], sims[[2, 0, 1]], responses, similarity_weight=1.0) == 2


def test_quantized_index_keeps_cosines():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q, s = cr.quantize_rows(x)
    back = q.astype(np.float32) * s.astype(np.float32)[:, None]
    assert q.dtype == np.int8 and np.abs((back * x).sum(1) - 1).max() < 0.01


def test_chat_repl_without_model_uses_the_packaged_retrieval_model(cli):
    r = cli("chat", input="Hello , how are you doing today ?\nWhat would you like for dinner ?\n/exit\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    with gzip.open(EMBEDDED / cr.DEFAULT_NAME / cr.RESPONSES, "rt", encoding="utf-8") as f:
        responses = {detokenize(r) for r in json.load(f)}
    assert len(lines) == 2 and all(line in responses for line in lines)


def test_eval_of_a_retrieval_model_has_no_perplexity(cli, retrieval_model, dialogue_file, tmp_path):
    r = cli("eval", "chat", "--data", dialogue_file, "--model", retrieval_model, "--no-store", "--json")
    assert r.returncode == 0, r.stderr
    record = json.loads(r.stdout)
    assert "unigram_f1" in record["metrics"] and "perplexity" not in record["metrics"]


# -- extractive family ---------------------------------------------------------------------------------
def test_oracle_picks_the_sentences_of_the_summary():
    from nlptasks.training.extractive import oracle

    sents = ["The weather was fine.", "Police arrested two men after the bank robbery in Leeds.",
             "Lunch was served at noon.", "The stolen money was found in a car."]
    assert oracle(sents, "Two men arrested after Leeds bank robbery .\nStolen money found in car .") == [1, 3]


def test_features_and_trigram_blocking():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(6, 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    sents = ["a b c d", "a b c e", "x y z w", "p q r s", "k l m", "t"]
    x = es.features(sents, emb)
    assert x.shape == (6, 384 + es.N_EXTRA) and x[0, 384 + 4] == 1 and x[5, 384 + 11] == 1
    assert es.select(np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0]), sents, 2) == [0, 2]  # 1 repeats "a b c"
    assert es.select(np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.0]), sents, 2, trigram_block=False) == [0, 1]
    ten = ["w " * 10] * 4
    scores = np.array([1.0, 4.0, 3.0, 2.0])
    assert es.select(scores, ten, 3, trigram_block=False, max_words=15) == [1, 2]  # 10 words, then 20 >= 15
    assert es.select(scores, ten, 3, trigram_block=False, max_words=5) == [1]
    assert es.select(scores, ten, 2, trigram_block=False, max_words=100) == [1, 2]  # k still caps it


def test_finetune_summarize_extractive_builds_a_loadable_scorer(cli, tmp_path):
    facts = ["The river flooded the old town on Tuesday.", "Hundreds of homes were evacuated by rescue teams.",
             "Officials said the water would fall by Friday.", "The local football match was postponed.",
             "A bakery on the high street sold out of bread.", "Weather experts blamed a week of heavy rain.",
             "Schools will stay closed until further notice."]
    rows = []
    for i in range(12):
        doc = facts[i % 7:] + facts[:i % 7]
        rows.append({"document": " ".join(doc), "summary": doc[0] + "\n" + doc[1]})
    data = _write(tmp_path / "train.jsonl", rows)
    out = tmp_path / "extsum"
    r = cli("finetune", "summarize", "--model", "minilm", "--train", data, "--output", out, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["task"] == "summarize"
    assert {es.META, es.WEIGHTS, "README.md"} <= {p.name for p in out.iterdir()}
    got = run("summarize", [{"document": rows[0]["document"]}], model=str(out), sentences=2)[0]
    assert got["strategy"]["method"] == "extractive-supervised" and len(got["summary"].split("\n")) == 2


# -- selecting the family, and refusals before anything is written --------------------------------------
def test_select_family_by_switch_or_encoder_base():
    from nlptasks.training.families import CausalChat, ExtractiveSummary, RetrievalChat, Seq2Seq
    from nlptasks.training.families import training_spec

    chat, summ = training_spec("chat"), training_spec("summarize")
    assert isinstance(chat.select("minilm", {}), RetrievalChat)
    assert isinstance(chat.select("gpt2", {"retrieval": True}), RetrievalChat)
    assert type(chat.select("gpt2", {})) is CausalChat
    assert isinstance(summ.select("minilm", {}), ExtractiveSummary)
    assert type(summ.select("t5-small", {})) is Seq2Seq
    with pytest.raises(InputError, match="--retrieval does not apply to task 'sentiment'"):
        training_spec("sentiment").select("minilm", {"retrieval": True})
    with pytest.raises(InputError, match="--extractive does not apply to task 'chat'"):
        chat.select("minilm", {"extractive": True})


@pytest.mark.parametrize("args, message", [
    (["finetune", "sentiment", "--retrieval"], "--retrieval does not apply to task 'sentiment'"),
    (["finetune", "chat", "--model", "gpt2", "--retrieval"], "built on the packaged MiniLM encoder"),
    (["distill", "chat", "--teacher", "gpt2", "--student", "gpt2", "--retrieval"], "--retrieval and --extractive"),
])
def test_family_refusals_are_one_line_and_write_nothing(cli, tmp_path, dialogue_file, args, message):
    out = tmp_path / "out"
    r = cli(*args, "--train", dialogue_file, "--output", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()
