"""The alert rules, judged over a window against the ``[alerts]`` thresholds.

Sources: the warehouse, through :mod:`unifiedmcp.metrics` (payments, churn, rejected calls, how
far the data runs), and the ledger's webhook log, read-only. A rule whose source is missing is
``skipped`` (never fired): a warehouse-only set-up gets no webhook alerts, a ledger-only one no
payment alerts. Each rule, with ``value`` compared to ``threshold``:

- ``payment_success_rate``: succeeded / (succeeded + failed) payment attempts in the window, below
  ``min_payment_success_rate`` (no decided attempt: ok);
- ``failed_webhook_events``: events received in the window whose handling failed, above
  ``max_failed_webhook_events``;
- ``webhook_silence``: hours since the last webhook received (any outcome) as of the window's
  end, above ``max_hours_without_webhook``, while subscriptions are live (in the warehouse at
  the window's end, else in the ledger's mirror); none ever received counts as silence;
- ``involuntary_churn_rate``: subscriptions ended for failed or disputed payments / subscribers
  during the window (at its start, new and reactivated), above ``max_involuntary_churn_rate``;
- ``quota_rejections``: calls a hard limit rejected in the window, above ``max_quota_rejections``;
- ``data_age``: hours from the warehouse's newest object or usage event to the window's end,
  above ``max_data_age_hours`` (an empty warehouse fires).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from .. import metrics
from ..config import AlertSettings
from ._ledger import webhook_health
from ._window import Window

__all__ = ["RULES", "AlertReport", "RuleResult", "check_alerts"]

RULES = ("payment_success_rate", "failed_webhook_events", "webhook_silence", "involuntary_churn_rate",
         "quota_rejections", "data_age")

Status = Literal["fired", "ok", "skipped"]


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict: ``value`` (None when it could not be measured) against ``threshold``."""

    rule: str
    status: Status
    value: float | None
    threshold: float
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "status": self.status, "value": self.value, "threshold": self.threshold,
                "message": self.message}


@dataclass(frozen=True)
class AlertReport:
    """Every rule's verdict over ``window``, generated at ``generated_at``."""

    window: Window
    generated_at: datetime
    results: tuple[RuleResult, ...] = field(default=())

    @property
    def fired(self) -> list[RuleResult]:
        return [r for r in self.results if r.status == "fired"]

    def text(self) -> str:
        """A short message for a chat channel (Slack's ``text``)."""
        head = f"UnifiedMCP alerts, {self.window.label}: "
        if not self.fired:
            return head + "all clear."
        return head + f"{len(self.fired)} fired\n" + "\n".join(f"• {r.message}" for r in self.fired)

    def as_dict(self) -> dict[str, Any]:
        return {"window": self.window.as_dict(), "generated_at": self.generated_at.isoformat(),
                "fired": len(self.fired), "alerts": [r.as_dict() for r in self.fired],
                "rules": [r.as_dict() for r in self.results]}


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _above(rule: str, value: float, threshold: float, message: str, ok: str) -> RuleResult:
    fired = value > threshold
    return RuleResult(rule, "fired" if fired else "ok", value, threshold, message if fired else ok)


def _skipped(rule: str, threshold: float, why: str) -> RuleResult:
    return RuleResult(rule, "skipped", None, threshold, why)


