"""Turning a :class:`ToolSpec` into an MCP tool: metering, confirmation and error mapping.

The bound tool is an async function with the spec's typed signature (so the SDK validates every
argument before anything runs). Its body runs once per completed call (on the 2026-07-28
protocol, after the confirmation round trip) and does:

1. for a Stripe tool, resolve the caller's account (``Runtime.target``): a customer reaches only
   its own connected accounts (the optional ``account`` argument picks one), the operator only
   the operator's. A customer without a connection gets ``no_connection``, unmetered;
2. on a customer server, ``ledger.check_and_record_async(customer, tool, event_id=...,
   completes=True)``, on the event loop, where concurrent calls share a transaction: a call past a
   hard limit ends here as a ``quota_exceeded`` error naming tier, limit, reset time and an upgrade
   link; an admitted call is recorded ``interrupted`` until step 4;
3. in a worker thread, the confirmation outcome check (destructive tools) and the tool itself,
   whose Stripe errors become ``stripe_error`` results;
4. ``ledger.complete_async(event_id, status=..., latency_ms=...)``: ``ok`` or ``error``. A process
   killed before this step leaves the call ``interrupted`` (counted, not billed).
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
from pydantic import BaseModel, Field, StringConstraints

from ..accounts import Caller, Target
from ..billing import idempotency_key
from ..errors import (
    AccountChoice,
    AuthError,
    LedgerError,
    NoConnection,
    QuotaExceeded,
    UnifiedMCPError,
    UnknownCustomer,
)
from ..ledger import new_event_id
from ._errors import (
    AccountFailure,
    ConfirmationRequired,
    ConnectionFailure,
    MeteringUnavailable,
    NoConnectionFailure,
    NotConfirmed,
    ToolFailure,
    error_result,
    from_stripe_error,
    quota_failure,
)
from ._metrics import count_call, count_stripe_error, metering_timer
from ._registry import ToolSpec
from ._runtime import Runtime

__all__ = ["ToolCall", "bind", "ConfirmAction"]

log = logging.getLogger("unifiedmcp.server")


@dataclass(frozen=True)
class ToolCall:
    """What a tool function receives first: the runtime, who is calling, and (Stripe tools) the
    account the call goes to. Tools use ``call.stripe`` and never choose an account themselves."""

    runtime: Runtime
    caller: Caller
    tool: str
    target: Target | None = None

    @property
    def customer(self) -> str | None:
        return self.caller.customer

    @property
    def stripe(self) -> stripe.StripeClient:
        if self.target is None:
            raise RuntimeError(f"{self.tool} is not a Stripe tool: it has no Stripe account")
        return self.target.client

    def write(self, operation: str, send: Any, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Send one write with the caller's idempotency key or one derived from the params."""
        params = {k: v for k, v in params.items() if v is not None}
        scope = f"{self.customer or 'operator'}:{self.target.account if self.target else ''}"
        options = {"idempotency_key": key or idempotency_key(operation, params, scope=scope)}
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


def _over_quota(runtime: Runtime, caller: Caller | None) -> bool:
    """True when the next call would be refused anyway (so no human is asked in vain)."""
    if not runtime.options.metered or runtime.ledger is None or caller is None or not caller.customer:
        return False
    try:
        usage = runtime.ledger.usage(caller.customer)
    except UnknownCustomer:
        return True
    tier = runtime.ledger.tiers[usage.tier]
    return tier.hard_limit and usage.calls >= usage.limit


def _caller_or_none(runtime: Runtime) -> Caller | None:
    try:
        return runtime.caller()
    except AuthError:
        return None


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
        if _over_quota(runtime, _caller_or_none(runtime)):
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


def _resolve(call: ToolCall, spec: ToolSpec, account: str | None) -> ToolCall | ToolFailure:
    """``call`` with its Stripe target, or the (unmetered) failure that keeps it from Stripe."""
    try:
        return ToolCall(call.runtime, call.caller, call.tool, call.runtime.target(call.caller, account=account))
    except NoConnection as exc:
        return NoConnectionFailure(str(exc), customer=exc.customer)
    except UnknownCustomer as exc:
        return MeteringUnavailable(f"customer {exc.customer} is not in the ledger", customer=exc.customer)
    except AccountChoice as exc:
        return AccountFailure(str(exc), account=exc.account, choices=exc.choices)
    except UnifiedMCPError as exc:  # an unreadable credential, no secret key, the operator's account
        log.warning("cannot use the connection for %s: %s", spec.name, exc.__class__.__name__)
        return ConnectionFailure(str(exc))


