"""Benchmark definitions: strict YAML validation, hashing, lookup, column paths, data loading errors."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from nlptasks.evaluation import definitions as bm
from nlptasks.evaluation.definitions import BenchmarkError, get_benchmark, load_file
from nlptasks.evaluation.datasets_io import DatasetLoadError, MissingColumn, get_path, load_rows, parse_path
from nlptasks.errors import UnknownNameError

LOCAL = ["sst2_local", "squad_local", "cnn_dailymail_local", "multi30k_en_de_local", "dailydialog_local"]
HUB = ["sst2", "squad", "cnn_dailymail", "wmt16_de_en", "wmt14_en_de", "dailydialog"]

GOOD = """\
name: mini
task: sentiment
version: 1
description: a tiny test benchmark
dataset:
  path: json
  data_files: mini.jsonl
columns:
  text: sentence
references: label
label_names: [negative, positive]
metrics: [accuracy]
primary_metric: accuracy
"""


def write(tmp_path: Path, text: str, name: str = "mini.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_definitions_all_validate_and_are_listed():
    names = bm.BENCHMARKS.names()
    for n in LOCAL + HUB:
        assert n in names
    assert not bm.BROKEN, bm.BROKEN
    for n in LOCAL:
        b = get_benchmark(n)
        assert b.dataset["path"] == "json" and not Path(b.dataset["data_files"]).is_absolute()
        assert Path(b.source).parent.name == b.task  # tasks/<task>/<name>.yaml
        assert len(b.hash) == 16
    assert get_benchmark("cnn_dailymail").dataset == {"path": "abisee/cnn_dailymail", "name": "3.0.0", "split": "test",
                                                       "data_files": None, "revision": None}
    assert get_benchmark("wmt16_de_en").columns == {"text": "translation.de"}


def test_shipped_definitions_pass_registry_checks():
    for n in LOCAL + HUB:
        get_benchmark(n).check()


@pytest.mark.parametrize("edit,key", [
    (lambda t: t + "colour: blue\n", "'colour'"),
    (lambda t: t.replace("  path: json\n", "  path: json\n  splt: validation\n"), "'dataset.splt'"),
    (lambda t: t.replace("version: 1", "version: [1]"), "'version'"),
    (lambda t: t.replace("metrics: [accuracy]", "metrics: accuracy"), "'metrics'"),
    (lambda t: t.replace("references: label", "references: 3"), "'references'"),
    (lambda t: t.replace("columns:\n  text: sentence\n", "columns:\n  text: [sentence]\n"), "'columns.text'"),
    (lambda t: t.replace("primary_metric: accuracy\n", ""), "'primary_metric'"),
    (lambda t: t + "limit: true\n", "'limit'"),
    (lambda t: t + "limit: 0\n", "'limit'"),
    (lambda t: t + "generation:\n  num_beams: [1, 2]\n", "'generation.num_beams'"),
    (lambda t: t.replace("  text: sentence", "  text: a..b"), "'columns.text'"),
    (lambda t: t.replace("  data_files: mini.jsonl\n", ""), "'dataset.data_files'"),
])
def test_strict_errors_name_file_and_key(tmp_path, edit, key):
    p = write(tmp_path, edit(GOOD))
    with pytest.raises(BenchmarkError) as e:
        load_file(p)
    msg = str(e.value)
    assert str(p) in msg and key in msg and "\n" not in msg


def test_invalid_yaml_and_non_mapping(tmp_path):
    with pytest.raises(BenchmarkError, match="invalid YAML at line"):
        load_file(write(tmp_path, "name: [unclosed\n"))
    with pytest.raises(BenchmarkError, match="must be a YAML mapping"):
        load_file(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(BenchmarkError, match="no such benchmark file"):
        load_file(tmp_path / "absent.yaml")


def test_hash_follows_meaningful_changes_only(tmp_path):
    base = load_file(write(tmp_path, GOOD))
    assert load_file(write(tmp_path, GOOD, "again.yaml")).hash == base.hash  # same content, any file
    assert load_file(write(tmp_path, GOOD.replace("a tiny test", "another"), "d.yaml")).hash == base.hash
    changed = [GOOD.replace("version: 1", "version: 2"),
               GOOD.replace("text: sentence", "text: sentence2"),
               GOOD + "limit: 50\n",
               GOOD + "task_options:\n  max_length: 64\n",
               GOOD.replace("[negative, positive]", "[positive, negative]")]
    hashes = {load_file(write(tmp_path, t, f"c{i}.yaml")).hash for i, t in enumerate(changed)}
    assert len(hashes) == len(changed) and base.hash not in hashes


def test_name_defaults_to_file_stem_and_path_lookup(tmp_path):
    p = write(tmp_path, GOOD.replace("name: mini\n", ""), "from_stem.yaml")
    assert load_file(p).name == "from_stem"
    assert get_benchmark(str(p)).name == "from_stem"


def test_search_path_env_adds_and_shadows(tmp_path, monkeypatch):
    d = tmp_path / "defs"
    d.mkdir()
    write(d, GOOD, "mini.yaml")
    write(d, GOOD.replace("name: mini", "name: sst2_local").replace("version: 1", "version: 99"), "mine.yaml")
    write(d, GOOD + "bogus: 1\n", "broken.yaml")
    monkeypatch.setenv(bm.PATH_ENV, str(d))  # definitions are read again when the path changes
    assert get_benchmark("mini").source == str(d / "mini.yaml")
    assert get_benchmark("sst2_local").version == 99  # the user's directory comes first
    with pytest.raises(BenchmarkError, match="'bogus'"):
        get_benchmark("broken")


def test_unknown_benchmark_lists_known():
    with pytest.raises(UnknownNameError) as e:
        get_benchmark("sst2_locl")
    assert "sst2_local" in str(e.value) and "Did you mean" in str(e.value)


def test_check_rejects_unknown_metric_and_option(tmp_path):
    b = load_file(write(tmp_path, GOOD.replace("metrics: [accuracy]", "metrics: [accuracy, acuracy]")))
    with pytest.raises(BenchmarkError) as e:
        b.check()
    assert "'metrics'" in str(e.value) and "acuracy" in str(e.value) and "rouge" in str(e.value)
    b = load_file(write(tmp_path, GOOD + "generation:\n  num_beams: 4\n", "opt.yaml"))
    with pytest.raises(BenchmarkError, match=r"'generation.num_beams' is not an option of task 'sentiment'"):
        b.check()
    b = load_file(write(tmp_path, GOOD.replace("primary_metric: accuracy", "primary_metric: rougeL"), "pm.yaml"))
    with pytest.raises(BenchmarkError, match="'primary_metric'"):
        b.check()
    b = load_file(write(tmp_path, GOOD.replace("text: sentence", "txt: sentence"), "col.yaml"))
    with pytest.raises(BenchmarkError, match="'columns.txt'"):
        b.check()


# -- column paths and data loading ----------------------------------------------------------------

def test_column_paths():
    row = {"translation": {"en": "Hi", "de": "Hallo"}, "answers": {"text": ["a", "b"]}, "dialog": ["x", "y", "z"]}
    assert get_path(row, "translation.de") == "Hallo"
    assert get_path(row, "answers.text") == ["a", "b"]
    assert get_path(row, "dialog[-1]") == "z"
    assert get_path(row, "dialog[:-1]") == ["x", "y"]
    assert get_path(row, "answers.text[0]") == "a"
    assert parse_path("a.b[1:3]") == ["a", "b", slice(1, 3)]
    with pytest.raises(MissingColumn) as e:
        get_path(row, "translation.fr")
    assert e.value.step == "fr" and e.value.available == ["de", "en"]
    for bad in ("", ".a", "a..b", "a[x]"):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_local_formats_and_data_dir(tmp_path, monkeypatch):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 0}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "d.json").write_text(json.dumps(rows))
    (tmp_path / "d.csv").write_text("sentence,label\ngood,1\nbad,0\n")
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "d.parquet")
    for fmt, f in (("json", "d.jsonl"), ("json", "d.json"), ("parquet", "d.parquet")):
        got, src = load_rows({"path": fmt, "data_files": f}, tmp_path, "t")
        assert got == rows and src == f"{fmt}:{f}"
    assert load_rows({"path": "csv", "data_files": "d.csv"}, tmp_path, "t")[0][0] == {"sentence": "good", "label": "1"}
    # data dir: argument, then $NLPTASKS_DATA_DIR
    monkeypatch.setenv("NLPTASKS_DATA_DIR", str(tmp_path))
    assert load_rows({"path": "json", "data_files": "d.jsonl"}, None, "t")[0] == rows
    with pytest.raises(DatasetLoadError) as e:
        load_rows({"path": "json", "data_files": "nope.jsonl"}, tmp_path, "benchmark x")
    assert "benchmark x" in str(e.value) and "nope.jsonl" in str(e.value) and "--data-dir" in str(e.value)
    (tmp_path / "bad.jsonl").write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(Exception, match="line 2: malformed JSON"):
        load_rows({"path": "json", "data_files": "bad.jsonl"}, tmp_path, "t")


def test_hub_dataset_offline_is_one_clear_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(DatasetLoadError) as e:
        load_rows(get_benchmark("wmt16_de_en").dataset, None, "benchmark wmt16_de_en")
    msg = str(e.value)
    assert msg.startswith("benchmark wmt16_de_en: cannot load hub dataset wmt/wmt16 (de-en) [test]")
    assert "offline" in msg and "\n" not in msg
    assert time.perf_counter() - t0 < 30


def test_cli_lists_benchmarks(cli):
    r = cli("benchmarks")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["name", "task", "version"]
    row = next(ln for ln in lines if ln.startswith("sst2_local "))
    assert row.split()[1:4] == ["sentiment", "1", "accuracy"] and "sentiment/validation.jsonl" in row
    r = cli("benchmarks", "--task", "summarization")
    assert {ln.split()[0] for ln in r.stdout.splitlines()[1:]} == {"cnn_dailymail", "cnn_dailymail_local"}
    r = cli("benchmarks", "nope")
    assert r.returncode != 0 and "unknown benchmark 'nope'" in r.stderr and "Traceback" not in r.stderr


def test_definition_is_typed_and_its_fields_are_the_yaml_keys(tmp_path):
    import dataclasses

    fields = {f.name for f in dataclasses.fields(bm.Benchmark) if f.init} - {"source"}
    assert fields == set(bm.TOP)  # one schema: a YAML key is a field and a field is a YAML key
    b = load_file(write(tmp_path, GOOD))
    assert isinstance(b.columns, dict) and b.metrics == ["accuracy"] and b.primary_metric == "accuracy"
    assert set(b.definition) == set(bm.TOP) and b.source == str(tmp_path / "mini.yaml")
    with pytest.raises(AttributeError):
        b.colour  # no attribute beyond the schema
