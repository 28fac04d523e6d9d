"""The report SQL files, read once from the package."""

from __future__ import annotations

from functools import cache
from importlib import resources

__all__ = ["sql_text"]


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/<name>`` next to this module."""
    return resources.files(__package__).joinpath("sql", name).read_text(encoding="utf-8")
