"""``unifiedmcp serve`` as a real process for the replica, metrics and TLS tests."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unifiedmcp._loopback import ServerDidNotStart, free_port, wait_until_serving
from unifiedmcp.accounts import CredentialCipher
from unifiedmcp.ledger import Ledger

from .conftest import SECRET_KEY

WEBHOOK_SECRET = "whsec_test_replicas_0123456789"


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str  # http(s)://127.0.0.1:PORT
    log: Path  # its stderr

    @property
    def mcp(self) -> str:
        return f"{self.url}/mcp"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def start_serve(
    ledger: Path | str, tmp: Path, *args: str, scheme: str = "http", verify: Any = True, **env: str
) -> Served:
    """Start ``unifiedmcp serve`` on a free loopback port and wait for its /healthz."""
    port = free_port()
    log = tmp / f"serve-{port}.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "UNIFIEDMCP_"))}
    env = base | {
        "UNIFIEDMCP_LEDGER": str(ledger), "UNIFIEDMCP_DATA_DIR": str(tmp / "data"),
        "UNIFIEDMCP_SECRET_KEY": SECRET_KEY, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    } | env
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "unifiedmcp", "serve", "--port", str(port), *args],
            env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=tmp,
        )
    served = Served(proc, f"{scheme}://127.0.0.1:{port}", log)
    try:
        wait_until_serving(f"{served.url}/healthz", proc=proc, verify=verify, name="serve")
    except ServerDidNotStart as exc:
        served.stop()
        raise AssertionError(f"{exc}: {log.read_text()}") from exc
    return served


def stub_customer(ledger: Path, customer: str) -> str:
    """A pro ``customer`` in the ledger file with one Stripe connection holding a stub key (serve
    sends its calls to ``STRIPE_API_BASE``); returns a bearer token of the customer."""
    with Ledger(ledger) as led:
        led.upsert_customer(customer, tier="pro")
        credential = CredentialCipher(SECRET_KEY).encrypt("sk_test_stub")
        led.add_connection(customer, "stripe", account="acct_stub", kind="api_key", credential=credential)
        return led.create_key(customer).token
