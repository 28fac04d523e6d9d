from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run(cli: Callable[..., tuple[int, str, str]]) -> Callable[..., Result]:
    """Run the real ``unifiedmcp`` entry point in-process with a fresh environment (the ``cli``
    fixture of tests/conftest.py, its result as a :class:`Result`)."""

    def _run(*args: str) -> Result:
        return Result(*cli(*args))

    return _run
