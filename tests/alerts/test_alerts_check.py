"""``unifiedmcp alerts check``: every rule fires on data made to trip it and stays quiet under its
threshold; exit 1 when any fires; --json; a silent webhook receiver is itself an alert."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from unifiedmcp import alerts
from unifiedmcp.config import AlertSettings

from alert_data import OCT, build_ledger, build_warehouse

NOV = datetime(2026, 11, 1, tzinfo=UTC)
STRICT = "[alerts]\nmax_quota_rejections = 4\n"


@pytest.fixture
def configured(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Point the CLI at a warehouse, a ledger and a settings file built for the test."""

    def _configure(*, failed_charges: int = 3, involuntary: int = 1, rejected: int = 5,
                   newest: datetime = OCT + timedelta(days=19), received: list | None = None,
                   toml: str = STRICT) -> Path:
        db = build_warehouse(isolated_env / "w.duckdb", failed_charges=failed_charges, involuntary=involuntary,
                             rejected=rejected, newest=newest)
        led = build_ledger(isolated_env / "ledger.sqlite3", received=received if received is not None else
                           [(OCT + timedelta(days=3), "applied"), (OCT + timedelta(days=4), "failed"),
                            (OCT + timedelta(days=4, hours=1), "failed")])
        (isolated_env / "unifiedmcp.toml").write_text(toml)
        monkeypatch.setenv("UNIFIEDMCP_WAREHOUSE", str(db))
        monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(led))
        return isolated_env

    return _configure


def _verdicts(cli, *args: str) -> tuple[int, dict[str, dict]]:
    code, out, _ = cli("alerts", "check", "--month", "2026-10", "--json", *args)
    report = json.loads(out)
    return code, {r["rule"]: r for r in report["rules"]}


def test_every_rule_fires_on_data_made_to_trip_it(cli, configured) -> None:
    """October: 7 of 10 payments succeeded (70 % < 90 %), 1 of 10 subscribers lost to a failed
    payment (10 % > 5 %), 5 rejected calls (> 4), newest data Oct 20 (288 h before Nov 1 > 48 h),
    2 failed webhook events (> 0), last webhook Oct 5 01:00 while 9 subscriptions are live (> 24 h)."""
    configured()
    code, rules = _verdicts(cli)
    assert code == 1
    assert {name: r["status"] for name, r in rules.items()} == {name: "fired" for name in alerts.RULES}
    assert rules["payment_success_rate"]["value"] == pytest.approx(0.7)
    assert rules["involuntary_churn_rate"]["value"] == pytest.approx(0.1)
    assert (rules["quota_rejections"]["value"], rules["failed_webhook_events"]["value"]) == (5, 2)
    assert rules["data_age"]["value"] == 288.0
    assert rules["webhook_silence"]["value"] == 647.0  # Oct 5 01:00 -> Nov 1 00:00
    assert "while 9 subscription(s) are live" in rules["webhook_silence"]["message"]


def test_nothing_fires_under_the_thresholds_and_the_exit_code_is_0(cli, configured) -> None:
    configured(failed_charges=0, involuntary=0, rejected=2, newest=NOV - timedelta(hours=1),
               received=[(NOV - timedelta(hours=2), "applied")])
    code, rules = _verdicts(cli)
    assert code == 0
    assert {r["status"] for r in rules.values()} == {"ok"}


def test_thresholds_come_from_the_settings_file(cli, configured) -> None:
    """The same data under looser [alerts] thresholds: nothing fires."""
    configured(toml="[alerts]\nmin_payment_success_rate = 0.5\nmax_involuntary_churn_rate = 0.2\n"
                    "max_quota_rejections = 10\nmax_data_age_hours = 400\nmax_failed_webhook_events = 2\n"
                    "max_hours_without_webhook = 700\n")
    code, rules = _verdicts(cli)
    assert code == 0 and {r["status"] for r in rules.values()} == {"ok"}


