"""The built wheel carries the benchmark definitions and suites, and an installed copy finds them.

The wheel is built from a copy of the source files (so no build/ or egg-info lands in the checkout),
without build isolation or network, installed with ``pip install --no-deps --target DIR`` and run as
``python -m nlptasks`` with ``PYTHONPATH=DIR`` from an empty directory: nothing of the repository is
on the path or in the working directory.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from nlptasks.evaluation.suites import packaged_suites

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _copy_sources(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for folder in ("nlptasks", "tasks", "eval/suites"):
        shutil.copytree(REPO / folder, dest / folder, symlinks=True, ignore=ignore)


def _pip(*args, cwd=None) -> None:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    proc = subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, site dir, empty working dir) of a wheel built from this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    src, dist, site, cwd = (root / n for n in ("src", "dist", "site", "cwd"))
    for d in (src, dist, cwd):
        d.mkdir()
    _copy_sources(src)
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src))
    (wheel,) = dist.glob("nlptasks-*.whl")
    _pip("install", "--no-deps", "--no-index", "--target", str(site), str(wheel))
    return wheel, site, cwd


def run_installed(installed, *args, timeout=300):
    _, site, cwd = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("NLPTASKS_")}
    env.update(PYTHONPATH=str(site), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_wheel_contains_every_benchmark_and_suite(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    tasks = {f"nlptasks/bundled/tasks/{p.relative_to(REPO / 'tasks').as_posix()}" for p in (REPO / "tasks").rglob("*.yaml")}
    suites = {f"nlptasks/bundled/suites/{p.name}" for p in (REPO / "eval" / "suites").glob("*.yaml")}
    assert tasks and suites
    assert tasks <= names and suites <= names
    # real files, not links: every shipped definition has the repository file's content
    z = zipfile.ZipFile(wheel)
    one = REPO / "tasks" / "sentiment" / "sst2_local.yaml"
    assert z.read("nlptasks/bundled/tasks/sentiment/sst2_local.yaml") == one.read_bytes()


def test_wheel_ships_the_packaged_model_folders(installed):
    """nlptasks/embedded/<name>/ folders (retrieval chat, extractive scorer) are package data too."""
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = [p for p in (REPO / "nlptasks" / "embedded").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert {"minilm-retrieval", "minilm-extsum"} <= {p.name for p in folders}
    files = {f"nlptasks/embedded/{f.relative_to(REPO / 'nlptasks' / 'embedded').as_posix()}"
             for d in folders for f in d.iterdir() if f.is_file()}
    assert files <= names


def test_installed_package_is_the_one_imported(installed):
    _, site, cwd = installed
    proc = run_installed(installed, "-c", "import nlptasks; print(nlptasks.__file__)")
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()).resolve().is_relative_to(site.resolve())
    assert not any(cwd.iterdir())


def test_installed_cli_lists_the_benchmarks(installed):
    _, site, _ = installed
    proc = run_installed(installed, "-m", "nlptasks", "benchmarks", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(proc.stdout)
    expected = {p.stem for p in (REPO / "tasks").rglob("*.yaml")}
    assert {b["name"] for b in listed} == expected
    assert all(Path(b["file"]).resolve().is_relative_to(site.resolve()) for b in listed)


def test_installed_package_finds_suites_by_name(installed):
    _, site, _ = installed
    code = "from nlptasks.evaluation.suites import load_suite; s = load_suite('offline'); print(s.path); print(len(s.runs))"
    proc = run_installed(installed, "-c", code)
    assert proc.returncode == 0, proc.stderr
    path, runs = proc.stdout.split()
    assert Path(path).resolve().is_relative_to(site.resolve()) and int(runs) > 0
    proc = run_installed(installed, "-m", "nlptasks", "eval", "--suite", "nope")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no packaged suite of that name" in proc.stderr and "offline" in proc.stderr


@pytest.mark.data
def test_installed_cli_evaluates_a_packaged_benchmark(installed, shared_data):
    _, _, cwd = installed
    store = cwd.parent / "store.sqlite"
    proc = run_installed(installed, "-m", "nlptasks", "eval", "sst2_local", "--model", "majority",
                         "--data-dir", str(shared_data), "--limit", "20", "--store", str(store), "--json")
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["benchmark"]["name"] == "sst2_local" and record["n"] == 20
    assert store.is_file()


def test_suites_resolve_by_name_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from nlptasks.evaluation.suites import load_suite

    known = packaged_suites()
    assert set(known) == {p.stem for p in (REPO / "eval" / "suites").glob("*.yaml")}
    assert load_suite("offline").name == "offline"


def test_wheel_ships_the_embedded_translation_model(installed):
    """`run translate` without --model works from an installed wheel: the packaged en->de folder ships."""
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    folder = REPO / "nlptasks" / "embedded" / "marian-multi30k-en-de"
    assert {f"nlptasks/embedded/marian-multi30k-en-de/{p.name}" for p in folder.iterdir()} <= names
    _, site, cwd = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("NLPTASKS_")}
    env.update(PYTHONPATH=str(site), HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "nlptasks", "run", "translate"], input="A dog runs.\n", cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and proc.stdout.strip() != "A dog runs."
