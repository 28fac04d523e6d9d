"""``unifiedmcp report``: argument errors, a missing warehouse, and a failing notebook all exit
non-zero with one line that says what to do or which notebook and cell failed."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from unifiedmcp.cli import main
from unifiedmcp.reports import REPORTS


def test_month_or_latest_is_required(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --month or --latest there is nothing to report: a usage error (exit 2)."""
    assert main(["report"]) == 2
    assert "--month" in capsys.readouterr().err


def test_missing_warehouse_says_how_to_build_one(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--month with no warehouse configured: exit 1, naming the path and the demo builder."""
    assert main(["report", "--month", "2026-10"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no warehouse at") and "unifiedmcp demo build" in err


def test_malformed_month_is_one_clear_line(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--month", "2026-13"]) == 1
    assert "invalid month" in capsys.readouterr().err


def _notebook(path: Path, *cells: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('month = ""\nwarehouse = ""\ncurrency = "usd"\nconvention = "stripe"\nledger = ""',
                                  metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(c) for c in cells),
    ])
    nb.metadata["kernelspec"] = {"name": "unifiedmcp", "display_name": "UnifiedMCP", "language": "python"}
    nbformat.write(nb, path)


def test_failing_notebook_exits_non_zero_naming_it_and_its_cell(
    isolated_env: Path, export_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Stand-in notebooks, one of which fails in its second own cell: exit 1, and the error line
    names that notebook, the cell index in the executed notebook and the exception."""
    books = isolated_env / "books"
    books.mkdir()
    for name in REPORTS:
        _notebook(books / f"{name}.ipynb", "print(month)")
    _notebook(books / "payments.ipynb", "x = 1", "1 / 0")
    monkeypatch.setattr("unifiedmcp.reports._runner.default_notebooks_dir", lambda: books)
    code = main(["report", "--month", "2026-10", "--warehouse", str(export_dir), "--out", str(isolated_env / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert "report notebook payments failed in cell 3: ZeroDivisionError" in err
    assert (isolated_env / "out" / "2026-10" / "notebooks" / "payments.ipynb").exists()
    assert not (isolated_env / "out" / "2026-10" / "index.html").exists()


def test_only_names_known_reports(isolated_env: Path, export_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--only with a name that is no report: exit 1 listing the reports there are, nothing run."""
    code = main(["report", "--month", "2026-10", "--warehouse", str(export_dir), "--only", "usage,nope",
                 "--out", str(isolated_env / "out")])
    assert code == 1
    assert "unknown report(s) nope: expected usage, revenue_churn, payments, overages, customers, ops" in (
        capsys.readouterr().err)
    assert not (isolated_env / "out").exists()
