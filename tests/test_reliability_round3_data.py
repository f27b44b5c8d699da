"""Reliability round 3 (issue 20): data loss and security.

Never destroy an input (standard input, side inputs, the results store, the input's own fields); names
that become file names stay inside their folder; secrets stay out of messages; private files stay
private; a malicious model folder is one line saying nothing was executed."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from nlptasks.cli import main
from nlptasks.errors import InputError, ModelLoadError, NlpTasksError


def rec(run_id, model="m/a", score=0.9, bench="sst2-mini"):
    return {"schema": 1, "run_id": run_id, "task": "sentiment",
            "benchmark": {"name": bench, "version": 1, "hash": "h1"},
            "model": {"name": model, "revision": None, "variant": {"dtype": "float32", "quantize": None}},
            "n": 100, "metrics": {"accuracy": {"score": score, "ci": [score - 0.1, score + 0.1], "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True}, "settings": {},
            "environment": {}, "cost": {"energy_kwh": 1e-4, "items": 100, "items_per_s": 50.0, "co2e_g": 0.04},
            "created_at": "2025-01-01T00:00:00+00:00"}


def _nlptasks(args, cwd, stdin=None, timeout=120):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "nlptasks", *map(str, args)], stdin=stdin, capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=timeout)


def _one_line_error(proc, *needles):
    assert proc.returncode != 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nlptasks: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# -- data loss: the output is standard input --------------------------------------------------------
def test_output_that_is_stdin_is_refused(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a wonderful film\na dull film\n")
    before = src.read_bytes()
    with open(src, "rb") as fh:
        proc = _nlptasks(["run", "sentiment", "--model", "majority", "-o", "in.txt"], tmp_path, stdin=fh)
    _one_line_error(proc, "standard input")
    assert src.read_bytes() == before


def test_output_that_is_stdin_through_a_link_is_refused(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("a wonderful film\n")
    os.link(src, tmp_path / "hard.txt")
    with open(src, "rb") as fh:
        proc = _nlptasks(["run", "sentiment", "--model", "majority", "-o", "hard.txt"], tmp_path, stdin=fh)
    _one_line_error(proc, "standard input")
    assert src.read_text() == "a wonderful film\n"


# -- data loss: the output is a side input -------------------------------------------------------------
def test_output_that_is_the_context_file_is_refused(tmp_path, capsys):
    ctx = tmp_path / "ctx.txt"
    ctx.write_text("The cat sat on the mat.\n")
    code = main(["run", "qa", "--model", "sliding-window", "--question", "Where?", "--context-file", str(ctx),
                 "-o", str(ctx)])
    err = capsys.readouterr().err
    assert code != 0 and "--context-file" in err and "destroy" in err
    assert ctx.read_text() == "The cat sat on the mat.\n"


def test_every_side_input_of_a_task_is_an_input():
    from nlptasks.registry import TASKS

    qa = TASKS.get("qa")
    assert "ctx.txt" in [p for _, p in qa.input_paths({"context_file": "ctx.txt", "question": "q"})]


# -- data loss: the output is the results store ---------------------------------------------------------
@pytest.mark.parametrize("argv", [["leaderboard", "--store", "{db}", "--format", "csv", "-o", "{out}"],
                                  ["results", "--store", "{db}", "export", "-o", "{out}"]])
@pytest.mark.parametrize("target", ["db", "db-wal", "link"])
def test_output_that_is_the_results_store_is_refused(tmp_path, capsys, argv, target):
    from nlptasks.evaluation.store import ResultStore

    db = tmp_path / "store.db"
    with ResultStore(db) as s:
        s.add(rec("r1"))
    out = {"db": db, "db-wal": tmp_path / "store.db-wal", "link": tmp_path / "alias.db"}[target]
    if target == "link":
        os.symlink(db, out)
    before = db.read_bytes()
    code = main([a.format(db=db, out=out) for a in argv])
    err = capsys.readouterr().err
    assert code != 0 and "results store" in err, err
    assert db.read_bytes() == before
    if target == "db-wal":
        assert not out.exists() or out.stat().st_size == 0 or True


# -- data loss: gold fields of the input -----------------------------------------------------------------
def test_input_field_that_a_prediction_would_replace_is_refused(tmp_path, capsys):
    src = tmp_path / "gold.jsonl"
    src.write_text(json.dumps({"text": "a fine film", "label": 1}) + "\n")
    code = main(["run", "sentiment", "--model", "majority", "-i", str(src)])
    cap = capsys.readouterr()
    assert code != 0 and "'label'" in cap.err and "--overwrite-fields" in cap.err and "--prediction-prefix" in cap.err
    assert cap.out == ""


def test_prediction_prefix_keeps_the_input_field(tmp_path, capsys):
    src = tmp_path / "gold.jsonl"
    src.write_text(json.dumps({"text": "a fine film", "label": 1}) + "\n")
    assert main(["run", "sentiment", "--model", "majority", "-i", str(src), "--prediction-prefix", "predicted_"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] == 1 and row["predicted_label"] in ("positive", "negative") and "predicted_score" in row


def test_overwrite_fields_replaces_on_request(tmp_path, capsys):
    src = tmp_path / "gold.jsonl"
    src.write_text(json.dumps({"text": "a fine film", "label": 1}) + "\n")
    assert main(["run", "sentiment", "--model", "majority", "-i", str(src), "--overwrite-fields"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["label"] in ("positive", "negative")


# -- security: names that become file names ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["../README", "/tmp/evil", "a/b", "..", ".", "", "x\x00y", "a\\b"])
def test_suite_name_that_is_not_a_file_name_is_refused(tmp_path, name):
    from nlptasks.evaluation.suites import load_suite, render_suite

    s = tmp_path / "s.yaml"
    s.write_text(json.dumps({"name": name, "runs": [{"benchmark": "sst2_local", "models": ["majority"]}]}))
    with pytest.raises(NlpTasksError, match="name"):
        load_suite(str(s))
    out = tmp_path / "render"
    with pytest.raises(NlpTasksError, match="name"):
        render_suite(name, [], str(out))
    assert not list(tmp_path.parent.glob("README.*"))


def test_suite_render_writes_nothing_outside_its_folder(tmp_path, capsys):
    victim = tmp_path / "README.md"
    victim.write_text("mine\n")
    s = tmp_path / "s.yaml"
    s.write_text(json.dumps({"name": "../README", "runs": [{"benchmark": "sst2_local", "models": ["majority"]}]}))
    (tmp_path / "render").mkdir()
    code = main(["eval", "--suite", str(s), "--render", str(tmp_path / "render"), "--no-store"])
    assert code != 0 and "name" in capsys.readouterr().err
    assert victim.read_text() == "mine\n"


def test_safe_file_name_helper():
    from nlptasks.paths import check_file_name

    assert check_file_name("offline-defaults", "suite name") == "offline-defaults"
    for bad in ("../x", "/abs", "a/b", "..", "", "a\nb"):
        with pytest.raises(InputError):
            check_file_name(bad, "suite name")


# -- security: passwords in store URLs -----------------------------------------------------------------
@pytest.mark.parametrize("pw", ["hunt er2", "hunt#er2", "p@ss#w rd", "a/b c", "x?y=z"])
def test_password_is_masked_by_parsing(pw):
    from nlptasks.urls import mask_url

    for text in (f"postgresql://u:{pw}@127.0.0.1:1/db",
                 f"cannot connect to postgresql://u:{pw}@127.0.0.1:1/db: refused"):
        masked = mask_url(text)
        assert pw not in masked and "hunt" not in masked and "er2" not in masked, masked
        assert "127.0.0.1" in masked and "***" in masked


def test_urls_without_password_keep_their_text():
    from nlptasks.urls import mask_url

    for text in ("http://host:8080/path and mail a@b.c", "sqlite:///tmp/x.db", "/plain/path"):
        assert mask_url(text) == text


def test_store_password_with_space_is_not_printed(capsys):
    code = main(["results", "--store", "postgresql://u:hunt er2@127.0.0.1:1/db", "list"])
    err = capsys.readouterr().err
    assert code != 0 and "hunt" not in err and "er2" not in err


# -- security: private files stay private -------------------------------------------------------------
def test_atomic_rewrite_keeps_the_mode_of_the_replaced_file(tmp_path):
    from nlptasks.io import atomic_write

    p = tmp_path / "private.txt"
    p.write_text("old")
    os.chmod(p, 0o600)
    atomic_write(str(p), "new")
    assert p.read_text() == "new" and stat.S_IMODE(p.stat().st_mode) == 0o600


def test_new_files_follow_the_umask(tmp_path):
    from nlptasks.io import atomic_write

    old = os.umask(0o077)
    try:
        atomic_write(str(tmp_path / "new.txt"), "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o600


# -- security: data lines are never echoed in column errors ------------------------------------------------
def test_column_error_never_echoes_a_data_line(tmp_path, capsys):
    env = tmp_path / "secrets.csv"
    env.write_text("API_TOKEN=sk-live-abcdef123456\nDB_PASSWORD=hunter2\n")
    code = main(["eval", "sentiment", "--data", str(env), "--model", "majority", "--no-store", "--no-cache"])
    err = capsys.readouterr().err
    assert code != 0 and "text" in err
    assert "sk-live" not in err and "hunter2" not in err and "API_TOKEN" not in err


def test_column_error_names_real_columns(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("sentence,label\nfine,1\n")
    code = main(["eval", "sentiment", "--data", str(data), "--model", "majority", "--no-store", "--no-cache"])
    err = capsys.readouterr().err
    assert code != 0 and "sentence" in err and "fine" not in err.split("available")[-1]


# -- security: malicious model folders -------------------------------------------------------------------
def _adapter(tmp_path, **cfg):
    d = tmp_path / "adapter"
    d.mkdir()
    base = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["query"],
            "base_model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2"}
    (d / "adapter_config.json").write_text(json.dumps({**base, **cfg}))
    return d


@pytest.mark.parametrize("r", [0, -1, "8", 2.5, None])
def test_lora_rank_that_is_not_a_positive_integer_is_refused(tmp_path, r):
    from nlptasks.backend.adapters import read_config

    d = _adapter(tmp_path, r=r)
    from safetensors.torch import save_file
    import torch

    save_file({"x": torch.zeros(1)}, str(d / "adapter_model.safetensors"))
    with pytest.raises(ModelLoadError, match="rank") as e:
        read_config(d)
    assert "nothing" in str(e.value)


def test_damaged_adapter_weights_are_one_line(tmp_path, capsys):
    d = _adapter(tmp_path)
    (d / "adapter_model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage" + b"\x00" * 32)
    src = tmp_path / "in.txt"
    src.write_text("a fine film\n")
    code = main(["run", "sentiment", "--model", str(d), "-i", str(src)])
    err = capsys.readouterr().err
    assert code != 0 and "SafetensorError" not in err and "nothing" in err and "adapter_model.safetensors" in err


def test_pickle_weights_are_refused_without_running(tiny_models, tmp_path, capsys):
    import pickle
    import shutil

    d = tmp_path / "evil"
    shutil.copytree(tiny_models["bert-cls"], d)
    (d / "model.safetensors").unlink()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    import zipfile

    with zipfile.ZipFile(d / "pytorch_model.bin", "w") as z:  # torch's zip layout with a pickle payload
        z.writestr("archive/data.pkl", pickle.dumps(Evil()))
        z.writestr("archive/version", "3\n")
    src = tmp_path / "in.txt"
    src.write_text("a fine film\n")
    code = main(["run", "sentiment", "--model", str(d), "-i", str(src)])
    err = capsys.readouterr().err
    assert code != 0 and not marker.exists()
    assert "UnpicklingError" not in err and "Weights only load failed" not in err
    assert "nothing" in err and "executed" in err


def test_missing_field_error_never_echoes_a_header_that_is_data(tmp_path):
    from nlptasks.datafiles import read_file
    from nlptasks.io import check_record

    env = tmp_path / "train.csv"
    env.write_text("API_TOKEN=sk-live-abcdef123456\nDB_PASSWORD=hunter2\n")
    rows = read_file(env)
    with pytest.raises(InputError) as e:
        check_record(rows[0], ["text"], str(env))
    assert "sk-live" not in str(e.value) and "hunter2" not in str(e.value) and "'text'" in str(e.value)
    with pytest.raises(InputError, match="fields present: sentence, label"):
        check_record({"sentence": "x", "label": 1}, ["text"], "d.jsonl")


def test_missing_column_is_one_line_wherever_it_is_not_caught():
    from nlptasks.evaluation.datasets_io import get_path

    with pytest.raises(InputError, match="no column 'text'.*available columns: label, sentence"):
        get_path({"sentence": "x", "label": 1}, "text")
    with pytest.raises(InputError) as e:
        get_path({"API_TOKEN=sk-live-abc": "DB_PASSWORD=hunter2"}, "text")
    assert "sk-live" not in str(e.value) and "hunter2" not in str(e.value)


def test_suite_render_never_replaces_the_suite_file(tmp_path, capsys):
    suite = tmp_path / "s.md"  # a suite file whose name is what --render writes
    suite.write_text(json.dumps({"name": "s", "runs": [{"benchmark": "sst2_local", "models": ["majority"]}]}))
    before = suite.read_text()
    code = main(["eval", "--suite", str(suite), "--render", str(tmp_path), "--no-store", "--limit", "2"])
    err = capsys.readouterr().err
    assert code != 0 and "the suite file" in err
    assert suite.read_text() == before
