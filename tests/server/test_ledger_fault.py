"""A SQLite ledger whose shared-memory file (``-shm``) becomes unwritable under a running ``serve``
(``chattr +i``, as a failing disk or a careless operator leaves it). SQLite maps that file, and a
write to a mapped page that can no longer be written is SIGBUS: the process used to die silently.
Now it survives: MCP requests fail closed (503, ``metering_error``), webhook deliveries answer 500,
``/healthz`` turns ``degraded``, the error is logged, and all of it recovers once the file is
writable again. Stopping it meanwhile exits cleanly.

Needs root (``chattr +i``) on a file system with the immutable flag; CI runs as root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from unifiedmcp import LedgerError
from unifiedmcp.billing.testing import sign_payload
from unifiedmcp.ledger import Ledger

from ._serve import WEBHOOK_SECRET, Served, start_serve
from .conftest import http_client

pytestmark = pytest.mark.anyio


def _chattr(flag: str, path: Path) -> None:
    subprocess.run(["chattr", flag, str(path)], check=True, capture_output=True)


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """``immutable(path)`` sets the file's immutable flag; every flag set is cleared at the end."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr to make the ledger's -shm file immutable (CI runs as root)")
    probe = tmp_path / "probe"
    probe.write_text("x")
    try:
        _chattr("+i", probe)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"this file system has no immutable flag (chattr +i: {exc.stderr.decode().strip()})")
    _chattr("-i", probe)
    flagged: list[Path] = []

    def make(path: Path) -> None:
        _chattr("+i", path)
        flagged.append(path)

    try:
        yield make
    finally:
        for path in flagged:
            _chattr("-i", path)


def _ledger(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        ledger.upsert_customer("cus_fault", tier="pro")
        return path, ledger.create_key("cus_fault").token


def _mcp_post(served: Served, token: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    return httpx.post(served.mcp, json=body, headers=headers, timeout=30)


def _signed_delivery(served: Served) -> httpx.Response:
    event = {
        "id": f"evt_fault_{time.time_ns()}", "object": "event", "type": "customer.created",
        "created": int(time.time()), "livemode": False,
        "data": {"object": {"id": "cus_from_stripe", "object": "customer", "email": "f@example.com"}},
    }
    payload = json.dumps(event)
    headers = {"Stripe-Signature": sign_payload(payload, WEBHOOK_SECRET), "Content-Type": "application/json"}
    return httpx.post(f"{served.url}/webhooks/stripe", content=payload, headers=headers, timeout=30)


async def _usage_calls(served: Served, token: str) -> int:
    async with http_client(served.mcp, token) as client:
        result = await client.call_tool("get_usage", {})
    assert not result.is_error, result.content
    return result.structured_content["calls"]


async def test_an_unwritable_shm_fails_closed_and_serve_survives_and_recovers(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    path, token = _ledger(tmp_path)
    served = start_serve(path, tmp_path, "--tools", "customers.read", "--log-format", "json")
    try:
        assert await _usage_calls(served, token) == 1
        immutable(Path(f"{path}-shm"))

        assert _signed_delivery(served).status_code == 500  # a ledger write: SIGBUS until now
        assert served.proc.poll() is None, served.log.read_text()
        refused = _mcp_post(served, token)
        assert refused.status_code == 503 and refused.json()["error"]["type"] == "metering_error"
        health = httpx.get(f"{served.url}/healthz", timeout=30)
        assert health.status_code == 503
        assert health.json()["status"] == "degraded" and "-shm" in health.json()["ledger"]["error"]
        errors = [line["message"] for line in _log_lines(served) if line["level"] == "error"]
        assert len(errors) == 1 and "is failing" in errors[0] and f"{path}-shm cannot be written" in errors[0]

        _chattr("-i", Path(f"{path}-shm"))
        assert _signed_delivery(served).status_code == 200
        assert httpx.get(f"{served.url}/healthz", timeout=30).json()["status"] == "ok"
        assert await _usage_calls(served, token) == 2  # nothing was admitted while it failed
        assert any("works again" in line["message"] for line in _log_lines(served))
    finally:
        served.stop()


def _log_lines(served: Served) -> list[dict[str, str]]:
    """The JSON log lines of ``serve --log-format json`` (the start-up note is plain text)."""
    return [json.loads(line) for line in served.log.read_text().splitlines() if line.startswith("{")]


def test_stopping_serve_while_the_shm_is_unwritable_exits_as_usual(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """Ctrl-C (SIGINT) closes the ledger on the way out (SIGTERM ends the process once uvicorn has
    shut down, closing nothing). Closing checkpoints the WAL through the mapping (SIGBUS): the
    ledger is left open instead, with a log line, and serve exits as a Ctrl-C always does (0)."""
    path, _ = _ledger(tmp_path)
    served = start_serve(path, tmp_path)
    try:
        assert _signed_delivery(served).status_code == 200  # something in the WAL to checkpoint
        immutable(Path(f"{path}-shm"))
        served.proc.send_signal(signal.SIGINT)
        assert served.proc.wait(timeout=30) == 0, served.log.read_text()
    finally:
        served.stop()
    assert "left open" in served.log.read_text()


def test_opening_a_ledger_whose_shm_is_unwritable_is_a_clear_error(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """A process starting meanwhile would map the file read-only and never write again, even once
    it is fixed: it refuses to open instead (serve exits with one line; systemd starts it again)."""
    path, _ = _ledger(tmp_path)
    with Ledger(path):  # holds the -shm in place while the flag is set
        immutable(Path(f"{path}-shm"))
        with pytest.raises(LedgerError, match=r"cannot open ledger .*-shm cannot be written \(the file is immutable"):
            Ledger(path)
