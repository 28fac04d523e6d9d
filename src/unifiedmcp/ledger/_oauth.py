"""The OAuth section of the ledger: clients, authorizations (consent, then code) and tokens of the
MCP server's authorization server (``unifiedmcp.server._oauth``), on either backend.

Guarantees, each one transaction (serialised like every ledger write):

- a consent request is decided once; a code is redeemed once, and redeeming it a second time
  revokes every token it yielded (the grant);
- a refresh token is used once: rotating it revokes it and stores its successor; presenting a
  rotated one again revokes the whole grant (a stolen refresh token dies with the real one);
- revoking a client revokes all its tokens; a token of a revoked client or of a customer who is
  no longer active is never returned as valid.

Only hashes of secrets are stored (``_tokens``); the SQL is the portable subset both backends take.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._times import utc_text
from ..errors import InvalidInput
from ._records import NewOAuthToken, OAuthAuthorization, OAuthClient, OAuthTokenRecord

if TYPE_CHECKING:
    from ._ledger import Ledger, LedgerConnection

__all__ = ["OAuthLedger"]

_CLIENT = (
    "SELECT c.client_id, c.kind, c.client_name, c.metadata, c.secret_hash IS NOT NULL, c.created_at,"
    " c.fetched_at, c.last_used_at, c.revoked_at,"
    " (SELECT count(*) FROM oauth_tokens t WHERE t.client_id = c.client_id AND t.revoked_at IS NULL"
    "  AND t.expires_at > ?) FROM oauth_clients c"
)
_AUTH = (
    "SELECT auth_id, client_id, scopes, code_challenge, redirect_uri, redirect_uri_explicit, resource, state,"
    " expires_at, decided_at, customer_id, code_expires_at, code_used_at FROM oauth_authorizations"
)
_TOKEN = (
    "SELECT t.token_id, t.kind, t.auth_id, t.client_id, t.customer_id, t.scopes, t.resource, t.created_at,"
    " t.expires_at, t.revoked_at, t.secret_hash FROM oauth_tokens t"
    " JOIN oauth_clients c ON c.client_id = t.client_id JOIN customers u ON u.customer_id = t.customer_id"
)


def _client(row: Sequence) -> OAuthClient:
    return OAuthClient(*row[:4], bool(row[4]), *row[5:9], active_tokens=int(row[9]))


def _auth(row: Sequence) -> OAuthAuthorization:
    r = list(row)
    r[2] = tuple(r[2].split())
    r[5] = bool(r[5])
    return OAuthAuthorization(*r)


def _token(row: Sequence) -> OAuthTokenRecord:
    r = list(row)
    r[5] = tuple(r[5].split())
    return OAuthTokenRecord(*r)


class OAuthLedger:
    """``Ledger.oauth``: the authorization server's store. Thread-safe, like the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def __repr__(self) -> str:
        return f"OAuthLedger({self._ledger!r})"

    # -- clients -------------------------------------------------------------------------------

    def put_client(
        self, client_id: str, *, kind: str, client_name: str | None, metadata: str, secret_hash: str | None = None
    ) -> OAuthClient:
        """Register a client (``dcr``), or record or refresh a metadata-document client (``cimd``).
        A revoked client stays revoked: refreshing its document does not bring it back."""
        now = utc_text()
        with self._ledger.transaction() as conn:
            if kind == "dcr":
                conn.execute(
                    "INSERT INTO oauth_clients (client_id, kind, client_name, metadata, secret_hash, created_at)"
                    " VALUES (?, 'dcr', ?, ?, ?, ?)",
                    (client_id, client_name, metadata, secret_hash, now),
                )
            elif kind == "cimd":
                conn.execute(
                    "INSERT INTO oauth_clients (client_id, kind, client_name, metadata, created_at, fetched_at)"
                    " VALUES (?, 'cimd', ?, ?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET"
                    " client_name = excluded.client_name, metadata = excluded.metadata, fetched_at = excluded.fetched_at",
                    (client_id, client_name, metadata, now, now),
                )
            else:
                raise InvalidInput(f"unknown OAuth client kind {kind!r}")
        client = self.client(client_id)
        assert client is not None
        return client

    def client(self, client_id: str) -> OAuthClient | None:
        rows = self._ledger._read(_CLIENT + " WHERE c.client_id = ?", (utc_text(), client_id))
        return _client(rows[0]) if rows else None

    def client_secret_hash(self, client_id: str) -> str | None:
        """The stored hash of a confidential client's secret (for client authentication only)."""
        rows = self._ledger._read("SELECT secret_hash FROM oauth_clients WHERE client_id = ?", (client_id,))
        return rows[0][0] if rows else None

    def clients(self) -> list[OAuthClient]:
        """Every client, oldest first, with its count of live tokens."""
        return [_client(r) for r in self._ledger._read(_CLIENT + " ORDER BY c.created_at, c.client_id", (utc_text(),))]

    def revoke_client(self, client_id: str) -> OAuthClient:
        """Revoke a client and every token it holds; it can no longer authorize."""
        now = utc_text()
        with self._ledger.transaction() as conn:
            row = conn.execute("SELECT revoked_at FROM oauth_clients WHERE client_id = ?", (client_id,)).fetchone()
            if row is None:
                raise InvalidInput(f"no OAuth client {client_id!r} (see `unifiedmcp oauth clients list`)")
            if row[0] is not None:
                raise InvalidInput(f"OAuth client {client_id!r} is already revoked")
            conn.execute("UPDATE oauth_clients SET revoked_at = ? WHERE client_id = ?", (now, client_id))
            conn.execute(
                "UPDATE oauth_tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL", (now, client_id)
            )
        client = self.client(client_id)
        assert client is not None
        return client

    def prune_unused_clients(self, *, registered_before: str) -> int:
        """Forget registered clients that never completed an authorization (Dynamic Client
        Registration is open to anyone: this keeps abandoned registrations from piling up)."""
        with self._ledger.transaction() as conn:
            return conn.execute(
                "DELETE FROM oauth_clients WHERE kind = 'dcr' AND last_used_at IS NULL AND created_at < ?"
                " AND client_id NOT IN (SELECT client_id FROM oauth_authorizations)",
                (registered_before,),
            ).rowcount

    # -- authorizations ------------------------------------------------------------------------

    def begin_authorization(
        self,
        *,
        client_id: str,
        request_hash: str,
        scopes: Sequence[str],
        code_challenge: str,
        redirect_uri: str,
        redirect_uri_explicit: bool,
        resource: str,
        state: str | None,
        expires_at: str,
    ) -> str:
        """Record an /authorize request awaiting the customer's consent; its auth id."""
        auth_id = "oag_" + uuid.uuid4().hex[:20]
        now = utc_text()
        with self._ledger.transaction() as conn:
            conn.execute("DELETE FROM oauth_authorizations WHERE decided_at IS NULL AND expires_at < ?", (now,))
            conn.execute(
                "INSERT INTO oauth_authorizations (auth_id, client_id, request_hash, scopes, code_challenge,"
                " redirect_uri, redirect_uri_explicit, resource, state, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (auth_id, client_id, request_hash, " ".join(scopes), code_challenge, redirect_uri,
                 int(redirect_uri_explicit), resource, state, now, expires_at),
            )
        return auth_id

    def pending_authorization(self, request_hash: str) -> OAuthAuthorization | None:
        """The undecided, unexpired request with this consent handle, if any."""
        rows = self._ledger._read(
            _AUTH + " WHERE request_hash = ? AND decided_at IS NULL AND expires_at > ?", (request_hash, utc_text())
        )
        return _auth(rows[0]) if rows else None

    def decide_authorization(
        self,
        request_hash: str,
        *,
        customer_id: str | None,
        scopes: Sequence[str] = (),
        code_hash: str | None = None,
        code_expires_at: str | None = None,
    ) -> OAuthAuthorization | None:
        """Approve (``customer_id`` and the code's hash) or deny (``customer_id`` None) a pending
        request, once. None when it was already decided or has expired."""
        now = utc_text()
        with self._ledger.transaction() as conn:
            cur = conn.execute(
                "UPDATE oauth_authorizations SET decided_at = ?, customer_id = ?, scopes = coalesce(?, scopes),"
                " code_hash = ?, code_expires_at = ? WHERE request_hash = ? AND decided_at IS NULL AND expires_at > ?",
                (now, customer_id, " ".join(scopes) if customer_id else None, code_hash, code_expires_at,
                 request_hash, now),
            )
            if cur.rowcount != 1:
                return None
            if customer_id is not None:
                conn.execute(
                    "UPDATE oauth_clients SET last_used_at = ? WHERE client_id ="
                    " (SELECT client_id FROM oauth_authorizations WHERE request_hash = ?)",
                    (now, request_hash),
                )
            row = conn.execute(_AUTH + " WHERE request_hash = ?", (request_hash,)).fetchone()
        return _auth(row)

    def authorization_by_code(self, code_hash: str) -> OAuthAuthorization | None:
        rows = self._ledger._read(_AUTH + " WHERE code_hash = ?", (code_hash,))
        return _auth(rows[0]) if rows else None

    def redeem_code(self, auth_id: str, tokens: Sequence[NewOAuthToken]) -> bool:
        """Mark the grant's code used and store its first tokens, in one step. A code already
        used is refused (False) and every token of its grant revoked."""
        now = utc_text()
        with self._ledger.transaction() as conn:
            cur = conn.execute(
                "UPDATE oauth_authorizations SET code_used_at = ? WHERE auth_id = ? AND code_used_at IS NULL"
                " AND customer_id IS NOT NULL",
                (now, auth_id),
            )
            if cur.rowcount != 1:
                self._revoke_grant(conn, auth_id, now)
                return False
            self._insert_tokens(conn, auth_id, tokens, now)
        return True

    # -- tokens --------------------------------------------------------------------------------

    def token(self, token_id: str, *, live: bool = True) -> OAuthTokenRecord | None:
        """A stored token. ``live`` (the default): only one that is neither revoked nor expired,
        whose client is not revoked and whose customer is active; None otherwise."""
        sql, params = _TOKEN + " WHERE t.token_id = ?", (token_id,)
        if live:
            sql += " AND t.revoked_at IS NULL AND t.expires_at > ? AND c.revoked_at IS NULL AND u.status = 'active'"
            params += (utc_text(),)
        rows = self._ledger._read(sql, params)
        return _token(rows[0]) if rows else None

    def rotate_refresh_token(self, token_id: str, tokens: Sequence[NewOAuthToken]) -> bool:
        """Use a refresh token once: revoke it and store its successors in its grant. A refresh
        token already rotated (a replay) is refused (False) and its whole grant revoked."""
        now = utc_text()
        with self._ledger.transaction() as conn:
            row = conn.execute(
                "SELECT auth_id, revoked_at FROM oauth_tokens WHERE token_id = ? AND kind = 'refresh'", (token_id,)
            ).fetchone()
            if row is None:
                return False
            auth_id, revoked_at = row
            if revoked_at is not None:
                self._revoke_grant(conn, auth_id, now)
                return False
            conn.execute("UPDATE oauth_tokens SET revoked_at = ? WHERE token_id = ?", (now, token_id))
            self._insert_tokens(conn, auth_id, tokens, now)
        return True

    def revoke_grant(self, auth_id: str) -> int:
        """Revoke every token of one authorization (RFC 7009: access and refresh together)."""
        with self._ledger.transaction() as conn:
            return self._revoke_grant(conn, auth_id, utc_text())

    @staticmethod
    def _revoke_grant(conn: LedgerConnection, auth_id: str, now: str) -> int:
        return conn.execute(
            "UPDATE oauth_tokens SET revoked_at = ? WHERE auth_id = ? AND revoked_at IS NULL", (now, auth_id)
        ).rowcount

    @staticmethod
    def _insert_tokens(conn: LedgerConnection, auth_id: str, tokens: Sequence[NewOAuthToken], now: str) -> None:
        # client, customer and resource come from the grant: a token can never drift from it.
        for t in tokens:
            conn.execute(
                "INSERT INTO oauth_tokens (token_id, kind, secret_hash, auth_id, client_id, customer_id, scopes,"
                " resource, created_at, expires_at)"
                " SELECT ?, ?, ?, auth_id, client_id, customer_id, ?, resource, ?, ? FROM oauth_authorizations"
                " WHERE auth_id = ?",
                (t.token_id, t.kind, t.secret_hash, " ".join(t.scopes), now, t.expires_at, auth_id),
            )
