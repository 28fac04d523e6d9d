"""The authorization server's provider: the SDK's ``OAuthAuthorizationServerProvider`` over the
ledger (``Ledger.oauth``). The SDK's handlers parse and check the requests (PKCE S256, the
redirect URI, client authentication through ``_clients``); this module decides and stores.

Tokens are the SDK's models (``AuthorizationCode``, ``RefreshToken``, ``AccessToken``) carrying
opaque secrets of the ledger's format (``umo_at_…``, ``umo_rt_…``, ``umo_ac_…``), stored hashed.
An access token stands for one customer (its ``subject``), one client and one resource (RFC 8707):
``LedgerTokenVerifier`` turns it into the same ``AccessToken`` claims as a customer API key.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import anyio.to_thread
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from ..._loopback import is_loopback
from ..._times import utc_text
from ...ledger import Ledger, NewOAuthToken
from ...ledger._tokens import hex_hash, hex_matches, new_oauth_token, parse_oauth_token
from ._clients import MetadataDocuments, is_metadata_url
from ._scopes import SCOPES

__all__ = ["GrantAccessToken", "LedgerOAuthProvider", "OAuthOptions", "CONSENT_PATH", "off_loop"]

CONSENT_PATH = "/oauth/consent"
T = TypeVar("T")


async def off_loop(ledger: Ledger, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` on the ledger: inline on SQLite (microseconds), in a worker thread on
    PostgreSQL (a network round trip must not stall the event loop that serves every request)."""
    if ledger.backend == "sqlite":
        return fn(*args)
    return await anyio.to_thread.run_sync(lambda: fn(*args))


@dataclass(frozen=True, kw_only=True)
class OAuthOptions:
    """Lifetimes (seconds) and what client metadata URLs may be fetched.

    ``access_ttl``: access tokens are short-lived (15 minutes); ``refresh_ttl``: refresh tokens
    (30 days, rotated on each use); ``code_ttl``: authorization codes; ``consent_ttl``: how long
    the consent page waits. ``http_loopback_clients``: accept ``http://127.0.0.1/...`` client
    metadata documents and fetch them (development servers on loopback only; production
    servers fetch https documents on public hosts).
    """

    access_ttl: int = 900
    refresh_ttl: int = 30 * 24 * 3600
    code_ttl: int = 300
    consent_ttl: int = 600
    http_loopback_clients: bool = False

    def __post_init__(self) -> None:
        if min(self.access_ttl, self.refresh_ttl, self.code_ttl, self.consent_ttl) < 1:
            raise ValueError("OAuth lifetimes must be at least one second")


class GrantCode(AuthorizationCode):
    auth_id: str


class GrantRefreshToken(RefreshToken):
    auth_id: str
    token_id: str


class GrantAccessToken(AccessToken):
    """An OAuth access token as the server sees it; ``token`` is its public id, never its secret."""

    auth_id: str


