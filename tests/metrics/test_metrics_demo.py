"""The demo built on the sandbox: identities hold every month and the numbers agree with the sandbox."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from unifiedmcp import DEFAULT_TIERS, metrics
from unifiedmcp.billing import webhook_events
from unifiedmcp.demo import build_demo
from unifiedmcp.demo import _build as demo_build
from unifiedmcp.ledger import Ledger

from metrics_scenario import mrr_identity, subscriber_identity

# Seed 218: every kind of card failure, recovered and not, downgrades and a heavy pro user over its limit.
FIRST, MONTHS, CUSTOMERS, SEED = "2026-03", 4, 24, 218


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """One small demo (built once for this module), plus the sandbox's own view of its subscriptions."""
    tmp = tmp_path_factory.mktemp("demo")
    seen: dict[str, list[dict]] = {}
    real_sync = demo_build.wh.sync

    def sync_and_look(warehouse, *, client, **kwargs):
        # Ask the sandbox directly (not through the warehouse) which subscriptions ended and why.
        seen["subscriptions"] = [s.to_dict() for s in
                                 client.v1.subscriptions.list({"status": "all", "limit": 100}).auto_paging_iter()]
        return real_sync(warehouse, client=client, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(demo_build.wh, "sync", sync_and_look)
    try:
        result = build_demo(warehouse=tmp / "w.duckdb", usage_file=tmp / "usage.parquet", customers=CUSTOMERS,
                            months=MONTHS, seed=SEED, first_month=FIRST, ledger=tmp / "ledger.sqlite3")
    finally:
        mp.undo()
    return result, seen["subscriptions"]


def test_demo_mrr_and_subscriber_identities_hold_every_month(demo) -> None:
    """metrics.md §3 and §4 identities, for every month of the demo."""
    result, _ = demo
    assert result.months[0] == FIRST and len(result.months) == MONTHS
    prev_end = 0
    for month in result.months:
        r = metrics.monthly(result.warehouse, month)
        assert mrr_identity(r) == pytest.approx(0, abs=1e-9), month
        assert subscriber_identity(r) == 0, month
        assert r["mrr"]["start"] == prev_end, month
        prev_end = r["mrr"]["end"]
    assert prev_end > 0


def test_demo_involuntary_churn_equals_sandbox_payment_failed_cancellations(demo) -> None:
    """Subscriptions the sandbox canceled for payment_failed in a month == churn_reasons.involuntary."""
    result, subscriptions = demo
    expected: Counter[str] = Counter()
    for s in subscriptions:
        if s.get("ended_at") and (s.get("cancellation_details") or {}).get("reason") in ("payment_failed", "payment_disputed"):
            expected[datetime.fromtimestamp(s["ended_at"], UTC).strftime("%Y-%m")] += 1
    got = {m: metrics.monthly(result.warehouse, m)["churn_reasons"]["involuntary"] for m in result.months}
    assert got == {m: expected.get(m, 0) for m in result.months}
    assert sum(got.values()) > 0  # the demo does produce involuntary churn


def test_demo_webhooks_keep_the_ledger_tiers_in_step_with_the_sandbox(demo) -> None:
    """With a ledger, every demo event goes through the real receiver: no event fails, and each
    customer's ledger tier is what its final subscriptions say (active/trialing/past_due → the
    price's tier, otherwise free)."""
    result, subscriptions = demo
    expected: dict[str, str] = {}
    for s in subscriptions:
        tier = "free"
        if s["status"] in ("active", "trialing", "past_due"):
            tier = DEFAULT_TIERS.for_price(s["items"]["data"][0]["price"]).name
        best = DEFAULT_TIERS.highest([expected.get(s["customer"], "free"), tier])
        expected[s["customer"]] = best.name
    with Ledger(result.warehouse.with_name("ledger.sqlite3")) as ledger:
        assert webhook_events(ledger, status="failed") == []
        assert len(webhook_events(ledger, limit=10_000)) > 100
        got = {c: ledger.customer(c).tier for c in expected}
    assert got == expected
    assert set(got.values()) >= {"free", "pro"}


def test_demo_is_believable(demo) -> None:
    """Across the months: new subscribers, churn of both kinds, failed payments, recoveries, overages."""
    result, _ = demo
    frame = metrics.report_frame(result.warehouse, result.months[0], result.months[-1])
    assert frame["subscribers_new"].sum() > 10
    assert frame["churn_reasons_voluntary"].sum() > 0
    assert frame["payments_failed"].sum() > 0 and frame["payments_recovered_amount"].sum() > 0
    assert frame["overage_customers"].sum() > 0
    assert frame["usage_calls"].iloc[-1] > 0


def test_demo_bills_its_overage_through_meters_and_every_month_reconciles(demo) -> None:
    """Demo usage went through the ledger's metering and was pushed to the sandbox's meter: renewal
    invoices bill overage (overage_revenue), and `billing reconcile` finds no difference in any month."""
    result, _ = demo
    assert result.reconciled == {m: True for m in result.months}
    assert result.overage_events > 0
    billed = {m: metrics.monthly(result.warehouse, m)["overage_revenue"] for m in result.months}
    assert sum(billed.values()) > 0, billed


def test_same_seed_same_numbers(tmp_path: Path) -> None:
    """Two builds with the same seed and months give the same reports (ids differ, numbers do not)."""
    builds = [build_demo(warehouse=tmp_path / f"w{i}.duckdb", usage_file=tmp_path / f"u{i}.parquet", customers=8,
                         months=2, seed=11, first_month="2026-05") for i in (1, 2)]
    month = builds[0].months[-1]
    a, b = (metrics.monthly(r.warehouse, month) for r in builds)
    assert a["subscribers"]["end"] > 0
    strip = lambda r: {k: v for k, v in r.items() if k not in ("overages", "near_limit", "upgrade_candidates")}  # noqa: E731
    assert strip(a) == strip(b)
    assert [e["overage_amount"] for e in a["overages"]] == [e["overage_amount"] for e in b["overages"]]


def test_demo_has_downgrades_and_several_decline_reasons(demo) -> None:
    """Contraction in some month (downgrades, counted from the change: contract v2), and failed
    charges for generic declines, 3-D Secure on renewals, insufficient funds and expired cards."""
    result, _ = demo
    frame = metrics.report_frame(result.warehouse, result.months[0], result.months[-1])
    assert frame["mrr_contraction"].sum() > 0
    reasons: Counter[str] = Counter()
    for month in result.months:
        reasons.update(metrics.monthly(result.warehouse, month)["payments"]["decline_reasons"])
    assert {"generic_decline", "authentication_required", "insufficient_funds", "expired_card"} <= set(reasons)


def test_demo_webhook_events_are_stamped_with_simulated_time(demo) -> None:
    """The ledger's events are received in the simulated months (the last at the history's end),
    not on the day the demo ran, so each month's ops page shows its own traffic."""
    result, _ = demo
    import sqlite3

    con = sqlite3.connect(result.warehouse.with_name("ledger.sqlite3"))
    try:
        months = {m for (m,) in con.execute("SELECT DISTINCT substr(received_at, 1, 7) FROM webhook_events")}
    finally:
        con.close()
    after = metrics.month_range(result.months[-1], result.months[-1])[0].next
    assert set(result.months) <= months <= set(result.months) | {str(after)}


def test_demo_usage_carries_each_calls_tier_and_respects_the_free_limit(demo, tmp_path: Path) -> None:
    """Every call has the tier of its moment: reports computed from the recorded tiers equal those
    computed from the invoices alone (tier column cleared); no customer has more than 100
    admitted free calls in a month; customers favour different tools."""
    import shutil

    import duckdb

    result, _ = demo
    cleared = tmp_path / "cleared.duckdb"
    shutil.copy(result.warehouse, cleared)
    con = duckdb.connect(str(cleared))
    try:
        assert con.execute("SELECT count(*) FROM usage_events WHERE tier IS NULL").fetchall() == [(0,)]
        over_free = con.execute(
            "SELECT count(*) FROM (SELECT customer_id, strftime(ts, '%Y-%m') m, count(*) n FROM usage_events"
            " WHERE tier = 'free' AND status <> 'rejected' GROUP BY ALL HAVING n > 100)").fetchall()
        favourites = con.execute(
            "SELECT DISTINCT arg_max(tool_name, n) FROM (SELECT customer_id, tool_name, count(*) n FROM usage_events"
            " GROUP BY ALL) GROUP BY customer_id").fetchall()
        con.execute("UPDATE usage_events SET tier = NULL")
    finally:
        con.close()
    assert over_free == [(0,)] and len(favourites) > 3
    # Each call's tier is what the ledger held when the call was metered (day by day, from the
    # webhooks). Inferred from invoices alone (tier column cleared), the lists agree except where
    # a change shows only on an invoice after the history's end (create_prorations bills it at the
    # next renewal): the recorded tiers are the truth, so compare the months before the last.
    lists = ("overages", "near_limit", "upgrade_candidates")
    for month in result.months[:-1]:
        recorded, inferred = metrics.monthly(result.warehouse, month), metrics.monthly(cleared, month)
        assert {k: recorded[k] for k in lists} == {k: inferred[k] for k in lists}, month
