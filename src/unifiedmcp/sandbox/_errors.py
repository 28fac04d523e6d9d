"""Stripe's error bodies and statuses, raised by every handler and rendered by the app."""

from __future__ import annotations

from typing import Any

__all__ = [
    "StripeError",
    "invalid",
    "missing",
    "missing_param",
    "unknown_param",
    "invalid_integer",
    "invalid_empty",
    "invalid_enum",
    "card_error",
    "rate_limited",
]


class StripeError(Exception):
    """An API error with Stripe's wire shape: ``{"error": {"type", "message", "param", "code", ...}}``."""

    def __init__(
        self,
        status: int,
        *,
        type: str,
        message: str,
        param: str | None = None,
        code: str | None = None,
        decline_code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.param = param
        self.code = code
        self.decline_code = decline_code
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.param is not None:
            err["param"] = self.param
        if self.code is not None:
            err["code"] = self.code
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            err["decline_code"] = self.decline_code
        err.update(self.extra)
        return {"error": err}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    """400 ``invalid_request_error`` (a malformed or impossible request)."""
    return StripeError(400, type="invalid_request_error", message=message, param=param, code=code)


# Parameter errors, worded and coded as Stripe's (``param`` in Stripe's bracket form, ``items[0][price]``).
def missing_param(param: str) -> StripeError:
    """``parameter_missing``: ``Missing required param: items[0][price].``"""
    return invalid(f"Missing required param: {param}.", param=param, code="parameter_missing")


def unknown_param(param: str) -> StripeError:
    """``parameter_unknown``: ``Received unknown parameter: items[0][colour]``"""
    return invalid(f"Received unknown parameter: {param}", param=param, code="parameter_unknown")


def invalid_integer(value: object, param: str) -> StripeError:
    """``parameter_invalid_integer``: ``Invalid integer: 10.0``"""
    return invalid(f"Invalid integer: {value}", param=param, code="parameter_invalid_integer")


def invalid_empty(param: str) -> StripeError:
    """``parameter_invalid_empty``: an empty string for a parameter that cannot be unset."""
    return invalid(
        f"You passed an empty string for '{param}'. We assume empty values are an attempt to unset a parameter; "
        f"however '{param}' cannot be unset. You should remove '{param}' from your request or supply a non-empty value.",
        param=param, code="parameter_invalid_empty",
    )


def invalid_enum(param: str, allowed: list[str]) -> StripeError:
    """A value outside an enum: ``Invalid usage: must be one of reusable or single_use``. Stripe sends
    no ``code`` for it (its error codes have none for this case), only ``param``."""
    listed = allowed[0] if len(allowed) == 1 else (
        f"{allowed[0]} or {allowed[1]}" if len(allowed) == 2 else f"{', '.join(allowed[:-1])}, or {allowed[-1]}")
    return invalid(f"Invalid {param}: must be one of {listed}", param=param)


def missing(kind: str, ident: str, *, param: str | None = "id", status: int = 404) -> StripeError:
    """404 ``resource_missing``, worded like Stripe: ``No such customer: 'cus_x'``."""
    return StripeError(
        status,
        type="invalid_request_error",
        message=f"No such {kind}: '{ident}'",
        param=param,
        code="resource_missing",
    )


def rate_limited() -> StripeError:
    """429 ``rate_limit``, Stripe's answer to too many requests."""
    return StripeError(
        429, type="invalid_request_error", code="rate_limit",
        message="Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
    )


def card_error(
    message: str,
    *,
    code: str,
    decline_code: str | None,
    extra: dict[str, Any] | None = None,
) -> StripeError:
    """402 ``card_error`` with the decline code of the test card that caused it."""
    return StripeError(
        402,
        type="card_error",
        message=message,
        code=code,
        decline_code=decline_code,
        param=None,
        extra=extra,
    )
