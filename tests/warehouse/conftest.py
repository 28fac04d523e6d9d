"""Fixtures for the warehouse tests: the real CLI entry point in-process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from unifiedmcp.cli import _common, main


@pytest.fixture
def cli(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``unifiedmcp ARGS`` in-process with a fresh environment; returns (exit code, stdout, stderr)."""

    def _run(*args: str) -> tuple[int, str, str]:
        _common.settings.cache_clear()
        _common.tiers.cache_clear()
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run
