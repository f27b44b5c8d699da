"""The benchmark YAML schema is written once: the fields of ``Benchmark`` and ``DatasetRef`` (their
metadata holds each key's types and whether it is required); the tables, the normalised definition and
the typed ``dataset`` section all come from them."""
from __future__ import annotations

from dataclasses import fields

import pytest

from nlptasks.evaluation.definitions import DATASET, TOP, Benchmark, BenchmarkError, DatasetRef


def _definition(**over):
    d = {"name": "b", "task": "sentiment", "version": 1,
         "dataset": {"path": "json", "data_files": {"validation": "v.jsonl", "train": "t.jsonl"}, "split": "validation"},
         "columns": {"text": "sentence"}, "references": "label", "metrics": ["accuracy"],
         "primary_metric": "accuracy", "train_split": "train"}
    d.update(over)
    return d


def test_the_yaml_keys_are_the_dataclass_fields():
    assert list(TOP) == [f.name for f in fields(Benchmark) if f.name not in ("source", "hash")]
    assert list(DATASET) == [f.name for f in fields(DatasetRef)]
    assert TOP["task"] == ((str,), True) and TOP["version"] == ((int, str), True) and DATASET["path"] == ((str,), True)


def test_dataset_is_typed_and_still_reads_as_a_mapping():
    b = Benchmark.from_mapping(_definition(), "b.yaml")
    ds = b.dataset
    assert isinstance(ds, DatasetRef) and ds.local and ds.split == "validation" and ds.revision is None
    assert ds["path"] == "json" and ds.get("name") is None and dict(ds) == ds.to_dict()
    assert ds == {"path": "json", "name": None, "split": "validation",
                  "data_files": {"validation": "v.jsonl", "train": "t.jsonl"}, "revision": None}
    assert b.definition["dataset"] == ds.to_dict() and isinstance(b.definition["dataset"], dict)
    assert b.training_dataset() == {**ds.to_dict(), "split": "train"}
    # a key that is not given gets the field's default
    assert b.metric_options == {} and b.description == "" and b.label_names is None and b.corpus is None


@pytest.mark.parametrize("over, needle", [
    ({"dataset": {"path": "json", "data_files": "v.jsonl", "config": "x"}}, "unknown key 'dataset.config' (allowed: "
                                                                           "path, name, split, data_files, revision)"),
    ({"dataset": {"data_files": "v.jsonl"}}, "missing required key 'dataset.path'"),
    ({"dataset": {"path": "json", "data_files": 3}}, "key 'dataset.data_files' must be a string or a list or a mapping"),
    ({"version": True}, "key 'version' must be an integer or a string"),
    ({"limit": "10"}, "key 'limit' must be an integer"),
    ({"nonsense": 1}, "unknown key 'nonsense' (allowed: name, task, version, description, dataset"),
])
def test_a_wrong_key_is_named_from_the_schema(over, needle):
    with pytest.raises(BenchmarkError, match=None) as err:
        Benchmark.from_mapping(_definition(**over), "b.yaml")
    assert needle in str(err.value)
