"""One reader, one column table, one missing-field rule, one input-length rule and one set of hashes for
run, eval and training (issue: one definition of each task)."""
import json

import pytest

from nlptasks.datafiles import read_file
from nlptasks.errors import InputError
from nlptasks.evaluation.datasets_io import load_rows
from nlptasks.training.data import load_records

ROWS = [{"question": "Who?", "context": "Ann came.", "answers": {"text": ["Ann"], "answer_start": [0]}},
        {"question": "What?", "context": "A cat sat.", "answers": {"text": ["cat"], "answer_start": [2]}}]


def _write_all(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = {}
    files["jsonl"] = tmp_path / "d.jsonl"
    files["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    files["json"] = tmp_path / "d.json"
    files["json"].write_text(json.dumps(ROWS), encoding="utf-8")
    for sep, ext in ((",", "csv"), ("\t", "tsv")):
        lines = [sep.join(["question", "context", "answers"])]
        for r in ROWS:
            cells = [r["question"], r["context"], json.dumps(r["answers"])]
            lines.append(sep.join('"' + c.replace('"', '""') + '"' for c in cells))
        files[ext] = tmp_path / f"d.{ext}"
        files[ext].write_text("\n".join(lines) + "\n", encoding="utf-8")
    files["parquet"] = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), files["parquet"])
    return files


def _plain(rows):
    return [{k: v for k, v in r.items() if not k.startswith("__")} for r in rows]


def test_every_format_reads_the_same_rows_for_eval_and_training(tmp_path):
    files = _write_all(tmp_path)
    fmt = {"jsonl": "json", "json": "json", "csv": "csv", "tsv": "csv", "parquet": "parquet"}
    for ext, path in files.items():
        training = load_records(str(path), name="train").records
        evaluation, _ = load_rows({"path": fmt[ext], "data_files": str(path)}, None, "t")
        assert _plain(training) == ROWS, ext
        assert _plain(evaluation) == ROWS, ext
        # one row key, the 1-based position (CSV/TSV: the header is row 1)
        assert [r["__line__"] for r in training] == ([2, 3] if ext in ("csv", "tsv") else [1, 2]), ext


