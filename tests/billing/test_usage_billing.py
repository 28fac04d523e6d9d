"""Usage billing end to end, with real servers: calls metered in the ledger, pushed to the
sandbox's Billing Meters, invoiced in arrears at the renewal on a test clock, and reconciled.

- pro: 10,500 calls -> the renewal's metered line bills 10,500 calls for 100 cents (500 past the
  10,000 included, at 0.2 cents); enterprise: 100,500 calls -> 50 cents (500 at 0.1 cents);
- pushing again changes nothing, and ``reconcile`` finds no difference in either month;
- a tier change mid-period bills each part at its own tier;
- chaos (429/500 on a share of meter events) and a SIGKILLed pusher still give exact invoices;
- events outside Stripe's timestamp window fail visibly (too old) or wait (ahead of its clock);
- a customer deleted in Stripe, or the meter deactivated, gives failed events that reconcile shows
  (exit 1), nothing lost; `push-usage --retry-failed` sends them once the cause is fixed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
import stripe

from unifiedmcp.billing import UsagePusher, change_tier, ensure_catalog, reconcile, subscribe
from unifiedmcp.ledger import Ledger
from unifiedmcp.months import Month

START = int(datetime(2026, 10, 5, 9, 0, tzinfo=UTC).timestamp())
HOUR, DAY = 3600, 86400


@dataclass
class World:
    sb: Any
    client: stripe.StripeClient
    ledger: Ledger
    ledger_path: Path

    def customer(self, tier: str) -> tuple[str, str, Any]:
        """A customer on a new test clock at START, subscribed to ``tier`` (flat + metered items)."""
        clock = self.client.v1.test_helpers.test_clocks.create({"frozen_time": START})
        email = f"{tier}-{uuid.uuid4().hex[:8]}@example.com"
        cus = self.client.v1.customers.create({
            "email": email, "test_clock": clock.id, "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        })
        sub = subscribe(self.client, email, tier, payment_method="pm_card_visa")
        self.ledger.upsert_customer(cus.id, tier=tier)  # what the webhook receiver would do
        return cus.id, clock.id, sub

    def meter(self, customer: str, n: int, *, start: int, per_second: int = 10) -> None:
        """``n`` successful calls through the ledger's metering, ``per_second`` in each second."""

        async def run() -> None:
            async def one(i: int) -> None:
                at = datetime.fromtimestamp(start + i // per_second, UTC)
                event = f"{customer}-{start}-{i}"
                await self.ledger.check_and_record_async(customer, "list_customers", event_id=event, at=at)
                await self.ledger.complete_async(event, status="ok", latency_ms=1.0)

            for chunk in range(0, n, 256):  # 256 concurrent callers share transactions
                async with anyio.create_task_group() as tg:
                    for i in range(chunk, min(n, chunk + 256)):
                        tg.start_soon(one, i)

        anyio.run(run)

    def advance(self, clock: str, to: int) -> None:
        self.client.v1.test_helpers.test_clocks.advance(clock, {"frozen_time": to})

    def metered_lines(self, customer: str) -> list[dict[str, Any]]:
        out = []
        for inv in self.client.v1.invoices.list({"customer": customer, "limit": 100}).auto_paging_iter():
            for line in inv.to_dict()["lines"]["data"]:
                price = ((line.get("pricing") or {}).get("price_details") or {}).get("price")
                if price and "overage" in (self.client.v1.prices.retrieve(price).lookup_key or ""):
                    out.append(line | {"invoice_status": inv.status})
        return out


@pytest.fixture
def world(fresh_sandbox: Any, tmp_path: Path) -> Iterator[World]:
    client = fresh_sandbox.client()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ensure_catalog(client, ledger=ledger)
        yield World(fresh_sandbox, client, ledger, tmp_path / "ledger.sqlite3")


def _renewal_end(sub: Any) -> int:
    return int(sub.current_period_end)


@pytest.mark.parametrize(("tier", "calls", "amount"), [("pro", 10_500, 100), ("enterprise", 100_500, 50)])
def test_overage_is_invoiced_at_the_renewal_and_reconciles(world: World, tier: str, calls: int, amount: int) -> None:
    cus, clock, sub = world.customer(tier)
    world.meter(cus, calls, start=START + 60, per_second=10 if tier == "pro" else 100)
    world.advance(clock, START + 2 * HOUR)  # the calls are in the past (Stripe refuses future events)
    pushed = UsagePusher(world.ledger, world.client).run_once()
    assert (pushed.calls_sent, pushed.failed, pushed.pending) == (calls, 0, 0)
    world.advance(clock, _renewal_end(sub) + 2 * HOUR)  # past the period's end and the 1 h finalization grace
    [line] = world.metered_lines(cus)
    assert (line["quantity"], line["amount"], line["invoice_status"]) == (calls, amount, "paid")
    assert line["period"]["end"] == _renewal_end(sub)
    again = UsagePusher(world.ledger, world.client).run_once()
    assert (again.staged_rows, again.sent) == (0, 0)  # nothing new to report
    for month in (Month.parse("2026-10"), Month.parse("2026-11")):
        report = reconcile(world.ledger, world.client, month)
        assert report.ok, report.to_dict()
    [oct_c] = reconcile(world.ledger, world.client, Month.parse("2026-10")).customers
    assert (oct_c.ledger_calls, oct_c.sent_calls, oct_c.stripe_calls) == (calls, calls, calls)
    [nov_c] = reconcile(world.ledger, world.client, Month.parse("2026-11")).customers
    assert (nov_c.invoiced_amount, nov_c.expected_invoiced_amount) == (amount, amount)


def test_a_call_just_before_the_period_ends_is_billed_in_that_period(world: World) -> None:
    cus, clock, sub = world.customer("pro")
    end = _renewal_end(sub)
    world.advance(clock, end - 120)
    world.meter(cus, 10_001, start=end - 1001, per_second=10)  # the last one at end - 1 s
    assert UsagePusher(world.ledger, world.client).run_once().calls_sent == 10_001
    world.advance(clock, end + 2 * HOUR)
    [line] = world.metered_lines(cus)
    assert (line["quantity"], line["amount"]) == (10_001, 0)  # 1 call past: 0.2 cents rounds to 0


def test_a_tier_change_mid_period_bills_each_part_at_its_own_tier(world: World) -> None:
    cus, clock, sub = world.customer("pro")
    world.meter(cus, 10_200, start=START + 60)
    middle = START + 14 * DAY
    world.advance(clock, middle)
    UsagePusher(world.ledger, world.client).run_once()  # report usage before prices change
    change_tier(world.client, cus, "enterprise")
    world.ledger.set_tier(cus, "enterprise")
    world.meter(cus, 500, start=middle + 60)
    world.advance(clock, middle + HOUR)
    UsagePusher(world.ledger, world.client).run_once()
    world.advance(clock, _renewal_end(sub) + 2 * HOUR)
    lines = sorted(world.metered_lines(cus), key=lambda x: x["period"]["start"])
    assert [(x["quantity"], x["amount"]) for x in lines] == [(10_200, 40), (500, 0)]  # 200 over pro; enterprise
    assert reconcile(world.ledger, world.client, Month.parse("2026-11")).ok


def test_chaos_and_a_killed_pusher_still_give_exact_invoices(world: World, tmp_path: Path) -> None:
    """A share of meter events answered 429/500 (some after recording: lost responses), and the
    pusher process SIGKILLed while sending: the rerun sends the rest, Stripe counts each call once."""
    cus, clock, sub = world.customer("pro")
    calls = 12_000
    world.meter(cus, calls, start=START + 60, per_second=4)  # 3,000 events
    world.advance(clock, START + 2 * HOUR)
    world.sb.settings(chaos_meter_event_failure_rate=0.2, chaos_seed=7)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    env |= world.sb.env() | {"UNIFIEDMCP_LEDGER": str(world.ledger_path), "UNIFIEDMCP_DATA_DIR": str(tmp_path)}
    pusher = subprocess.Popen([sys.executable, "-m", "unifiedmcp", "billing", "push-usage", "--interval", "0.2"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not world.ledger.meter_events(status="sent")[200:]:  # some sent, most not yet
            assert pusher.poll() is None and time.monotonic() < deadline, pusher.stderr.read() if pusher.stderr else ""
            time.sleep(0.02)
        pusher.send_signal(signal.SIGKILL)
        pusher.wait(10)
    finally:
        if pusher.poll() is None:
            pusher.kill()
    assert world.ledger.meter_backlog(event_name="mcp_api_call")[0] > 0  # killed mid-way
    for _ in range(20):  # reruns until Stripe took everything (failures are retryable)
        if UsagePusher(world.ledger, world.client, backoff=0.01).run_once().pending == 0:
            break
    world.sb.settings(chaos_meter_event_failure_rate=0.0)
    world.advance(clock, _renewal_end(sub) + 2 * HOUR)
    [line] = world.metered_lines(cus)
    assert (line["quantity"], line["amount"]) == (calls, 400)  # 2,000 past 10,000 at 0.2 cents
    assert reconcile(world.ledger, world.client, Month.parse("2026-10")).ok


def test_a_customer_deleted_in_stripe_gives_recorded_failures_that_reconcile_shows(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cus, clock, _ = world.customer("pro")
    world.meter(cus, 30, start=START + 60)
    world.advance(clock, START + HOUR)
    world.client.v1.customers.delete(cus)
    result = UsagePusher(world.ledger, world.client).run_once()
    assert (result.sent, result.failed, result.pending) == (0, 3, 0)
    assert all("meter_event_customer_not_found" in e for e in result.errors)
    failed = world.ledger.meter_events(status="failed")
    assert sum(r.value for r in failed) == 30 and all(r.error for r in failed)  # kept, with Stripe's answer
    for name, value in world.sb.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(world.ledger_path))
    code, out, _ = cli("billing", "reconcile", "--month", "2026-10", "--json")
    assert code == 1  # an unexplained difference
    [c] = json.loads(out)["customers"]
    assert c["failed_calls"] == 30 and any("refused" in u for u in c["unexplained"])
    code, _, err = cli("billing", "push-usage", "--once")
    assert code == 0 and "sent 0 event(s)" in err  # failed events are not sent again


def test_free_tier_calls_are_never_reported(world: World) -> None:
    cus = world.client.v1.customers.create({"email": "free@example.com"}).id
    world.ledger.upsert_customer(cus, tier="free")
    world.meter(cus, 50, start=int(time.time()) - 600)
    result = UsagePusher(world.ledger, world.client, grace_seconds=0).run_once()
    assert (result.staged_rows, result.staged_events, result.sent) == (50, 0, 0)


def test_an_unknown_meter_fails_visibly_and_a_retry_after_the_fix_bills_everything(
    world: World, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The meter deactivated in Stripe: events are refused (no_meter), kept as failed and shown by
    reconcile (exit 1); once it is reactivated, ``push-usage --retry-failed`` sends them, exactly."""
    cus, clock, _ = world.customer("pro")
    world.meter(cus, 40, start=START + 60)
    world.advance(clock, START + HOUR)
    [meter] = world.client.v1.billing.meters.list().data
    world.client.v1.billing.meters.deactivate(meter.id)
    result = UsagePusher(world.ledger, world.client).run_once()
    assert (result.sent, result.failed) == (0, 4)
    assert all("no_meter" in e for e in result.errors)
    for name, value in world.sb.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(world.ledger_path))
    code, out, _ = cli("billing", "reconcile", "--month", "2026-10", "--json")
    assert code == 1 and json.loads(out)["customers"][0]["failed_calls"] == 40
    world.client.v1.billing.meters.reactivate(meter.id)
    code, _, err = cli("billing", "push-usage", "--once", "--retry-failed")
    assert code == 0 and "4 failed event(s) made pending again" in err and "sent 4 event(s) (40 call(s))" in err
    code, out, _ = cli("billing", "reconcile", "--month", "2026-10", "--json")
    [c] = json.loads(out)["customers"]
    assert code == 0 and (c["failed_calls"], c["stripe_calls"]) == (0, 40)


def test_events_outside_stripes_timestamp_window_are_visible_never_dropped(world: World) -> None:
    """Calls pushed 40 days late are refused (timestamp_too_far_in_past) and recorded as failed
    with Stripe's message; calls dated 10 minutes ahead of Stripe's clock stay pending and go out
    once that clock catches up (a fast clock here is cured by time)."""
    cus, clock, _ = world.customer("pro")
    world.meter(cus, 20, start=START + 60)  # recorded now, pushed only after 40 days
    world.advance(clock, START + 40 * DAY)
    world.meter(cus, 10, start=START + 40 * DAY + 600)  # 10 minutes ahead of the clock
    pusher = UsagePusher(world.ledger, world.client, grace_seconds=0)
    result = pusher.run_once()
    assert (result.sent, result.failed, result.pending) == (0, 2, 1)
    assert all("timestamp_too_far_in_past" in e for e in result.errors)
    failed = world.ledger.meter_events(status="failed")
    assert sum(r.value for r in failed) == 20 and all("35 days" in (r.error or "") for r in failed)
    world.advance(clock, START + 40 * DAY + 900)
    result = pusher.run_once()
    assert (result.sent, result.calls_sent, result.pending) == (1, 10, 0)
