"""Turning a :class:`ToolSpec` into an MCP tool: metering, confirmation and error mapping.

The bound tool is an async function with the spec's typed signature (so the SDK validates every
argument before anything runs). Its body runs once per completed call (on the 2026-07-28
protocol, after the confirmation round trip) and does:

1. ``ledger.check_and_record_async(customer, tool, event_id=...)``, on the event loop, where
   concurrent calls share a transaction: a call past a hard limit ends here as a
   ``quota_exceeded`` error naming tier, limit, reset time and an upgrade link;
2. in a worker thread, the confirmation outcome check (destructive tools) and the tool itself,
   whose Stripe errors become ``stripe_error`` results;
3. ``ledger.complete_async(event_id, status=..., latency_ms=...)``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
import stripe
from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    Resolve,
)
from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from ..billing import idempotency_key
from ..errors import LedgerError, QuotaExceeded, UnknownCustomer
from ..ledger import new_event_id
from ._errors import (
    ConfirmationRequired,
    MeteringUnavailable,
    NotConfirmed,
    ToolFailure,
    error_result,
    from_stripe_error,
    quota_failure,
)
from ._registry import ToolSpec
from ._runtime import Runtime

__all__ = ["ToolCall", "bind", "ConfirmAction"]

log = logging.getLogger("unifiedmcp.server")


@dataclass(frozen=True)
class ToolCall:
    """What a tool function receives first: the runtime and who is calling."""

    runtime: Runtime
    customer: str | None
    tool: str

    @property
    def stripe(self) -> stripe.StripeClient:
        return self.runtime.stripe

    def write(self, operation: str, send: Any, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Send one write with the caller's idempotency key or one derived from the params."""
        params = {k: v for k, v in params.items() if v is not None}
        options = {"idempotency_key": key or idempotency_key(operation, params, scope=self.customer or "")}
        return send(params, options).to_dict()


class ConfirmAction(BaseModel):
    """The form a human sees for a destructive action."""

    confirm: bool = Field(description="Yes, do it")


@dataclass(frozen=True)
class _Granted:
    how: str  # "not needed" (this call is not destructive) | "argument" (confirm: true, allowed)


@dataclass(frozen=True)
class _Refused:
    failure: ToolFailure


_CONFIRM_HELP = (
    "confirm it in a client that supports MCP elicitation (form mode), or, if the server was "
    "started with --allow-confirm-argument, call again with confirm: true after a human approved"
)


def _can_elicit(ctx: Context) -> bool:
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _over_quota(runtime: Runtime, customer: str | None) -> bool:
    """True when the next call would be refused anyway (so no human is asked in vain)."""
    if not runtime.options.metering or runtime.ledger is None or not customer:
        return False
    try:
        usage = runtime.ledger.usage(customer)
    except UnknownCustomer:
        return True
    tier = runtime.ledger.tiers[usage.tier]
    return tier.hard_limit and usage.calls >= usage.limit


def _confirm_resolver(runtime: Runtime, spec: ToolSpec, arg_names: list[str]) -> Any:
    assert spec.confirm is not None

    async def resolver(ctx: Context, **args: Any) -> Any:
        question = spec.confirm(args)  # type: ignore[misc]
        if question is None:
            return _Granted("not needed")
        if args.get("confirm"):
            if runtime.options.allow_confirm_argument:
                return _Granted("argument")
            return _Refused(
                ConfirmationRequired(
                    f"{spec.name} needs a human confirmation and this server does not accept "
                    "confirm: true (it was not started with --allow-confirm-argument); confirm it "
                    "in a client that supports MCP elicitation",
                    tool=spec.name,
                )
            )
        if _over_quota(runtime, runtime.caller()):
            # Nothing is asked: the body's metering refuses the call. Should it be admitted after
            # all (a race, a new month), this refusal keeps it from running unconfirmed.
            return _Refused(
                ConfirmationRequired(
                    f"{spec.name} was not confirmed: the monthly quota was exhausted when it was "
                    "about to be asked; call again",
                    tool=spec.name,
                )
            )
        if not _can_elicit(ctx):
            return _Refused(
                ConfirmationRequired(
                    f"{spec.name} is destructive and needs a human confirmation; this client "
                    f"cannot show one (no elicitation support): {_CONFIRM_HELP}",
                    tool=spec.name,
                    allow_confirm_argument=runtime.options.allow_confirm_argument,
                )
            )
        return Elicit(question, ConfirmAction)

    params = [inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Context)]
    params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in arg_names]
    resolver.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    resolver.__annotations__ = {"ctx": Context}
    resolver.__name__ = resolver.__qualname__ = f"confirm_{spec.name}"
    return resolver


