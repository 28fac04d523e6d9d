"""Alerts: thresholds from the settings file's ``[alerts]`` section, judged over a month or the
last hours, from the warehouse (through :mod:`unifiedmcp.metrics`) and the ledger's webhook log,
both read-only; fired alerts can be POSTed to a chat webhook.

    from unifiedmcp import alerts
    report = alerts.check_alerts(warehouse="data/warehouse.duckdb", ledger="data/ledger.sqlite3",
                                 window=alerts.Window.since("24h"), settings=AlertSettings())
    if report.fired:
        alerts.notify(url, report)

Public API:
- ``check_alerts(*, warehouse, ledger, window, settings, currency="usd", now=None) -> AlertReport``
  (``results``: one ``RuleResult(rule, status, value, threshold, message)`` per rule in ``RULES``;
  ``fired``, ``text()``, ``as_dict()``).
- ``Window.month(month, *, now=None)``, ``Window.since("24h", *, now=None)``, ``parse_duration``.
- ``notify(url, report, *, retries=3, timeout=10.0, backoff=1.0) -> attempts``, ``payload(report)``,
  ``NotifyFailed(host, attempts, cause)``.
- Webhook health from the ledger (the ops report): ``webhook_health(ledger, window_or_month)``
  -> ``WebhookHealth``, ``webhook_by_day``, ``webhook_failures``.

From a shell: ``unifiedmcp alerts check [--month YYYY-MM | --since 24h] [--notify URL] [--json]``.
This package reads metrics and the ledger; reports and the CLI read it, never the other way round.
"""

from ._ledger import WebhookHealth, webhook_by_day, webhook_failures, webhook_health
from ._notify import NotifyFailed, notify, payload
from ._rules import RULES, AlertReport, RuleResult, check_alerts
from ._window import Window, parse_duration

__all__ = [
    "RULES",
    "AlertReport",
    "NotifyFailed",
    "RuleResult",
    "WebhookHealth",
    "Window",
    "check_alerts",
    "notify",
    "parse_duration",
    "payload",
    "webhook_by_day",
    "webhook_failures",
    "webhook_health",
]
