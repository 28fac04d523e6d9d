"""Finding a subject's words in database columns: a portable SQL prefilter (a superset of the
rows), which callers then check row by row with :class:`Subject` (exact matching)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["like_any", "like_pattern"]


def like_pattern(needle: str) -> str:
    """``%needle%`` for ``LIKE ... ESCAPE '\\'`` (ids hold ``_``, a LIKE wildcard)."""
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def like_any(columns: Sequence[str], needles: Sequence[str]) -> tuple[str, list[str]]:
    """A condition true when any of ``columns`` contains any needle, as written or in lower case
    (SQLite's ``lower`` folds ASCII only, PostgreSQL's LIKE keeps case: both forms are asked),
    and its parameters. Portable between SQLite, PostgreSQL and DuckDB."""
    clauses, params = [], []
    for column in columns:
        for needle in needles:
            clauses.append(f"{column} LIKE ? ESCAPE '\\' OR lower({column}) LIKE ? ESCAPE '\\'")
            params += [like_pattern(needle), like_pattern(needle.lower())]
    return "(" + " OR ".join(clauses) + ")" if clauses else "FALSE", params
