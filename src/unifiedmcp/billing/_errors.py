"""Errors of the billing core (all derive from :class:`unifiedmcp.errors.UnifiedMCPError`).

Messages never contain an API key or a webhook secret: anything that looks like one is masked.
"""

from __future__ import annotations

from .._secrets import mask_secrets
from ..errors import ConfigError, UnifiedMCPError

__all__ = [
    "BillingError",
    "StripeNotConfigured",
    "StripeRequestFailed",
    "AlreadySubscribed",
    "NoSubscription",
    "PaymentFailed",
    "WebhookRejected",
]


class BillingError(UnifiedMCPError):
    """A billing flow could not complete; nothing or only what is named was changed."""


class StripeNotConfigured(ConfigError):
    """No usable Stripe key (``STRIPE_API_KEY``) is configured."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"Stripe is not configured: {reason}")


class StripeRequestFailed(BillingError):
    """Stripe (or the sandbox) refused or failed a request."""

    def __init__(self, operation: str, *, status: int | None, code: str | None, message: str) -> None:
        self.operation = operation
        self.status = status
        self.code = mask_secrets(code) if code else code
        self.message = mask_secrets(message)
        where = f" (HTTP {status}{', ' + self.code if self.code else ''})" if status else ""
        super().__init__(f"{operation} failed{where}: {self.message}")


class AlreadySubscribed(BillingError):
    """The customer already has a live subscription on another tier (use change_tier)."""

    def __init__(self, customer: str, subscription: str, tier: str | None) -> None:
        self.customer = customer
        self.subscription = subscription
        self.tier = tier
        super().__init__(
            f"{customer} already has subscription {subscription} (tier {tier or 'unknown'}); use change-tier"
        )


class NoSubscription(BillingError):
    """The customer has no live subscription to change or cancel."""

    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(f"{customer} has no live subscription")


class PaymentFailed(BillingError):
    """A payment could not be confirmed (declined card, authentication required...)."""

    def __init__(self, payment_intent: str, *, status: str, code: str | None = None) -> None:
        self.payment_intent = payment_intent
        self.status = status
        self.code = code
        super().__init__(f"payment {payment_intent} not completed: {status}{' (' + code + ')' if code else ''}")


class WebhookRejected(BillingError):
    """A webhook delivery failed verification (signature, timestamp, size or body)."""

    def __init__(self, reason: str, *, status: int = 400) -> None:
        self.reason = reason
        self.status = status
        super().__init__(f"webhook rejected: {reason}")
