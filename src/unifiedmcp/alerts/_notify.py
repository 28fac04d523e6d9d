"""Delivering fired alerts: one HTTP POST of JSON a Slack incoming webhook accepts (``text``), with
the structured verdicts beside it for any other receiver, retried when the receiver is down.

Retried: connection errors, timeouts, 429 and 5xx answers (a ``Retry-After`` of up to 60 s is
honoured), with back-off doubling from ``backoff`` seconds. Not retried: other 4xx answers, which
a retry cannot fix. Webhook URLs often embed a secret (Slack's do), so errors and logs name the
scheme and host only, never the path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import InvalidInput, UnifiedMCPError
from ._rules import AlertReport

__all__ = ["NotifyFailed", "notify", "payload"]

_MAX_RETRY_AFTER = 60.0


class NotifyFailed(UnifiedMCPError):
    """The alert message could not be delivered: ``host`` (scheme://host[:port]), ``attempts`` and
    the last ``cause`` (an HTTP status or the connection error)."""

    def __init__(self, *, host: str, attempts: int, cause: str) -> None:
        self.host = host
        self.attempts = attempts
        self.cause = cause
        super().__init__(f"could not notify {host} after {attempts} attempt(s): {cause}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput("--notify needs an http(s) URL")
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def payload(report: AlertReport) -> dict[str, Any]:
    """The JSON body: Slack's ``text``, then the window and the fired alerts as fields."""
    return {"text": report.text(), "source": "unifiedmcp", **report.as_dict()}


def notify(
    url: str, report: AlertReport, *, retries: int = 3, timeout: float = 10.0, backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep, on_retry: Callable[[str], None] = lambda _: None,
) -> int:
    """POST ``report`` to ``url``; return the attempts it took. ``on_retry`` hears each retry
    (a line naming the host, the cause and the wait). Raises :class:`NotifyFailed`."""
    host = _origin(url)
    body = payload(report)
    delay = backoff
    for attempt in range(1, retries + 2):
        wait = delay
        try:
            resp = httpx.post(url, json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if resp.status_code < 300:
                return attempt
            cause = f"HTTP {resp.status_code}"
            if resp.status_code != 429 and resp.status_code < 500:
                raise NotifyFailed(host=host, attempts=attempt, cause=cause)
            retry_after = resp.headers.get("Retry-After", "")
            if retry_after.isdigit():
                wait = min(float(retry_after), _MAX_RETRY_AFTER)
        if attempt > retries:
            raise NotifyFailed(host=host, attempts=attempt, cause=cause)
        on_retry(f"notify {host}: {cause}; retrying in {wait:g} s ({attempt} of {retries + 1} attempts made)")
        sleep(wait)
        delay *= 2
    raise AssertionError("unreachable")
