"""Reliability round 3 (issue 20): bounded time and memory, and one clear line for bad input.

Every reader is capped (data and training files, result imports, benchmark and suite YAML), YAML alias
bombs are refused and never block other benchmarks, absurd model configs are refused before anything is
allocated, imports are linear, non-finite values are refused, and malformed input (NaN, lone
surrogates, deep nesting, wrong types, a full disk, SIGTERM) is one line, never a traceback or a
leftover file."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from nlptasks.cli import main
from nlptasks.errors import InputError, ModelLoadError, NlpTasksError

REPO = Path(__file__).resolve().parents[1]


def _bounded(code: str, tmp_path, timeout=60, env=None):
    """Run ``code`` in a fresh interpreter limited to 3 GiB of address space above what it starts with;
    it prints JSON: each check's seconds and the peak RSS in MiB."""
    script = tmp_path / "bounded.py"
    script.write_text(textwrap.dedent('''
        import json, resource, sys, time
        sys.setrecursionlimit(3000)
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        out = {}
        def check(name, fn):
            t = time.time()
            try:
                fn()
                out[name] = ["no error", time.time() - t]
            except Exception as exc:
                out[name] = [type(exc).__name__ + ": " + str(exc), time.time() - t]
    ''') + textwrap.dedent(code) + textwrap.dedent('''
        # VmHWM is this process image's own peak (ru_maxrss keeps the forking parent's, e.g. a big pytest)
        out["rss_mib"] = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")][0] / 1024
        print(json.dumps(out))
    '''))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=timeout,
                          cwd=tmp_path, env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- endless inputs -------------------------------------------------------------------------------------
def test_endless_files_are_refused_within_bounds(tmp_path):
    (tmp_path / "bench.yaml").symlink_to("/dev/zero")
    (tmp_path / "train.jsonl").symlink_to("/dev/zero")
    res = _bounded('''
        from nlptasks.datafiles import read_file
        from nlptasks.evaluation.store import read_import
        from nlptasks.evaluation.definitions import load_file
        from nlptasks.training.data import load_records
        check("train", lambda: load_records("/dev/zero", name="train"))
        check("train_jsonl", lambda: load_records("train.jsonl", name="train"))
        check("data", lambda: read_file("/dev/zero", "csv"))
        check("import", lambda: read_import("/dev/zero"))
        check("benchmark", lambda: load_file("bench.yaml"))
    ''', tmp_path)
    for name in ("train", "train_jsonl", "data", "import", "benchmark"):
        msg, seconds = res[name]
        assert msg.split(":")[0] in ("InputError", "BenchmarkError"), (name, msg)
        assert seconds < 10, (name, seconds)
    assert res["rss_mib"] < 1024


def test_endless_pipe_of_text_is_refused_after_the_cap(tmp_path, monkeypatch):
    import threading

    from nlptasks import io as nio

    fifo = tmp_path / "endless.jsonl"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer():
        try:
            with open(fifo, "wb") as f:
                while not stop.is_set():
                    f.write(b'{"text": "yes"}\n' * 4096)
        except (BrokenPipeError, OSError):
            pass

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        with pytest.raises(InputError, match="over"):
            nio.read_file_capped(fifo, 4 << 20, "endless.jsonl")
    finally:
        stop.set()
        t.join(5)


def test_large_regular_file_is_refused_before_reading(tmp_path):
    from nlptasks.io import read_file_capped

    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GiB of nothing
    t = time.time()
    with pytest.raises(InputError, match="over"):
        read_file_capped(big, 1 << 20, "big.jsonl")
    assert time.time() - t < 2


