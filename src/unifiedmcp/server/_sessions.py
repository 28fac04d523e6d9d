"""Open MCP sessions cost: a cap per customer, so no customer can exhaust the server.

The SDK's session manager caps sessions per server (10,000) and closes idle ones. ``initialize``
is not a metered call, so without more, one free key could open sessions until every other
customer gets 503. :class:`KeyedSessionManager` adds a cap per principal: the token's subject
(the customer; each operator key is its own), not the credential, since a customer can mint
credentials at will (more API keys, an OAuth client per registration). Past it, opening another
session answers 429 with a ``Retry-After``; existing sessions keep working, and room frees up as
they end (DELETE) or expire after ``session_idle_timeout`` seconds. Each session stays bound to
its exact credential (the SDK's check), so a session id is useless with another key.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthorizationContext
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ._events import MemoryEventStore

__all__ = ["KeyedSessionManager"]

log = logging.getLogger("unifiedmcp.server")


class _KeyFull(Exception):
    def __init__(self, open_sessions: int) -> None:
        self.open_sessions = open_sessions


def _principal(owner: AuthorizationContext) -> tuple[str | None, str | None]:
    """Whose sessions these are: the issuer and subject (the customer), else the client."""
    return owner["issuer"], owner["subject"] or owner["client_id"]


class KeyedSessionManager(StreamableHTTPSessionManager):
    """The SDK's session manager with at most ``per_key`` open sessions per customer (all its
    keys and OAuth clients together)."""

    def __init__(self, app: Any, *, per_key: int, **options: Any) -> None:
        if per_key < 1:
            raise ValueError("per_key must be >= 1")
        super().__init__(app, **options)
        self.per_key = per_key

    @property
    def sessions_open(self) -> int:
        """Open sessions of every key."""
        return len(self._server_instances)

    def open_sessions(self, requestor: AuthorizationContext | None) -> int:
        """Open sessions of the requestor's principal (see ``_principal``)."""
        if requestor is None:
            return sum(1 for owner in self._session_owners.values() if owner is None)
        who = _principal(requestor)
        return sum(1 for owner in self._session_owners.values() if owner is not None and _principal(owner) == who)

    def _admit_session(self, requestor: AuthorizationContext | None) -> StreamableHTTPServerTransport | None:
        # Called under the manager's session-creation lock: the count and the admission are one step.
        if requestor is not None:
            count = self.open_sessions(requestor)
            if count >= self.per_key:
                raise _KeyFull(count)
        transport = super()._admit_session(requestor)
        if transport is not None and isinstance(self.event_store, MemoryEventStore):
            # The SDK hands every transport the one store; each gets its own session's view
            # (no constructor hook: the transport keeps it in _event_store).
            transport._event_store = self.event_store.for_session(str(transport.mcp_session_id))
        return transport

    async def _discard_session(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        await super()._discard_session(session_id, transport)
        if isinstance(self.event_store, MemoryEventStore):
            self.event_store.forget_session(session_id)

    async def _handle_stateful_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super()._handle_stateful_request(scope, receive, send)
        except _KeyFull as full:
            log.warning("refused a new MCP session: the customer already has %d open", full.open_sessions)
            idle = self.session_idle_timeout
            message = (
                f"too many open sessions for this customer ({full.open_sessions} of {self.per_key}): close one "
                f"(HTTP DELETE with its Mcp-Session-Id) or let an idle one expire"
                + (f" ({int(idle)} s without requests)" if idle else "")
            )
            body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=message))
            response = Response(
                body.model_dump_json(by_alias=True, exclude_unset=True),
                status_code=429,
                media_type="application/json",
                headers={"Retry-After": "30"},
            )
            await response(scope, receive, send)
