import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ["NLPTASKS_PROGRESS"] = "0"

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny random-weight BART/T5/Marian/GPT-2/BERT/DistilBERT models, built once per session."""
    from tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real SST-2, SQuAD, CNN/DM, Multi30k, DailyDialog); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def cli(tmp_path):
    """Run the real `nlptasks` CLI in a subprocess; returns CompletedProcess (text)."""
    def run(*args, input=None, env=None, timeout=300):
        e = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "nlptasks", *map(str, args)], input=input,
                              capture_output=True, text=True, cwd=tmp_path, env=e, timeout=timeout)
    return run
