"""``unifiedmcp retention apply``: old usage rolled up into daily totals with every month's metrics
unchanged, what must survive kept (unbilled, unpulled, the newest event), old webhook payloads and
rejection counts removed, a dry run that changes no file, and bad periods refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from privacy_data import Demo, hashes, ledger_rows

from unifiedmcp import warehouse as wh
from unifiedmcp.billing import METER_EVENT, BillingError, EventProcessor, RejectionCounter, billable_tiers
from unifiedmcp.config import RetentionSettings
from unifiedmcp.errors import QuotaExceeded
from unifiedmcp.ledger import Ledger
from unifiedmcp.privacy import apply_retention
from unifiedmcp.warehouse import shapes

Cli = Callable[..., tuple[int, str, str]]
OLD = datetime(2026, 3, 5, 9, tzinfo=UTC)  # before every cut-off these tests use
ONE_MONTH = RetentionSettings(usage_events_months=1)


def _settings(folder: Path, **retention: int) -> None:
    lines = "\n".join(f"{k} = {v}" for k, v in retention.items())
    (folder / "unifiedmcp.toml").write_text(f"[retention]\n{lines}\n", encoding="utf-8")


def _calls(ledger: Ledger, customers: dict[str, str], *, n: int, start: datetime = OLD) -> None:
    for customer, tier in customers.items():
        ledger.upsert_customer(customer, tier=tier)
        for i in range(n):
            try:
                admitted = ledger.check_and_record(customer, ("list_invoices", "retrieve_balance")[i % 2],
                                                   event_id=f"{customer}-{start:%m%d}-{i}", at=start + timedelta(hours=i))
            except QuotaExceeded:
                continue  # recorded as rejected: the free tier's calls past its limit
            ledger.complete(admitted.event_id, status="ok" if i % 5 else "error", latency_ms=4.0)


async def _refuse_a_delivery(ledger: Ledger, reason: str) -> None:
    """The webhook receiver refuses a delivery: counted, then flushed to the ledger at shutdown."""
    counter = RejectionCounter(ledger)
    counter.add(reason)
    await counter.close()


def _warehouse_usage(demo: Demo) -> tuple[int, int]:
    """Raw usage events and the calls of the daily totals in the demo's warehouse."""
    con = wh.connect(demo.warehouse, read_only=True)
    try:
        raw, daily = con.execute("SELECT (SELECT count(*) FROM usage_events),"
                                 " (SELECT coalesce(sum(calls), 0) FROM usage_daily)").fetchone()
    finally:
        con.close()
    return int(raw), int(daily)


def _metrics(cli: Cli, months: tuple[str, ...]) -> dict[str, dict]:
    out = {}
    for month in months:
        code, text, err = cli("metrics", "--month", month, "--json")
        assert code == 0, err
        out[month] = json.loads(text)
    return out


