"""Optional test dependencies (a browser, an extra): skipped where they are absent (a user's clone), but
failing in CI, which installs them and sets the variable that says so (``.ci/run``), the way
``NLPTASKS_REQUIRE_DATA`` and ``NLPTASKS_REQUIRE_POSTGRES`` work.

* ``NLPTASKS_REQUIRE_BROWSER=1``: the headless-Chromium tests (leaderboard page, serve playground);
* ``NLPTASKS_REQUIRE_CT2=1``: the CTranslate2 engine tests (the ``ctranslate2`` extra).
"""
from __future__ import annotations

import importlib
import os
import shutil

import pytest

BROWSER_ENV = "NLPTASKS_REQUIRE_BROWSER"
CT2_ENV = "NLPTASKS_REQUIRE_CT2"


def skip_or_fail(reason: str, env: str) -> None:
    """Skip the calling module (or test), or fail it when ``$env`` is ``1``."""
    if os.environ.get(env) == "1":
        pytest.fail(f"{env}=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def browser() -> str:
    """The headless browser executable (Debian's chromium, or Chrome)."""
    found = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    if found is None:
        skip_or_fail("chromium is not installed (apt-get install -y chromium)", BROWSER_ENV)
    return found


def import_extra(module: str, extra: str, env: str):
    """``import module`` (from the optional ``extra``), or skip / fail."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        skip_or_fail(f"{module} is not importable ({exc}); pip install 'nlptasks[{extra}]'", env)
