"""Refresh the outputs stored in the committed notebooks: ``python -m unifiedmcp.reports.refresh``.

Notebooks are committed with their outputs cleared, except the cells marked
``# NBVAL_CHECK_OUTPUT`` (headline numbers on the committed sample), which ``pytest --nbval-lax``
compares. This runs each notebook with papermill on the committed sample (``warehouse`` set to
``data/sample`` unless ``-p warehouse=...`` overrides it, whatever warehouse is configured), then
writes back into the source notebook only those cells' outputs, and refuses outputs that carry a
machine path.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import tempfile
from pathlib import Path

import nbformat

from ..errors import InvalidInput
from ._data import source_tree
from ._runner import run_notebook

__all__ = ["CHECK_MARKER", "refresh_notebook"]

CHECK_MARKER = "NBVAL_CHECK_OUTPUT"
_MACHINE_PATH = re.compile(r"(/tmp/|/root/|/home/|/Users/|[A-Za-z]:\\\\)")


def refresh_notebook(path: str | Path, *, parameters: dict[str, object] | None = None) -> int:
    """Run ``path`` and keep only its checked cells' outputs; returns how many cells keep outputs."""
    path = Path(path)
    source = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="unifiedmcp-refresh-") as tmp:
        executed_path = Path(tmp) / path.name
        run_notebook(path, executed_path, parameters=parameters or {})
        executed = nbformat.read(executed_path, as_version=4)
    by_id = {c.get("id"): c for c in executed.cells}
    kept = 0
    for cell in source.cells:
        if cell.cell_type != "code":
            continue
        cell.execution_count = None
        cell.outputs = []
        if CHECK_MARKER in cell.source:
            ran = by_id.get(cell.get("id"))
            if ran is None:
                raise InvalidInput(f"{path}: cell {cell.get('id')} missing from the executed notebook")
            outputs = copy.deepcopy(ran.outputs)
            for o in outputs:  # nbval refuses outputs of a cell that was never run: keep a count
                if "execution_count" in o:
                    o["execution_count"] = 1
            text = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=outputs)]))
            if m := _MACHINE_PATH.search(text):
                raise InvalidInput(f"{path}: a checked output carries a machine path ({m.group(0)!r})")
            cell.outputs = outputs
            cell.execution_count = 1
            kept += 1
    source.metadata.pop("papermill", None)
    nbformat.write(source, path)
    return kept


def _parameters(items: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"-p expects name=value, got {item!r}")
        out[name] = value
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path,
                    help="default: notebooks/reports/*.ipynb and notebooks/flows/*.ipynb")
    ap.add_argument("-p", dest="parameters", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args(argv)
    books = args.notebooks or sorted(Path("notebooks/reports").glob("*.ipynb")) + sorted(
        Path("notebooks/flows").glob("*.ipynb"))
    import papermill as pm

    params = {"warehouse": str(source_tree() / "data" / "sample")} | _parameters(args.parameters)
    for book in books:
        declared = pm.inspect_notebook(str(book))  # only what the notebook takes (flows take no warehouse)
        kept = refresh_notebook(book, parameters={k: v for k, v in params.items() if k in declared})
        print(f"{book}: {kept} checked cell(s) stored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
