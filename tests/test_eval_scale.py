"""Evaluation at scale: data-parallel over 2 gloo CPU processes (`eval --num-processes 2`), the
per-example prediction cache (resume after a real SIGKILL), and models spread over devices and disk
(`--device-map auto --max-memory ...`)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_data import MODEL, ROWS, write_jsonl

ROW_COUNT = {"sentiment": 9, "qa": 4, "summarize": 5, "translate": 5, "chat": 5}


def _record(out: Path) -> tuple[dict, list[dict]]:
    records = [p for p in out.rglob("*.json")]
    assert len(records) == 1, records  # written once, by the main process
    samples = [json.loads(ln) for ln in records[0].with_suffix(".samples.jsonl").read_text().splitlines()]
    return json.loads(records[0].read_text()), samples


@pytest.mark.parametrize("task", sorted(ROWS))
def test_two_processes_match_one(task, tiny_models, tmp_path, cli):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS[task](ROW_COUNT[task]))
    common = ["eval", task, "--data", data, "-m", tiny_models[MODEL[task]], "--no-store", "--no-cache",
              "--log-samples", "--batch-size", "2", "--device", "cpu"]
    one = cli(*common, "-o", tmp_path / "one", timeout=240)
    assert one.returncode == 0, one.stderr[-3000:]
    two = cli(*common, "-o", tmp_path / "two", "--num-processes", "2", env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert two.returncode == 0, two.stderr[-3000:]
    assert "accelerate.commands.launch" in two.stderr and "--num_processes 2" in two.stderr
    assert two.stderr.count("nlptasks: wrote ") == 1
    assert len([ln for ln in two.stdout.splitlines() if ln.startswith("run id:")]) == 1  # one table
    (r1, s1), (r2, s2) = _record(tmp_path / "one"), _record(tmp_path / "two")
    assert [s["prediction"] for s in s2] == [s["prediction"] for s in s1]
    assert [s["output"] for s in s2] == [s["output"] for s in s1]
    assert r2["metrics"] == r1["metrics"] and r2["run_id"] == r1["run_id"]
    assert r1["cost"]["processes"] == 1 and r2["cost"]["processes"] == 2
    assert r2["cost"]["devices"] == ["cpu", "cpu"] and r2["cost"]["hosts"] == 1
    assert r2["cost"]["items"] >= ROW_COUNT[task]  # summed over both processes
    assert r2["cost"]["predictions_new"] == ROW_COUNT[task]


def test_shard_balances_by_length_and_covers_every_example():
    from nlptasks.eval_parallel import shard

    inputs = [{"text": "x" * n, "__line__": i} for i, n in enumerate([5, 50, 1, 30, 20, 40, 10])]
    parts = [shard(inputs, r, 2) for r in range(2)]
    assert sorted(parts[0] + parts[1]) == list(range(7))
    assert parts[0] == [1, 3, 6, 2] and parts[1] == [5, 4, 0]  # lengths 50,30,10,1 and 40,20,5


def _cache_rows(path: Path, kind: str = "predict") -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM predictions WHERE kind = ?", (kind,)).fetchone()[0]
    except sqlite3.OperationalError:  # the table is not there yet
        return 0


def test_killed_eval_resumes_from_the_cache(tiny_models, tmp_path, cli):
    n = 60
    data = write_jsonl(tmp_path / "d.jsonl", ROWS["summarize"](n))
    cache = tmp_path / "cache"
    args = ["eval", "summarize", "--data", data, "-m", tiny_models["t5"], "--no-store", "--log-samples",
            "--batch-size", "1", "--device", "cpu", "--set", "max_new_tokens=24"]
    proc = subprocess.Popen([sys.executable, "-m", "nlptasks", *args, "--cache-dir", cache, "-o", tmp_path / "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    db = cache / "predictions.sqlite3"
    deadline = time.time() + 200
    while _cache_rows(db) < 4 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the evaluation ended before it could be killed"
    done = _cache_rows(db)
    assert 4 <= done < n
    assert not (tmp_path / "killed").exists() or not list((tmp_path / "killed").rglob("*.json"))

    resumed = cli(*args, "--cache-dir", cache, "-o", tmp_path / "resumed", timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    fresh = cli(*args, "--no-cache", "-o", tmp_path / "fresh", timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    (r, s), (f, fs) = _record(tmp_path / "resumed"), _record(tmp_path / "fresh")
    assert r["cost"]["predictions_cached"] == done and r["cost"]["predictions_new"] == n - done
    assert f["cost"]["predictions_cached"] == 0 and f["cost"]["predictions_new"] == n
    assert [x["output"] for x in s] == [x["output"] for x in fs]
    assert r["metrics"] == f["metrics"] and r["run_id"] == f["run_id"]
    assert _cache_rows(db) == n


def test_cache_hit_gives_the_same_record(tiny_models, tmp_path):
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation import evaluate

    bench = adhoc_benchmark("chat", write_jsonl(tmp_path / "d.jsonl", ROWS["chat"](4)))
    kw = dict(store=False, cache=str(tmp_path / "c"), device="cpu", max_new_tokens=8)
    first = evaluate(bench, str(tiny_models["gpt2"]), **kw)
    second = evaluate(bench, str(tiny_models["gpt2"]), **kw)
    assert (first["cost"]["predictions_cached"], first["cost"]["predictions_new"]) == (0, 4)
    assert (second["cost"]["predictions_cached"], second["cost"]["predictions_new"]) == (4, 0)
    assert second["cost"]["items"] == 0  # nothing was predicted, not even the reference NLLs (perplexity)
    strip = lambda rec: {k: v for k, v in rec.items() if k not in ("cost", "created_at")}  # noqa: E731
    assert strip(first) == strip(second)
    nocache = evaluate(bench, str(tiny_models["gpt2"]), **{**kw, "cache": False})
    assert strip(nocache) == strip(first) and nocache["cost"]["predictions_cached"] == 0


def test_other_settings_do_not_hit_the_cache(tiny_models, tmp_path):
    from nlptasks.evaluation.definitions import adhoc_benchmark
    from nlptasks.evaluation import evaluate

    bench = adhoc_benchmark("chat", write_jsonl(tmp_path / "d.jsonl", ROWS["chat"](3)))
    kw = dict(store=False, cache=str(tmp_path / "c"), device="cpu")
    evaluate(bench, str(tiny_models["gpt2"]), max_new_tokens=8, **kw)
    other = evaluate(bench, str(tiny_models["gpt2"]), max_new_tokens=4, **kw)
    assert other["cost"]["predictions_cached"] == 0


# -- models bigger than one device --------------------------------------------------------------------
def test_disk_offloaded_model_gives_the_same_outputs(tiny_models, tmp_path):
    import torch
    from nlptasks.backend.loading import load_pretrained, placement, placement_from_options

    path = str(tiny_models["gpt2"])
    plain = load_pretrained(path, "AutoModelForCausalLM", device="cpu", cache=False)
    how = placement_from_options("auto", "cpu=40KB,disk=1GB", str(tmp_path / "offload"))
    with placement(how):
        spread = load_pretrained(path, "AutoModelForCausalLM", device="cpu", cache=False)
    assert "disk" in set(spread.model.hf_device_map.values())
    assert any(p.device.type == "meta" for p in spread.model.parameters())  # offloaded: loaded per use
    x = plain.tokenizer(["the cat sees a book", "a dog likes the garden"], return_tensors="pt", padding=True)
    with torch.no_grad():
        assert torch.equal(plain.model(**x).logits, spread.model(**x).logits)


def test_run_with_device_map_matches_the_normal_run(tiny_models, tmp_path, cli):
    inp = tmp_path / "in.txt"
    inp.write_text("the cat sees a book.\na dog likes the garden.\n")
    base = ["run", "summarize", "-i", inp, "-m", tiny_models["t5"], "--device", "cpu"]
    normal = cli(*base)
    spread = cli("-v", *base, "--device-map", "auto", "--max-memory", "cpu=40KB,disk=1GB",
                 "--offload-folder", tmp_path / "off")
    assert normal.returncode == 0 and spread.returncode == 0, spread.stderr[-2000:]
    assert spread.stdout == normal.stdout and normal.stdout.strip()
    assert "device map of" in spread.stderr and "'disk'" in spread.stderr


@pytest.mark.parametrize("flags, message", [
    (["--device-map", "auto", "--max-memory", "cpu"], "expected DEVICE=SIZE"),
    (["--device-map", "auto", "--max-memory", "gpu0=2GiB"], "unknown device 'gpu0'"),
    (["--device-map", "auto", "--max-memory", "cpu=lots"], "is not a size"),
    (["--device-map", "everywhere"], "unknown map 'everywhere'"),
    (["--max-memory", "cpu=2GiB"], "apply with --device-map"),
    (["--device-map", "auto", "--num-processes", "2"], "cannot be combined with --num-processes"),
    (["--cache-dir", "x", "--no-cache"], "exclude each other"),
])
def test_bad_scale_flags_are_refused_before_loading(flags, message, tmp_path, cli):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS["sentiment"](2))
    proc = cli("eval", "sentiment", "--data", data, "-m", tmp_path / "no-such-model", "--no-store", *flags)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr and "launching" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