def test_a_receiver_that_never_got_a_webhook_is_an_alert(cli, configured) -> None:
    """A ledger with an empty event log while subscriptions are live: webhook_silence fires (the
    old ops check stayed quiet when nothing had ever arrived)."""
    configured(received=[])
    _, rules = _verdicts(cli)
    assert rules["webhook_silence"]["status"] == "fired"
    assert rules["webhook_silence"]["message"].startswith("no webhook ever received")
    assert rules["failed_webhook_events"]["status"] == "ok"


def test_a_postgresql_ledger_is_read_like_a_sqlite_one(cli, configured, monkeypatch, postgres_cluster) -> None:
    """With UNIFIEDMCP_LEDGER=postgresql://..., the webhook rules read the event log there (they
    were skipped, exit 0, before): failures fire, an empty log is silence; an unreachable
    PostgreSQL ledger is an error, never "skipped"."""
    configured(failed_charges=0, involuntary=0, rejected=0)
    url = build_ledger(postgres_cluster.create_database(), received=[
        (OCT + timedelta(days=3), "applied"), (OCT + timedelta(days=4), "failed"), (OCT + timedelta(days=5), "failed")])
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", url)
    code, rules = _verdicts(cli)
    assert code == 1 and rules["failed_webhook_events"]["status"] == "fired"
    assert rules["failed_webhook_events"]["value"] == 2
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", build_ledger(postgres_cluster.create_database(), received=[]))
    _, rules = _verdicts(cli)
    assert rules["webhook_silence"]["status"] == "fired"
    assert rules["webhook_silence"]["message"].startswith("no webhook ever received")
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", "postgresql://nobody:hunter2secret@127.0.0.1:1/ledger")
    code, out, err = cli("alerts", "check", "--month", "2026-10", "--json")
    assert code != 0 and "cannot read the ledger's webhook log" in err and "hunter2secret" not in out + err


def test_the_postgresql_ledger_is_read_in_a_read_only_session(postgres_cluster) -> None:
    """The alerts' reader cannot write to the live ledger (a read-only session), and a database
    without the billing tables reads as "no webhook data", not an error."""
    import psycopg

    from unifiedmcp.alerts._ledger import _reader

    url = build_ledger(postgres_cluster.create_database(), received=[(OCT, "applied")])
    with _reader(url) as db, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        db.rows("INSERT INTO webhook_rejections (reason, count, last_at) VALUES ('x', 1, 'now')")
    assert alerts.webhook_health(postgres_cluster.create_database(), "2026-10").available is False


def test_without_a_ledger_webhook_rules_are_skipped_not_fired(cli, configured, monkeypatch) -> None:
    root = configured(failed_charges=0, involuntary=0, rejected=0, newest=NOV - timedelta(hours=1))
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(root / "none.sqlite3"))
    code, rules = _verdicts(cli)
    assert code == 0
    assert rules["webhook_silence"]["status"] == rules["failed_webhook_events"]["status"] == "skipped"


def test_since_judges_the_last_hours(configured) -> None:
    """--since 24h as of Oct 6 12:00: only the payments since Oct 5 12:00 count (none), and the
    last webhook (Oct 5 01:00) is 35 h old."""
    root = configured()
    window = alerts.Window.since("24h", now=datetime(2026, 10, 6, 12, tzinfo=UTC))
    report = alerts.check_alerts(warehouse=root / "w.duckdb", ledger=root / "ledger.sqlite3", window=window,
                                 settings=AlertSettings())
    verdicts = {r.rule: r for r in report.results}
    assert verdicts["payment_success_rate"].value is None and verdicts["payment_success_rate"].status == "ok"
    assert verdicts["webhook_silence"].value == 35.0 and verdicts["webhook_silence"].status == "fired"
    assert window.label == "last 24h"


def test_table_output_and_argument_errors(cli, configured) -> None:
    configured()
    code, out, _ = cli("alerts", "check", "--month", "2026-10")
    assert code == 1 and "payment_success_rate" in out and "fired" in out
    assert cli("alerts", "check", "--month", "2026-10", "--since", "24h")[0] == 2
    code, _, err = cli("alerts", "check", "--since", "yesterday")
    assert code == 1 and "invalid duration 'yesterday'" in err
