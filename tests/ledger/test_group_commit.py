"""check_and_record_async: concurrent calls share transactions and get the outcomes of serial calls."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from unifiedmcp import LedgerError, QuotaExceeded, UnknownCustomer
from unifiedmcp.ledger import Ledger
from unifiedmcp.months import Month

OCT = datetime(2026, 10, 15, 12, tzinfo=UTC)
MONTH = Month.parse("2026-10")


@contextmanager
def other_writer(target: Path | str) -> Iterator[Callable[[], None]]:
    """Another process's writer holding the lock that metering needs (SQLite's write lock; on
    PostgreSQL, the counters table); yields the function that lets it commit."""
    if isinstance(target, Path):
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
    else:
        conn = psycopg.connect(target, autocommit=True)
        conn.execute("BEGIN")
        conn.execute("LOCK TABLE usage_counters IN EXCLUSIVE MODE")
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            conn.execute("COMMIT")

    try:
        yield release
    finally:
        release()
        conn.close()


def _count_transactions(ledger: Ledger) -> list[int]:
    """Spy on the ledger's batch writer: the size of every transaction it commits."""
    sizes: list[int] = []
    write = ledger._write_batch

    def counting(requests: list) -> list:
        sizes.append(len(requests))
        return write(requests)

    ledger._group._flush = counting
    return sizes


async def _outcome(coro) -> object:
    try:
        return await coro
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        return exc


def test_concurrent_calls_share_transactions_and_the_hard_limit_stays_exact(ledger: Ledger) -> None:
    """250 concurrent free-tier calls: exactly 100 admitted, 150 refused and recorded, in far
    fewer than 250 transactions; `used` runs 1..100 without gaps or repeats."""
    sizes = _count_transactions(ledger)

    async def main() -> list[object]:
        calls = [ledger.check_and_record_async("cus_free", "t", event_id=f"c{i}", at=OCT) for i in range(250)]
        return await asyncio.gather(*(_outcome(c) for c in calls))

    outcomes = asyncio.run(main())
    admitted = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert (len(admitted), len(refused)) == (100, 150)
    assert sorted(a.used for a in admitted) == list(range(1, 101))
    assert all(e.used == 100 and e.limit == 100 for e in refused)
    usage = ledger.usage("cus_free", month=MONTH)
    assert (usage.calls, usage.rejected) == (100, 150)
    assert sum(sizes) == 250 and len(sizes) < 250 and max(sizes) > 1


def test_a_batch_gives_each_call_its_own_outcome(ledger: Ledger) -> None:
    """One batch mixing a retried id, an unknown customer, a deleted one and a completion: each
    caller gets what a serial call would have got, and nothing is counted twice."""
    ledger.upsert_customer("cus_gone", tier="pro")
    ledger.upsert_customer("cus_gone", status="deleted")
    first = ledger.check_and_record("cus_pro", "t", event_id="done-before", at=OCT)
    sizes = _count_transactions(ledger)

    async def main() -> list[object]:
        return await asyncio.gather(
            _outcome(ledger.check_and_record_async("cus_pro", "t", event_id="same", at=OCT)),
            _outcome(ledger.check_and_record_async("cus_pro", "t", event_id="same", at=OCT)),
            _outcome(ledger.check_and_record_async("cus_pro", "t", event_id="done-before", at=OCT)),
            _outcome(ledger.check_and_record_async("cus_nobody", "t", at=OCT)),
            _outcome(ledger.check_and_record_async("cus_gone", "t", at=OCT)),
            _outcome(ledger.complete_async(first.event_id, status="error", latency_ms=12.5)),
        )

    same, same_again, before, nobody, gone, completed = asyncio.run(main())
    assert sizes == [6]  # all six were queued before the flusher ran: one transaction
    assert (same.duplicate, same_again.duplicate, before.duplicate) == (False, True, True)
    assert same.used == same_again.used == before.used == 2
    assert isinstance(nobody, UnknownCustomer) and isinstance(gone, UnknownCustomer)
    assert completed is None
    assert ledger.usage("cus_pro", month=MONTH).calls == 2
    rows = {r[1]: r for r in ledger.usage_events()}
    assert set(rows) == {"done-before", "same"}
    assert (rows["done-before"][5], rows["done-before"][7]) == ("error", 12.5)