def test_errors_name_the_file_and_line_the_same_way(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"text": \n', encoding="utf-8")
    with pytest.raises(InputError) as a:
        load_records(str(bad), name="train")
    with pytest.raises(InputError) as b:
        load_rows({"path": "json", "data_files": str(bad)}, None, "t")
    assert "line 2" in str(a.value) and "line 2" in str(b.value)
    assert str(a.value).startswith(f"--train {bad}: ") and str(b.value).startswith(f"{bad}: ")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert read_file(empty) == []
    with pytest.raises(InputError, match="the dataset is empty"):
        load_records(str(empty), name="train")


def test_one_missing_field_rule_for_run_and_training():
    from nlptasks.io import check_record, field_problem
    from nlptasks.training.preprocess import require_fields

    rec = {"sentence": "good", "__line__": 3}
    with pytest.raises(InputError) as run_err:
        check_record(rec, ["text"], "in.jsonl")
    with pytest.raises(InputError) as train_err:
        require_fields([rec], ("text", "label"), "--train")
    problem = field_problem(rec, "text")
    assert problem == "missing field 'text' (fields present: sentence)"
    assert str(run_err.value) == f"in.jsonl: line 3: {problem}"
    assert f"row 3: {problem}" in str(train_err.value)
    assert field_problem({"text": None}, "text", "any") == "field 'text' is null"


def test_adhoc_columns_come_from_the_task():
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.registry import TASKS

    for name in ("sentiment", "qa", "summarize", "translate", "chat"):
        cls = TASKS.get(name)
        b = adhoc_benchmark(name, "x.jsonl", source_lang="en", target_lang="de")
        want = {f: cls.data_columns.get(f, f).format(src="en", tgt="de") for f in cls.input_fields}
        assert b.columns == want
        assert b.references == cls.reference_column.format(src="en", tgt="de")
    assert adhoc_benchmark("translate", "x.tsv", source_lang="fr", target_lang="en").columns == {"text": "translation.fr"}
    assert adhoc_benchmark("sentiment", "x.jsonl").label_names == ["negative", "positive"]


class _Tok:
    def __init__(self, n):
        self.model_max_length = n


class _Cfg:
    def __init__(self, **kw):
        self.__dict__.update(kw)


@pytest.mark.parametrize("tok, cfg, want", [
    (1000000000000000019884624838656, {"max_position_embeddings": 512}, 512),  # transformers' "no limit"
    (128, {"max_position_embeddings": 512}, 128),
    (1024, {"n_positions": 256}, 256),
    (None, {}, 512),
])
def test_one_input_length_rule(tok, cfg, want):
    from nlptasks.backend.inference import model_max_input
    from nlptasks.backend.limits import max_input_tokens
    from nlptasks.training.features import model_limit

    t, c = _Tok(tok), _Cfg(**cfg)
    assert max_input_tokens(t, c) == want
    assert model_max_input(_Cfg(tokenizer=t, model=_Cfg(config=c))) == want
    assert model_limit(t, c, 10**6) == (want if cfg else 10**6) and model_limit(t, c, 64) == 64


def test_hashes_keep_their_values():
    """Stored run ids, definition hashes and data fingerprints must not change with the refactoring."""
    from nlptasks.hashing import canonical_json, json_hash, records_fingerprint

    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    import hashlib

    assert json_hash({"a": 1}, 16) == hashlib.sha256(b'{"a":1}').hexdigest()[:16]
    rows = [{"text": "a", "__line__": 1}, {"text": "b", "__line__": 2}]
    want = hashlib.sha256(b'{"text": "a"}\n{"text": "b"}\n').hexdigest()[:16]
    assert records_fingerprint(rows) == want


@pytest.mark.data
def test_training_fingerprint_of_the_shared_qa_data_is_the_packaged_one(shared_data):
    """minilm-squad's training_result.json recorded the fingerprint of ../shared/data/qa/train.jsonl."""
    from nlptasks.backend.embedded import EMBEDDED_DIR

    result = json.loads((EMBEDDED_DIR / "minilm-squad" / "training_result.json").read_text())
    recorded = json.dumps(result)
    ds = load_records(str(shared_data / "qa" / "train.jsonl"), name="train")
    assert ds.fingerprint in recorded


def test_suite_optional_model_is_skipped_until_built(tmp_path, monkeypatch, tiny_models):
    from nlptasks.evaluation import definitions as bm
    from nlptasks.evaluation.suites import load_suite, run_suite

    bench = tmp_path / "benchmarks"
    bench.mkdir()
    data = bench / "tiny_sst.jsonl"
    data.write_text('{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n', encoding="utf-8")
    (bench / "tiny_sst.yaml").write_text(
        f"name: tiny_sst\ntask: sentiment\nversion: 1\ndataset:\n  path: json\n  data_files: {data}\n"
        "columns: {text: text}\nreferences: label\nlabel_names: [negative, positive]\nmetrics: [accuracy]\n"
        "primary_metric: accuracy\n",
        encoding="utf-8")
    monkeypatch.setenv(bm.PATH_ENV, str(bench))  # definitions are read again when the path changes
    try:
        built = tmp_path / "student"
        suite = tmp_path / "s.yaml"
        suite.write_text("name: s\nruns:\n  - benchmark: tiny_sst\n    models:\n      - majority\n"
                         f"      - {{model: {built}, optional: true}}\n", encoding="utf-8")
        assert load_suite(str(suite)).runs[1].optional is True
        logs = []
        records = run_suite(str(suite), log=logs.append)
        assert [r["model"]["name"] for r in records] == ["majority"]
        assert any("skipped (optional, not built here)" in m for m in logs)
        import shutil

        shutil.copytree(tiny_models["bert-cls"], built)  # now it is built: evaluated like any model
        records = run_suite(str(suite), log=logs.append)
        assert len(records) == 2 and records[1]["model"]["path"] == str(built)
        bad = tmp_path / "bad.yaml"
        bad.write_text("name: b\nruns:\n  - benchmark: tiny_sst\n    models:\n      - {model: x, optional: 1}\n")
        from nlptasks.evaluation.suites import SuiteError

        with pytest.raises(SuiteError, match="optional must be true or false"):
            load_suite(str(bad))
    finally:
        monkeypatch.undo()
