"""CLI input/output handling and the one-line errors for bad input (subprocess, real CLI)."""
import json
import subprocess
import sys

import pytest


def test_help_and_tasks_do_not_import_torch():
    code = ("import sys, nlptasks.cli as c; c.build_parser();"
            "from nlptasks.registry import TASKS; TASKS.names();"
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tasks_lists_default_models(cli):
    r = cli("tasks")
    assert r.returncode == 0
    assert "sentiment" in r.stdout and "minilm-sentiment3-lora" in r.stdout
    assert "summarize" in r.stdout and "minilm-extsum" in r.stdout


def test_unknown_task_lists_known(cli):
    r = cli("run", "summarise", "--input", "x.txt")
    assert r.returncode == 2
    assert "summarize" in r.stderr and "sentiment" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("content,expected", [
    (b"", "input is empty"),
    (b"   \n\n", "input is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"caf\xe9 au lait\n", "invalid UTF-8 at line 1"),
])
def test_bad_files_give_one_line(cli, tmp_path, tiny_models, content, expected):
    f = tmp_path / "in.txt"
    f.write_bytes(content)
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], "--input", f)
    assert r.returncode != 0
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_malformed_jsonl_reports_line(cli, tmp_path, tiny_models):
    f = tmp_path / "in.jsonl"
    f.write_text('{"text": "good"}\n{"text": "fine"}\n{"text": broken}\n', encoding="utf-8")
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], "--input", f)
    assert r.returncode == 2 and "line 3: malformed JSON" in r.stderr


def test_missing_field_and_field_option(cli, tmp_path, tiny_models):
    f = tmp_path / "in.jsonl"
    f.write_text('{"sentence": "good", "id": 7}\n', encoding="utf-8")
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], "--input", f)
    assert r.returncode == 2 and "missing field 'text'" in r.stderr and "sentence" in r.stderr
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], "--input", f, "--field", "sentence")
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["id"] == 7 and row["label"] in {"NEGATIVE", "POSITIVE"}  # other fields pass through


def test_stdin_text_keeps_blank_lines(cli, tiny_models):
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], input="good film\n\nbad film\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    assert lines[1] == "" and lines[0].split("\t")[0] in {"NEGATIVE", "POSITIVE"} and lines[2]


def test_unknown_local_model_and_offline_hub_id(cli, tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("hello\n")
    r = cli("run", "sentiment", "--model", "./no/such/dir", "--input", f)
    assert r.returncode == 2 and "neither a local directory" in r.stderr
    r = cli("run", "sentiment", "--model", "someone/not-a-cached-model", "--input", f)
    assert r.returncode == 2 and "not in the local Hugging Face cache" in r.stderr and "--model PATH" in r.stderr
    # without HF_HUB_OFFLINE the quick reachability probe answers instead of a retry loop
    r = cli("run", "sentiment", "--model", "someone/not-a-cached-model", "--input", f,
            env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert r.returncode == 2 and "cannot be reached" in r.stderr
    assert "Traceback" not in r.stderr


def test_output_file_written_atomically_and_kept_on_failure(cli, tmp_path, tiny_models):
    f = tmp_path / "in.txt"
    f.write_text("good\nbad\n")
    out = tmp_path / "out.jsonl"
    r = cli("run", "sentiment", "--model", tiny_models["bert-cls"], "--input", f, "--output", out, "-f", "jsonl")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["text"] for x in rows] == ["good", "bad"]
    before = out.read_bytes()
    r = cli("run", "sentiment", "--model", tmp_path / "missing", "--input", f, "--output", out)
    assert r.returncode != 0 and out.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_wrong_model_class_is_one_line(cli, tmp_path, tiny_models):
    f = tmp_path / "in.txt"
    f.write_text("hello\n")
    r = cli("run", "sentiment", "--model", tiny_models["gpt2"], "--input", f)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "has no trained weights for score.weight" in r.stderr
