"""Who an OAuth client is: Client ID Metadata Documents, and client authentication at /token and
/revoke against hashed secrets.

**Client ID Metadata Documents** (the MCP authorization spec, 2025-11-25): a client without a
registration uses an https URL as its ``client_id``; the document at that URL is its metadata, and
its ``client_id`` must be that URL. Such a client is public (PKCE, no secret). Documents are
fetched without following redirects, with a 5 s timeout and a 64 KiB cap, cached in the ledger
for an hour (so ``oauth clients list|revoke`` sees them), and a revoked one stays refused.
Fetching a URL named by a stranger is a request forgery risk: only https on a named host or a
public address is fetched (``http://`` on loopback only for a development server on loopback).

**Client authentication**: the SDK's ``ClientAuthenticator`` compares a stored secret in clear;
here secrets are stored hashed, so :class:`LedgerClientAuthenticator` checks the presented one
against the hash (``client_secret_post`` or ``client_secret_basic``; public clients: ``none``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import anyio
import httpx
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError
from starlette.requests import Request

from ..._loopback import is_loopback
from ...ledger import Ledger
from ._scopes import SCOPES

if TYPE_CHECKING:
    from ._provider import LedgerOAuthProvider

__all__ = ["LedgerClientAuthenticator", "MetadataDocuments", "is_metadata_url"]

log = logging.getLogger("unifiedmcp.server")

_MAX_DOCUMENT = 64 * 1024
_FRESH = timedelta(hours=1)


def is_metadata_url(client_id: str) -> bool:
    """A URL-shaped client id (``https://…``, or ``http://`` for the loopback case)."""
    return client_id.startswith(("https://", "http://"))


def _fetchable(url: str, *, http_loopback: bool) -> bool:
    parts = urlsplit(url)
    if parts.fragment or parts.path in ("", "/") or not parts.hostname:
        return False  # the spec asks for a path; a fragment could never be the same client id
    host = parts.hostname
    if parts.scheme == "http":
        return http_loopback and is_loopback(host)
    if parts.scheme != "https" or host == "localhost":
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name (resolved by the client library)
    return address.is_global


async def _resolves_to_public(host: str, port: int) -> bool:
    """Every address ``host`` resolves to is a global one. Catches what the name alone hides: a
    numeric form the resolver reads as an address (``127.1``, ``2130706433``, ``0x7f000001``), a
    trailing-dot ``localhost.``, a name pointing inside the network. (A name that changes its
    answer between this check and the fetch is not caught.)"""
    try:
        found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in found)


class MetadataDocuments:
    """Client ID Metadata Documents: fetched, checked, cached in the ledger."""

    def __init__(self, ledger: Ledger, *, http_loopback: bool) -> None:
        self._ledger = ledger
        self._http_loopback = http_loopback

    async def client(self, url: str) -> OAuthClientInformationFull | None:
        from ._provider import off_loop

        if not _fetchable(url, http_loopback=self._http_loopback):
            return None
        cached = await off_loop(self._ledger, self._ledger.oauth.client, url)
        if cached is not None and not cached.active:
            return None
        if cached is not None and cached.fetched_at and _age(cached.fetched_at) < _FRESH:
            return OAuthClientInformationFull.model_validate_json(cached.metadata)
        parts = urlsplit(url)
        if parts.scheme == "https" and not await _resolves_to_public(str(parts.hostname), parts.port or 443):
            log.info("client metadata document %s: its host is not a public address", url)
            return None
        document = await self._fetch(url)
        if document is None:  # unreachable now: a known client keeps its last document
            return OAuthClientInformationFull.model_validate_json(cached.metadata) if cached else None
        await off_loop(
            self._ledger,
            lambda: self._ledger.oauth.put_client(
                url, kind="cimd", client_name=document.client_name, metadata=document.model_dump_json(exclude_none=True)
            ),
        )
        return document

    async def _fetch(self, url: str) -> OAuthClientInformationFull | None:
        try:
            async with httpx.AsyncClient(follow_redirects=False, timeout=5.0) as http:
                async with http.stream("GET", url, headers={"Accept": "application/json"}) as response:
                    if response.status_code != 200:
                        log.info("client metadata document %s answered %d", url, response.status_code)
                        return None
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > _MAX_DOCUMENT:
                            log.info("client metadata document %s is larger than %d bytes", url, _MAX_DOCUMENT)
                            return None
        except httpx.HTTPError as exc:
            log.info("cannot fetch client metadata document %s: %s", url, exc.__class__.__name__)
            return None
        return _document(url, body)


def _document(url: str, body: bytes) -> OAuthClientInformationFull | None:
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("client_id") != url:
        log.info("client metadata document %s does not name itself as client_id", url)
        return None
    if data.get("token_endpoint_auth_method", "none") != "none" or "client_secret" in data:
        log.info("client metadata document %s asks for a client secret; such clients are public", url)
        return None
    data = {k: v for k, v in data.items() if k != "client_secret_expires_at"}
    data.setdefault("scope", " ".join(SCOPES))
    data["token_endpoint_auth_method"] = "none"
    try:
        client = OAuthClientInformationFull.model_validate(data)
    except ValidationError:
        return None
    return client if client.redirect_uris else None


def _age(text: str) -> timedelta:
    return datetime.now(UTC) - datetime.fromisoformat(text.replace("Z", "+00:00"))


class LedgerClientAuthenticator(ClientAuthenticator):
    """Client authentication for /token and /revoke with secrets stored hashed."""

    provider: LedgerOAuthProvider

    async def authenticate_request(self, request: Request) -> OAuthClientInformationFull:
        form = await request.form()
        client_id = form.get("client_id")
        if not isinstance(client_id, str) or not client_id:
            raise AuthenticationError("Missing client_id")
        client = await self.provider.get_client(client_id)
        if client is None:
            raise AuthenticationError("Invalid client_id")
        method = client.token_endpoint_auth_method or "client_secret_post"
        if method == "none":
            return client
        if method == "client_secret_basic":
            secret = _basic_secret(request.headers.get("Authorization", ""), client_id)
        elif method == "client_secret_post":
            value = form.get("client_secret")
            secret = value if isinstance(value, str) else None
        else:
            raise AuthenticationError(f"Unsupported auth method: {method}")
        if not secret or not await self.provider.client_secret_matches(client_id, secret):
            raise AuthenticationError("Invalid client credentials")
        return client


def _basic_secret(header: str, client_id: str) -> str:
    if not header.startswith("Basic "):
        raise AuthenticationError("Missing or invalid Basic authentication in Authorization header")
    try:
        user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuthenticationError("Invalid Basic authentication header") from None
    if unquote(user) != client_id:
        raise AuthenticationError("Client ID mismatch in Basic auth")
    return unquote(secret)
