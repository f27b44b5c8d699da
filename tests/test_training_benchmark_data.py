"""`--train BENCHMARK`: a benchmark's reference column becomes the training field that the task's
training spec names (no table of task names in the data loader), so a plugin task trains on a
benchmark like a built-in one."""
from __future__ import annotations

import json

import pytest

from nlptasks.evaluation import definitions as bm
from nlptasks.registry import TASKS


@pytest.fixture
def benchmark_dir(tmp_path, monkeypatch):
    """A benchmark folder on $NLPTASKS_BENCHMARKS_PATH (definitions are read again when it changes)."""
    d = tmp_path / "benchmarks"
    d.mkdir()
    monkeypatch.setenv(bm.PATH_ENV, str(d))
    return d


def _benchmark(d, name: str, task: str, rows: list[dict], body: str, train_rows: list[dict] | None = None) -> None:
    """A benchmark scoring ``rows`` (``NAME.jsonl``); with ``train_rows``, it names ``NAME-train.jsonl``
    as its training data."""
    data = d / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    train = ""
    if train_rows is not None:
        (d / f"{name}-train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train_rows))
        train = f"train_data_files: {d / f'{name}-train.jsonl'}\n"
    (d / f"{name}.yaml").write_text(f"name: {name}\ntask: {task}\nversion: 1\n"
                                    f"dataset:\n  path: json\n  data_files: {data}\n{train}{body}")


SENTIMENT = "columns:\n  text: t\nreferences: y\nlabel_names: [negative, positive]\nmetrics: [accuracy]\n" \
            "primary_metric: accuracy\n"


def test_a_plugin_task_trains_on_a_benchmark_with_its_own_label_field(benchmark_dir, monkeypatch):
    from toy_topic import TopicTask

    from nlptasks.training.data import load_records

    TASKS.names()  # the built-in tasks first
    monkeypatch.setitem(TASKS._items, "topic", TopicTask)
    scored = [{"s": "a scored sentence.", "y": 0}]
    rows = [{"s": "the cat sees a book.", "y": 0}, {"s": "Wie geht es dir?", "y": 1}]
    _benchmark(benchmark_dir, "topic_bench", "topic", scored,
               "columns:\n  sentence: s\nreferences: y\nlabel_names: [english, german]\n"
               "metrics: [accuracy]\nprimary_metric: accuracy\n", train_rows=rows)
    ds = load_records("topic_bench", "train", name="train")
    assert ds.kind == "benchmark"
    assert [(r["sentence"], r["topic"]) for r in ds.records] == [("the cat sees a book.", "english"),
                                                                 ("Wie geht es dir?", "german")]
    assert all("reference" not in r for r in ds.records)


def test_a_qa_benchmark_keeps_the_answer_starts(benchmark_dir):
    from nlptasks.training.data import load_records

    rows = [{"q": "who?", "c": "the cat sat.", "a": {"text": ["the cat"], "answer_start": [0]}}]
    _benchmark(benchmark_dir, "qa_bench", "qa", [{**rows[0], "q": "what?"}],
               "columns:\n  question: q\n  context: c\nreferences: a.text\nmetrics: [squad]\nprimary_metric: f1\n",
               train_rows=rows)
    (rec,) = load_records("qa_bench", "train", name="train").records
    assert rec["question"] == "who?" and rec["answers"] == {"text": ["the cat"], "answer_start": [0]}


# -- never train on what is scored ------------------------------------------------------------------
def test_train_reads_the_training_data_and_validation_the_scored_data(benchmark_dir):
    """The bug of issue 21: ``--train BENCHMARK`` read the split that ``eval BENCHMARK`` scores."""
    from nlptasks.training.data import load_records

    scored = [{"t": "scored one", "y": 0}, {"t": "scored two", "y": 1}]
    train = [{"t": "train one", "y": 1}, {"t": "train two", "y": 0}, {"t": "train three", "y": 1}]
    _benchmark(benchmark_dir, "s_bench", "sentiment", scored, SENTIMENT, train_rows=train)
    tr = load_records("s_bench", "train", name="train")
    assert [r["text"] for r in tr.records] == ["train one", "train two", "train three"]
    va = load_records("s_bench", "validation", name="validation")
    assert [r["text"] for r in va.records] == ["scored one", "scored two"]
    # the row fingerprint (before --limit) is what eval compares with a model's training data
    from nlptasks.hashing import records_fingerprint

    assert tr.source_fingerprint == records_fingerprint(train)
    assert load_records("s_bench", "train", limit=1, name="train").source_fingerprint == tr.source_fingerprint


def test_a_benchmark_without_training_data_is_refused_for_training(benchmark_dir):
    from nlptasks.errors import InputError
    from nlptasks.training.data import load_records

    _benchmark(benchmark_dir, "no_train", "sentiment", [{"t": "x", "y": 0}], SENTIMENT)
    with pytest.raises(InputError, match=r"--train no_train: benchmark no_train names no training data.*"
                                         r"train_split/train_data_files"):
        load_records("no_train", "train", name="train")
    assert len(load_records("no_train", "validation", name="validation")) == 1


def test_training_on_a_benchmarks_evaluation_file_is_refused_naming_its_training_data(benchmark_dir):
    from nlptasks.errors import InputError
    from nlptasks.training.data import load_records

    _benchmark(benchmark_dir, "s_bench", "sentiment", [{"t": "x", "y": 0}], SENTIMENT,
               train_rows=[{"t": "y", "y": 1}])
    with pytest.raises(InputError, match=r"evaluation data of benchmark s_bench.*--train s_bench \(.*s_bench-train"):
        load_records(str(benchmark_dir / "s_bench.jsonl"), "train", name="train")
    # its training file, and the evaluation file as validation data, are fine
    assert len(load_records(str(benchmark_dir / "s_bench-train.jsonl"), "train", name="train")) == 1
    assert len(load_records(str(benchmark_dir / "s_bench.jsonl"), "validation", name="validation")) == 1


def test_training_on_a_hub_benchmarks_scored_split_is_refused(benchmark_dir):
    from nlptasks.errors import InputError
    from nlptasks.training.data import load_records

    (benchmark_dir / "hub_bench.yaml").write_text(
        "name: hub_bench\ntask: sentiment\nversion: 1\ndataset:\n  path: someone/reviews\n  split: test\n"
        "train_split: train\n" + SENTIMENT)
    with pytest.raises(InputError, match=r"split 'test' is the evaluation data of benchmark hub_bench.*"
                                         r"--train hub_bench \(split 'train'\)"):
        load_records("someone/reviews@test", "train", name="train")


@pytest.mark.parametrize("body, error", [
    ("train_split: test\n", "'train_split': 'test' is the split the benchmark scores"),
    ("train_data_files: x.jsonl\n", "'train_data_files' is for a local dataset"),
])
def test_a_definition_cannot_name_its_scored_data_as_training_data(tmp_path, body, error):
    (tmp_path / "b.yaml").write_text("task: sentiment\nversion: 1\ndataset:\n  path: a/b\n  split: test\n"
                                     + body + SENTIMENT)
    with pytest.raises(bm.BenchmarkError, match=error):
        bm.load_file(tmp_path / "b.yaml")


def test_training_data_keys_do_not_change_the_definition_hash(tmp_path):
    base = "name: same\ntask: sentiment\nversion: 1\ndataset:\n  path: json\n  data_files: v.jsonl\n" + SENTIMENT
    (tmp_path / "a.yaml").write_text(base)
    (tmp_path / "b.yaml").write_text(base + "train_data_files: t.jsonl\n")
    a, b = bm.load_file(tmp_path / "a.yaml"), bm.load_file(tmp_path / "b.yaml")
    assert a.hash == b.hash and b.training_dataset()["data_files"] == "t.jsonl"
    assert a.training_dataset() is None


@pytest.mark.data
def test_finetune_train_sst2_local_reads_the_training_file(shared_data, monkeypatch):
    from nlptasks.training.data import load_records

    monkeypatch.setenv("NLPTASKS_DATA_DIR", str(shared_data))
    ds = load_records("sst2_local", "train", limit=3, name="train")
    first = [json.loads(x)["text"] for x in (shared_data / "sentiment" / "train.jsonl").open().readlines()[:3]]
    assert [r["text"] for r in ds.records] == first
    val = {json.loads(x)["text"] for x in (shared_data / "sentiment" / "validation.jsonl").open()}
    assert not val & set(first)
