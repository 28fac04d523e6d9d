"""What only the PostgreSQL backend has to prove: its URL's password stays secret, a database
that is missing or lost fails calls closed and they recover, pulls never skip a late commit, and
an event id retried on another replica at the same moment still counts once."""

from __future__ import annotations

import asyncio
import threading
import time

import psycopg
import pytest

from unifiedmcp import LedgerError, QuotaExceeded
from unifiedmcp._loopback import free_port
from unifiedmcp.ledger import Ledger
from unifiedmcp.ledger.testing import PostgresCluster


def test_the_url_is_shown_without_its_password(postgres_cluster: PostgresCluster, postgres_url: str) -> None:
    with psycopg.connect(postgres_cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE meter LOGIN PASSWORD 's3cret-pw' SUPERUSER")
    url = postgres_url.replace("postgres@", "meter:s3cret-pw@")
    with Ledger(url) as ledger:
        assert "s3cret-pw" not in repr(ledger) + ledger.location
        assert ledger.location.startswith("postgresql://meter:***@127.0.0.1:")


def test_an_unreachable_database_is_a_clear_error_at_once() -> None:
    url = f"postgresql://meter:s3cret-pw@127.0.0.1:{free_port()}/ledger"
    started = time.monotonic()
    with pytest.raises(LedgerError) as info:
        Ledger(url)
    message = str(info.value)
    assert message.startswith(f"cannot open ledger postgresql://meter:***@127.0.0.1:")
    assert "s3cret-pw" not in message and "refused" in message
    assert time.monotonic() - started < 10


def test_calls_fail_closed_while_the_database_is_down_and_recover_when_it_returns() -> None:
    """Stop the server mid-run: every call raises LedgerError (never admitted unrecorded), on the
    blocking and the asyncio path; start it again: calls go through, and the counts are exact."""
    with PostgresCluster.start() as cluster:
        url = cluster.create_database()
        with Ledger(url, connect_timeout=1) as ledger:
            ledger.upsert_customer("cus_free", tier="free")
            admitted = [ledger.check_and_record("cus_free", "t") for _ in range(10)]
            cluster.stop_server()
            with pytest.raises(LedgerError):
                ledger.check_and_record("cus_free", "t")

            async def during() -> list[object]:
                calls = [ledger.check_and_record_async("cus_free", "t") for _ in range(5)]
                return await asyncio.gather(*calls, return_exceptions=True)

            assert all(isinstance(o, LedgerError) for o in asyncio.run(during()))
            cluster.start_server()
            deadline = time.monotonic() + 30
            while True:  # the pool reconnects in the background
                try:
                    admitted.append(ledger.check_and_record("cus_free", "t"))
                    break
                except LedgerError:
                    assert time.monotonic() < deadline, "the ledger did not recover"
                    time.sleep(0.2)
            for _ in range(200):
                try:
                    admitted.append(ledger.check_and_record("cus_free", "t"))
                except QuotaExceeded:
                    pass
            usage = ledger.usage("cus_free")
            assert len(admitted) == usage.calls == 100
            assert [a.used for a in admitted] == list(range(1, 101))
            assert len(ledger.usage_events()) == 100 + usage.rejected


def test_a_pull_never_skips_a_row_that_commits_after_a_later_one(postgres_url: str) -> None:
    """Sequence values are taken at insert, seen at commit: while a transaction holding seq N is
    open, a pull must not return N+1 (a watermark past N would lose N forever)."""
    with Ledger(postgres_url) as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        slow = psycopg.connect(postgres_url)  # another replica, mid-transaction
        slow.execute(
            "INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status)"
            " VALUES ('slow', 'cus_pro', 't', '2026-10-01T00:00:00.000000Z', '2026-10', 'ok')"
        )
        ledger.check_and_record("cus_pro", "t", event_id="fast")  # a later seq, committed first
        pulled: list[list[tuple]] = []
        puller = threading.Thread(target=lambda: pulled.append(ledger.usage_events(after_seq=0)))
        puller.start()
        time.sleep(0.3)
        slow.commit()
        puller.join(timeout=30)
        slow.close()
    assert [r[1] for r in pulled[0]] == ["slow", "fast"]


def test_an_event_id_retried_on_another_replica_at_the_same_moment_counts_once(postgres_url: str) -> None:
    """The first attempt (customer A) is still uncommitted when the retry arrives elsewhere (as B):
    the retry waits, finds the id taken, decides again and answers with the first outcome."""
    with Ledger(postgres_url) as ledger:
        ledger.upsert_customer("cus_a", tier="pro")
        ledger.upsert_customer("cus_b", tier="pro")
        first = psycopg.connect(postgres_url)
        first.execute(
            "INSERT INTO usage_events (event_id, customer_id, tool_name, ts, month, status)"
            " VALUES ('twice', 'cus_a', 't', '2026-10-01T00:00:00.000000Z', '2026-10', 'ok')"
        )
        first.execute("INSERT INTO usage_counters (customer_id, month, calls) VALUES ('cus_a', '2026-10', 1)")
        outcome: list[object] = []
        retry = threading.Thread(target=lambda: outcome.append(ledger.check_and_record("cus_b", "t", event_id="twice")))
        retry.start()
        time.sleep(0.3)
        first.commit()
        retry.join(timeout=30)
        first.close()
        [again] = outcome
        assert again.duplicate and again.month == "2026-10" and again.used == 1
        assert ledger.usage("cus_b").calls == 0
        assert [r[1] for r in ledger.usage_events()] == ["twice"]


def test_the_cluster_helper_runs_a_private_server_as_a_non_root_user() -> None:
    with PostgresCluster.start() as cluster:
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        with open(f"/proc/{pid}/status") as status:
            uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
        directory = cluster.directory
    assert uid != 0
    assert not directory.exists()


def test_usage_export_and_warehouse_pull_read_a_postgres_ledger(
    postgres_url: str, cli, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """`ledger export-usage` and `warehouse pull-usage` take UNIFIEDMCP_LEDGER=postgresql://…; a
    second pull copies nothing twice."""
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", postgres_url)
    with Ledger(postgres_url) as ledger:
        ledger.upsert_customer("cus_pro", tier="pro")
        for i in range(5):
            ledger.check_and_record("cus_pro", "list_customers", event_id=f"e{i}")
    month = time.strftime("%Y-%m", time.gmtime())
    code, out, err = cli("ledger", "export-usage", "--month", month, "--format", "csv")
    assert code == 0, err
    assert out.count("cus_pro") == 5
    code, out, err = cli("warehouse", "pull-usage")
    assert code == 0, err
    assert "pulled 5 rows" in out and "loaded 5" in out
    code, out, _ = cli("warehouse", "pull-usage")
    assert "pulled 0 rows" in out
