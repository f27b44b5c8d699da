"""The test suite's own rules (tests/conftest.py): a test that reads ../shared/data is marked ``data``,
and with NLPTASKS_REQUIRE_DATA=1 (set in CI) a missing data folder fails such a test instead of skipping it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")


def _pytest(tmp_path: Path, body: str, **env) -> subprocess.CompletedProcess:
    """Run pytest on one test file next to a copy of our conftest, in a folder without ../shared/data."""
    suite = tmp_path / "repo" / "tests"
    suite.mkdir(parents=True)
    shutil.copy(CONFTEST, suite / "conftest.py")
    (suite / "test_x.py").write_text("import pytest\n\n" + body, encoding="utf-8")
    assert not (tmp_path / "shared" / "data").exists()
    e = {k: v for k, v in os.environ.items() if k != "NLPTASKS_REQUIRE_DATA"}
    return subprocess.run([sys.executable, "-m", "pytest", str(suite), "-q", "-rs", "-p", "no:cacheprovider",
                           "-W", "ignore::pytest.PytestUnknownMarkWarning"],
                          capture_output=True, text=True, cwd=suite, env={**e, **env}, timeout=120)


MARKED = "@pytest.mark.data\ndef test_reads(shared_data):\n    assert shared_data.is_dir()\n"


def test_data_test_skips_without_the_folder(tmp_path):
    r = _pytest(tmp_path, MARKED)
    assert r.returncode == 0 and "1 skipped" in r.stdout, r.stdout + r.stderr


def test_data_test_fails_without_the_folder_when_data_is_required(tmp_path):
    r = _pytest(tmp_path, MARKED, NLPTASKS_REQUIRE_DATA="1")
    assert r.returncode == 1 and "1 error" in r.stdout and "NLPTASKS_REQUIRE_DATA=1" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("body,complaint", [
    ("def test_reads(shared_data):\n    pass\n", "uses shared_data without @pytest.mark.data"),
    ("@pytest.mark.data\ndef test_reads():\n    pass\n", "is marked data but does not take the shared_data fixture"),
])
def test_marker_and_fixture_must_agree(tmp_path, body, complaint):
    r = _pytest(tmp_path, body)
    assert r.returncode == 4 and f"test_x.py::test_reads: {complaint}" in r.stderr, r.stdout + r.stderr
