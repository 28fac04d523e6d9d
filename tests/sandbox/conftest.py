"""Fixtures of the sandbox conformance suite.

``stripe_api`` runs a test twice: against the sandbox and against localstripe 1.15.10 (started
here with ``localstripe --port P --from-scratch``). Only tests of behaviour both implement use it
(customers, payment intents, refunds, coupons, webhook signatures): passing on an independent fake
shows that those tests check Stripe's behaviour rather than this sandbox's quirks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
import stripe

from unifiedmcp._loopback import free_port, wait_until_serving
from unifiedmcp.sandbox import SandboxServer


@dataclass
class StripeAPI:
    """One Stripe implementation under test."""

    name: str
    url: str
    client: stripe.StripeClient
    add_webhook: Callable[[str], str]  # receiver url -> whsec_ secret
    extra: dict[str, Any] = field(default_factory=dict)


def _localstripe_bin() -> str | None:
    candidate = Path(sys.executable).with_name("localstripe")
    return str(candidate) if candidate.exists() else shutil.which("localstripe")


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    exe = _localstripe_bin()
    if exe is None:
        pytest.skip("localstripe is not installed (dev extra)")
    port = free_port()
    # localstripe keeps a pickle in the temp folder shared by every instance: give it its own.
    tmp = tempfile.mkdtemp(prefix="localstripe-")
    env = {**os.environ, "TMPDIR": tmp}
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--from-scratch"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/js.stripe.com/v3/", proc=proc, timeout=30, name="localstripe")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["sandbox", "localstripe"])
def stripe_api(request: pytest.FixtureRequest) -> Iterator[StripeAPI]:
    if request.param == "sandbox":
        sb: SandboxServer = request.getfixturevalue("sandbox")

        def add_sb(url: str) -> str:
            return sb.add_webhook_endpoint(url)[1]

        yield StripeAPI("sandbox", sb.url, sb.client(), add_sb)
        return
    url = request.getfixturevalue("localstripe_url")
    client = stripe.StripeClient("sk_test_crosscheck", base_addresses={"api": url}, max_network_retries=0)
    added: list[str] = []

    def add_ls(receiver: str) -> str:
        secret = "whsec_crosscheck" + str(len(added))
        hook = f"hook{len(added)}_{os.getpid()}"
        r = httpx.post(f"{url}/_config/webhooks/{hook}", data={"url": receiver, "secret": secret},
                       headers={"Authorization": "Bearer sk_test_crosscheck"})
        r.raise_for_status()
        added.append(hook)
        return secret

    yield StripeAPI("localstripe", url, client, add_ls)
    for hook in added:
        httpx.delete(f"{url}/_config/webhooks/{hook}", headers={"Authorization": "Bearer sk_test_crosscheck"})


def card(number: str = "4242424242424242") -> dict[str, Any]:
    """Card details by number (both implementations accept these in test mode)."""
    return {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