def _later(seconds: int) -> str:
    return utc_text(datetime.now(UTC) + timedelta(seconds=seconds))


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _same_resource(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _redirect_ok(uri: AnyUrl) -> bool:
    """OAuth 2.1 redirect URIs: https, http on a loopback host (native apps), or a private-use
    scheme (``cursor://…``); never plain http to another host."""
    if uri.scheme == "http":
        return is_loopback(uri.host or "")
    return uri.scheme not in ("javascript", "data", "file")


class LedgerOAuthProvider:
    """``OAuthAuthorizationServerProvider`` over the ledger. ``issuer``: the server's base URL;
    ``resource``: the MCP endpoint (``{issuer}/mcp``), the only resource tokens are issued for."""

    def __init__(self, ledger: Ledger, *, issuer: str, resource: str, options: OAuthOptions | None = None) -> None:
        self.ledger = ledger
        self.issuer = issuer.rstrip("/")
        self.resource = resource
        self.options = options or OAuthOptions()
        self.documents = MetadataDocuments(ledger, http_loopback=self.options.http_loopback_clients)

    def __repr__(self) -> str:
        return f"LedgerOAuthProvider(issuer={self.issuer!r}, ledger={self.ledger!r})"

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await off_loop(self.ledger, fn, *args)

    # -- clients -------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if is_metadata_url(client_id):
            return await self.documents.client(client_id)
        record = await self._db(self.ledger.oauth.client, client_id)
        if record is None or not record.active or record.kind != "dcr":
            return None
        return OAuthClientInformationFull.model_validate_json(record.metadata)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        bad = [str(u) for u in client_info.redirect_uris or [] if not _redirect_ok(u)]
        if bad:
            raise RegistrationError(
                "invalid_redirect_uri", f"redirect URIs must use https, or http on a loopback host: {', '.join(bad)}"
            )
        secret = client_info.client_secret
        # The secret is handed to the client once (in the registration response) and kept hashed.
        public = client_info.model_copy(update={"client_secret": None})
        await self._db(lambda: self.ledger.oauth.prune_unused_clients(registered_before=_later(-24 * 3600)))
        await self._db(
            lambda: self.ledger.oauth.put_client(
                client_info.client_id, kind="dcr", client_name=client_info.client_name,
                metadata=public.model_dump_json(exclude_none=True), secret_hash=hex_hash(secret) if secret else None,
            )
        )

    async def client_secret_matches(self, client_id: str, secret: str) -> bool:
        stored = await self._db(self.ledger.oauth.client_secret_hash, client_id)
        return stored is not None and hex_matches(secret, stored)

    # -- authorization -------------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        resource = params.resource or self.resource
        if not _same_resource(resource, self.resource):
            raise AuthorizeError("invalid_target", f"this server issues tokens for {self.resource} only")
        scopes = params.scopes or (client.scope.split() if client.scope else list(SCOPES))
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown:
            raise AuthorizeError("invalid_scope", f"unknown scope {' '.join(unknown)}; offered: {' '.join(SCOPES)}")
        handle = secrets.token_urlsafe(32)
        await self._db(
            lambda: self.ledger.oauth.begin_authorization(
                client_id=client.client_id, request_hash=hex_hash(handle), scopes=scopes,
                code_challenge=params.code_challenge, redirect_uri=str(params.redirect_uri),
                redirect_uri_explicit=params.redirect_uri_provided_explicitly, resource=self.resource,
                state=params.state, expires_at=_later(self.options.consent_ttl),
            )
        )
        return f"{self.issuer}{CONSENT_PATH}?request={handle}"

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str) -> GrantCode | None:
        if parse_oauth_token(authorization_code, "ac") is None:
            return None
        grant = await self._db(self.ledger.oauth.authorization_by_code, hex_hash(authorization_code))
        if grant is None or grant.client_id != client.client_id or grant.code_expires_at is None:
            return None
        if grant.code_used_at is not None:  # a replayed code: its tokens may be in the wrong hands
            await self._db(self.ledger.oauth.revoke_grant, grant.auth_id)
            return None
        return GrantCode(
            code=authorization_code, scopes=list(grant.scopes), expires_at=_epoch(grant.code_expires_at),
            client_id=grant.client_id, code_challenge=grant.code_challenge, redirect_uri=AnyUrl(grant.redirect_uri),
            redirect_uri_provided_explicitly=grant.redirect_uri_explicit, resource=grant.resource,
            subject=grant.customer_id, auth_id=grant.auth_id,
        )

    async def exchange_authorization_code(self, client: OAuthClientInformationFull, authorization_code: GrantCode) -> OAuthToken:
        token, issued = self._issue(authorization_code.scopes)
        if not await self._db(self.ledger.oauth.redeem_code, authorization_code.auth_id, issued):
            raise TokenError("invalid_grant", "the authorization code was already used")
        return token

    # -- tokens --------------------------------------------------------------------------------

    def _issue(self, scopes: list[str]) -> tuple[OAuthToken, list[NewOAuthToken]]:
        access_id, access, access_hash = new_oauth_token("at")
        refresh_id, refresh, refresh_hash = new_oauth_token("rt")
        o = self.options
        issued = [
            NewOAuthToken(access_id, "access", access_hash, _later(o.access_ttl), tuple(scopes)),
            NewOAuthToken(refresh_id, "refresh", refresh_hash, _later(o.refresh_ttl), tuple(scopes)),
        ]
        return OAuthToken(access_token=access, expires_in=o.access_ttl, scope=" ".join(scopes), refresh_token=refresh), issued

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> GrantRefreshToken | None:
        parsed = parse_oauth_token(refresh_token, "rt")
        if parsed is None:
            return None
        token_id, secret = parsed
        stored = await self._db(lambda: self.ledger.oauth.token(token_id, live=False))
        if stored is None or not hex_matches(secret, stored.secret_hash) or stored.client_id != client.client_id:
            return None
        if stored.revoked_at is not None:  # rotated already: a replay revokes the whole grant
            await self._db(self.ledger.oauth.revoke_grant, stored.auth_id)
            return None
        if await self._db(self.ledger.oauth.token, token_id) is None:  # expired, client revoked, customer gone
            return None
        return GrantRefreshToken(
            token=token_id, client_id=stored.client_id, scopes=list(stored.scopes),
            expires_at=_epoch(stored.expires_at), resource=stored.resource, subject=stored.customer_id,
            auth_id=stored.auth_id, token_id=token_id,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        token, issued = self._issue(scopes)
        if not await self._db(self.ledger.oauth.rotate_refresh_token, refresh_token.token_id, issued):
            raise TokenError("invalid_grant", "the refresh token was already used")
        return token

    async def load_access_token(self, token: str) -> GrantAccessToken | None:
        parsed = parse_oauth_token(token, "at")
        if parsed is None:
            return None
        token_id, secret = parsed
        stored = await self._db(self.ledger.oauth.token, token_id)
        if stored is None or stored.kind != "access" or not hex_matches(secret, stored.secret_hash):
            return None
        return GrantAccessToken(
            token=token_id, client_id=stored.client_id, scopes=list(stored.scopes),
            expires_at=_epoch(stored.expires_at), resource=stored.resource, subject=stored.customer_id,
            claims={"role": "customer", "customer": stored.customer_id}, auth_id=stored.auth_id,
        )

    async def revoke_token(self, token: GrantAccessToken | GrantRefreshToken) -> None:
        await self._db(self.ledger.oauth.revoke_grant, token.auth_id)

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull, params: Any) -> OAuthToken:
        raise TokenError("unsupported_grant_type", "the JWT bearer grant is not supported")
