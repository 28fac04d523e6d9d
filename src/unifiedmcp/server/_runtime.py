"""What every tool of one server shares: the Stripe client, the ledger, the caller, options."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import stripe
from mcp.server.auth.middleware.auth_context import get_access_token

from ..billing import portal_session
from ..errors import UnifiedMCPError
from ..ledger import Ledger

__all__ = ["Runtime", "ServerOptions"]

log = logging.getLogger("unifiedmcp.server")

_PORTAL_LINK_TTL = 60.0  # seconds a quota refusal reuses a customer's portal link


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How a server is built.

    ``tools``: ``"all"`` or a ``--tools`` selection (``customers.create,customers.read``).
    ``customer``: the metered customer of a stdio server (HTTP callers are metered as the
    customer their bearer key belongs to). ``allow_confirm_argument``: destructive tools accept
    ``confirm: true`` from clients without elicitation. ``metering``: off only for benchmarks.
    ``upgrade_url``: where a customer past the free limit upgrades; without it a Stripe billing
    portal session is created for the customer when the quota refusal is written (returning to
    ``portal_return_url``). ``warehouse``: the DuckDB file the operator-only metrics tools read.
    """

    tools: str = "all"
    customer: str | None = None
    allow_confirm_argument: bool = False
    metering: bool = True
    upgrade_url: str | None = None
    portal_return_url: str | None = None
    warehouse: Path | None = None
    name: str = "unifiedmcp"


class Runtime:
    """The shared state tools close over. One per server; thread-safe (tools run in threads)."""

    def __init__(self, *, stripe_client: stripe.StripeClient, ledger: Ledger | None, options: ServerOptions) -> None:
        if options.metering and ledger is None:
            raise ValueError("metering needs a ledger")
        self.stripe = stripe_client
        self.ledger = ledger
        self.options = options
        self._portal_lock = threading.Lock()
        self._portal_links: dict[str, tuple[str, float]] = {}

    def __repr__(self) -> str:
        return f"Runtime(ledger={self.ledger!r}, options={self.options!r})"

    def caller(self) -> str | None:
        """The metered customer of the current call: the bearer key's, else the configured one."""
        token = get_access_token()
        if token is not None:
            return token.client_id
        return self.options.customer

    def upgrade_url(self, customer: str) -> str | None:
        """Where ``customer`` upgrades: the configured URL, else a billing portal session.

        A session is reused for a minute, so a client hammering past its limit does not create
        one per refused call.
        """
        if self.options.upgrade_url:
            return self.options.upgrade_url
        if not customer.startswith("cus_"):
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
