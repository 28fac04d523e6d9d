"""Sandbox-wide behaviour switches (the Dashboard settings of a real Stripe account, and chaos)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ._errors import invalid

__all__ = ["SandboxSettings"]


@dataclass
class SandboxSettings:
    """Settings changed at run time through ``POST /_sandbox/settings`` or the fixture.

    Dunning mirrors the Dashboard's "Manage failed payments": after a renewal payment fails, retry
    ``dunning_retry_days`` days after each previous attempt; when retries run out, the subscription
    becomes ``canceled`` (``dunning_final_action="cancel"``), ``unpaid`` or stays ``past_due``.
    Webhook retries follow Stripe's test-mode schedule (10 min, 30 min, 90 min, ...; ``3**n``
    growth) multiplied by ``webhook_retry_scale`` (tests use e.g. 0.0001).

    ``chaos_meter_event_failure_rate`` is the share of ``POST /v1/billing/meter_events`` requests
    that fail, each in one of three ways chosen with equal odds: 429 ``rate_limit`` or 500
    ``api_error`` before anything is recorded, or 500 ``api_error`` after the event was recorded
    (a response lost on the way back). Drawn from a generator seeded with ``chaos_seed``.
    """

    dunning_retry_days: list[float] = field(default_factory=lambda: [3.0, 5.0, 7.0])
    dunning_final_action: str = "cancel"
    finalize_delay_seconds: int = 3600
    incomplete_expiry_seconds: int = 23 * 3600
    webhook_retry_scale: float = 1.0
    webhook_max_attempts: int = 4
    webhook_timeout_seconds: float = 10.0
    chaos_duplicate: float = 0.0
    chaos_delay_seconds: float = 0.0
    chaos_reorder: bool = False
    chaos_reorder_window_seconds: float = 0.25
    chaos_seed: int | None = None
    chaos_meter_event_failure_rate: float = 0.0
    rate_limit_per_second: float | None = None
    oauth_code_lifetime_seconds: float = 300.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name: f for f in fields(self)}
        for key, value in values.items():
            if key not in names:
                raise invalid(f"Unknown sandbox setting: {key}", param=key)
            if key == "dunning_final_action" and value not in ("cancel", "unpaid", "past_due"):
                raise invalid("dunning_final_action must be cancel, unpaid or past_due", param=key)
            if key == "dunning_retry_days":
                value = [float(v) for v in value]
            if key == "chaos_meter_event_failure_rate" and not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise invalid("chaos_meter_event_failure_rate must be a number from 0 to 1", param=key)
            setattr(self, key, value)
