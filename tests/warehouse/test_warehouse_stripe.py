"""Loading Stripe JSON Lines exports (metrics.md §1.1): idempotence, last-wins, rejects, both shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from unifiedmcp import warehouse
from unifiedmcp.errors import WarehouseError
from unifiedmcp.warehouse import shapes

T0 = 1_790_000_000  # 2026-09-21


def _write(path: Path, lines: list[object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


def _rows(db: Path, sql: str) -> list[tuple]:
    con = warehouse.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_reloading_is_idempotent_and_counts_replacements(tmp_path: Path) -> None:
    """Loading the same export twice stores each object once; the second run reports them replaced."""
    export = tmp_path / "export"
    shapes.write_jsonl(export, [shapes.customer(f"cus_{i}", created=T0 + i) for i in range(5)]
                       + [shapes.product("prod_1", name="p")])
    db = tmp_path / "w.duckdb"
    first = warehouse.load_stripe(db, export)
    second = warehouse.load_stripe(db, export)
    assert (first.loaded, first.replaced, first.rejected) == (6, 0, 0)
    assert (second.loaded, second.replaced, second.rejected) == (0, 6, 0)
    assert _rows(db, "SELECT count(*) FROM raw_customers") == [(5,)]
    assert _rows(db, "SELECT count(*) FROM customers") == [(5,)]


def test_last_copy_wins_by_created_then_file_order(tmp_path: Path) -> None:
    """Within a file the later `created` wins, ties go to the later line; an older copy loaded later is ignored."""
    c = shapes.customer
    _write(tmp_path / "a" / "customers.jsonl", [
        c("cus_1", created=T0, email="old@x"), c("cus_1", created=T0, email="tie-later@x"),
        c("cus_2", created=T0 + 10, email="newer@x"), c("cus_2", created=T0, email="older-but-later-line@x"),
    ])
    db = tmp_path / "w.duckdb"
    r = warehouse.load_stripe(db, tmp_path / "a")
    assert (r.loaded, r.replaced) == (2, 2)
    assert _rows(db, "SELECT id, email FROM customers ORDER BY id") == [("cus_1", "tie-later@x"), ("cus_2", "newer@x")]
    _write(tmp_path / "b" / "customers.jsonl", [c("cus_2", created=T0 + 5, email="stale@x"),
                                                c("cus_1", created=T0, email="reloaded@x")])
    r = warehouse.load_stripe(db, tmp_path / "b")
    assert (r.loaded, r.replaced, r.stale) == (0, 1, 1)
    assert _rows(db, "SELECT id, email FROM customers ORDER BY id") == [("cus_1", "reloaded@x"), ("cus_2", "newer@x")]


def test_rejected_lines_are_counted_with_line_numbers(tmp_path: Path) -> None:
    """Invalid JSON, non-objects, missing ids and wrong object types are rejected by line; the rest loads."""
    good = shapes.customer("cus_ok", created=T0)
    _write(tmp_path / "e" / "customers.jsonl", [
        good, "{not json", "[1, 2]", "", {"object": "customer", "created": T0},
        shapes.product("prod_x", name="wrong file"), shapes.customer("cus_ok2", created=T0),
    ])
    db = tmp_path / "w.duckdb"
    r = warehouse.load_stripe(db, tmp_path / "e")
    assert (r.loaded, r.rejected) == (2, 4)
    assert [n for n, _ in r.files[0].rejected_lines] == [2, 3, 5, 6]
    assert dict(r.files[0].rejected_lines)[6] == "object is product, expected customer"
    assert _rows(db, "SELECT count(*) FROM stripe_rejects") == [(4,)]


def test_truncated_lists_are_reported(tmp_path: Path) -> None:
    """An invoice whose `lines` has has_more: true is named in the load report and the warehouse view."""
    ln = shapes.line("il_1", price="price_x", amount=100, period_start=T0, period_end=T0 + 86400 * 30,
                     subscription="sub_1")
    full = shapes.invoice("in_full", customer="cus_1", created=T0, lines=[ln])
    cut = shapes.invoice("in_cut", customer="cus_1", created=T0, lines=[ln], has_more=True)
    shapes.write_jsonl(tmp_path / "x", [full, cut])
    db = tmp_path / "w.duckdb"
    r = warehouse.load_stripe(db, tmp_path / "x")
    assert r.truncated == 1 and r.files[0].truncated == ("in_cut",)
    assert _rows(db, "SELECT object_type, id, list FROM truncated_lists") == [("invoice", "in_cut", "lines")]


def test_invoice_lines_of_both_api_shapes_normalise_alike(tmp_path: Path) -> None:
    """Old (type/proration/subscription/price object) and current (parent/pricing) lines give the same row."""
    price = shapes.price("price_1", product="prod_1", unit_amount=2900)
    objs = []
    for shape in ("old", "current"):
        ln = shapes.line(f"il_{shape}", price=price if shape == "old" else "price_1", amount=2900,
                         period_start=T0, period_end=T0 + 2_592_000, subscription=f"sub_{shape}",
                         subscription_item=f"si_{shape}", discount=900, shape=shape)  # type: ignore[arg-type]
        objs.append(shapes.invoice(f"in_{shape}", customer="cus_1", created=T0, lines=[ln],
                                   subscription=f"sub_{shape}", payment_intent=f"pi_{shape}", shape=shape))  # type: ignore[arg-type]
    shapes.write_jsonl(tmp_path / "x", objs)
    db = tmp_path / "w.duckdb"
    warehouse.load_stripe(db, tmp_path / "x")
    got = _rows(db, """SELECT api_shape, is_subscription, proration, subscription, subscription_item, price,
                              amount, discount_amount, currency FROM invoice_lines ORDER BY api_shape""")
    assert got == [("current", True, False, "sub_current", "si_current", "price_1", 2900, 900, "usd"),
                   ("old", True, False, "sub_old", "si_old", "price_1", 2900, 900, "usd")]
    assert _rows(db, "SELECT id, subscription, api_shape FROM invoices ORDER BY id") == [
        ("in_current", "sub_current", "current"), ("in_old", "sub_old", "old")]
    assert _rows(db, "SELECT invoice, payment_intent, via FROM invoice_payments ORDER BY invoice") == [
        ("in_current", "pi_current", "payments"), ("in_old", "pi_old", "legacy")]
    assert _rows(db, "SELECT id, interval FROM price_catalog") == [("price_1", "month")]


def test_missing_directory_and_empty_directory_are_one_line_errors(tmp_path: Path) -> None:
    """A wrong path or a directory without any known file raises WarehouseError naming it."""
    with pytest.raises(WarehouseError, match="not a directory"):
        warehouse.load_stripe(tmp_path / "w.duckdb", tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WarehouseError, match="no Stripe JSON Lines files"):
        warehouse.load_stripe(tmp_path / "w.duckdb", tmp_path / "empty")


def test_load_objects_from_dicts_goes_through_the_same_path(tmp_path: Path) -> None:
    """load_stripe_objects (used by sync) replaces by id like a file load."""
    db = tmp_path / "w.duckdb"
    warehouse.load_stripe_objects(db, [shapes.customer("cus_1", created=T0, email="a@x")],
                                  object_type="customer", source="test")
    r = warehouse.load_stripe_objects(db, [shapes.customer("cus_1", created=T0, email="b@x")],
                                      object_type="customer", source="test")
    assert (r.loaded, r.replaced) == (0, 1)
    assert _rows(db, "SELECT email FROM customers") == [("b@x",)]