async def _invoke(
    runtime: Runtime, spec: ToolSpec, args: dict[str, Any], confirmation: Any, account: str | None
) -> dict[str, Any] | CallToolResult:
    try:
        caller = runtime.caller()
    except AuthError as exc:
        return error_result(MeteringUnavailable(str(exc)), tool=spec.name)
    if caller is None:
        return error_result(
            MeteringUnavailable(
                "no customer to meter this call for: start the stdio server with --customer or "
                "UNIFIEDMCP_CUSTOMER, or call the HTTP server with a bearer key"
            ),
            tool=spec.name,
        )
    call = ToolCall(runtime, caller, spec.name)
    if spec.stripe:
        resolved = _resolve(call, spec, account)
        if isinstance(resolved, ToolFailure):
            return error_result(resolved, tool=spec.name)
        call = resolved
    # Metering runs on the event loop, where concurrent calls share the ledger's transactions
    # (group commit); the tool itself, which blocks on Stripe, runs in a worker thread.
    ledger = runtime.ledger if runtime.options.metered else None
    event_id: str | None = None
    tier = "operator" if caller.role == "operator" else None
    if ledger is not None:
        customer = caller.customer
        assert customer is not None  # a customer server's callers are customers
        event_id = new_event_id()
        try:
            with metering_timer():
                # Recorded `interrupted` until complete_async below: a call whose process dies
                # meanwhile is never taken for a success (nor billed).
                tier = (await ledger.check_and_record_async(customer, spec.name, event_id=event_id, completes=True)).tier
        except QuotaExceeded as exc:
            count_call(tier=exc.tier, tool=spec.name, outcome="rejected")
            return error_result(quota_failure(exc, upgrade_url=runtime.upgrade_url(customer)), tool=spec.name)
        except UnknownCustomer:
            count_call(tier=None, tool=spec.name, outcome="unknown_customer")
            return error_result(
                MeteringUnavailable(f"customer {customer} is not in the ledger", customer=customer),
                tool=spec.name,
            )
        except LedgerError as exc:  # no metering, no call
            count_call(tier=None, tool=spec.name, outcome="unmetered")
            return error_result(MeteringUnavailable(f"the ledger is unavailable: {exc}"), tool=spec.name)
    started = time.perf_counter()
    status = "error"
    try:
        result, status = await anyio.to_thread.run_sync(functools.partial(_run, call, spec, args, confirmation))
        return result
    finally:
        count_call(tier=tier, tool=spec.name, outcome="admitted" if status == "ok" else "errored")
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
        failure = from_stripe_error(exc, tool=spec.name, permission=spec.permission)
        count_stripe_error(str(failure.fields.get("code") or type(exc).__name__))
        return error_result(failure, tool=spec.name), "error"


_CONFIRM_PARAM = "confirm"
_OUTCOME_PARAM = "confirmation"
_ACCOUNT_PARAM = "account"
_ACCOUNT_HELP = (
    "Your connected Stripe account (acct_...) to act on; needed only when you have connected several."
)
AccountId = Annotated[str, StringConstraints(pattern=r"^acct_[A-Za-z0-9]{1,250}$"), Field(description=_ACCOUNT_HELP)]


def bind(spec: ToolSpec, runtime: Runtime) -> Any:
    """The async MCP tool function for ``spec`` on ``runtime``."""
    sig = inspect.signature(spec.fn, eval_str=True)
    params = list(sig.parameters.values())[1:]  # drop `call`
    if spec.stripe and runtime.options.role == "customer":
        # Which of the caller's own accounts; the operator's server acts on one account only.
        params.append(
            inspect.Parameter(_ACCOUNT_PARAM, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=AccountId | None)
        )
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
        account = kwargs.pop(_ACCOUNT_PARAM, None)
        return await _invoke(runtime, spec, kwargs, confirmation, account)

    tool.__signature__ = sig.replace(parameters=params, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": dict[str, Any]}
    tool.__name__ = tool.__qualname__ = spec.name
    tool.__doc__ = spec.description
    return tool
