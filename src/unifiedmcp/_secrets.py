"""Masking secrets in every string that leaves the process: errors, logs, tool results, CLI lines.

    mask_secrets("bad key sk_test_51Hx…")   # "bad key sk_test_***"
    remember_secrets(value)                   # config does this for each secret it reads
    mask_log_records()                        # an entry point does this once: every log record masked
    with masked_stderr(): ...                 # and around its work: every line printed to stderr

Two nets. Shapes: Stripe keys (``sk_``, ``rk_``, ``pk_``; their mode stays visible), webhook
secrets (``whsec_``), ledger API keys (``umk_<key id>_<secret>``: the key id stays, it is not
secret) and the OAuth tokens and codes of the MCP server (``umo_at_<id>_<secret>``, ``umo_rt_``,
``umo_ac_``: the id stays). And values: each secret ``config`` read in this process, whatever its
shape, also where an API echoes it back (in an error message, a ``Request-Id``). A remembered value shorter than
8 characters is left to the shapes: masking it would garble ordinary words.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["mask_log_records", "mask_secrets", "masked_stderr", "remember_secrets"]

# Masked text never matches again (mask_secrets(mask_secrets(t)) == mask_secrets(t)): layers may
# each mask what passes through them.
_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<stripe>(?:sk|rk|pk)_(?:(?:test|live)_)?)(?!(?:test|live)_)[A-Za-z0-9]{4,}[A-Za-z0-9_]*"
    r"|(?P<webhook>whsec_)[A-Za-z0-9_+/=]{4,}"
    r"|(?P<ledger>umk_[0-9a-f]{12}_)[A-Za-z0-9_-]{4,}"
    r"|(?P<oauth>umo_(?:at|rt|ac)_[0-9a-f]{12}_)[A-Za-z0-9_-]{4,}"
    r")"
)
_MIN_REMEMBERED = 8

_lock = threading.Lock()
_remembered: set[str] = set()
_values: re.Pattern[str] | None = None


def remember_secrets(*values: str) -> None:
    """Mask these exact values from now on (in this process), whatever their shape."""
    global _values
    fresh = {v for v in values if len(v) >= _MIN_REMEMBERED} - _remembered
    if not fresh:
        return
    with _lock:
        _remembered.update(fresh)
        # Longest first: a secret that contains another is masked whole.
        _values = re.compile("|".join(re.escape(v) for v in sorted(_remembered, key=len, reverse=True)))


def mask_secrets(text: str) -> str:
    """``text`` with every remembered secret and every key- or secret-shaped string masked."""
    values = _values
    if values is not None:
        text = values.sub(_masked_value, text)
    return _SHAPES.sub(_masked_shape, text)


def _masked_value(match: re.Match[str]) -> str:
    shaped = _SHAPES.fullmatch(match.group(0))
    return _masked_shape(shaped) if shaped else "***"


def _masked_shape(match: re.Match[str]) -> str:
    return (match.group("stripe") or match.group("webhook") or match.group("ledger") or match.group("oauth")) + "***"


def _masked_arg(arg: Any) -> Any:
    if isinstance(arg, int | float | type(None)):
        return arg  # keeps %d and %.1f working
    text = str(arg)
    masked = mask_secrets(text)
    return arg if masked == text else masked


def _mask_record(record: logging.LogRecord) -> None:
    """Mask ``record`` in place: its message and arguments, and its traceback, formatted now."""
    if isinstance(record.msg, str):
        record.msg = mask_secrets(record.msg)
    if isinstance(record.args, dict):
        record.args = {k: _masked_arg(v) for k, v in record.args.items()}
    elif record.args:
        record.args = tuple(_masked_arg(a) for a in record.args)
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_secrets(record.stack_info)


def mask_log_records() -> None:
    """Mask every log record this process makes from now on, whichever logger and handler.

    Done where records are made (the record factory) rather than in a handler's filter: libraries
    (uvicorn, the MCP SDK, stripe) install handlers of their own, which a filter would miss.
    Idempotent.
    """
    with _lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "masks_secrets", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            _mask_record(record)
            return record

        factory.masks_secrets = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)


class _MaskedText:
    """A text stream that masks what is written to it and passes everything else to ``raw``."""

    def __init__(self, raw: TextIO) -> None:
        self._raw = raw

    def write(self, text: str) -> int:
        self._raw.write(mask_secrets(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self._raw, name)


@contextmanager
def masked_stderr() -> Iterator[None]:
    """Mask everything written to ``sys.stderr`` in the block: error lines and tracebacks, but also
    what libraries print there themselves (stripe's ``STRIPE_LOG`` request lines, which echo
    response bodies; progress bars). Each write is masked whole: a print, a log line, a render.
    """
    raw = sys.stderr
    sys.stderr = _MaskedText(raw)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stderr = raw
