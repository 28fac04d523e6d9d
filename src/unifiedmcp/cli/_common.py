"""What every CLI command shares: settings, the tier table, the ledger, output.

Output: much of what the CLI shows was typed by others (names and e-mails set through Stripe,
error messages from an API), so none of it may act on the operator's terminal. ``console`` and
``err_console`` pass every string they print through :func:`plain` (tables, titles, lines) and
read no rich markup or emoji codes in it (style with ``style=``, not ``[bold]``); anything
printed otherwise goes through :func:`plain` by hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from rich.console import Console
from rich.text import Text

from .._secrets import mask_secrets
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
    "plain",
    "settings",
    "tiers",
]

# C0 and C1 controls and DEL (escape sequences, bells, carriage returns, line breaks), and the
# Unicode line separators and bidirectional overrides that reorder what the operator reads.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` with every control character made visible as an escape (``\\x1b``, ``\\u202e``),
    so that it prints as one line of inert text."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)  # Python's escape: none of them is printable


class _PlainConsole(Console):
    """A rich console that shows every string it renders through :func:`plain`, secrets masked."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(plain(mask_secrets(text)), **options)


def _console(*, stderr: bool) -> Console:
    # Off a terminal (pipes, CI logs, papermill) rich would wrap tables at 80 columns.
    stream = sys.stderr if stderr else sys.stdout
    return _PlainConsole(stderr=stderr, width=None if stream.isatty() else 160, markup=False, emoji=False)


console = _console(stderr=False)
err_console = _console(stderr=True)

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
