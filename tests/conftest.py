"""Shared fixtures; a subpackage's tests may add their own in a conftest next to them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: no Stripe or UnifiedMCP variables, cwd in a fresh directory (no .env)."""
    import os

    for name in list(os.environ):
        if name.startswith(("STRIPE_", "UNIFIEDMCP_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("UNIFIEDMCP_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def cli(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``unifiedmcp ARGS`` in-process with a fresh environment; returns (exit code, stdout, stderr).

    Used by the cli, warehouse and metrics tests; tests/billing/test_cli.py has its own ``cli``.
    """
    from unifiedmcp.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


@pytest.fixture
def key_echoing_api() -> Iterator[str]:
    """A stand-in for a hostile or broken Stripe API base on 127.0.0.1 (the one edge the sandbox
    cannot play): every request gets Stripe's 400 error shape with the caller's key echoed in the
    message, the code, the param and the ``Request-Id`` header. Yields the base URL."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from unifiedmcp._loopback import serve_app

    async def echo(request: Request) -> JSONResponse:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        error = {"type": "invalid_request_error", "message": f"No such thing for key {key}", "code": key,
                 "param": key}
        return JSONResponse({"error": error}, status_code=400, headers={"Request-Id": key})

    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "DELETE"])])
    with serve_app(app) as url:
        yield url


# The local Stripe sandbox fixtures (sandbox, fresh_sandbox, webhook_receiver) and a throwaway
# PostgreSQL cluster (postgres_cluster, postgres_url).
pytest_plugins = ["unifiedmcp.sandbox.testing", "unifiedmcp.ledger.testing"]