def test_a_failed_transaction_fails_every_call_in_it_and_the_next_batch_works(ledger_target: Path | str) -> None:
    """If the batch cannot commit, each caller gets its own LedgerError and nothing is recorded;
    once the ledger is writable again, the next calls go through."""
    with Ledger(ledger_target, timeout=0.05) as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        with other_writer(ledger_target):

            async def blocked() -> list[object]:
                calls = [ledger.check_and_record_async("cus_pro", "t", at=OCT) for _ in range(5)]
                return await asyncio.gather(*(_outcome(c) for c in calls))

            outcomes = asyncio.run(blocked())
        assert all(isinstance(o, LedgerError) and "cannot write ledger" in str(o) for o in outcomes)
        assert len({id(o) for o in outcomes}) == 5  # a fresh exception per caller
        assert ledger.usage("cus_pro", month=MONTH).calls == 0

        async def retry() -> object:
            return await ledger.check_and_record_async("cus_pro", "t", at=OCT)

        assert asyncio.run(retry()).used == 1


def test_a_cancelled_caller_still_has_its_call_recorded(ledger: Ledger) -> None:
    """Cancelling the waiting task does not tear a request out of a batch being written."""

    async def main() -> None:
        task = asyncio.create_task(ledger.check_and_record_async("cus_pro", "t", event_id="left", at=OCT))
        await asyncio.sleep(0)  # queued, its flush scheduled but not yet run
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The next request waits for the flush in flight, so the cancelled one is committed by now.
        await ledger.check_and_record_async("cus_pro", "t", event_id="next", at=OCT)

    asyncio.run(main())
    assert {r[1] for r in ledger.usage_events()} == {"left", "next"}
    assert ledger.usage("cus_pro", month=MONTH).calls == 2


def test_async_callers_and_threads_share_one_exact_counter(ledger: Ledger) -> None:
    """Event-loop callers and plain threads metering the same free customer still stop at 100."""
    results: list[object] = []

    def thread_calls() -> None:
        for _ in range(60):
            try:
                results.append(ledger.check_and_record("cus_free", "t", at=OCT))
            except QuotaExceeded as exc:
                results.append(exc)

    async def loop_calls() -> list[object]:
        return await asyncio.gather(
            *(_outcome(ledger.check_and_record_async("cus_free", "t", at=OCT)) for _ in range(60))
        )

    threads = [threading.Thread(target=thread_calls) for _ in range(2)]
    for t in threads:
        t.start()
    results += asyncio.run(loop_calls())
    for t in threads:
        t.join()
    assert len(results) == 180
    assert sum(not isinstance(r, Exception) for r in results) == 100
    assert ledger.usage("cus_free", month=MONTH).rejected == 80


def test_a_lone_call_waits_for_another_writer_without_blocking_the_event_loop(ledger_target: Path | str) -> None:
    """A lone call is written on the event loop only if that needs no waiting (never on
    PostgreSQL): while another process holds the write lock, it waits in a worker thread and the
    loop keeps running."""
    with Ledger(ledger_target) as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        with other_writer(ledger_target) as release:  # held for ~0.3 s
            timer = threading.Timer(0.3, release)

            async def main() -> tuple[object, int]:
                ticks = 0

                async def tick() -> None:
                    nonlocal ticks
                    while True:
                        await asyncio.sleep(0.01)
                        ticks += 1

                ticker = asyncio.create_task(tick())
                timer.start()
                admission = await ledger.check_and_record_async("cus_pro", "t", at=OCT)
                ticker.cancel()
                return admission, ticks

            try:
                admission, ticks = asyncio.run(main())
            finally:
                timer.join()
        assert admission.used == 1
        assert ticks >= 10  # the loop ran all along the ~0.3 s wait
