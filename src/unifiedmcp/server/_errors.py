"""Failures of a tool call, turned into ``is_error`` results with structured content.

Every failure the server anticipates ends as a :class:`ToolFailure` (a
:class:`~unifiedmcp.errors.UnifiedMCPError` with fields) and is returned as
``CallToolResult(is_error=True)`` whose text is one line and whose structured content is
``{"error": {"type": ..., "message": ..., <fields>}}``. Nothing here ever holds a secret: the
message and every text field (Stripe's code, param, request id: an API may echo the key in any of
them) are masked (:func:`unifiedmcp._secrets.mask_secrets`) before they are kept.
"""

from __future__ import annotations

import re
from typing import Any

import stripe
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from .._secrets import mask_secrets
from ..errors import QuotaExceeded, UnifiedMCPError

__all__ = [
    "AccountFailure",
    "ConfirmationRequired",
    "ConnectionFailure",
    "NoConnectionFailure",
    "NotConfirmed",
    "QuotaRefused",
    "StripeFailure",
    "ToolFailure",
    "ToolSelectionError",
    "ArgumentsRefused",
    "InvalidArguments",
    "Misconfigured",
    "ScopeRefused",
    "arguments_refused",
    "MeteringUnavailable",
    "error_result",
    "from_stripe_error",
    "mask_secrets",
]

_PERMISSION = re.compile(r"'(rak_[a-z0-9_]+)'")


class ToolSelectionError(UnifiedMCPError):
    """``--tools`` names a resource, action or tool that does not exist."""

    def __init__(self, entry: str, known: list[str], *, reason: str | None = None) -> None:
        self.entry = entry
        self.known = known
        if reason is None:
            reason = f"is unknown; use 'all' or one of: {', '.join(known)}"
        super().__init__(f"tool selection {entry!r} {reason}")


class ToolFailure(UnifiedMCPError):
    """A tool call that failed in an anticipated way (reported as an ``is_error`` result)."""

    type = "tool_error"

    def __init__(self, message: str, **fields: Any) -> None:
        self.message = mask_secrets(message)
        self.fields = {k: mask_secrets(v) if isinstance(v, str) else v for k, v in fields.items() if v is not None}
        super().__init__(self.message)

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, **self.fields}


class InvalidArguments(ToolFailure):
    """Arguments that pass the schema but not the tool's own rules (nothing was sent to Stripe)."""

    type = "validation_error"


class ArgumentsRefused(ToolFailure):
    """Arguments that break the tool's input schema: unknown, of the wrong type, out of range.
    ``errors`` holds one ``{"field", "problem"}`` per fault; the message names each in one line."""

    type = "invalid_arguments"


class ScopeRefused(ToolFailure):
    """The caller's OAuth token was not granted the scope this tool needs."""

    type = "insufficient_scope"


class Misconfigured(ToolFailure):
    """The server cannot serve any call as configured (a stdio server that started anyway, so
    that its client learns why): the message names the problem and the fix."""

    type = "server_misconfigured"


class StripeFailure(ToolFailure):
    """Stripe (or the sandbox) refused or failed the request."""

    type = "stripe_error"


class QuotaRefused(ToolFailure):
    """The caller's tier allows no more calls this month."""

    type = "quota_exceeded"


class MeteringUnavailable(ToolFailure):
    """No metered customer for this call (unknown customer, or none configured)."""

    type = "metering_error"


class NoConnectionFailure(ToolFailure):
    """The customer has connected no Stripe account yet (not metered)."""

    type = "no_connection"


class AccountFailure(ToolFailure):
    """The call named no account while the customer has several, or one it has not connected."""

    type = "invalid_account"


class ConnectionFailure(ToolFailure):
    """The customer's connection cannot be used (a credential that does not decrypt, no secret key)."""

    type = "connection_error"


class ConfirmationRequired(ToolFailure):
    """A destructive tool needs a human confirmation the client cannot give."""

    type = "confirmation_required"


class NotConfirmed(ToolFailure):
    """The human declined or cancelled the confirmation; nothing was changed."""

    type = "not_confirmed"


def from_stripe_error(exc: stripe.StripeError, *, tool: str, permission: str) -> StripeFailure:
    """A :class:`StripeFailure` carrying Stripe's message, code and request id.

    A restricted key's permission error names the missing permission: Stripe's own ``rak_``
    name when its message gives one, else the permission the tool is documented to need.
    """
    err = getattr(exc, "error", None)
    message = (getattr(err, "message", None) or exc.user_message or str(exc) or exc.__class__.__name__).strip()
    fields: dict[str, Any] = {
        "code": exc.code or getattr(err, "code", None),
        "request_id": exc.request_id,
        "http_status": exc.http_status,
        "stripe_type": getattr(err, "type", None),
        "param": getattr(err, "param", None),
        "decline_code": getattr(err, "decline_code", None),
    }
    if isinstance(exc, stripe.PermissionError):
        found = _PERMISSION.search(message)
        missing = found.group(1) if found else permission
        fields["missing_permission"] = missing
        message = (
            f"the Stripe key lacks the permission {missing!r} that {tool} needs "
            f"(add it to the restricted key): {message}"
        )
    elif isinstance(exc, stripe.APIConnectionError):
        message = f"cannot reach Stripe: {message}"
    elif isinstance(exc, stripe.AuthenticationError):
        message = f"Stripe rejected the API key: {message}"
    return StripeFailure(message, **fields)


def arguments_refused(exc: ValidationError, *, tool: str) -> ArgumentsRefused:
    """The ``invalid_arguments`` failure for a schema validation error: every field at fault,
    with pydantic's reason, in one line (the rejected values are the caller's: never echoed)."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        msg = err["msg"]
        problem = "is not a known argument" if err["type"] == "extra_forbidden" else msg[:1].lower() + msg[1:]
        errors.append({"field": where, "problem": problem})
    listed = "; ".join(f"{e['field']} {e['problem']}" for e in errors)
    return ArgumentsRefused(f"invalid arguments for {tool}: {listed}", errors=errors)


def quota_failure(exc: QuotaExceeded, *, upgrade_url: str | None) -> QuotaRefused:
    """The refusal a caller past a hard monthly limit sees: tier, limit, reset and how to upgrade."""
    resets = f"{exc.resets_at:%Y-%m-%dT%H:%M:%SZ}"
    how = (
        f"upgrade to a paid plan at {upgrade_url}"
        if upgrade_url
        else f"upgrade to a paid plan in the billing portal (`unifiedmcp portal {exc.customer} --return-url URL`)"
    )
    return QuotaRefused(
        f"monthly quota exceeded: tier {exc.tier} allows {exc.limit} calls per month and "
        f"{exc.used} were used; the quota resets at {resets}; {how}",
        tier=exc.tier,
        limit=exc.limit,
        used=exc.used,
        resets_at=resets,
        upgrade_url=upgrade_url,
    )


def error_result(failure: ToolFailure, *, tool: str) -> CallToolResult:
    """The ``is_error`` result for ``failure``: one line of text plus the structured payload."""
    payload = failure.payload()
    text = f"{tool} failed ({payload['type']}): {failure.message}"
    extras = [f"{k}={payload[k]}" for k in ("code", "request_id") if k in payload]
    if extras:
        text += f" [{', '.join(extras)}]"
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content={"error": payload},
        is_error=True,
    )
