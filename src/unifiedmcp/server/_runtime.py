"""What every tool of one server shares: the accounts, the ledger, the role it serves, options."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import stripe
from mcp.server.auth.middleware.auth_context import get_access_token

from ..accounts import Accounts, Caller, Target
from ..billing import StripeNotConfigured, portal_session
from ..errors import AuthError, UnifiedMCPError
from ..ledger import Ledger
from ._errors import MeteringUnavailable, Misconfigured, ToolFailure

__all__ = ["Runtime", "ServerOptions", "Role"]

log = logging.getLogger("unifiedmcp.server")

Role = Literal["customer", "operator"]

_PORTAL_LINK_TTL = 60.0  # seconds a quota refusal reuses a customer's portal link


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How a server is built.

    ``role``: whom it serves. A ``customer`` server (the default) meters every call and acts on
    the caller's own connected Stripe accounts; an ``operator`` server acts on the operator's
    account, serves the operator-only tools when selected, and meters nothing.
    ``tools``: ``"all"`` or a ``--tools`` selection (``customers.create,customers.read``).
    ``customer``: the caller of a stdio customer server (HTTP callers are whoever their bearer
    key belongs to). ``allow_confirm_argument``: destructive tools accept ``confirm: true`` from
    clients without elicitation. ``metering``: off only for benchmarks. ``upgrade_url``: where a
    customer past the free limit upgrades; without it a Stripe billing portal session (in the
    operator's account, where the customer is billed) is created, returning to
    ``portal_return_url``. ``warehouse``: the DuckDB file the operator-only metrics tools read.
    ``sessions_per_key``: open HTTP sessions one key may hold; ``session_idle_seconds``: how long
    an idle session lives.
    """

    role: Role = "customer"
    tools: str = "all"
    customer: str | None = None
    allow_confirm_argument: bool = False
    metering: bool = True
    upgrade_url: str | None = None
    portal_return_url: str | None = None
    warehouse: Path | None = None
    name: str = "unifiedmcp"
    sessions_per_key: int = 8
    session_idle_seconds: float = 600.0

    def __post_init__(self) -> None:
        if self.role not in ("customer", "operator"):
            raise ValueError(f"unknown role {self.role!r}")
        if self.role == "operator" and self.customer is not None:
            raise ValueError("an operator server has no customer")
        if self.sessions_per_key < 1 or self.session_idle_seconds <= 0:
            raise ValueError("sessions_per_key must be >= 1 and session_idle_seconds > 0")

    @property
    def metered(self) -> bool:
        """Calls are metered on customer servers (unless metering is switched off for a benchmark)."""
        return self.metering and self.role == "customer"


class Runtime:
    """The shared state tools close over. One per server; thread-safe (tools run in threads).

    ``stripe_client`` is the operator's client: operator calls go there, and so do the billing
    portal links of quota refusals (a customer is billed in the operator's account). A customer
    server resolves each call through ``accounts`` instead, to the caller's own account.
    """

    def __init__(
        self,
        *,
        stripe_client: stripe.StripeClient | None,
        ledger: Ledger | None,
        options: ServerOptions,
        accounts: Accounts | None = None,
        problem: Misconfigured | None = None,
    ) -> None:
        if problem is None and options.metered and ledger is None:
            raise ValueError("metering needs a ledger")
        if problem is None and options.role == "customer" and accounts is None:
            raise ValueError("a customer server needs an Accounts resolver (its callers' own Stripe accounts)")
        # A server that cannot work as configured still serves (stdio: the client completes the
        # handshake), and every call answers with this problem and its fix.
        self.problem = problem
        self.stripe = stripe_client
        self.ledger = ledger
        self.options = options
        self.accounts = accounts
        self._portal_lock = threading.Lock()
        self._portal_links: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"Runtime(ledger={self.ledger!r}, options={self.options!r})"

    def caller(self) -> Caller | None:
        """Who makes the current call: the bearer key's principal, else the stdio configuration.

        A key of the other role never gets here (the HTTP app refuses it by scope); should one
        arrive anyway, the call is refused rather than served with the wrong account.
        """
        token = get_access_token()
        if token is not None:
            claims = token.claims or {}
            role, customer = claims.get("role"), claims.get("customer")
            if role != self.options.role:
                raise AuthError(f"is a {role} key; this server serves {self.options.role}s", key_prefix=token.token)
            return Caller.operator() if role == "operator" else Caller.of_customer(str(customer))
        if self.options.role == "operator":
            return Caller.operator()
        return Caller.of_customer(self.options.customer) if self.options.customer else None

    def misconfigured(self) -> ToolFailure:
        """Why no call can be served: the configuration problem, or no caller to meter at all."""
        return self.problem or MeteringUnavailable(
            "no customer to meter this call for: start the stdio server with --customer or "
            "UNIFIEDMCP_CUSTOMER, or call the HTTP server with a bearer key"
        )

    @staticmethod
    def scopes() -> frozenset[str] | None:
        """The OAuth scopes of the current call's token (an API key holds them all); None
        without a token (stdio)."""
        token = get_access_token()
        return frozenset(token.scopes) if token is not None else None

    def target(self, caller: Caller, *, account: str | None = None) -> Target:
        """The Stripe account ``caller``'s call goes to (see ``unifiedmcp.accounts``)."""
        if caller.role == "operator":
            if self.stripe is None:
                raise StripeNotConfigured("STRIPE_API_KEY is not set: operator tools need the operator's key")
            return Target(self.stripe, None, None, operator=True)
        assert self.accounts is not None  # checked in __init__
        return self.accounts.resolve(caller, account=account)

    def upgrade_url(self, customer: str) -> str | None:
        """Where ``customer`` upgrades: the configured URL, else a billing portal session.

        A session is reused for a minute, so a client hammering past its limit does not create
        one per refused call.
        """
        if self.options.upgrade_url:
            return self.options.upgrade_url
        if not customer.startswith("cus_") or self.stripe is None:
            return None
        now = time.monotonic()
        with self._portal_lock:
            cached = self._portal_links.get(customer)
            if cached and cached[1] > now:
                return cached[0]
        try:
            if self.options.portal_return_url:
                url = portal_session(self.stripe, customer, self.options.portal_return_url).url
            else:
                url = self.stripe.v1.billing_portal.sessions.create(params={"customer": customer}).url
        except (stripe.StripeError, UnifiedMCPError) as exc:  # the refusal still names tier, limit, reset
            log.info("no portal session for the quota refusal: %s", exc.__class__.__name__)
            return None
        with self._portal_lock:
            if len(self._portal_links) > 10_000:
                self._portal_links.clear()
            self._portal_links[customer] = (url, now + _PORTAL_LINK_TTL)
        return url
