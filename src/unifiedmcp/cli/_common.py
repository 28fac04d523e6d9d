"""What every CLI command shares: settings, the tier table, the ledger, output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from rich.console import Console

from ..config import Settings, TierTable, load_settings, load_tiers
from ..ledger import Ledger
from ..months import Month

__all__ = ["MONTH_HELP", "console", "err_console", "open_ledger", "parse_month", "settings", "tiers"]

# Off a terminal (pipes, CI logs, papermill) rich would wrap tables at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

MONTH_HELP = "Month as YYYY-MM (UTC); default: the current month."


@cache
def settings() -> Settings:
    return load_settings()


@cache
def tiers() -> TierTable:
    return load_tiers(settings().tiers_file)


@contextmanager
def open_ledger() -> Iterator[Ledger]:
    """The configured ledger (``UNIFIEDMCP_LEDGER`` or ``DATA_DIR/ledger.sqlite3``), closed after use."""
    ledger = Ledger(settings().ledger, tiers=tiers())
    try:
        yield ledger
    finally:
        ledger.close()


def parse_month(value: str | None) -> Month | None:
    """``--month YYYY-MM`` or None; a malformed month is an InvalidInput (one clear line)."""
    return None if value is None else Month.parse(value)