def _check_confirmation(spec: ToolSpec, outcome: Any) -> None:
    if isinstance(outcome, AcceptedElicitation):
        data = outcome.data
        if isinstance(data, _Refused):
            raise data.failure
        if isinstance(data, _Granted):
            return
        if isinstance(data, ConfirmAction) and data.confirm:
            return
        raise NotConfirmed(f"{spec.name} was not confirmed (confirm left unticked); nothing was changed")
    action = getattr(outcome, "action", "not given")
    raise NotConfirmed(f"{spec.name} was {action}ed by the user; nothing was changed", action=action)


async def _invoke(
    call: ToolCall, spec: ToolSpec, args: dict[str, Any], confirmation: Any
) -> dict[str, Any] | CallToolResult:
    # Metering runs on the event loop, where concurrent calls share the ledger's transactions
    # (group commit); the tool itself, which blocks on Stripe, runs in a worker thread.
    runtime = call.runtime
    ledger = runtime.ledger if runtime.options.metering else None
    event_id: str | None = None
    if ledger is not None:
        if not call.customer:
            return error_result(
                MeteringUnavailable(
                    "no customer to meter this call for: start the stdio server with --customer or "
                    "UNIFIEDMCP_CUSTOMER, or call the HTTP server with a bearer key"
                ),
                tool=spec.name,
            )
        event_id = new_event_id()
        try:
            await ledger.check_and_record_async(call.customer, spec.name, event_id=event_id)
        except QuotaExceeded as exc:
            return error_result(quota_failure(exc, upgrade_url=runtime.upgrade_url(call.customer)), tool=spec.name)
        except UnknownCustomer:
            return error_result(
                MeteringUnavailable(f"customer {call.customer} is not in the ledger", customer=call.customer),
                tool=spec.name,
            )
        except LedgerError as exc:  # no metering, no call
            return error_result(MeteringUnavailable(f"the ledger is unavailable: {exc}"), tool=spec.name)
    started = time.perf_counter()
    status = "error"
    try:
        result, status = await anyio.to_thread.run_sync(functools.partial(_run, call, spec, args, confirmation))
        return result
    finally:
        if ledger is not None and event_id is not None:
            try:  # written even if this call is being cancelled: a queued write is never dropped
                await ledger.complete_async(event_id, status=status, latency_ms=(time.perf_counter() - started) * 1000)
            except LedgerError as exc:  # the call is counted; only its outcome row is stale
                log.warning("could not record the outcome of %s: %s", spec.name, exc)


def _run(
    call: ToolCall, spec: ToolSpec, args: dict[str, Any], confirmation: Any
) -> tuple[dict[str, Any] | CallToolResult, str]:
    """The tool itself, after metering: its result and its status (``ok`` or ``error``)."""
    try:
        if spec.confirm is not None:
            _check_confirmation(spec, confirmation)
        return spec.fn(call, **args), "ok"
    except ToolFailure as exc:
        return error_result(exc, tool=spec.name), "error"
    except stripe.StripeError as exc:
        return error_result(from_stripe_error(exc, tool=spec.name, permission=spec.permission), tool=spec.name), "error"


_CONFIRM_PARAM = "confirm"
_OUTCOME_PARAM = "confirmation"


def bind(spec: ToolSpec, runtime: Runtime) -> Any:
    """The async MCP tool function for ``spec`` on ``runtime``."""
    sig = inspect.signature(spec.fn, eval_str=True)
    params = list(sig.parameters.values())[1:]  # drop `call`
    arg_names = [p.name for p in params]
    if spec.confirm is not None:
        confirm_help = (
            "Set true only after a human approved this exact action; accepted only when the server "
            "runs with --allow-confirm-argument (otherwise the client asks the human)."
        )
        params.append(
            inspect.Parameter(
                _CONFIRM_PARAM,
                inspect.Parameter.KEYWORD_ONLY,
                default=False,
                annotation=Annotated[bool, Field(description=confirm_help)],
            )
        )
        resolver = _confirm_resolver(runtime, spec, [*arg_names, _CONFIRM_PARAM])
        params.append(
            inspect.Parameter(
                _OUTCOME_PARAM,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[ElicitationResult[ConfirmAction], Resolve(resolver)],
            )
        )

    async def tool(**kwargs: Any) -> Any:
        confirmation = kwargs.pop(_OUTCOME_PARAM, None)
        kwargs.pop(_CONFIRM_PARAM, None)
        return await _invoke(ToolCall(runtime, runtime.caller(), spec.name), spec, kwargs, confirmation)

    tool.__signature__ = sig.replace(parameters=params, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": dict[str, Any]}
    tool.__name__ = tool.__qualname__ = spec.name
    tool.__doc__ = spec.description
    return tool
