"""Credentials never leave in text: ``mask_url`` hides the password of every URL in a string.

Used for everything nlptasks prints, logs or stores about a location (results store, data source):
``postgresql://u:secret@host/db`` becomes ``postgresql://u:***@host/db``; ``?password=...`` query
parameters are hidden too. Plain paths and URLs without a password are returned unchanged.
"""
from __future__ import annotations

import re

MASK = "***"
# scheme://user:password@host  (parsed as SQLAlchemy does: the password may hold anything, blanks, '#',
# '/' and '@' included, up to the first '@' that a host follows; a line break ends the search)
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<pw>[^\r\n]*?)@"
                       r"(?=(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?(?:[/?,;:)'\"\s]|$))")
_PORT = re.compile(r"\d{1,5}/")  # host:PORT/path ... a@b: a port, not a password
_QUERY_PW = re.compile(r"(?P<head>[?&;](?:password|passwd|pwd|pass|secret|token)=)[^&;\s'\"]*", re.IGNORECASE)


def mask_url(text: object) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    s = str(text)
    if "://" not in s and "=" not in s:
        return s
    if " " not in s:
        try:
            from sqlalchemy.engine import make_url

            url = make_url(s)
            if url.password is not None:
                s = url.render_as_string(hide_password=True)
        except Exception:  # not a SQLAlchemy URL: the patterns below still apply
            pass
    s = _USERINFO.sub(lambda m: m.group(0) if _PORT.match(m.group("pw")) else m.group("head") + MASK + "@", s)
    return _QUERY_PW.sub(lambda m: m.group("head") + MASK, s)
