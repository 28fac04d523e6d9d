"""The month's alerts on the published index: a run on data that trips the rules lists every fired
rule's message in the index's alerts block (thresholds from the settings file when run from the
CLI); a run on quiet data says there is no alert and shows no block. One cheap report each
(``--only usage``): the alerts do not depend on which reports run."""

from __future__ import annotations

import html
import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from unifiedmcp import alerts, reports
from unifiedmcp.cli import main
from unifiedmcp.config import AlertSettings

NOV = datetime(2026, 11, 1, tzinfo=UTC)


def _alert_data() -> ModuleType:
    """tests/alerts/alert_data.py: the warehouses and ledgers the alert rules are tested on."""
    path = Path(__file__).resolve().parents[1] / "alerts" / "alert_data.py"
    spec = importlib.util.spec_from_file_location("_alert_data_for_reports", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


alert_data = _alert_data()
OCT = alert_data.OCT


def _tripping(d: Path) -> tuple[Path, Path]:
    """October: 7 of 10 payments succeeded, 1 of 10 subscribers lost to a failed payment, 5 calls
    rejected, nothing newer than Oct 20, 2 failed webhook events and none after Oct 5 01:00."""
    db = alert_data.build_warehouse(d / "w.duckdb", failed_charges=3, involuntary=1, rejected=5,
                                    newest=OCT + timedelta(days=19))
    led = alert_data.build_ledger(d / "ledger.sqlite3", received=[
        (OCT + timedelta(days=3), "applied"), (OCT + timedelta(days=4), "failed"),
        (OCT + timedelta(days=4, hours=1), "failed")])
    return db, Path(led)


def _alerts_block(page: str) -> list[str]:
    """The items of the index's alerts block (unescaped), or [] when it has none."""
    blocks = re.findall(r'<section class="alerts">(.*?)</section>', page, re.DOTALL)
    assert len(blocks) <= 1
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", blocks[0], re.DOTALL)] if blocks else []


def test_every_fired_alert_is_listed_on_the_index(tmp_path: Path) -> None:
    """run_reports on data that trips all six rules (quota rejections past a threshold of 4): the
    index's alerts block holds each rule's message, word for word, and nothing else; and no "No
    alert" line. The messages are worked by hand from the data (70 % success, 10 % involuntary
    churn, 5 rejections, data 288 h old, 2 failed events, 647 h of webhook silence)."""
    db, led = _tripping(tmp_path)
    run = reports.run_reports("2026-10", out_dir=tmp_path / "out", warehouse=db, ledger=led, reports=["usage"],
                              alert_settings=AlertSettings(max_quota_rejections=4))
    page = run.index.read_text(encoding="utf-8")
    listed = _alerts_block(page)
    assert {r.rule for r in run.alerts.fired} == set(alerts.RULES)
    assert listed == [r.message for r in run.alerts.fired]
    expected = [
        "payment success rate 70.0% (7 of 10 attempts) is below 90.0%",
        "2 webhook event(s) failed (threshold 0); replay them with `unifiedmcp webhooks replay --failed`",
        "no webhook received for 647 h as of 2026-11-01 00:00 UTC while 9 subscription(s) are live",
        "involuntary churn 10.0% (1 subscription(s) ended by failed payments) is above 5.0%",
        "5 calls rejected by a hard limit (threshold 4)",
        "the newest data is 288 h old as of 2026-11-01 00:00 UTC (threshold 48 h): sync or load the warehouse",
    ]
    for text in expected:
        assert any(item.startswith(text) for item in listed), text
    assert "No alert for this month" not in page


def test_quiet_data_shows_no_alert_block(tmp_path: Path) -> None:
    """The same shape of data with every rule under its default threshold (no failed payment, no
    involuntary churn, 2 rejections, data up to Oct 31 23:00, a webhook applied at 22:00): the
    index says there is no alert and has no alerts block."""
    db = alert_data.build_warehouse(tmp_path / "w.duckdb", failed_charges=0, involuntary=0, rejected=2,
                                    newest=NOV - timedelta(hours=1))
    led = alert_data.build_ledger(tmp_path / "ledger.sqlite3", received=[(NOV - timedelta(hours=2), "applied")])
    run = reports.run_reports("2026-10", out_dir=tmp_path / "out", warehouse=db, ledger=led, reports=["usage"])
    page = run.index.read_text(encoding="utf-8")
    assert run.alerts.fired == [] and {r.status for r in run.alerts.results} == {"ok"}
    assert _alerts_block(page) == [] and 'class="alerts"' not in page
    assert "No alert for this month" in page


def test_report_cli_takes_the_thresholds_from_the_settings_file(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`unifiedmcp report --only usage` with `[alerts] max_quota_rejections = 4` in the settings
    file: the 5 rejected calls are an alert on the index (the default threshold, 1,000, would keep
    it quiet), and stderr names each fired alert."""
    db, led = _tripping(isolated_env)
    (isolated_env / "unifiedmcp.toml").write_text("[alerts]\nmax_quota_rejections = 4\n")
    out = isolated_env / "reports"
    code = main(["report", "--month", "2026-10", "--only", "usage", "--warehouse", str(db), "--ledger", str(led),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    listed = _alerts_block((out / "2026-10" / "index.html").read_text(encoding="utf-8"))
    assert "5 calls rejected by a hard limit (threshold 4)" in listed and len(listed) == 6
    assert "alert: 5 calls rejected by a hard limit (threshold 4)" in err



def test_without_a_ledger_argument_the_configured_postgresql_ledger_is_read(
    tmp_path: Path, postgres_cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_reports(ledger=None) with UNIFIEDMCP_LEDGER a PostgreSQL URL: the webhook alerts read
    that ledger, as the ops notebook does with its empty ``ledger`` (they came out "skipped")."""
    db, _ = _tripping(tmp_path)
    url = alert_data.build_ledger(postgres_cluster.create_database(), received=[
        (OCT + timedelta(days=3), "applied"), (OCT + timedelta(days=4), "failed")])
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", url)
    run = reports.run_reports("2026-10", out_dir=tmp_path / "out", warehouse=db, reports=["usage"])
    verdicts = {r.rule: r.status for r in run.alerts.results}
    assert verdicts["failed_webhook_events"] == "fired" and verdicts["webhook_silence"] == "fired"
