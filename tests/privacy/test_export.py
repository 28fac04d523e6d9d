"""``unifiedmcp privacy export``: the archive of a demo customer holds exactly its ledger and
warehouse rows (checked against both stores: usage, meter events, OAuth grants and the clients
they name too), never a secret or a hash, and bad input writes nothing."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from typing import Any
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from privacy_data import EMAIL, NAME, Demo, grant

from unifiedmcp.ledger import Ledger
from unifiedmcp.warehouse import STRIPE_TYPES

CREDENTIAL = "gAAAAB-encrypted-credential-of-the-customer"


def _archive(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _json(files: dict[str, object], name: str) -> list[dict]:
    return json.loads(files[name])  # type: ignore[arg-type]


def test_the_export_of_a_demo_customer_holds_exactly_its_ledger_and_warehouse_rows(
    demo: Demo, cli: Callable[..., tuple[int, str, str]], privacy_env: Path,
) -> None:
    with Ledger(demo.ledger) as ledger:
        key = ledger.create_key(demo.customer, name="laptop")
        ledger.add_connection(demo.customer, "github", account="octo", kind="api_key", credential=CREDENTIAL)
        token_id = grant(ledger, demo.customer, label="export")
    code, out, err = cli("privacy", "export", "--customer", demo.customer, "--out", "export.zip")
    assert code == 0, err
    path = privacy_env / "export.zip"
    assert path.stat().st_mode & 0o777 == 0o600
    files = _archive(path)
    manifest = json.loads(files["manifest.json"])  # type: ignore[arg-type]
    assert manifest["customer"] == demo.customer
    for entry in manifest["files"]:  # each place as JSON and CSV, the same rows
        rows = list(csv.DictReader(io.StringIO(files[entry["csv"]].decode())))  # type: ignore[union-attr]
        assert len(_json(files, entry["json"])) == len(rows) == entry["rows"], entry

    con = sqlite3.connect(demo.ledger)
    try:
        (customer,) = _json(files, "ledger/customers.json")
        assert (customer["customer_id"], customer["email"]) == (demo.customer, EMAIL)
        mentioned = {r[0] for r in con.execute("SELECT event_id FROM webhook_events WHERE instr(payload, ?) > 0",
                                               (demo.customer,))}
        assert {e["event_id"] for e in _json(files, "ledger/webhook_events.json")} == mentioned
        assert "evt_privacy_rename" in mentioned
        for table, key_column in (("subscriptions", "subscription_id"), ("invoices", "invoice_id"),
                                  ("usage_events", "event_id"), ("meter_outbox", "identifier")):
            held = {r[0] for r in con.execute(f"SELECT {key_column} FROM {table} WHERE customer_id = ?", (demo.customer,))}
            assert {r[key_column] for r in _json(files, f"ledger/{table}.json")} == held != set(), table
        hashes = {r[0] for r in con.execute("SELECT secret_hash FROM oauth_tokens UNION SELECT code_hash FROM"
                                            " oauth_authorizations UNION SELECT request_hash FROM oauth_authorizations"
                                            " UNION SELECT secret_hash FROM api_keys")}
    finally:
        con.close()
    assert [k["key_id"] for k in _json(files, "ledger/api_keys.json")] == [key.key_id]
    assert set(_json(files, "ledger/api_keys.json")[0]) == {"key_id", "role", "name", "created_at", "revoked_at"}
    (connection,) = _json(files, "ledger/oauth_connections.json")
    assert "credential" not in connection and connection["account"] == "octo"
    (token,) = _json(files, "ledger/oauth_tokens.json")
    (authorization,) = _json(files, "ledger/oauth_authorizations.json")
    (client,) = _json(files, "ledger/oauth_clients.json")
    assert token["token_id"] == token_id and authorization["auth_id"] == token["auth_id"]
    assert (client["client_id"], client["client_name"]) == ("client-export", "export's client")
    assert not {"secret_hash", "code_hash", "request_hash", "state"} & {*token, *authorization, *client}
    # hashes: hex text (OAuth) or raw bytes (API keys), looked for in both forms
    secrets = {CREDENTIAL.encode()} | {h if isinstance(h, bytes) else h.encode() for h in hashes if h}
    secrets |= {h.hex().encode() for h in hashes if isinstance(h, bytes)}
    for secret in secrets:
        assert not any(secret in data for data in files.values())  # type: ignore[operator]

    wh = duckdb.connect(str(demo.warehouse), read_only=True)
    try:
        for _, table, _ in STRIPE_TYPES.values():
            held = {r[0] for r in wh.execute(f"SELECT id FROM {table} WHERE contains(CAST(data AS VARCHAR), ?)",
                                             [demo.customer]).fetchall()}
            assert {o["id"] for o in _json(files, f"warehouse/{table}.json")} == held, table
        (obj,) = _json(files, "warehouse/raw_customers.json")
        assert (obj["email"], obj["name"]) == (EMAIL, NAME)
        calls = {r[0] for r in wh.execute("SELECT event_id FROM usage_events WHERE customer_id = ?",
                                          [demo.customer]).fetchall()}
        logged = wh.execute("SELECT count(*) FROM read_parquet(?) WHERE customer_id = ?",
                            [str(demo.usage_log), demo.customer]).fetchone()[0]
    finally:
        wh.close()
    assert {r["event_id"] for r in _json(files, "warehouse/usage_events.json")} == calls != set()
    assert len(_json(files, "files/demo/usage.parquet.json")) == logged > 0


def test_export_refuses_an_unknown_customer_and_writes_nothing(
    demo: Demo, cli: Callable[..., tuple[int, str, str]], privacy_env: Path,
) -> None:
    code, _, err = cli("privacy", "export", "--customer", "cus_nobody_here", "--out", "export.zip")
    assert code == 1 and "unknown customer" in err
    assert not list(privacy_env.glob("*export.zip*"))


@pytest.mark.parametrize(("out", "reason"), [("missing/export.zip", "does not exist"), ("data", "is a directory")])
def test_export_to_an_unwritable_path_says_why_and_writes_nothing(
    demo: Demo, cli: Callable[..., tuple[int, str, str]], privacy_env: Path, out: str, reason: str,
) -> None:
    before = sorted(p.name for p in privacy_env.rglob("*"))
    code, _, err = cli("privacy", "export", "--customer", demo.customer, "--out", out)
    assert code == 1 and f"cannot write {out}" in err and reason in err
    assert sorted(p.name for p in privacy_env.rglob("*")) == before


def test_an_export_holds_no_write_lock_over_the_ledger(ledger_target: Any) -> None:
    """While an export reads the ledger, another process's ledger (a serve replica) still writes
    at once: the export is a read snapshot, not a write transaction. On both backends."""
    from unifiedmcp.ledger import Ledger
    from unifiedmcp.privacy._ledger_store import LedgerStore
    from unifiedmcp.privacy._subject import Subject

    with Ledger(ledger_target) as ledger, Ledger(ledger_target, timeout=0.5) as other:
        ledger.upsert_customer("cus_reader", tier="pro")
        written: list[str] = []

        class Sink:
            def rows(self, store: str, place: str, columns: list[str], rows: list) -> None:
                if not written:  # mid-export
                    other.upsert_customer("cus_writer", tier="free")
                    written.append(place)

            def objects(self, store: str, place: str, objects: list) -> None:
                pass

        LedgerStore(ledger).export(Subject("cus_reader", None), Sink())
        assert written and other.customer("cus_writer") is not None
