"""A sync that cannot reach its host says which host and why, announces each retry with its
wait, and gives up after a few retries instead of a minute and a half."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from unifiedmcp import warehouse
from unifiedmcp._loopback import free_port
from unifiedmcp.errors import WarehouseError


def _client(base: str) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_unreachable", base_addresses={"api": base}, max_network_retries=0)


def test_a_closed_port_is_named_with_the_cause_and_each_retry_announced(tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{free_port()}"
    lines: list[str] = []
    waits: list[float] = []
    with pytest.raises(WarehouseError) as info:
        warehouse.sync(tmp_path / "w.duckdb", client=_client(base), progress=False, sleep=waits.append,
                       on_retry=lines.append)
    assert str(info.value) == f"sync gave up after 4 attempts: cannot reach {base}: Connection refused"
    assert lines == [f"cannot reach {base}: Connection refused; retrying in {w:g} s (attempt {n} of 4)"
                     for n, w in enumerate((0.5, 1, 2), start=1)]
    assert waits == [0.5, 1, 2]


def test_an_unknown_host_is_named(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match=r"cannot reach http://no-such-host\.invalid: ") as info:
        warehouse.sync(tmp_path / "w.duckdb", client=_client("http://no-such-host.invalid"), progress=False,
                       sleep=lambda _: None, on_retry=lambda _: None)
    assert "Network error" not in str(info.value)  # the cause, not stripe's boilerplate


def test_cli_sync_prints_the_retries_and_one_error_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command as an analyst runs it (real waits of 0.5 + 1 + 2 s): retry lines on stderr,
    then one error line naming the host and the cause, exit 1."""
    base = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_unreachable")
    monkeypatch.setenv("STRIPE_API_BASE", base)
    code, _, err = cli("warehouse", "sync")
    assert code == 1
    assert err.count("retrying in") == 3 and f"cannot reach {base}: Connection refused; retrying in 2 s" in err
    assert err.rstrip().splitlines()[-1] == f"error: sync gave up after 4 attempts: cannot reach {base}: Connection refused"
