"""Shared fixtures. Each subpackage's tests have their own conftest next to them."""

from __future__ import annotations

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

# The local Stripe sandbox fixtures (sandbox, fresh_sandbox, webhook_receiver).
pytest_plugins = ["unifiedmcp.sandbox.testing"]
