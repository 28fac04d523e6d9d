"""The commands: ``unifiedmcp mcp`` serves stdio to a real MCP client, ``unifiedmcp serve`` serves
authenticated HTTP with /healthz, and ``unifiedmcp mcp-config`` prints usable snippets that never
contain a secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import mcp
import pytest
from mcp.client.stdio import StdioServerParameters

from unifiedmcp.cli import main
from unifiedmcp.ledger import Ledger

from .conftest import SECRET_KEY, call, connect_key, free_port, http_client, ok

CLI = [sys.executable, "-m", "unifiedmcp"]


def _env(sandbox: Any, ledger_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    ours = {"UNIFIEDMCP_LEDGER": str(ledger_path), "UNIFIEDMCP_SECRET_KEY": SECRET_KEY}
    return base | sandbox.env() | ours | extra


@pytest.mark.parametrize("client", ["claude-code", "cursor", "vscode", "windsurf", "http"])
def test_mcp_config_prints_a_snippet_without_secrets(
    client: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk_test_do_not_print_me_123456"
    monkeypatch.setenv("STRIPE_API_KEY", secret)
    monkeypatch.setenv("UNIFIEDMCP_API_KEY", "umk_0123456789ab_secretsecret")
    assert main(["mcp-config", "--client", client, "--customer", "cus_123"]) == 0
    out, err = capsys.readouterr()
    assert secret not in out + err and "secretsecret" not in out + err
    if client == "claude-code":
        assert "claude mcp add" in out and " mcp" in out and "--transport http" in out
        return
    snippet = json.loads(out)
    if client == "http":
        server = snippet["mcpServers"]["unifiedmcp"]
        assert server["url"].endswith("/mcp") and server["headers"]["Authorization"].startswith("Bearer ${")
        return
    servers = snippet["servers"] if client == "vscode" else snippet["mcpServers"]
    entry = servers["unifiedmcp"]
    assert entry["args"][-1] == "mcp" and entry["env"]["UNIFIEDMCP_CUSTOMER"] == "cus_123"
    assert Path(entry["env"]["UNIFIEDMCP_DATA_DIR"]).is_absolute()  # the same ledger wherever it starts
    assert Path(entry["command"]).exists()


def test_mcp_config_rejects_an_unknown_client(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp-config", "--client", "emacs"]) == 1
    assert "claude-code" in capsys.readouterr().err


def test_mcp_needs_a_customer(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNIFIEDMCP_CUSTOMER", raising=False)
    assert main(["mcp"]) == 1
    assert "UNIFIEDMCP_CUSTOMER" in capsys.readouterr().err


@pytest.mark.anyio
async def test_mcp_serves_stdio_to_the_sdk_client(
    sandbox: Any, tmp_path: Path, account_key: str, customer_stripe: Any
) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_stdio", tier="free")
        connect_key(sandbox, ledger, "cus_stdio", account_key)
    params = StdioServerParameters(
        command=CLI[0],
        args=[*CLI[1:], "mcp", "--tools", "customers.read,customers.create"],
        env=_env(sandbox, ledger_path, UNIFIEDMCP_CUSTOMER="cus_stdio"),
    )
    async with mcp.Client(params, raise_exceptions=True) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == {"list_customers", "create_customer", "get_usage"}
        created = ok(await call(client, "create_customer", {"name": "Via stdio"}))
        usage = ok(await call(client, "get_usage"))
    assert customer_stripe.v1.customers.retrieve(created["id"]).name == "Via stdio"
    assert (usage["customer"], usage["calls"], usage["tier"]) == ("cus_stdio", 2, "free")


@pytest.mark.anyio
async def test_serve_runs_the_http_app(sandbox: Any, tmp_path: Path, account_key: str) -> None:
    ledger_path = tmp_path / "ledger.sqlite3"
    with Ledger(ledger_path) as ledger:
        ledger.upsert_customer("cus_http", tier="pro")
        connect_key(sandbox, ledger, "cus_http", account_key)
        token = ledger.create_key("cus_http").token
    port = free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--tools", "customers"],
        env=_env(sandbox, ledger_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        assert health["status"] == "ok" and health["tools"] == 4
        assert httpx.post(f"{base}/mcp", json={}).status_code == 401
        async with http_client(f"{base}/mcp", token) as client:
            ok(await call(client, "list_customers", {"limit": 1}))
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert token not in (proc.stderr.read() if proc.stderr else "")
