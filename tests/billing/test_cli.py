"""The billing and webhook CLI commands through the real ``unifiedmcp`` entry point (in process)."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from unifiedmcp.cli import _common
from unifiedmcp.cli import main
from unifiedmcp.billing import EventProcessor
from unifiedmcp.ledger import Ledger

from .conftest import event, subscription


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run ``unifiedmcp ARGS`` in this process (its real entry point) with the given environment."""
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith(("STRIPE_", "UNIFIEDMCP_")):
            monkeypatch.delenv(k)

    def run(env: dict[str, str], *args: str) -> Result:
        for k, v in {"UNIFIEDMCP_DATA_DIR": str(tmp_path), **env}.items():
            monkeypatch.setenv(k, v)
        _common.settings.cache_clear()
        _common.tiers.cache_clear()
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    yield run
    _common.settings.cache_clear()
    _common.tiers.cache_clear()


def test_flow_commands_against_the_sandbox(sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    """catalog ensure, subscribe, change-tier, cancel and portal work end to end; no secret is printed."""
    env = sandbox.env()
    out = cli(env, "catalog", "ensure", "--json")
    assert out.returncode == 0, out.stderr
    assert {e["tier"] for e in json.loads(out.stdout)} == {"pro", "enterprise"}
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    out = cli(env, "subscribe", email, "pro", "--payment-method", "pm_card_visa", "--json")
    assert out.returncode == 0, out.stderr
    sub = json.loads(out.stdout)
    assert (sub["status"], sub["tier"]) == ("active", "pro") and "client_secret" not in sub
    out = cli(env, "change-tier", email, "enterprise", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["tier"] == "enterprise", out.stderr
    out = cli(env, "cancel", sub["customer_id"], "--reason", "unused", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["cancel_at_period_end"] is True, out.stderr
    out = cli(env, "portal", email, "--return-url", "https://example.com/back")
    assert out.returncode == 0 and out.stdout.strip().startswith("http"), out.stderr
    out = cli(env, "change-tier", "nobody@example.com", "pro")
    assert out.returncode == 1 and out.stderr.startswith("error:") and "Traceback" not in out.stderr
    for o in (out.stdout, out.stderr):
        assert sandbox.api_key not in o


def test_webhooks_list_and_replay(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`webhooks list --failed` shows a failed event with its error; `webhooks replay` re-applies it."""
    ledger_path = tmp_path / "ledger.sqlite3"
    bad = subscription("sub_cli", "cus_cli", "active")
    bad["customer"] = None
    evt = event("customer.subscription.created", bad, int(time.time()))
    with Ledger(ledger_path) as ledger:
        assert EventProcessor(ledger).process(evt).status == "failed"
        ok = event("customer.created", {"id": "cus_ok", "object": "customer", "email": "ok@example.com"}, 5)
        EventProcessor(ledger).process(ok)
        with ledger.transaction() as conn:  # an operator fixed the payload
            evt["data"]["object"]["customer"] = "cus_cli"
            conn.execute("UPDATE webhook_events SET payload = ? WHERE event_id = ?", (json.dumps(evt), evt["id"]))
    env = {"UNIFIEDMCP_LEDGER": str(ledger_path)}
    listed = cli(env, "webhooks", "list", "--failed")
    assert listed.returncode == 0, listed.stderr
    assert evt["id"] in listed.stdout and "has no customer" in listed.stdout and "cus_ok" not in listed.stdout
    assert cli(env, "webhooks", "replay").returncode == 1  # neither ids nor --failed
    replayed = cli(env, "webhooks", "replay", "--failed")
    assert replayed.returncode == 0, replayed.stderr + replayed.stdout
    assert "applied" in replayed.stdout
    with Ledger(ledger_path) as ledger:
        assert ledger.customer("cus_cli").tier == "pro"
    assert evt["id"] not in cli(env, "webhooks", "list", "--failed").stdout


def test_subscribe_checkout_prints_a_url_that_subscribes_the_customer_when_paid(sandbox, cli) -> None:  # type: ignore[no-untyped-def]
    """``subscribe --checkout`` prints only the Checkout URL; paying there makes the subscription,
    and ``change-tier --at-period-end`` reports the tier it schedules."""
    env = sandbox.env()
    assert cli(env, "catalog", "ensure").returncode == 0
    email = f"cli-co-{uuid.uuid4().hex[:8]}@example.com"
    out = cli(env, "subscribe", email, "pro", "--checkout", "--success-url", "https://example.com/thanks")
    assert out.returncode == 0, out.stderr
    url = out.stdout.strip()
    assert url.startswith(sandbox.url + "/_sandbox/checkout/cs_test_") and "\n" not in url
    assert httpx.post(url, data={"payment_method": "pm_card_visa"}, follow_redirects=False).headers["location"] == "https://example.com/thanks"
    out = cli(env, "change-tier", email, "enterprise", "--at-period-end", "--json")
    result = json.loads(out.stdout)
    assert (result["status"], result["tier"], result["scheduled_tier"]) == ("active", "pro", "enterprise"), out.stderr
    assert result["scheduled_at"] == result["current_period_end"]
    refused = cli(env, "subscribe", email, "pro", "--checkout", "--payment-method", "pm_card_visa")
    assert refused.returncode != 0
