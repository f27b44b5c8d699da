import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ["NLPTASKS_PROGRESS"] = "0"
# The suite compares packaged models with float32 references: `--dtype auto` stays float32 even on CPUs
# with AMX (where it would choose bfloat16); tests/test_dtype_auto.py tests that rule with the variable unset.
os.environ.setdefault("NLPTASKS_AUTO_BF16", "0")

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _prediction_cache(tmp_path, monkeypatch):
    """Each test gets its own prediction cache and results store (never the user's): no test sees another's
    predictions, and no test writes results into the user's store (an eval that names no --store)."""
    monkeypatch.setenv("NLPTASKS_CACHE_DIR", str(tmp_path / "prediction-cache"))
    monkeypatch.setenv("NLPTASKS_STORE", str(tmp_path / "results.sqlite"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random-weight BART/T5/Marian/GPT-2/BERT/DistilBERT models, built once per session."""
    from tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))


# Set in CI (.ci/run), where ../shared/data is present: a missing data folder is then a failure, not a skip.
REQUIRE_DATA = os.environ.get("NLPTASKS_REQUIRE_DATA") == "1"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real SST-2, SQuAD, CNN/DM, Multi30k, DailyDialog); skips when absent,
    fails when absent and ``NLPTASKS_REQUIRE_DATA=1``. Tests that take it must be marked ``data``."""
    if not SHARED_DATA.is_dir():
        if REQUIRE_DATA:
            pytest.fail(f"NLPTASKS_REQUIRE_DATA=1 but {SHARED_DATA} is not present", pytrace=False)
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    """The ``data`` marker and the ``shared_data`` fixture go together: a test that reads the shared data
    without the marker (or is marked without taking the fixture) is a usage error for the whole run."""
    wrong = []
    for item in items:
        uses = "shared_data" in getattr(item, "fixturenames", ())
        marked = item.get_closest_marker("data") is not None
        if uses and not marked:
            wrong.append(f"{item.nodeid}: uses shared_data without @pytest.mark.data")
        elif marked and not uses:
            wrong.append(f"{item.nodeid}: is marked data but does not take the shared_data fixture")
    if wrong:
        raise pytest.UsageError("tests/conftest.py: the data marker and the shared_data fixture disagree:\n  "
                                + "\n  ".join(wrong))


@pytest.fixture
def cli(tmp_path):
    """Run the real `nlptasks` CLI in a subprocess; returns CompletedProcess (text)."""
    def run(*args, input=None, env=None, timeout=300):
        e = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "nlptasks", *map(str, args)], input=input,
                              capture_output=True, text=True, cwd=tmp_path, env=e, timeout=timeout)
    return run


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for this session (tests/pg_server.py); skips when none can be
    started here, fails instead when NLPTASKS_REQUIRE_POSTGRES=1 (CI)."""
    from pg_server import REQUIRE_ENV, PgServer, unavailable

    required = os.environ.get(REQUIRE_ENV) == "1"
    why = unavailable()
    if why:
        if required:
            pytest.fail(f"{REQUIRE_ENV}=1 but {why}")
        pytest.skip(why)
    server = PgServer()
    try:
        server.start()
    except Exception as exc:
        server.stop()
        if required:
            pytest.fail(f"{REQUIRE_ENV}=1 but the PostgreSQL test server did not start: {exc}")
        pytest.skip(f"the PostgreSQL test server did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Where a fresh, empty results store lives: a SQLite path, or a new database on the session's
    PostgreSQL server (a TCP URL with the test role's password)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    server = request.getfixturevalue("pg_server")
    return server.url(server.create_database())