def test_old_usage_becomes_daily_totals_and_every_months_metrics_stay_the_same(demo: Demo, cli: Cli,
                                                                               privacy_env: Path) -> None:
    with Ledger(demo.ledger) as ledger:
        _calls(ledger, {"cus_retention_pro": "pro", "cus_retention_free": "free"}, n=120)
        # The demo reports usage to Stripe's meters: staged calls are the ones retention may roll up.
        ledger.stage_meter_events(event_name=METER_EVENT, billable_tiers=billable_tiers(ledger.tiers), grace_seconds=0)
        in_ledger = len(ledger_rows(ledger)["usage_events"])  # the demo's metered calls and these
    assert cli("warehouse", "pull-usage")[0] == 0
    before = _metrics(cli, demo.months)
    raw_before, _ = _warehouse_usage(demo)
    _settings(privacy_env, usage_events_months=1)
    code, out, err = cli("retention", "apply", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert _metrics(cli, demo.months) == before
    raw, daily = _warehouse_usage(demo)
    assert raw == 0 and daily == summary["warehouse"]["usage_events_rolled_up"] == raw_before > 20_000
    with Ledger(demo.ledger) as ledger:
        rows = ledger_rows(ledger)
    assert len(rows["usage_events"]) == 1  # the newest stays: seq never starts again
    assert sum(r[5] for r in rows["usage_daily"]) == summary["ledger"]["usage_events_rolled_up"] == in_ledger - 1


def test_a_dry_run_counts_what_apply_removes_and_changes_no_file(demo: Demo, cli: Cli, privacy_env: Path) -> None:
    _settings(privacy_env, usage_events_months=1)
    files = hashes(demo.data)
    code, dry, err = cli("retention", "apply", "--dry-run", "--json")
    assert code == 0, err
    assert hashes(demo.data) == files
    code, done, err = cli("retention", "apply", "--json")
    assert code == 0, err
    counted, removed = json.loads(dry), json.loads(done)
    assert (counted["dry_run"], removed["dry_run"]) == (True, False)
    assert (counted["ledger"], counted["warehouse"]) == (removed["ledger"], removed["warehouse"])
    assert removed["warehouse"]["usage_events_rolled_up"] > 0


def test_usage_loaded_again_after_a_roll_up_is_never_counted_twice(demo: Demo, cli: Cli, privacy_env: Path) -> None:
    _settings(privacy_env, usage_events_months=1)
    before = _metrics(cli, demo.months)
    assert cli("retention", "apply")[0] == 0
    assert cli("warehouse", "load-usage", str(demo.usage_log))[0] == 0  # the same calls, raw again
    assert _metrics(cli, demo.months) == before
    code, out, _ = cli("retention", "apply", "--json")
    with duckdb.connect() as con:
        logged = con.execute("SELECT count(*) FROM read_parquet(?)", [str(demo.usage_log)]).fetchone()[0]
    assert json.loads(out)["warehouse"]["usage_events_dropped_already_rolled_up"] == logged > 20_000
    assert _metrics(cli, demo.months) == before


def test_retention_keeps_unstaged_calls_and_the_newest_so_seq_keeps_growing(ledger_target: Path | str) -> None:
    """Events after the usage push's watermark are unbilled: kept. And when every old event is
    staged, the newest still stays, or SQLite would number the next call 1 again, under the
    pusher's and the warehouse's watermarks."""
    with Ledger(ledger_target) as ledger:
        _calls(ledger, {"cus_retention_pro": "pro"}, n=10)
        staged = ledger.stage_meter_events(event_name="mcp_api_call", billable_tiers={"pro"}, grace_seconds=0, limit=6)
        first = apply_retention(policy=ONE_MONTH, ledger=ledger, warehouse=None)
        kept = [r[0] for r in ledger.usage_events()]
        assert first.ledger["usage_events_rolled_up"] == 6 and first.ledger["usage_events_kept_unstaged"] == 4
        assert kept == list(range(staged.staged_seq + 1, staged.staged_seq + 5))
        ledger.stage_meter_events(event_name="mcp_api_call", billable_tiers={"pro"}, grace_seconds=0)
        apply_retention(policy=ONE_MONTH, ledger=ledger, warehouse=None)
        assert [r[0] for r in ledger.usage_events()] == [kept[-1]]
        admitted = ledger.check_and_record("cus_retention_pro", "list_invoices", event_id="after-retention")
        assert ledger.usage_events(after_seq=kept[-1])[0][1] == admitted.event_id
        daily = ledger_rows(ledger)["usage_daily"]
    assert sum(r[5] for r in daily) == 9


def test_calls_interrupted_long_ago_are_rolled_up_under_their_own_status(ledger_target: Path | str) -> None:
    """A call whose process died mid-call stays ``interrupted`` (ledger schema v7): retention
    rolls it up like any other old call, and its daily total keeps that status."""
    with Ledger(ledger_target) as ledger:
        _calls(ledger, {"cus_retention_pro": "pro"}, n=3)
        ledger.check_and_record("cus_retention_pro", "list_invoices", event_id="died-mid-call",
                                at=OLD + timedelta(hours=5), completes=True)
        ledger.check_and_record("cus_retention_pro", "list_invoices", event_id="newest", at=OLD + timedelta(hours=6))
        ledger.stage_meter_events(event_name="mcp_api_call", billable_tiers={"pro"}, grace_seconds=0)
        result = apply_retention(policy=ONE_MONTH, ledger=ledger, warehouse=None)
        daily = {(r[3], r[4]): r[5] for r in ledger_rows(ledger)["usage_daily"]}
    assert result.ledger["usage_events_rolled_up"] == 4  # the newest stays raw
    assert daily == {("list_invoices", "error"): 1, ("retrieve_balance", "ok"): 1, ("list_invoices", "ok"): 1,
                     ("list_invoices", "interrupted"): 1}


def test_retention_keeps_calls_the_warehouse_has_not_pulled(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _calls(ledger, {"cus_retention_pro": "pro"}, n=5)
        wh.pull_usage(tmp_path / "warehouse.duckdb", ledger=tmp_path / "ledger.sqlite3")
        _calls(ledger, {"cus_retention_free": "free"}, n=3, start=OLD + timedelta(days=1))
        result = apply_retention(policy=ONE_MONTH, ledger=ledger, warehouse=tmp_path / "warehouse.duckdb")
        left = [r[2] for r in ledger.usage_events()]
    assert result.ledger["usage_events_kept_unpulled"] == 3 and result.ledger["usage_events_rolled_up"] == 5
    assert left == ["cus_retention_free"] * 3


def test_old_webhook_payloads_are_purged_keeping_id_type_status_and_times(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        customer = shapes.customer("cus_retention_hook", created=OLD, email="hook@example.org", name="Hook")
        EventProcessor(ledger).process(shapes.event("evt_retention_1", type="customer.created", created=OLD, obj=customer))
        asyncio.run(_refuse_a_delivery(ledger, "bad_signature"))
        before = ledger_rows(ledger)["webhook_events"]
        result = apply_retention(policy=RetentionSettings(webhook_payload_days=90, rejected_delivery_days=30),
                                 ledger=ledger, warehouse=None, now=datetime.now(UTC) + timedelta(days=91))
        after = ledger_rows(ledger)
        with pytest.raises(BillingError, match="purged"):
            EventProcessor(ledger).replay(["evt_retention_1"])
    assert (result.ledger["webhook_payloads_purged"], result.ledger["rejection_reasons_deleted"]) == (1, 1)
    (row,) = after["webhook_events"]
    assert row[:3] + row[4:8] == before[0][:3] + before[0][4:8]  # id, type, created, livemode, times, status
    assert row[3] is None and row[12] == "" and row[13] is not None  # object id, payload gone; when
    assert "hook@example.org" not in repr(after["webhook_events"]) and after["webhook_rejections"] == []


@pytest.mark.parametrize("months", [0, -3])
def test_a_retention_period_below_one_is_refused_and_nothing_changes(demo: Demo, cli: Cli, privacy_env: Path,
                                                                     months: int) -> None:
    _settings(privacy_env, usage_events_months=months)
    files = hashes(demo.data)
    code, _, err = cli("retention", "apply")
    assert code == 1 and "[retention]: usage_events_months must be at least 1" in err
    assert hashes(demo.data) == files
