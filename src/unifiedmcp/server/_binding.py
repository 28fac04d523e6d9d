"""Turning a :class:`ToolSpec` into an MCP tool: metering, confirmation and error mapping.

The bound tool is an async function with the spec's typed signature (so the SDK validates every
argument before anything runs). Its body runs once per completed call (on the 2026-07-28
protocol, after the confirmation round trip) and does:

1. refuse a token whose scopes do not cover the tool (``insufficient_scope``: an OAuth token
   with ``mcp:read`` alone calling a write tool);
2. for a Stripe tool, resolve the caller's account (``Runtime.target``): a customer reaches only
   its own connected accounts (the optional ``account`` argument picks one), the operator only
   the operator's. A customer without a connection gets ``no_connection``;
3. in a worker thread, the confirmation outcome check (destructive tools) and the tool itself,
   whose Stripe errors become ``stripe_error`` results;
4. on a customer server the call is metered (``ledger.check_and_record_async(..., completes=True)``,
   on the event loop, where concurrent calls share a transaction) at the moment it first reaches
   Stripe (a tool's first use of ``call.stripe``), or before it runs for a tool served from
   UnifiedMCP's own data; past a hard limit it ends there as ``quota_exceeded``. So every refusal
   that never reaches Stripe (arguments, rules between them, scope, confirmation, account) costs
   nothing. An admitted call is recorded ``interrupted`` until step 5;
5. a metered call's outcome: ``ledger.complete_async(event_id, status=..., latency_ms=...)``, ``ok``
   or ``error``. A process killed before this step leaves the call ``interrupted`` (counted, not
   billed).

A write's structured result says ``replayed: true`` when Stripe answered it from its idempotency
cache (``Idempotent-Replayed``): the same write was sent before, nothing new was created.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio.from_thread
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
    ScopeRefused,
    ToolFailure,
    error_result,
    from_stripe_error,
    quota_failure,
)
from ._metrics import count_call, count_stripe_error, metering_timer
from ._oauth import allows
from ._registry import ToolSpec
from ._runtime import Runtime

__all__ = ["ToolCall", "bind", "ConfirmAction"]

log = logging.getLogger("unifiedmcp.server")


class _Meter:
    """Meters one call, once, when it first needs to (see the module docstring, step 4)."""

    def __init__(self, runtime: Runtime, caller: Caller, tool: str) -> None:
        self.ledger = runtime.ledger if runtime.options.metered else None
        self.runtime = runtime
        self.customer = caller.customer
        self.tool = tool
        self.tier: str | None = "operator" if caller.role == "operator" else None
        self.event_id: str | None = None  # set once admitted

    async def admit(self) -> None:
        """Admit the call (a no-op when admitted already or not metered); a refusal is raised
        as a :class:`ToolFailure`."""
        if self.ledger is None or self.event_id is not None:
            return
        customer = self.customer
        assert customer is not None  # a customer server's callers are customers
        event_id = new_event_id()
        try:
            with metering_timer():
                # Recorded `interrupted` until complete_async: a call whose process dies meanwhile
                # is never taken for a success (nor billed).
                admission = await self.ledger.check_and_record_async(
                    customer, self.tool, event_id=event_id, completes=True
                )
                self.tier = admission.tier
        except QuotaExceeded as exc:
            count_call(tier=exc.tier, tool=self.tool, outcome="rejected")
            raise quota_failure(exc, upgrade_url=self.runtime.upgrade_url(customer)) from None
        except UnknownCustomer:
            count_call(tier=None, tool=self.tool, outcome="unknown_customer")
            raise MeteringUnavailable(f"customer {customer} is not in the ledger", customer=customer) from None
        except LedgerError as exc:  # no metering, no call
            count_call(tier=None, tool=self.tool, outcome="unmetered")
            raise MeteringUnavailable(f"the ledger is unavailable: {exc}") from None
        self.event_id = event_id

    def admit_from_thread(self) -> None:
        if self.ledger is not None and self.event_id is None:
            anyio.from_thread.run(self.admit)


@dataclass(frozen=True)
class ToolCall:
    """What a tool function receives first: the runtime, who is calling, and (Stripe tools) the
    account the call goes to. Tools use ``call.stripe`` and never choose an account themselves;
    the first use of ``call.stripe`` meters the call."""

    runtime: Runtime
    caller: Caller
    tool: str
    target: Target | None = None
    meter: _Meter | None = field(default=None, repr=False, compare=False)

    @property
    def customer(self) -> str | None:
        return self.caller.customer

    @property
    def stripe(self) -> stripe.StripeClient:
        if self.target is None:
            raise RuntimeError(f"{self.tool} is not a Stripe tool: it has no Stripe account")
        if self.meter is not None:
            self.meter.admit_from_thread()
        return self.target.client

    def write(self, operation: str, send: Any, params: dict[str, Any], key: str | None) -> dict[str, Any]:
        """Send one write with the caller's idempotency key or one derived from the params; the
        result says ``replayed`` (Stripe answered from its idempotency cache, nothing new)."""
        params = {k: v for k, v in params.items() if v is not None}
        scope = f"{self.customer or 'operator'}:{self.target.account if self.target else ''}"
        options = {"idempotency_key": key or idempotency_key(operation, params, scope=scope)}
        obj = send(params, options)
        response = obj.last_response
        replayed = response is not None and response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return obj.to_dict() | {"replayed": replayed}


class ConfirmAction(BaseModel):
    """The form a human sees for a destructive action."""

    confirm: bool = Field(description="Yes, do it")


@dataclass(frozen=True)
class _Granted:
    how: str  # "not needed" (this call is not destructive) | "argument" (confirm: true, allowed)


@dataclass(frozen=True)
class _Refused:
    failure: ToolFailure
    over_quota: bool = False  # refused because the quota ran out: metering answers for it


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
                ),
                over_quota=True,
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
        return ToolCall(call.runtime, call.caller, call.tool, call.runtime.target(call.caller, account=account), call.meter)
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
    if runtime.problem is not None:
        return error_result(runtime.problem, tool=spec.name)
    try:
        caller = runtime.caller()
    except AuthError as exc:
        return error_result(MeteringUnavailable(str(exc)), tool=spec.name)
    if caller is None:
        return error_result(runtime.misconfigured(), tool=spec.name)
    scopes = runtime.scopes()
    if scopes is not None and not allows(scopes, read_only=spec.read_only):
        return error_result(
            ScopeRefused(
                f"{spec.name} changes your Stripe data and this token was granted read access only; "
                "authorize the client again and approve the write permission",
                required="mcp:write",
            ),
            tool=spec.name,
        )
    meter = _Meter(runtime, caller, spec.name)
    call = ToolCall(runtime, caller, spec.name, meter=meter)
    if spec.stripe:
        resolved = _resolve(call, spec, account)
        if isinstance(resolved, ToolFailure):
            return error_result(resolved, tool=spec.name)
        call = resolved
    refused = getattr(confirmation, "data", None)
    if not spec.stripe or (isinstance(refused, _Refused) and refused.over_quota):
        # Served from UnifiedMCP's own data: it runs, so it is metered now. Or a caller past a
        # hard limit was not asked to confirm: the quota refusal is the answer.
        try:
            await meter.admit()
        except ToolFailure as failure:
            return error_result(failure, tool=spec.name)
    started = time.perf_counter()
    status = "error"
    try:
        result, status = await anyio.to_thread.run_sync(functools.partial(_run, call, spec, args, confirmation))
        return result
    finally:
        if meter.event_id is not None or meter.ledger is None:
            count_call(tier=meter.tier, tool=spec.name, outcome="admitted" if status == "ok" else "errored")
        if meter.ledger is not None and meter.event_id is not None:
            try:  # written even if this call is being cancelled: a queued write is never dropped
                await meter.ledger.complete_async(
                    meter.event_id, status=status, latency_ms=(time.perf_counter() - started) * 1000
                )
            except LedgerError as exc:  # the call is counted; only its outcome row is stale
                log.warning("could not record the outcome of %s: %s", spec.name, exc)


def _run(
    call: ToolCall, spec: ToolSpec, args: dict[str, Any], confirmation: Any
) -> tuple[dict[str, Any] | CallToolResult, str]:
    """The tool itself: its result and its status (``ok`` or ``error``)."""
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
