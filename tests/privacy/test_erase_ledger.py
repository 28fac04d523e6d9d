"""Erasure in the ledger, on SQLite and PostgreSQL: what goes, what stays under the pseudonym, what
is refused, and another customer whose id begins with the erased one's left exactly as it was."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from privacy_data import PSEUDONYM_KEY, grant, ledger_rows

from unifiedmcp.billing import EventProcessor
from unifiedmcp.errors import AuthError, ErasureBlocked, PseudonymKeyMissing, UnknownCustomer
from unifiedmcp.ledger import Ledger
from unifiedmcp.privacy import Places, Pseudonyms, erase_customer
from unifiedmcp.warehouse import shapes

C, D = "cus_privacy1", "cus_privacy10"  # D's id begins with C's, and D has C's name (another Ada)
EMAIL, NAME, USER = "ada.lovelace@example.org", "Ada Lovelace", "ada-the-user"
PAST = datetime(2026, 3, 10, 12, tzinfo=UTC)
EVENT_NAME = "mcp_api_call"


def _names(text: str, word: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(word)}(?![A-Za-z0-9_])", text) is not None


def _fill(ledger: Ledger) -> str:
    """C with everything the ledger can hold about a customer, through the ledger's own API and the
    webhook receiver's processor; D with a little. Returns C's API key token."""
    ledger.record_catalog_prices([("price_pro", "pro", "pro_monthly", "prod_pro")])
    price = shapes.price("price_pro", product="prod_pro", unit_amount=4900, tier="pro")
    events = EventProcessor(ledger)
    for i, who in enumerate((C, D)):
        events.process(shapes.event(f"evt_created_{i}", type="customer.created", created=PAST,
                                    obj=shapes.customer(who, created=PAST, email=f"{i}{EMAIL}", name=NAME)))
    sub = shapes.subscription("sub_privacy", customer=C, price=price, created=PAST, current_period_start=PAST,
                              current_period_end=PAST + timedelta(days=30))
    events.process(shapes.event("evt_sub", type="customer.subscription.created", created=PAST, obj=sub))
    line = shapes.line("il_1", price=price, amount=4900, period_start=PAST, period_end=PAST + timedelta(days=30),
                       subscription="sub_privacy")
    events.process(shapes.event("evt_inv", type="invoice.paid", created=PAST,
                                obj=shapes.invoice("in_privacy", customer=C, created=PAST, lines=[line],
                                                   subscription="sub_privacy")))
    refunded = shapes.charge("ch_privacy", customer=C, created=PAST, amount=4900) | {
        "amount_refunded": 4900, "refunded": True,
        "billing_details": {"email": EMAIL, "name": NAME, "phone": "+44 20 7946 0000", "address": None},
        "payment_method_details": {"card": {"last4": "4242", "fingerprint": "fpAdA123", "brand": "visa"}}}
    events.process(shapes.event("evt_refund", type="charge.refunded", created=PAST, obj=refunded))
    ledger.upsert_customer(C, email=EMAIL)
    token = ledger.create_key(C, name="Ada's laptop").token
    ledger.add_connection(C, "github", account="octo-ada", kind="api_key", credential="gAAAA-encrypted-credential")
    ledger.add_connect_state(b"state-hash", customer_id=C, provider="stripe",
                             redirect_uri="https://example.org/ada/callback", expires_at=PAST + timedelta(days=400))
    for n in range(5):
        for who in (C, D):
            admitted = ledger.check_and_record(who, "list_customers", event_id=f"call-{who}-{n}",
                                               at=PAST + timedelta(minutes=n), user_id=USER if who == C else "bo")
            ledger.complete(admitted.event_id, status="ok", latency_ms=3.0)
    ledger.stage_meter_events(event_name=EVENT_NAME, billable_tiers={"pro"}, grace_seconds=0)
    ledger.record_meter_results([(r.identifier, "sent", None) for r in ledger.meter_events()])
    grant(ledger, C, label="ada")
    return token


def _places(ledger: Ledger, tmp_path: Path) -> Places:
    return Places(ledger=ledger, warehouse=tmp_path / "no-warehouse.duckdb", data_dir=tmp_path / "data",
                  reports_dir=tmp_path / "reports")


def _about(rows: dict[str, list[tuple]], who: str) -> dict[str, list[tuple]]:
    return {t: [r for r in rs if any(_names(str(v), who) for v in r)] for t, rs in rows.items()}


def test_erase_deletes_access_keeps_accounting_under_the_pseudonym_and_leaves_no_trace(
    ledger_target: Path | str, tmp_path: Path,
) -> None:
    pseudonym = Pseudonyms(PSEUDONYM_KEY).of(C)
    with Ledger(ledger_target) as ledger:
        token = _fill(ledger)
        before = ledger_rows(ledger)
        result = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        after = ledger_rows(ledger)
        with pytest.raises(AuthError):
            ledger.authenticate(token)
    assert result.outcome == "erased" and result.pseudonym == pseudonym
    text = repr({t: [r for r in rs if r not in _about(after, D)[t]] for t, rs in after.items()})
    for trace in (C, EMAIL, NAME, USER, "octo-ada", "gAAAA-encrypted-credential", "example.org/ada", "4242", "fpAdA123",
                  "+44 20 7946 0000", "Ada's laptop", "ada-state", "127.0.0.1/ada"):
        assert not _names(text, trace), trace
    for table in ("api_keys", "oauth_connections", "connect_states", "oauth_authorizations", "oauth_tokens"):
        assert before[table] and not after[table], table
    # accounting: the same calls, counters, mirrors and meter events, now the pseudonym's
    assert [r[1:] for r in after["usage_counters"] if r[0] == pseudonym] == [r[1:] for r in before["usage_counters"] if r[0] == C]
    moved = [r for r in after["usage_events"] if r[2] == pseudonym]
    assert len(moved) == 5 and all(r[8] is None for r in moved)  # user_id cleared
    assert [r[0] for r in after["subscriptions"] if r[1] == pseudonym] == ["sub_privacy"]
    assert [r[0] for r in after["invoices"] if r[1] == pseudonym] == ["in_privacy"]
    assert sum(r[4] for r in after["meter_outbox"] if r[2] == pseudonym) == 5
    assert [r[:4] for r in after["customers"] if r[0] == pseudonym] == [(pseudonym, None, "pro", "deleted")]
    # the other customer, whose id begins with C's, whose e-mail ends with C's and who has C's
    # name, is exactly as it was
    assert _about(after, D) == _about(before, D)
    assert _names(repr(_about(after, D)["webhook_events"]), NAME)


def test_erasing_twice_changes_nothing_the_second_time(ledger_target: Path | str, tmp_path: Path) -> None:
    with Ledger(ledger_target) as ledger:
        _fill(ledger)
        first = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        rows = ledger_rows(ledger)
        second = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        assert ledger_rows(ledger) == rows
    assert (second.outcome, second.erasure_id) == ("already_erased", first.erasure_id)


def test_an_unknown_customer_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _fill(ledger)
        rows = ledger_rows(ledger)
        with pytest.raises(UnknownCustomer):
            erase_customer("cus_nobody_here", places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        assert ledger_rows(ledger) == rows


def test_erasure_is_refused_while_billable_calls_are_not_reported_to_stripe(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _fill(ledger)
        ledger.check_and_record(C, "list_customers", event_id="call-late", at=PAST + timedelta(hours=2))
        ledger.complete("call-late", status="ok", latency_ms=2.0)
        rows = ledger_rows(ledger)
        with pytest.raises(ErasureBlocked) as refused:
            erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        assert (refused.value.reason, refused.value.count) == ("unbilled_usage", 1)
        assert ledger_rows(ledger) == rows
        ledger.stage_meter_events(event_name=EVENT_NAME, billable_tiers={"pro"}, grace_seconds=0)
        with pytest.raises(ErasureBlocked):  # staged, still pending: not sent yet
            erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))


@pytest.mark.parametrize("key", [None, "", "too-short"])
def test_erasure_without_a_usable_pseudonym_key_is_refused(key: str | None) -> None:
    with pytest.raises(PseudonymKeyMissing) as refused:
        Pseudonyms(key)
    assert "UNIFIEDMCP_PSEUDONYM_KEY" in str(refused.value)


def test_what_stripe_sends_after_the_erasure_is_erased_by_running_erase_again(
    ledger_target: Path | str, tmp_path: Path,
) -> None:
    """``--stripe`` deletes the customer in Stripe, which then sends ``customer.deleted`` with the
    customer's e-mail and name: erase run again finds it and erases it (docs/privacy.md)."""
    pseudonyms = Pseudonyms(PSEUDONYM_KEY)
    with Ledger(ledger_target) as ledger:
        _fill(ledger)
        first = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=pseudonyms)
        late = shapes.customer(C, created=PAST, email=EMAIL, name=NAME) | {"deleted": True}
        EventProcessor(ledger).process(shapes.event("evt_deleted", type="customer.deleted", created=PAST, obj=late))
        second = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=pseudonyms)
        third = erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=pseudonyms)
        after = ledger_rows(ledger)
    assert (first.outcome, second.outcome, third.outcome) == ("erased", "erased", "already_erased")
    assert second.found["ledger"]["webhook_events"] == 1
    text = repr({t: [r for r in rs if r not in _about(after, D)[t]] for t, rs in after.items()})
    for trace in (C, EMAIL, NAME):
        assert not _names(text, trace), trace


def test_erasure_is_refused_while_a_call_of_the_customer_is_still_running(tmp_path: Path) -> None:
    """A call admitted and not yet ended (``interrupted`` until the server completes it) may still
    end ``ok`` and be billable: erased first, it would be billed to the pseudonym, which Stripe
    does not know. Once it ends and is reported, the erasure goes ahead."""
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _fill(ledger)
        running = ledger.check_and_record(C, "list_customers", event_id="call-running", completes=True)
        ledger.stage_meter_events(event_name=EVENT_NAME, billable_tiers={"pro"}, grace_seconds=600)
        with pytest.raises(ErasureBlocked) as refused:
            erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY))
        assert (refused.value.reason, refused.value.count) == ("unbilled_usage", 1)
        ledger.complete(running.event_id, status="ok", latency_ms=2.0)
        ledger.stage_meter_events(event_name=EVENT_NAME, billable_tiers={"pro"}, grace_seconds=600)
        ledger.record_meter_results([(r.identifier, "sent", None) for r in ledger.meter_events()])
        assert erase_customer(C, places=_places(ledger, tmp_path), pseudonyms=Pseudonyms(PSEUDONYM_KEY)).outcome == "erased"
