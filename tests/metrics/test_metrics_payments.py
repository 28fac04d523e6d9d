"""Payments, authorization, decline reasons and recovery (metrics.md §5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unifiedmcp import metrics
from unifiedmcp.warehouse import shapes

from metrics_scenario import T, Book


def _charges(book: Book) -> None:
    ch = shapes.charge
    book.add(
        ch("ch_ok1", customer="cus_a", created=T(2026, 10, 2), amount=29_00, status="succeeded"),
        ch("ch_ok2", customer="cus_b", created=T(2026, 10, 31, 23, 59, 59), amount=49_00, status="succeeded"),
        ch("ch_f1", customer="cus_c", created=T(2026, 10, 5), amount=29_00, status="failed",
           outcome_type="issuer_declined", outcome_reason="insufficient_funds", failure_code="card_declined"),
        ch("ch_f2", customer="cus_c", created=T(2026, 10, 6), amount=29_00, status="failed",
           outcome_type="issuer_declined", outcome_reason=None, failure_code="expired_card"),
        ch("ch_f3", customer="cus_d", created=T(2026, 10, 7), amount=10_00, status="failed",
           outcome_type="blocked", outcome_reason="highest_risk_level"),
        ch("ch_f4", customer="cus_d", created=T(2026, 10, 8), amount=10_00, status="failed",
           outcome_type="invalid", outcome_reason=None, failure_code=None),
        ch("ch_pending", customer="cus_e", created=T(2026, 10, 9), amount=5_00, status="pending", outcome_type=None),
        ch("ch_next_month", customer="cus_a", created=T(2026, 11, 1), amount=29_00, status="failed"),
        ch("ch_eur", customer="cus_f", created=T(2026, 10, 9), amount=5_00, status="succeeded", currency="eur"),
    )


def test_attempts_success_and_authorization_rates(tmp_path: Path) -> None:
    """7 USD attempts in October: 2 succeeded, 4 failed, 1 pending; authorization 2 of 4 (authorized + issuer_declined)."""
    book = Book()
    _charges(book)
    p = metrics.monthly(book.load(tmp_path), "2026-10")["payments"]
    assert (p["attempts"], p["succeeded"], p["failed"]) == (7, 2, 4)
    assert p["success_rate"] == pytest.approx(2 / 6)
    assert p["authorization_rate"] == pytest.approx(2 / 4)
    assert (p["succeeded_amount"], p["failed_amount"]) == (78_00, 78_00)
    assert p["decline_reasons"] == {"insufficient_funds": 1, "expired_card": 1, "highest_risk_level": 1, "unknown": 1}


def test_recovery_of_invoices_whose_first_attempt_failed(tmp_path: Path) -> None:
    """Invoice 1: failed then paid on retry (recovered). Invoice 2: failed, still open. Invoice 3:
    first attempt succeeded (not in recovery). Invoice 4 (old shape, charge link): failed then paid."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    ch, pi = shapes.charge, shapes.payment_intent
    book.customer("cus_a", T(2026, 9, 1))
    i1 = book.invoice("cus_a", "sub_a", pro, amount=29_00, period_start=T(2026, 10, 1), period_end=T(2026, 11, 1),
                      payment_intent="pi_1")
    i2 = book.invoice("cus_b", "sub_b", pro, amount=49_00, period_start=T(2026, 10, 1), period_end=T(2026, 11, 1),
                      payment_intent="pi_2", status="open")
    book.invoice("cus_c", "sub_c", pro, amount=29_00, period_start=T(2026, 10, 1), period_end=T(2026, 11, 1),
                 payment_intent="pi_3")
    i4 = book.invoice("cus_d", "sub_d", pro, amount=19_00, period_start=T(2026, 10, 1), period_end=T(2026, 11, 1),
                      shape="old", payment_intent=None)
    i4["charge"] = "ch_4b"  # old shape: the invoice names its (latest) charge
    book.add(
        pi("pi_1", customer="cus_a", created=T(2026, 10, 1), amount=29_00),
        ch("ch_1a", customer="cus_a", created=T(2026, 10, 1, 1), amount=29_00, status="failed", payment_intent="pi_1"),
        ch("ch_1b", customer="cus_a", created=T(2026, 10, 4), amount=29_00, status="succeeded", payment_intent="pi_1"),
        ch("ch_2a", customer="cus_b", created=T(2026, 10, 1, 1), amount=49_00, status="failed", payment_intent="pi_2"),
        ch("ch_3a", customer="cus_c", created=T(2026, 10, 1, 1), amount=29_00, status="succeeded", payment_intent="pi_3"),
        ch("ch_4b", customer="cus_d", created=T(2026, 10, 3), amount=19_00, status="failed"),
    )
    assert i1["status"] == "paid" and i2["status"] == "open"
    p = metrics.monthly(book.load(tmp_path), "2026-10")["payments"]
    assert p["failed_invoice_amount"] == 29_00 + 49_00 + 19_00
    assert p["recovered_amount"] == 29_00 + 19_00
    assert p["recovery_rate"] == pytest.approx(48_00 / 97_00)


def test_recovery_month_is_the_month_of_the_first_attempt(tmp_path: Path) -> None:
    """A first attempt on Sep 30 belongs to September even if the retry succeeds in October."""
    book = Book()
    pro = book.price("price_pro", 29_00)
    book.invoice("cus_a", "sub_a", pro, amount=29_00, period_start=T(2026, 9, 30), period_end=T(2026, 10, 30),
                 payment_intent="pi_1")
    book.add(
        shapes.charge("ch_a", customer="cus_a", created=T(2026, 9, 30, 23), amount=29_00, status="failed",
                      payment_intent="pi_1"),
        shapes.charge("ch_b", customer="cus_a", created=T(2026, 10, 2), amount=29_00, status="succeeded",
                      payment_intent="pi_1"),
    )
    db = book.load(tmp_path)
    assert metrics.monthly(db, "2026-09")["payments"]["recovered_amount"] == 29_00
    assert metrics.monthly(db, "2026-10")["payments"]["failed_invoice_amount"] == 0
