"""The ledger's side of tenancy: operator and customer keys, connections whose credentials are
stored only as given (encrypted upstream) and never listed, single-use expiring OAuth states, the
catalog prices, and the v2 -> v3 migration keeping existing keys and connections."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from unifiedmcp import AuthError, ConnectFailed, ConnectionCapReached, InvalidInput
from unifiedmcp.ledger import Ledger, latest_version
from unifiedmcp.ledger._migrations import migrate
from unifiedmcp.ledger._postgres import PostgresMigrator
from unifiedmcp.ledger._sqlite import SqliteMigrator


def test_operator_keys_belong_to_no_customer_and_say_so(ledger: Ledger) -> None:
    op = ledger.create_key(None, operator=True, name="ops")
    cust = ledger.create_key("cus_pro")
    assert (ledger.authenticate(op.token).role, ledger.authenticate(op.token).customer_id) == ("operator", None)
    assert (ledger.authenticate(cust.token).role, ledger.authenticate(cust.token).customer_id) == ("customer", "cus_pro")
    assert [k.key_id for k in ledger.keys(operator=True)] == [op.key_id]
    with pytest.raises(InvalidInput):
        ledger.create_key("cus_pro", operator=True)
    with pytest.raises(InvalidInput):
        ledger.create_key(None)
    ledger.revoke_key(op.key_id)
    with pytest.raises(AuthError, match="revoked"):
        ledger.authenticate(op.token)


def test_a_credential_is_stored_as_given_and_never_listed(ledger: Ledger) -> None:
    conn = ledger.add_connection("cus_pro", "stripe", account="acct_1", kind="api_key", credential="gAAAA-opaque")
    assert ledger.connection_credential(conn.connection_id) == "gAAAA-opaque"
    listed = ledger.connections("cus_pro")
    assert [(c.account, c.kind) for c in listed] == [("acct_1", "api_key")]
    assert "gAAAA" not in repr(listed)


def test_the_tier_cap_counts_every_kind_of_connection(ledger: Ledger) -> None:
    ledger.add_connection("cus_free", "stripe", account="acct_1", kind="oauth", credential="x")
    with pytest.raises(ConnectionCapReached):
        ledger.add_connection("cus_free", "stripe", account="acct_2", kind="api_key", credential="y")


def test_reencryption_rewrites_every_credential_in_one_transaction(ledger: Ledger) -> None:
    a = ledger.add_connection("cus_pro", "stripe", account="acct_a", kind="api_key", credential="one")
    b = ledger.add_connection("cus_pro", "stripe", account="acct_b", kind="oauth", credential="two")
    ledger.add_connection("cus_pro", "github", account="octo")  # no credential: untouched

    def failing(cid: str, cred: str) -> str:
        if cid == b.connection_id:
            raise RuntimeError("key not found")
        return cred.upper()

    with pytest.raises(RuntimeError):
        ledger.reencrypt_credentials(failing)
    assert ledger.connection_credential(a.connection_id) == "one"  # nothing half done
    assert ledger.reencrypt_credentials(lambda cid, cred: cred.upper()) == 2
    assert ledger.connection_credential(b.connection_id) == "TWO"


def test_connect_states_are_single_use_and_expire(ledger: Ledger) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=10)
    ledger.add_connect_state(b"h1", customer_id="cus_pro", provider="stripe", redirect_uri="http://x/cb", expires_at=soon)
    state = ledger.consume_connect_state(b"h1")
    assert (state.customer_id, state.redirect_uri) == ("cus_pro", "http://x/cb")
    with pytest.raises(ConnectFailed) as used:
        ledger.consume_connect_state(b"h1")
    assert used.value.reason == "state_used"
    with pytest.raises(ConnectFailed) as unknown:
        ledger.consume_connect_state(b"never-issued")
    assert unknown.value.reason == "invalid_state"
    past = datetime.now(UTC) - timedelta(seconds=1)
    ledger.add_connect_state(b"h2", customer_id="cus_pro", provider="stripe", redirect_uri="http://x/cb", expires_at=past)
    with pytest.raises(ConnectFailed) as expired:
        ledger.consume_connect_state(b"h2")
    assert expired.value.reason == "state_expired"


def test_catalog_prices_are_recorded_with_known_tiers_only(ledger: Ledger) -> None:
    ledger.record_catalog_prices([("price_p", "pro", "pro_monthly", "prod_p")])
    ledger.record_catalog_prices([("price_p", "enterprise", "pro_monthly", "prod_p")])  # re-run: updated
    assert ledger.catalog_prices() == {"price_p": "enterprise"}
    from unifiedmcp import ConfigError

    with pytest.raises(ConfigError):
        ledger.record_catalog_prices([("price_x", "platinum", None, None)])


_V2_ROWS = (
    "INSERT INTO customers VALUES ('cus_old', NULL, 'pro', 'active', 't', 't')",
    "INSERT INTO api_keys VALUES ('umk_0123456789ab', 'cus_old', ?, 'laptop', 't', NULL)",
    "INSERT INTO oauth_connections VALUES ('conn_old', 'cus_old', 'github', 'octo', 't')",
)


def _v2_ledger(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A ledger as schema v2 left it, with a customer, a key and a connection."""
    if backend == "sqlite":
        target: Path | str = tmp_path / "old.sqlite3"
        conn = sqlite3.connect(target, isolation_level=None)
        migrate(SqliteMigrator(conn), until=2)
        for sql in _V2_ROWS:
            conn.execute(sql, (b"\x00",) if "?" in sql else ())
        conn.close()
        return target
    target = request.getfixturevalue("postgres_cluster").create_database()  # empty, not the template
    with psycopg.connect(target, autocommit=True) as pg:
        migrate(PostgresMigrator(pg), until=2)
        for sql in _V2_ROWS:
            pg.execute(sql.replace("?", "%s"), (b"\x00",) if "?" in sql else None)
    return target


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_v2_ledger_migrates_keeping_keys_and_connections(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = _v2_ledger(backend, request, tmp_path)
    with Ledger(target) as ledger:
        [key] = ledger.keys()
        assert (key.key_id, key.role, key.customer_id, key.name) == ("umk_0123456789ab", "customer", "cus_old", "laptop")
        [conn] = ledger.connections("cus_old")
        assert (conn.provider, conn.account, conn.kind) == ("github", "octo", "manual")
        with pytest.raises(InvalidInput):  # the v3 rule holds on the migrated table
            ledger.create_key(None)
        op = ledger.create_key(None, operator=True)
        assert ledger.authenticate(op.token).role == "operator"
    assert latest_version() >= 3
