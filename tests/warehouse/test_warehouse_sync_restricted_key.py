"""``warehouse sync`` with a restricted key holding exactly the read permissions the README's "Your
own Stripe account" section lists: the sync (full, then incremental) succeeds with them, and
without any one of them it fails in one line naming the missing permission, never the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from unifiedmcp import warehouse
from unifiedmcp.warehouse import _sync

README = Path(__file__).resolve().parents[2] / "README.md"
SYNCED = (*_sync.MUTABLE, *_sync.IMMUTABLE)  # the object types the sync lists


def _readme_permissions() -> list[str]:
    """The ``rak_<resource>_read`` permissions of the resources the README gives **Read** on:
    "(Products, Prices, ..., PaymentIntents, ...; ...)" in its "Your own Stripe account" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Your own Stripe account", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"\*\*Read\*\* on those resources \(([^;)]*)", " ".join(section.split()))
    assert listed, "the README no longer lists the read permissions"
    names = [n.strip() for n in listed.group(1).split(",")]
    return [f"rak_{re.sub(r'(?<!^)(?=[A-Z])', '_', n).lower().removesuffix('s')}_read" for n in names]


def test_the_readme_lists_a_read_permission_for_every_resource_the_sync_fetches() -> None:
    """The README's list, turned into permission names, is exactly one read permission per object
    type the sync fetches (a new synced type needs a new line in the README)."""
    assert sorted(_readme_permissions()) == sorted(f"rak_{t}_read" for t in SYNCED)
    assert len(SYNCED) == 9  # products ... events: the README's nine


@pytest.fixture
def account(fresh_sandbox):
    """A sandbox account holding one of everything the sync fetches: a product and its price, a
    paying customer whose subscription was invoiced and charged, a refund of that charge, events."""
    client = fresh_sandbox.client()
    product = client.v1.products.create({"name": "Pro"})
    price = client.v1.prices.create({"product": product.id, "unit_amount": 2900, "currency": "usd",
                                     "recurring": {"interval": "month"}})
    payer = client.v1.customers.create({"email": "payer@example.com", "name": "Payer",
                                        "payment_method": "pm_card_visa",
                                        "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    client.v1.subscriptions.create({"customer": payer.id, "items": [{"price": price.id}]})
    charge = client.v1.charges.list({"customer": payer.id}).data[0]
    client.v1.refunds.create({"charge": charge.id, "amount": 500})
    return fresh_sandbox


def _sync(cli, monkeypatch: pytest.MonkeyPatch, sandbox, key: str, db: Path) -> tuple[int, str, str]:
    monkeypatch.setenv("STRIPE_API_KEY", key)
    monkeypatch.setenv("STRIPE_API_BASE", sandbox.url)
    monkeypatch.setenv("UNIFIEDMCP_WAREHOUSE", str(db))
    return cli("warehouse", "sync", "--no-progress")


def test_sync_succeeds_with_exactly_the_readme_permissions(cli, account, monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    """`warehouse sync` with an rk_test_ key holding only the README's permissions loads at least one
    of every object type; after a change, the incremental sync (events, then retrieving the objects
    they name) works with the same key."""
    key = account.create_restricted_key(_readme_permissions())
    assert key.startswith("rk_test_")
    db = tmp_path / "w.duckdb"
    code, out, err = _sync(cli, monkeypatch, account, key, db)
    assert code == 0, err
    con = warehouse.connect(db, read_only=True)
    try:
        for table in ("products", "prices", "customers", "subscriptions", "invoices", "payment_intents", "charges",
                      "refunds", "events"):
            assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1, table
    finally:
        con.close()
    payer = account.client().v1.customers.list({"email": "payer@example.com"}).data[0]
    account.client().v1.customers.update(payer.id, {"email": "changed@example.com"})
    code, out, err = _sync(cli, monkeypatch, account, key, db)
    assert code == 0, err
    con = warehouse.connect(db, read_only=True)
    try:
        assert con.execute("SELECT email FROM customers WHERE id = ?", [payer.id]).fetchone() == ("changed@example.com",)
    finally:
        con.close()


def test_sync_without_one_permission_fails_naming_it(cli, account, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """For each README permission in turn, a key with all the others: exit 1 and one error line
    that names the missing permission (Stripe's message), with the key masked."""
    permissions = _readme_permissions()
    for missing in permissions:
        key = account.create_restricted_key([p for p in permissions if p != missing])
        code, out, err = _sync(cli, monkeypatch, account, key, tmp_path / f"{missing}.duckdb")
        lines = err.strip().splitlines()
        assert code == 1, (missing, out, err)
        assert len(lines) == 1 and lines[0].startswith("error: "), (missing, err)
        assert f"'{missing}'" in lines[0], (missing, lines[0])
        assert key not in out + err and key[8:] not in out + err, missing
