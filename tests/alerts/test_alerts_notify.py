"""--notify: fired alerts reach a real HTTP receiver on 127.0.0.1 as Slack-compatible JSON; a
receiver that fails is retried; errors name the host, never the URL's secret path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from unifiedmcp import alerts
from unifiedmcp._loopback import free_port
from unifiedmcp.config import AlertSettings

from alert_data import OCT, build_ledger, build_warehouse

if TYPE_CHECKING:
    from conftest import Receiver


def _report(tmp_path: Path) -> alerts.AlertReport:
    db = build_warehouse(tmp_path / "w.duckdb", failed_charges=3, involuntary=0, rejected=0, newest=OCT)
    return alerts.check_alerts(warehouse=db, ledger=None, window=alerts.Window.month("2026-10"),
                               settings=AlertSettings())


def test_fired_alerts_are_posted_as_slack_text_with_structured_fields(tmp_path: Path, receiver: Receiver) -> None:
    report = _report(tmp_path)
    assert alerts.notify(receiver.url, report) == 1
    [body] = receiver.received
    assert body["text"].startswith("UnifiedMCP alerts, 2026-10: 2 fired\n• payment success rate 70.0%")
    assert body["source"] == "unifiedmcp" and body["window"]["label"] == "2026-10"
    assert [a["rule"] for a in body["alerts"]] == ["payment_success_rate", "data_age"]
    assert body["fired"] == 2 and len(body["rules"]) == len(alerts.RULES)


def test_a_failing_receiver_is_retried_until_it_answers(tmp_path: Path, receiver: Receiver) -> None:
    """503, then 429, then 200: three attempts, each retry announced with host, cause and wait."""
    receiver.plan = [503, 429]
    lines: list[str] = []
    attempts = alerts.notify(receiver.url, _report(tmp_path), retries=3, backoff=0.01, on_retry=lines.append)
    assert attempts == 3 and len(receiver.received) == 3
    host = receiver.url.split("/hooks")[0]
    assert lines == [f"notify {host}: HTTP 503; retrying in 0.01 s (1 of 4 attempts made)",
                     f"notify {host}: HTTP 429; retrying in 0.02 s (2 of 4 attempts made)"]


def test_retries_run_out_and_the_error_names_the_host_not_the_secret_path(tmp_path: Path, receiver: Receiver) -> None:
    receiver.plan = [500, 500, 500]
    with pytest.raises(alerts.NotifyFailed) as info:
        alerts.notify(receiver.url, _report(tmp_path), retries=2, backoff=0.01)
    err = info.value
    assert (err.attempts, err.cause) == (3, "HTTP 500") and len(receiver.received) == 3
    assert "secretpath" not in str(err) and err.host in str(err)


def test_a_client_error_is_not_retried(tmp_path: Path, receiver: Receiver) -> None:
    """404 (a wrong URL, a revoked hook): retrying cannot help, so one attempt."""
    receiver.plan = [404]
    with pytest.raises(alerts.NotifyFailed, match="after 1 attempt"):
        alerts.notify(receiver.url, _report(tmp_path), retries=3, backoff=0.01)


def test_an_unreachable_receiver_is_retried_then_named(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/secretpath"
    lines: list[str] = []
    with pytest.raises(alerts.NotifyFailed) as info:
        alerts.notify(url, _report(tmp_path), retries=1, backoff=0.01, on_retry=lines.append)
    assert info.value.attempts == 2 and "ConnectError" in info.value.cause
    assert len(lines) == 1 and "secretpath" not in lines[0] and "ConnectError" in lines[0]


def test_cli_notifies_once_on_fired_alerts_and_still_exits_1(
    cli, isolated_env: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The receiver fails once ([alerts] notify_retries = 1): the CLI retries, delivers, says so
    on stderr, and exits 1 because alerts fired."""
    db = build_warehouse(isolated_env / "w.duckdb", failed_charges=3, involuntary=0, rejected=0, newest=OCT)
    led = build_ledger(isolated_env / "ledger.sqlite3", received=[(datetime(2026, 10, 31, 23, tzinfo=UTC), "applied")])
    monkeypatch.setenv("UNIFIEDMCP_WAREHOUSE", str(db))
    monkeypatch.setenv("UNIFIEDMCP_LEDGER", str(led))
    (isolated_env / "unifiedmcp.toml").write_text("[alerts]\nnotify_retries = 1\n")
    receiver.plan = [502]
    code, out, err = cli("alerts", "check", "--month", "2026-10", "--notify", receiver.url, "--json")
    assert code == 1
    assert json.loads(out)["fired"] == 2 and len(receiver.received) == 2
    assert "HTTP 502; retrying in 1 s" in err and "notified (2 alert(s), 2 attempt(s))" in err


def test_cli_does_not_post_when_nothing_fired(cli, isolated_env: Path, receiver: Receiver,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    db = build_warehouse(isolated_env / "w.duckdb", failed_charges=0, involuntary=0, rejected=0,
                         newest=datetime(2026, 10, 31, 23, tzinfo=UTC))
    monkeypatch.setenv("UNIFIEDMCP_WAREHOUSE", str(db))
    code, _, _ = cli("alerts", "check", "--month", "2026-10", "--notify", receiver.url)
    assert code == 0 and receiver.received == []
