"""API keys (hashed, shown once, revocable) and OAuth connections (capped per tier)."""

from __future__ import annotations

import pytest

from unifiedmcp import AuthError, ConnectionCapReached, InvalidInput, UnknownCustomer
from unifiedmcp.ledger import Ledger

from .conftest import table


def test_keys_are_stored_hashed_and_authenticate_their_customer(ledger: Ledger) -> None:
    """The token authenticates; the database holds no trace of its secret part."""
    key = ledger.create_key("cus_pro", name="laptop")
    assert ledger.authenticate(key.token).customer_id == "cus_pro"
    secret = key.token.split("_", 2)[2]
    stored = repr(table(ledger, "api_keys"))
    assert secret not in stored and key.token not in stored
    assert key.token not in repr(key)


def test_revoked_malformed_and_wrong_keys_are_refused(ledger: Ledger) -> None:
    key = ledger.create_key("cus_pro")
    forged = key.token[:-4] + ("AAAA" if not key.token.endswith("AAAA") else "BBBB")
    with pytest.raises(AuthError, match="not valid"):
        ledger.authenticate(forged)
    with pytest.raises(AuthError, match="malformed"):
        ledger.authenticate("Bearer nonsense")
    ledger.revoke_key(key.key_id)
    with pytest.raises(AuthError, match="revoked"):
        ledger.authenticate(key.token)
    with pytest.raises(AuthError, match="already revoked"):
        ledger.revoke_key(key.key_id)
    assert [k.active for k in ledger.keys("cus_pro")] == [False]


def test_keys_need_a_known_customer(ledger: Ledger) -> None:
    with pytest.raises(UnknownCustomer):
        ledger.create_key("cus_nobody")


def test_free_tier_allows_one_connection_pro_unlimited(ledger: Ledger) -> None:
    ledger.add_connection("cus_free", "github")
    with pytest.raises(ConnectionCapReached) as info:
        ledger.add_connection("cus_free", "google")
    assert (info.value.tier, info.value.cap) == ("free", 1)
    for provider in ("github", "google", "slack", "notion"):
        ledger.add_connection("cus_pro", provider)
    assert len(ledger.connections("cus_pro")) == 4


def test_connections_can_be_removed_and_duplicates_are_refused(ledger: Ledger) -> None:
    c = ledger.add_connection("cus_pro", "github", account="octo")
    with pytest.raises(InvalidInput):
        ledger.add_connection("cus_pro", "github", account="octo")
    ledger.remove_connection(c.connection_id)
    assert ledger.connections("cus_pro") == []
    with pytest.raises(InvalidInput):
        ledger.remove_connection(c.connection_id)
