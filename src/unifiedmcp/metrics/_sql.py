"""The warehouse's SQL files, read once from the package."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["sql_text", "subquery"]


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>`` next to this module (e.g. ``"typed/invoices.sql"``)."""
    return resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")


def subquery(name: str) -> str:
    """The query of ``sql/<name>`` as text to nest in another one (without its final semicolon)."""
    return sql_text(name).rstrip().rstrip(";")
