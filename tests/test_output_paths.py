"""Output targets are checked before any model loads, and nothing a user owns is overwritten or deleted:
the input is never the output, a folder of someone else's files is never written into or cleared, and a
finished evaluation whose record cannot be written is saved beside the current directory."""
from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys

import pytest
from train_data import ROWS, write_jsonl

from nlptasks.errors import InputError, NlpTasksError
from nlptasks.paths import MARKER, check_output_dir, read_marker, record_outputs, remove_outputs

NO_MODEL = "/nonexistent/model"  # an error about the output, not this, shows the output is checked first


def _one_line(proc, *needles):
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("nlptasks: error: ") and "model" not in err.replace("--model", ""), err
    for n in needles:
        assert n in err, err
    return err


# -- 1. the input is never the output --------------------------------------------------------------
@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "dotted"])
def test_run_refuses_to_write_over_its_input(tmp_path, how):
    from nlptasks.api import run_file

    src = tmp_path / "in.txt"
    src.write_text("a good film\n")
    out = {"same": src, "dotted": tmp_path / "." / "in.txt", "symlink": tmp_path / "link.txt",
           "hardlink": tmp_path / "hard.txt"}[how]
    if how == "symlink":
        out.symlink_to(src)
    elif how == "hardlink":
        os.link(src, out)
    with pytest.raises(InputError, match="is the input file"):
        run_file("sentiment", str(src), str(out), model=NO_MODEL)
    assert src.read_text() == "a good film\n"


def test_cli_run_input_as_output_is_one_line(tmp_path, cli):
    src = tmp_path / "in.txt"
    src.write_text("a good film\n")
    _one_line(cli("run", "sentiment", "-i", src, "-o", src, "--model", NO_MODEL), "is the input file")
    assert src.read_text() == "a good film\n"


# -- 13. unusable output targets: one line, exit 2, before the model loads ---------------------------
@pytest.mark.parametrize("target, needle", [("dir", "is a folder"), ("file.txt/out.jsonl", "file.txt is not a folder"),
                                            ("/proc/nlptasks-nope/out.txt", "cannot write in /proc"),
                                            ("/dev/full", "always fails")])
def test_run_output_targets_checked_first(tmp_path, cli, target, needle):
    # (/dev/full only where a model run precedes any write: a pre-fix build, run as root, would replace
    # the device node by a file when it writes there)
    if target == "/dev/full" and not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("/dev/full is not a device on this machine")
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("mine\n")
    (tmp_path / "in.txt").write_text("a good film\n")
    _one_line(cli("run", "sentiment", "-i", "in.txt", "-o", target, "--model", NO_MODEL), needle)
    assert (tmp_path / "file.txt").read_text() == "mine\n"


@pytest.mark.parametrize("redirect, needle", [(">&-", "stdout is closed"), ("1<in.txt", "not open for writing"),
                                              (">/dev/full", "stdout is /dev/full")])
def test_unusable_stdout_is_refused_first(tmp_path, redirect, needle):
    (tmp_path / "in.txt").write_text("a good film\n")
    cmd = f"{sys.executable} -m nlptasks run sentiment -i in.txt --model {NO_MODEL} {redirect}"
    proc = subprocess.run(["sh", "-c", cmd], cwd=tmp_path, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, timeout=300)
    proc.stdout = ""
    _one_line(proc, needle)


def test_devices_are_written_not_replaced(tmp_path):
    """/dev/null and pipes are written directly: an atomic rename would replace the device node."""
    from nlptasks.io import atomic_write
    from nlptasks.paths import check_output_file

    check_output_file(os.devnull)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        check_output_file(str(fifo))
        atomic_write(str(fifo), "through the pipe\n")
        assert os.read(r, 100) == b"through the pipe\n"
    finally:
        os.close(r)
    assert not fifo.is_file() and fifo.exists()  # still a pipe


@pytest.mark.parametrize("argv, needle", [
    (["eval", "sentiment", "--data", "d.jsonl", "--model", NO_MODEL, "--output", "file.txt"], "is a file, not a folder"),
    (["eval", "sentiment", "--data", "d.jsonl", "--model", NO_MODEL, "--output", "file.txt/out"], "is not a folder"),
    (["leaderboard", "--store", "s.sqlite", "--output", "dir"], "is a folder"),
    (["leaderboard", "--store", "s.sqlite", "--output", "file.txt/board.md"], "is not a folder"),
    (["results", "export", "--store", "s.sqlite", "--output", "dir"], "is a folder"),
    (["finetune", "sentiment", "--model", NO_MODEL, "--train", "d.jsonl", "--output", "file.txt"], "is a file"),
    (["distill", "sentiment", "--teacher", NO_MODEL, "--student-layers", "1", "--train", "d.jsonl",
      "--output", "file.txt/o"], "is not a folder"),
])
def test_every_command_checks_its_output_first(tmp_path, cli, argv, needle):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file.txt").write_text("mine\n")
    write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    _one_line(cli(*argv), needle)
    assert (tmp_path / "file.txt").read_text() == "mine\n" and not (tmp_path / "s.sqlite").exists()