# -- YAML alias bombs -----------------------------------------------------------------------------------
BOMB = """
name: bomb
task: sentiment
version: 1
dataset: {path: json, data_files: x.jsonl}
columns: {text: sentence}
references: label
metrics: [accuracy]
primary_metric: accuracy
metric_options:
  accuracy:
    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
    h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
    i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_yaml_alias_bomb_is_refused_and_blocks_no_other_benchmark(tmp_path):
    bench_dir = tmp_path / "benchmarks"
    bench_dir.mkdir()
    (bench_dir / "bomb.yaml").write_text(BOMB)
    shutil.copy(REPO / "tasks" / "sentiment" / "sst2_local.yaml", bench_dir / "mine.yaml")
    text = (bench_dir / "mine.yaml").read_text()
    (bench_dir / "mine.yaml").write_text(text.replace("name: sst2_local", "name: mine"))
    res = _bounded('''
        from nlptasks.evaluation import definitions as d
        check("bomb_file", lambda: d.load_file("benchmarks/bomb.yaml"))
        check("other", lambda: d.get_benchmark("mine").name)
        check("bomb_name", lambda: d.get_benchmark("bomb"))
        out["broken"] = sorted(d.BROKEN)
        check("listed", lambda: d.BENCHMARKS.names())
    ''', tmp_path, env={"NLPTASKS_BENCHMARKS_PATH": str(bench_dir)})
    assert res["bomb_file"][0].startswith("BenchmarkError") and "alias" in res["bomb_file"][0]
    assert res["other"][0] == "no error"
    assert res["bomb_name"][0].startswith("BenchmarkError")
    assert "bomb" in res["broken"]
    assert all(v[1] < 10 for k, v in res.items() if isinstance(v, list) and len(v) == 2 and isinstance(v[1], float))
    assert res["rss_mib"] < 1024


def test_suite_alias_bomb_is_refused(tmp_path):
    from nlptasks.evaluation.suites import SuiteError, load_suite

    s = tmp_path / "s.yaml"
    lists = "\n".join(f"      l{i}: &l{i} [{', '.join(['*l%d' % (i - 1)] * 9) if i else 'lol'}]" for i in range(9))
    s.write_text("name: s\nruns:\n  - benchmark: sst2_local\n    models:\n      - model: majority\n"
                 "        options:\n" + lists.replace("      l", "          l") + "\n")
    t = time.time()
    with pytest.raises(SuiteError, match="through its aliases"):
        load_suite(str(s))
    assert time.time() - t < 60  # a bound against exponential alias expansion, not a speed target


# -- absurd model configs --------------------------------------------------------------------------------
CHANGES = [{"num_hidden_layers": 100_000}, {"hidden_size": 10**9},
           {"num_hidden_layers": 2000, "hidden_size": 8192, "intermediate_size": 32768}]  # 1.6e12 parameters


def test_absurd_model_config_is_refused_before_allocation(tiny_models, tmp_path):
    folders = []
    for i, change in enumerate(CHANGES):
        d = tmp_path / f"absurd{i}"
        shutil.copytree(tiny_models["bert-cls"], d)
        cfg = json.loads((d / "config.json").read_text())
        cfg.update(change)
        (d / "config.json").write_text(json.dumps(cfg))
        folders.append(str(d))
    res = _bounded(f'''
        from nlptasks.backend.loading import load_pretrained
        for i, d in enumerate({folders!r}):
            check(f"load{{i}}", lambda: load_pretrained(d, "AutoModelForSequenceClassification", device="cpu"))
    ''', tmp_path, timeout=120)
    for i in range(len(CHANGES)):
        msg, seconds = res[f"load{i}"]
        assert msg.startswith("ModelLoadError") and "refused before allocating" in msg, (CHANGES[i], msg)
        assert seconds < 60  # a bound, not a speed target: building 100,000 layers would take far longer
    assert res["rss_mib"] < 1024


def test_parameter_estimate_is_close_for_a_real_config(tiny_models):
    from transformers import AutoModelForSequenceClassification

    from nlptasks.backend.model_size import estimated_parameters

    cfg = json.loads((tiny_models["bert-cls"] / "config.json").read_text())
    real = sum(p.numel() for p in AutoModelForSequenceClassification.from_pretrained(tiny_models["bert-cls"]).parameters())
    assert 0.5 < estimated_parameters(cfg) / real < 2


# -- results import: linear, finite -----------------------------------------------------------------------
def _record(i, score=0.5):
    return {"schema": 1, "run_id": f"r{i}", "task": "sentiment",
            "benchmark": {"name": "sst2-mini", "version": 1, "hash": "h1"},
            "model": {"name": f"m/{i}", "revision": None, "variant": {"dtype": "float32", "quantize": None}},
            "n": 10, "metrics": {"accuracy": {"score": score, "ci": [0.1, 0.9], "stats": {}}},
            "primary_metric": "accuracy", "higher_is_better": {"accuracy": True}, "settings": {},
            "environment": {}, "cost": {}, "created_at": "2025-01-01T00:00:00+00:00"}


def test_import_of_an_indented_list_is_linear(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_record(i) for i in range(20_000)], indent=1, sort_keys=True))
    res = _bounded(f'''
        from nlptasks.evaluation.store import read_records_with_lines
        t = time.time()
        items = read_records_with_lines(__import__("pathlib").Path({str(path)!r}))
        out["n"] = len(items)
        out["first_lines"] = [items[0][0], items[1][0]]
        out["seconds"] = time.time() - t
    ''', tmp_path, timeout=120)
    assert res["n"] == 20_000 and res["first_lines"][0] == 2 and res["first_lines"][1] > 2
    assert res["seconds"] < 8, res["seconds"]


def test_import_of_10000_records_into_a_store(tmp_path, capsys):
    path = tmp_path / "export.json"
    path.write_text(json.dumps([_record(i) for i in range(10_000)], indent=1, sort_keys=True))
    t = time.time()
    assert main(["results", "--store", str(tmp_path / "s.db"), "import", str(path)]) == 0
    assert time.time() - t < 60
    from nlptasks.evaluation.store import ResultStore

    with ResultStore(tmp_path / "s.db", readonly=True) as s:
        assert len(s.query()) == 10_000


@pytest.mark.parametrize("bad", ['"score": Infinity', '"score": NaN', '"score": 1e308', '"ci": [-Infinity, 1]',
                                 '"ci": [0, 1e300]'])
def test_import_refuses_non_finite_and_absurd_values(tmp_path, capsys, bad):
    text = json.dumps(_record(1))
    key = bad.split(":")[0]
    text = text.replace('"score": 0.5' if key == '"score"' else '"ci": [0.1, 0.9]', bad)
    assert bad in text
    path = tmp_path / "bad.json"
    path.write_text(text)
    code = main(["results", "--store", str(tmp_path / "s.db"), "import", str(path)])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("nlptasks: error:") and "Traceback" not in err
    assert not (tmp_path / "s.db").exists() or main(["results", "--store", str(tmp_path / "s.db"), "list"]) == 0


def test_html_leaderboard_survives_extreme_values():
    from nlptasks.leaderboard import leaderboard

    a, b = _record(1, 1e15), _record(2, -1e15)
    # the largest values a record may hold (ResultRecord.from_dict refuses more, so 1e308 never reaches a page)
    a["metrics"]["accuracy"]["ci"], b["metrics"]["accuracy"]["ci"] = [1e15, 1e15], [-1e15, -1e15]
    a["cost"], b["cost"] = {"energy_kwh": 1e15, "items": 10}, {"energy_kwh": 1e-308, "items": 10}
    page = leaderboard([a, b], fmt="html")
    assert "<svg" in page or "<table" in page


# -- malformed input: one line ----------------------------------------------------------------------------
def _run(tmp_path, capsys, content: str, *extra):
    src = tmp_path / "in.jsonl"
    src.write_text(content)
    code = main(["run", "sentiment", "--model", "majority", "-i", str(src), *extra])
    cap = capsys.readouterr()
    return code, cap


def _one_line(code, cap, *needles):
    assert code != 0, cap
    lines = [ln for ln in cap.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nlptasks: error:"), cap.err
    assert "Error:" not in lines[0].split("nlptasks: error:")[1][:40], lines[0]  # not a generic "XError: ..."
    for n in needles:
        assert n in lines[0], lines[0]


def test_lone_surrogate_is_refused_with_its_line(tmp_path, capsys):
    code, cap = _run(tmp_path, capsys, '{"text": "fine"}\n{"text": "good \\ud800 film"}\n')
    _one_line(code, cap, "line 2", "surrogate")


def test_valid_surrogate_pair_is_text(tmp_path, capsys):
    code, cap = _run(tmp_path, capsys, '{"text": "good \\ud83d\\ude00 film"}\n')
    assert code == 0 and "\U0001F600" in cap.out


@pytest.mark.parametrize("const", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_json_numbers_are_refused(tmp_path, capsys, const):
    code, cap = _run(tmp_path, capsys, '{"text": "fine", "weight": %s}\n' % const)
    _one_line(code, cap, "line 1", const)
    assert "NaN" not in cap.out and "Infinity" not in cap.out


def test_deeply_nested_json_is_one_line(tmp_path, capsys):
    code, cap = _run(tmp_path, capsys, '{"text": "fine", "x": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    _one_line(code, cap, "nested too deeply")
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    code = main(["results", "--store", str(tmp_path / "s.db"), "import", str(deep)])
    _one_line(code, capsys.readouterr(), "nested too deeply")


def test_wrong_option_types_in_benchmark_yaml_name_the_key(tmp_path):
    from nlptasks.evaluation.definitions import load_file

    import yaml

    data = yaml.safe_load((REPO / "tasks" / "translate" / "multi30k_en_de_local.yaml").read_text())
    data.setdefault("task_options", {})["source_lang"] = 5
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(NlpTasksError, match="source_lang"):
        load_file(p).check()


def test_wrong_types_in_suite_yaml_name_the_key(tmp_path):
    from nlptasks.evaluation.suites import SuiteError, load_suite

    s = tmp_path / "s.yaml"
    s.write_text("name: s\nruns:\n  - benchmark: sst2_local\n    models: [{model: majority, dtype: 5}]\n")
    with pytest.raises(SuiteError, match="dtype"):
        load_suite(str(s))


@pytest.mark.parametrize("value", [[1, 2], 5, {"a": 1}])
def test_option_of_the_wrong_type_is_one_line(value):
    from nlptasks.registry import TASKS

    with pytest.raises(NlpTasksError, match="--source-lang must be a string"):
        TASKS.get("translate")("copy-source", source_lang=value)


def test_set_option_of_the_wrong_type_is_one_line(tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"translation": {"en": "a dog", "de": "ein Hund"}}) + "\n")
    code = main(["eval", "translate", "--data", str(data), "--model", "copy-source", "--no-store", "--no-cache",
                 "--set", "source_lang=[1,2]"])
    _one_line(code, capsys.readouterr(), "source")


@pytest.mark.parametrize("argv", [["run", "sentiment", "--model", ""], ["run", "translate", "--model", "  "]])
def test_empty_model_name_is_refused(tmp_path, capsys, argv):
    src = tmp_path / "in.txt"
    src.write_text("a fine film\n")
    code = main([*argv, "-i", str(src)])
    _one_line(code, capsys.readouterr(), "--model is empty")


@pytest.mark.parametrize("task,model", [("sentiment", "minilm-sst2-lora"), ("sentiment", "minilm-sst2"),
                                        ("summarize", "minilm-extsum")])
def test_device_map_is_not_silently_ignored_for_adapters(tmp_path, capsys, task, model):
    src = tmp_path / "in.txt"
    src.write_text("A fine film. It was long.\n")
    code = main(["run", task, "--model", model, "--device-map", "auto", "-i", str(src)])
    _one_line(code, capsys.readouterr(), "--device-map")


# -- a full disk ----------------------------------------------------------------------------------------------
class _FullDisk:
    def __init__(self, f):
        self._f = f

    def write(self, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._f, name)


def test_full_disk_on_run_output(tmp_path, capsys, monkeypatch):
    import nlptasks.io as nio

    out = tmp_path / "out.txt"
    out.write_text("precious\n")
    real = nio.os.fdopen
    monkeypatch.setattr(nio.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k)))
    code, cap = _run(tmp_path, capsys, '{"text": "fine"}\n', "-o", str(out))
    _one_line(code, cap, "disk full writing", "nothing was changed")
    assert out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_full_disk_on_results_export(tmp_path, capsys, monkeypatch):
    import nlptasks.io as nio
    from nlptasks.evaluation.store import ResultStore

    with ResultStore(tmp_path / "s.db") as s:
        s.add(_record(1))
    out = tmp_path / "export.json"
    out.write_text("[]\n")
    real = nio.os.fdopen
    monkeypatch.setattr(nio.os, "fdopen", lambda *a, **k: _FullDisk(real(*a, **k)))
    code = main(["results", "--store", str(tmp_path / "s.db"), "export", "-o", str(out)])
    _one_line(code, capsys.readouterr(), "disk full writing", "nothing was changed")
    assert out.read_text() == "[]\n"


def test_full_disk_at_rename_time(tmp_path, monkeypatch):
    import nlptasks.io as nio

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(nio.os, "replace", full)
    with pytest.raises(InputError, match="disk full writing"):
        nio.atomic_write(str(tmp_path / "x.txt"), "x")
    assert list(tmp_path.iterdir()) == []


# -- SIGTERM while writing --------------------------------------------------------------------------------------
def test_sigterm_during_run_output_leaves_no_temporary_file(tmp_path):
    out = tmp_path / "out.txt"
    proc = subprocess.Popen([sys.executable, "-m", "nlptasks", "run", "sentiment", "--model", "majority",
                             "-o", str(out)], stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    # over one read block (1 MiB): the chunks read are predicted and written, then it waits for more input
    proc.stdin.write(b"a fine film\n" * 110_000)
    proc.stdin.flush()
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    proc.stdin.close()
    assert proc.returncode in (143, -signal.SIGTERM) and proc.returncode == 143
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert not out.exists()