def _warehouse_rules(counts: dict[str, Any], span: metrics.DataSpan, window: Window,
                     s: AlertSettings) -> list[RuleResult]:
    out = []
    pay = counts["payments"]
    rate = pay["success_rate"]
    if rate is None:
        out.append(RuleResult("payment_success_rate", "ok", None, s.min_payment_success_rate,
                              "no decided payment attempt in the window"))
    else:
        decided = pay["succeeded"] + pay["failed"]
        fired = rate < s.min_payment_success_rate
        out.append(RuleResult(
            "payment_success_rate", "fired" if fired else "ok", rate, s.min_payment_success_rate,
            f"payment success rate {_pct(rate)} ({pay['succeeded']:,} of {decided:,} attempts) "
            f"is {'below' if fired else 'at or above'} {_pct(s.min_payment_success_rate)}"))
    churn = counts["involuntary_churn_rate"]
    if churn is None:
        out.append(RuleResult("involuntary_churn_rate", "ok", None, s.max_involuntary_churn_rate,
                              "no subscriber in the window"))
    else:
        lost = counts["churn_reasons"]["involuntary"]
        out.append(_above("involuntary_churn_rate", churn, s.max_involuntary_churn_rate,
                          f"involuntary churn {_pct(churn)} ({lost:,} subscription(s) ended by failed payments) "
                          f"is above {_pct(s.max_involuntary_churn_rate)}",
                          f"involuntary churn {_pct(churn)}"))
    rejected = counts["usage"]["rejected_calls"]
    out.append(_above("quota_rejections", rejected, s.max_quota_rejections,
                      f"{rejected:,} calls rejected by a hard limit (threshold {s.max_quota_rejections:,})",
                      f"{rejected:,} calls rejected by a hard limit"))
    if span.last is None:
        out.append(RuleResult("data_age", "fired", None, s.max_data_age_hours,
                              "the warehouse holds no data: load or sync it"))
    else:
        age = round(max(0.0, (window.end - span.last).total_seconds() / 3600), 1)
        out.append(_above("data_age", age, s.max_data_age_hours,
                          f"the newest data is {age:g} h old as of {window.end:%Y-%m-%d %H:%M} UTC "
                          f"(threshold {s.max_data_age_hours:g} h): sync or load the warehouse",
                          f"the newest data is {age:g} h old"))
    return out


def _webhook_rules(ledger: str | Path | None, window: Window, live: int | None,
                   s: AlertSettings) -> list[RuleResult]:
    health = webhook_health(ledger, window)
    if not health.available:
        why = "no ledger with a webhook event log"
        return [_skipped("failed_webhook_events", s.max_failed_webhook_events, why),
                _skipped("webhook_silence", s.max_hours_without_webhook, why)]
    out = [_above("failed_webhook_events", health.failed, s.max_failed_webhook_events,
                  f"{health.failed:,} webhook event(s) failed (threshold {s.max_failed_webhook_events:,}); "
                  "replay them with `unifiedmcp webhooks replay --failed`",
                  f"{health.failed:,} webhook event(s) failed")]
    live = health.live_subscriptions if live is None else live
    hours = health.hours_since_received
    silent = "no webhook ever received" if hours is None else f"no webhook received for {hours:g} h"
    if not live:
        out.append(RuleResult("webhook_silence", "ok", hours, s.max_hours_without_webhook,
                              f"{silent}, and no subscription is live"))
    elif hours is None or hours > s.max_hours_without_webhook:
        out.append(RuleResult("webhook_silence", "fired", hours, s.max_hours_without_webhook,
                              f"{silent} as of {window.end:%Y-%m-%d %H:%M} UTC while {live:,} subscription(s) "
                              f"are live (threshold {s.max_hours_without_webhook:g} h): check the endpoint "
                              "and STRIPE_WEBHOOK_SECRET"))
    else:
        out.append(RuleResult("webhook_silence", "ok", hours, s.max_hours_without_webhook,
                              f"last webhook received {hours:g} h ago"))
    return out


def check_alerts(
    *, warehouse: str | Path | None, ledger: str | Path | None, window: Window, settings: AlertSettings,
    currency: str = "usd", now: datetime | None = None,
) -> AlertReport:
    """Judge every rule over ``window``; ``warehouse`` (a DuckDB file, read-only) and ``ledger``
    (SQLite, read-only) may be None or missing, which skips their rules."""
    results: list[RuleResult] = []
    live: int | None = None
    if warehouse is not None and Path(warehouse).exists():
        counts = metrics.window_counts(warehouse, window.start, window.end, currency=currency)
        live = counts["live_subscriptions"]
        results += _warehouse_rules(counts, metrics.data_span(warehouse), window, settings)
    else:
        why = "no warehouse"
        results += [_skipped("payment_success_rate", settings.min_payment_success_rate, why),
                    _skipped("involuntary_churn_rate", settings.max_involuntary_churn_rate, why),
                    _skipped("quota_rejections", settings.max_quota_rejections, why),
                    _skipped("data_age", settings.max_data_age_hours, why)]
    results += _webhook_rules(ledger, window, live, settings)
    ordered = tuple(sorted(results, key=lambda r: RULES.index(r.rule)))
    return AlertReport(window=window, generated_at=now or datetime.now(UTC), results=ordered)