# -- 4. a finished evaluation is never lost -----------------------------------------------------------
def test_record_saved_in_cwd_when_output_write_fails(tmp_path, monkeypatch):
    from nlptasks.evaluation import engine as evaluation
    from nlptasks.evaluation.definitions import adhoc_benchmark

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluation, "write_record", full)
    with pytest.raises(NlpTasksError, match="record not written .*No space left on device.*saved in") as err:
        evaluation.evaluate(adhoc_benchmark("sentiment", data), "majority", output_dir=str(tmp_path / "out"),
                            store=False)
    kept = list(work.glob("nlptasks-result-*.json"))
    assert len(kept) == 1 and str(kept[0]) in str(err.value)
    record = json.loads(kept[0].read_text())
    assert record["n"] == 4 and record["model"]["name"] == "majority"


# -- 2, 3. training output folders: only what nlptasks wrote ------------------------------------------
def _someone_elses_model(folder):
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "README.md"):
        (folder / name).write_text(f"their {name}\n")


def test_finetune_refuses_a_folder_of_someone_elses_files(tmp_path):
    from nlptasks.api import distill, finetune

    out = tmp_path / "theirs"
    _someone_elses_model(out)
    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    with pytest.raises(InputError, match="holds files nlptasks did not write .*README.md, config.json"):
        finetune("sentiment", NO_MODEL, data, None, str(out), max_steps=1)
    for kw in (dict(overwrite=True), dict(resume=True)):
        with pytest.raises(InputError, match="did not write"):
            finetune("sentiment", NO_MODEL, data, None, str(out), max_steps=1, **kw)
    with pytest.raises(InputError, match="did not write"):
        distill("sentiment", NO_MODEL, data, None, str(out), student_layers=1, max_steps=1)
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert all((out / n).read_text() == f"their {n}\n" for n in ("config.json", "model.safetensors", "README.md"))


def test_output_of_the_other_kind_needs_overwrite(tmp_path):
    out = tmp_path / "o"
    record_outputs(out, "distill", ["checkpoints", "config.json"])
    with pytest.raises(InputError, match="holds the output of `nlptasks distill`.*--overwrite"):
        check_output_dir(out, kind="finetune")
    with pytest.raises(InputError, match="holds the output of `nlptasks distill`"):
        check_output_dir(out, kind="finetune", resume=True)
    check_output_dir(out, kind="finetune", overwrite=True)
    check_output_dir(out, kind="distill")
    check_output_dir(tmp_path / "new", kind="finetune")
    (tmp_path / "empty").mkdir()
    check_output_dir(tmp_path / "empty", kind="finetune")


def test_remove_outputs_deletes_only_the_manifest(tmp_path):
    out = tmp_path / "o"
    record_outputs(out, "finetune", ["checkpoints", "model.safetensors"])
    (out / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (out / "model.safetensors").write_text("ours")
    (out / "thesis.txt").write_text("years of work")
    with pytest.raises(InputError, match=r"--overwrite: .* did not write \(thesis.txt\)"):
        check_output_dir(out, kind="finetune", overwrite=True)
    remove_outputs(out)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "thesis.txt"]


def test_overwrite_removes_only_what_nlptasks_wrote(tiny_models, tmp_path):
    from nlptasks.api import finetune

    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](4))
    out = tmp_path / "o"
    kw = dict(max_steps=1, batch_size=2, metric="loss")
    finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(out), **kw)
    ours = set(read_marker(out)["files"])
    assert {"config.json", "model.safetensors", "README.md", "training_result.json", "checkpoints"} <= ours
    assert {p.name for p in out.iterdir()} == (ours | {MARKER}) - {".final-tmp"}
    (out / "thesis.txt").write_text("years of work")
    (out / "sub").mkdir()
    (out / "sub" / "data.csv").write_text("a,b\n")
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(InputError, match=r"did not write \(sub/, thesis.txt\)"):
        finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(out), overwrite=True, **kw)
    assert (out / "thesis.txt").read_text() == "years of work" and (out / "sub" / "data.csv").read_text() == "a,b\n"
    assert (out / "model.safetensors").read_bytes() == before
    (out / "thesis.txt").unlink()
    (out / "sub" / "data.csv").unlink()
    (out / "sub").rmdir()
    (out / "checkpoints" / "stale.txt").write_text("inside our own folder: ours")
    finetune("sentiment", str(tiny_models["bert-cls"]), data, data, str(out), overwrite=True, seed=1, **kw)
    assert not (out / "checkpoints" / "stale.txt").exists()
    assert read_marker(out)["kind"] == "finetune"
