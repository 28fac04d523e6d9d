"""Issue 17's acceptance: a demo customer with a distinctive e-mail and name, named in a published
report, is erased with ``unifiedmcp privacy erase``; no file under the data directory or the
reports folder keeps a byte of it, and every month's metrics are what they were."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from privacy_data import EMAIL, NAME, PSEUDONYM_KEY, Demo, byte_search, hashes, renamed, run_cli

from unifiedmcp.privacy import Pseudonyms


@dataclass(frozen=True)
class Erased:
    demo: Demo
    root: Path
    pseudonym: str
    before: dict[str, dict]
    after: dict[str, dict]
    reported: dict[str, list[str]]  # what the published report named before the erasure
    erase_output: str


@pytest.fixture(scope="module")
def erased(demo_template: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Erased]:
    """Publish the customers report of the last month, erase the customer, measure before and after."""
    root = tmp_path_factory.mktemp("erase-demo")
    demo = demo_template.copy_to(root / "data")
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith(("STRIPE_", "UNIFIEDMCP_"))]:
            mp.delenv(name)
        mp.chdir(root)
        mp.setenv("UNIFIEDMCP_DATA_DIR", str(root / "data"))
        mp.setenv("UNIFIEDMCP_PSEUDONYM_KEY", PSEUDONYM_KEY)
        code, _ = run_cli("report", "--month", demo.months[-1], "--only", "customers", "--out", "reports")
        assert code == 0
        reported = byte_search([root / "reports"], demo.traces())
        before = {m: json.loads(run_cli("metrics", "--month", m, "--json")[1]) for m in demo.months}
        code, output = run_cli("privacy", "erase", "--customer", demo.customer)
        assert code == 0, output
        after = {m: json.loads(run_cli("metrics", "--month", m, "--json")[1]) for m in demo.months}
        yield Erased(demo, root, Pseudonyms(PSEUDONYM_KEY).of(demo.customer), before, after, reported, output)


def test_the_published_report_named_the_customer_before_the_erasure(erased: Erased) -> None:
    assert {EMAIL, NAME, erased.demo.customer} <= set(erased.reported)


def test_after_erasure_no_file_under_data_or_reports_holds_the_email_the_name_or_the_id(erased: Erased) -> None:
    """The byte search of the issue: the distinctive e-mail and name, the ones the customer signed
    up with, and its id, in UTF-8 or escaped in JSON, in any file (ledger, WAL, warehouse, usage
    log, pages, executed notebooks)."""
    assert byte_search([erased.root / "data", erased.root / "reports"], erased.demo.traces()) == {}
    assert (erased.root / "reports" / erased.demo.months[-1] / "customers.html").exists()  # re-rendered, not deleted


def test_compressed_stores_hold_no_row_of_the_customer_either(erased: Erased) -> None:
    """DuckDB and Parquet may compress strings past a byte search: asked by query instead."""
    demo = erased.demo
    con = duckdb.connect(str(demo.warehouse), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            text = con.execute(f"SELECT CAST(list({table}) AS VARCHAR) FROM {table}").fetchone()[0] or ""
            assert not any(t in text for t in demo.traces()), table
        log = con.execute("SELECT count(*) FILTER (WHERE customer_id = ?), count(*) FILTER (WHERE customer_id = ?)"
                          " FROM read_parquet(?)", [demo.customer, erased.pseudonym, str(demo.usage_log)]).fetchone()
    finally:
        con.close()
    assert log[0] == 0 and log[1] > 0  # the calls are kept, under the pseudonym


def test_every_months_metrics_are_unchanged_but_for_the_customers_new_name(erased: Erased) -> None:
    for month in erased.demo.months:
        assert erased.after[month] == renamed(erased.before[month], erased.demo.customer, erased.pseudonym), month
    con = duckdb.connect(str(erased.demo.warehouse), read_only=True)
    try:  # the customer paid the most: its revenue is counted still, under the pseudonym
        paid = con.execute("SELECT sum(mrr_x100) FROM revenue_lines WHERE customer = ?", [erased.pseudonym]).fetchone()[0]
    finally:
        con.close()
    assert paid > 0


def test_the_erasure_log_records_steps_and_counts_without_personal_data(erased: Erased) -> None:
    con = sqlite3.connect(erased.demo.ledger)
    try:
        rows = con.execute("SELECT subject, status, finished_at, steps, pending FROM erasure_log").fetchall()
    finally:
        con.close()
    assert len(rows) == 1
    subject, status, finished_at, steps, pending = rows[0]
    assert (subject, status, pending) == (erased.pseudonym, "done", None) and finished_at
    assert set(json.loads(steps)) == {"ledger", "warehouse", "sandbox", "files", "reports"}
    assert not any(t in steps for t in erased.demo.traces())
    assert erased.demo.customer not in erased.erase_output and EMAIL not in erased.erase_output


def test_erasing_again_changes_no_file_and_says_already_erased(erased: Erased, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(erased.root)
    monkeypatch.setenv("UNIFIEDMCP_DATA_DIR", str(erased.root / "data"))
    monkeypatch.setenv("UNIFIEDMCP_PSEUDONYM_KEY", PSEUDONYM_KEY)
    before = hashes(erased.root / "data", erased.root / "reports")
    code, output = run_cli("privacy", "erase", "--customer", erased.demo.customer, "--json")
    assert code == 0
    assert json.loads(output)["outcome"] == "already_erased"
    assert hashes(erased.root / "data", erased.root / "reports") == before


def test_report_month_folders_are_readable_by_their_owner_only(erased: Erased) -> None:
    assert (erased.root / "reports" / erased.demo.months[-1]).stat().st_mode & 0o777 == 0o700
