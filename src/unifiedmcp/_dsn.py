"""Telling a database URL from a file path, and showing it without its password."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["is_database_url", "mask_url", "scrub", "url_passwords"]

_SCHEMES = ("postgresql://", "postgres://")
_MASK = "***"


def is_database_url(target: Path | str) -> bool:
    """True for a PostgreSQL URL (``postgresql://…``); anything else is a SQLite file path."""
    return isinstance(target, str) and target.startswith(_SCHEMES)


def mask_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by ***."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            user = user.split(":", 1)[0] + ":" + _MASK
        netloc = f"{user}@{host}"
    query = urlencode(
        [(k, _MASK if k == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_passwords(url: str) -> list[str]:
    """The passwords ``url`` carries (in its user part, in ``password=`` parameters)."""
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    return found + [v for k, v in parse_qsl(parts.query) if k == "password" and v]


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's error message) without any password that ``url`` carries."""
    for secret in url_passwords(url):
        text = text.replace(secret, _MASK)
    return text.replace(url, mask_url(url))
