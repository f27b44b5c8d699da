"""API key (Bearer token) handling: reading the key file and a constant-time check of a request."""
from __future__ import annotations

import hmac
import os
import stat

from ..errors import InputError

MIN_KEY_CHARS = 16
OPEN_PATHS = frozenset({"/health", "/ready", "/", "/docs", "/openapi.json", "/docs/oauth2-redirect"})


def read_api_key(path: str) -> str:
    """The key in ``path`` (first line, whitespace stripped). Refused: a missing, unreadable or short file
    (under ``MIN_KEY_CHARS`` characters), or one that other users may write to."""
    try:
        st = os.stat(path)
        with open(path, encoding="utf-8") as f:
            key = f.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--api-key-file {path}: cannot read it ({exc.__class__.__name__})") from None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InputError(f"--api-key-file {path}: other users may write to it; chmod 600 it")
    if len(key) < MIN_KEY_CHARS:
        raise InputError(f"--api-key-file {path}: the key must be at least {MIN_KEY_CHARS} characters "
                         f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path}`)")
    return key


def authorized(header: str | None, key: str) -> bool:
    """Whether an ``Authorization`` header carries ``Bearer <key>``. The token is always compared (with
    ``hmac.compare_digest``), whatever is wrong with the header, so the time taken does not tell which
    part was wrong."""
    scheme, _, token = (header or "").partition(" ")
    same = hmac.compare_digest(token.strip().encode("utf-8"), key.encode("utf-8"))
    return same and scheme.lower() == "bearer"
