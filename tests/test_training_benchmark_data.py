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
    """A benchmark folder on $NLPTASKS_BENCHMARKS_PATH; definitions are reloaded before and after."""
    d = tmp_path / "benchmarks"
    d.mkdir()
    monkeypatch.setenv(bm.PATH_ENV, str(d))
    bm.reload()
    yield d
    monkeypatch.undo()
    bm.reload()


def _benchmark(d, name: str, task: str, rows: list[dict], body: str) -> None:
    data = d / f"{name}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / f"{name}.yaml").write_text(f"name: {name}\ntask: {task}\nversion: 1\n"
                                    f"dataset:\n  path: json\n  data_files: {data}\n{body}")


def test_a_plugin_task_trains_on_a_benchmark_with_its_own_label_field(benchmark_dir, monkeypatch):
    from toy_topic import TopicTask

    from nlptasks.training.data import load_records

    TASKS.names()  # the built-in tasks first
    monkeypatch.setitem(TASKS._items, "topic", TopicTask)
    rows = [{"s": "the cat sees a book.", "y": 0}, {"s": "Wie geht es dir?", "y": 1}]
    _benchmark(benchmark_dir, "topic_bench", "topic", rows,
               "columns:\n  sentence: s\nreferences: y\nlabel_names: [english, german]\n"
               "metrics: [accuracy]\nprimary_metric: accuracy\n")
    ds = load_records("topic_bench", "train", name="train")
    assert ds.kind == "benchmark"
    assert [(r["sentence"], r["topic"]) for r in ds.records] == [("the cat sees a book.", "english"),
                                                                 ("Wie geht es dir?", "german")]
    assert all("reference" not in r for r in ds.records)


def test_a_qa_benchmark_keeps_the_answer_starts(benchmark_dir):
    from nlptasks.training.data import load_records

    rows = [{"q": "who?", "c": "the cat sat.", "a": {"text": ["the cat"], "answer_start": [0]}}]
    _benchmark(benchmark_dir, "qa_bench", "qa", rows,
               "columns:\n  question: q\n  context: c\nreferences: a.text\nmetrics: [squad]\nprimary_metric: f1\n")
    (rec,) = load_records("qa_bench", "train", name="train").records
    assert rec["question"] == "who?" and rec["answers"] == {"text": ["the cat"], "answer_start": [0]}
