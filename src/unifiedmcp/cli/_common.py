"""What every CLI command shares: settings, the tier table, the ledger, output."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from rich.console import Console

from ..config import Settings, TierTable, load_settings, load_tiers
from ..ledger import Ledger
from ..months import Month

__all__ = [
    "MONTH_HELP",
    "cipher_or_none",
    "console",
    "err_console",
    "open_ledger",
    "operator_client",
    "parse_month",
    "settings",
    "tiers",
]

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


def operator_client(*, required: bool = True, max_network_retries: int = 1) -> Any:
    """The operator's ``stripe.StripeClient`` (``STRIPE_API_KEY``); None when not set and not required."""
    from ..billing import build_client

    if settings().stripe_api_key is None and not required:
        return None
    return build_client(settings(), max_network_retries=max_network_retries)


def cipher_or_none() -> Any:
    """The credential cipher (``UNIFIEDMCP_SECRET_KEY``), or None when the key is not set.
    A malformed key is an error either way."""
    from ..accounts import CredentialCipher

    if settings().secret_key is None:
        return None
    return CredentialCipher(settings().secret_key)


def parse_month(value: str | None) -> Month | None:
    """``--month YYYY-MM`` or None; a malformed month is an InvalidInput (one clear line)."""
    return None if value is None else Month.parse(value)
