"""The registry: every store the toolkit writes personal data to, and what privacy does with it.

Each store declares its :class:`Holding` s (a table, or a kind of file: the personal data it
holds, and what export, erase and retention do with it) and implements :class:`Store`. A table
added to the ledger or the warehouse must be declared here too: ``tests/privacy/test_registry.py``
fails for a table no store declares, so that export and erase cannot forget it. ``docs/privacy.md``
lists the same holdings for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..ledger import Ledger
from ._subject import Subject

__all__ = ["Counts", "Holding", "Places", "Sink", "Store"]

#: What a store found or changed: place (table, file) -> number of records.
Counts = dict[str, int]


@dataclass(frozen=True)
class Holding:
    """One place of a store: ``personal`` says what personal data it holds ("" for none), the
    other fields what ``export``, ``erase`` and ``retention`` do there."""

    place: str
    personal: str
    export: str
    erase: str
    retention: str = ""


@dataclass(frozen=True)
class Places:
    """Where the stores are (from the settings; tests point them at temporary folders).
    ``ledger`` is an open ledger; the others are paths that may not exist."""

    ledger: Ledger
    warehouse: Path
    data_dir: Path
    reports_dir: Path
    notebooks_dir: Path | None = None  # report re-rendering: default the project's notebooks/reports

    @property
    def sandbox_file(self) -> Path:
        """The local Stripe sandbox's state, when ``unifiedmcp sandbox serve`` keeps it here."""
        return self.data_dir / "sandbox.sqlite3"


class Sink(Protocol):
    """Where an export puts what a store holds about a customer."""

    def rows(self, store: str, place: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Rows of a table (written as JSON and CSV)."""

    def objects(self, store: str, place: str, objects: Sequence[dict[str, Any]]) -> None:
        """JSON objects, e.g. Stripe objects (written as JSON, and as CSV with one JSON column)."""


class Store(Protocol):
    """One store, as export and erase see it. Every method is safe to run again."""

    name: str
    holdings: tuple[Holding, ...]

    def terms(self, customer_id: str) -> set[str]:
        """E-mails, names and phone numbers this store holds with ``customer_id``."""

    def find(self, subject: Subject) -> Counts:
        """How many records of each place are about the subject (what erase would change)."""

    def export(self, subject: Subject, sink: Sink) -> None:
        """Everything held about the subject, into ``sink``."""

    def erase(self, subject: Subject) -> Counts:
        """Clear the subject's personal data, pseudonymise what accounting keeps, and leave no
        copy of the old bytes in the store's files. Returns what changed."""
