"""The ledger's OAuth section on both backends: a consent decided once, a code redeemed once (a
second redemption revokes the grant), refresh tokens rotated once (a replay revokes the grant),
a revoked client's tokens dead, and only hashes stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from unifiedmcp._times import utc_text
from unifiedmcp.ledger import Ledger, NewOAuthToken
from unifiedmcp.ledger._tokens import hex_hash, new_oauth_token

from .conftest import table


def _later(seconds: int = 600) -> str:
    return utc_text(datetime.now(UTC) + timedelta(seconds=seconds))


def _token(kind: str = "access") -> tuple[NewOAuthToken, str]:
    token_id, token, digest = new_oauth_token("at" if kind == "access" else "rt")
    return NewOAuthToken(token_id, kind, digest, _later(), ("mcp:read",)), token  # type: ignore[arg-type]


def _approved(ledger: Ledger) -> str:
    ledger.oauth.put_client("client-1", kind="dcr", client_name="c", metadata="{}")
    ledger.oauth.begin_authorization(
        client_id="client-1", request_hash=hex_hash("handle"), scopes=["mcp:read"], code_challenge="c",
        redirect_uri="http://127.0.0.1/cb", redirect_uri_explicit=True, resource="http://x/mcp", state=None,
        expires_at=_later(),
    )
    decided = ledger.oauth.decide_authorization(
        hex_hash("handle"), customer_id="cus_pro", scopes=["mcp:read"], code_hash=hex_hash("code"), code_expires_at=_later()
    )
    assert decided is not None and decided.customer_id == "cus_pro"
    assert ledger.oauth.decide_authorization(hex_hash("handle"), customer_id=None) is None  # decided once
    return decided.auth_id


def test_a_code_is_redeemed_once_and_a_second_redemption_revokes_its_tokens(ledger: Ledger) -> None:
    auth_id = _approved(ledger)
    access, secret = _token()
    assert ledger.oauth.redeem_code(auth_id, [access]) is True
    assert ledger.oauth.token(access.token_id) is not None
    assert ledger.oauth.redeem_code(auth_id, [_token()[0]]) is False
    assert ledger.oauth.token(access.token_id) is None
    assert all(secret not in repr(row) for row in table(ledger, "oauth_tokens"))


def test_a_refresh_token_rotates_once_and_a_replay_revokes_the_grant(ledger: Ledger) -> None:
    auth_id = _approved(ledger)
    refresh, _ = _token("refresh")
    ledger.oauth.redeem_code(auth_id, [refresh])
    successor, _ = _token("refresh")
    assert ledger.oauth.rotate_refresh_token(refresh.token_id, [successor]) is True
    assert ledger.oauth.rotate_refresh_token(refresh.token_id, [_token("refresh")[0]]) is False
    assert ledger.oauth.token(successor.token_id) is None


def test_revoking_a_client_kills_its_tokens_and_lists_it_revoked(ledger: Ledger) -> None:
    auth_id = _approved(ledger)
    access, _ = _token()
    ledger.oauth.redeem_code(auth_id, [access])
    assert ledger.oauth.clients()[0].active_tokens == 1
    ledger.oauth.revoke_client("client-1")
    assert ledger.oauth.token(access.token_id) is None
    (client,) = ledger.oauth.clients()
    assert not client.active and client.active_tokens == 0
