from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from unifiedmcp.cli import _common, main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run the real ``unifiedmcp`` entry point in-process with a fresh environment."""

    def _run(*args: str) -> Result:
        _common.settings.cache_clear()
        _common.tiers.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run
