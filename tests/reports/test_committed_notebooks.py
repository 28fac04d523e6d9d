"""The committed notebooks: paired with their percent scripts and in sync, thin (a tagged
parameters cell with plain values), and carrying outputs only where nbval compares them, free of
machine paths and secrets."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
BOOKS = sorted(NOTEBOOKS.glob("*/*.ipynb"))


def test_every_report_and_flow_notebook_is_here() -> None:
    names = {f"{p.parent.name}/{p.stem}" for p in BOOKS}
    assert names == {"reports/usage", "reports/revenue_churn", "reports/payments", "reports/overages",
                     "reports/customers", "reports/ops", "flows/subscription_lifecycle"}


@pytest.mark.parametrize("book", BOOKS, ids=lambda p: p.stem)
def test_paired_script_is_in_sync(book: Path) -> None:
    """The .py beside each .ipynb (jupytext percent format) has the same cells, and the pairing is
    declared so JupyterLab keeps them in sync."""
    script = book.with_suffix(".py")
    nb, py = jupytext.read(book), jupytext.read(script)
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in py.cells]
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert nb.metadata["kernelspec"]["name"] == "unifiedmcp"


_SECRETISH = re.compile(r"\b(sk|rk)_(test|live)_\w+|whsec_\w+")


@pytest.mark.parametrize("book", BOOKS, ids=lambda p: p.stem)
def test_parameters_are_plain_and_outputs_only_where_checked(book: Path) -> None:
    """One tagged parameters cell of plain assignments, no secret-looking value; stored outputs only
    on ``# NBVAL_CHECK_OUTPUT`` cells (one per notebook), without machine paths."""
    nb = nbformat.read(book, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    for line in params[0].source.splitlines():
        assert re.match(r"^\w+ = [^;]+$", line), line
    assert not _SECRETISH.search(nbformat.writes(nb))
    checked = [c for c in nb.cells if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) == 1 and checked[0].outputs
    for cell in nb.cells:
        if cell.cell_type == "code" and cell not in checked:
            assert cell.outputs == [], cell.source[:60]
    stored = nbformat.writes(nb)
    assert not re.search(r"/tmp/|/root/|/home/", stored)
