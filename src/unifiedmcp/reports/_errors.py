"""Errors of the report runner, each with the facts of the failure as fields."""

from __future__ import annotations

from pathlib import Path

from ..errors import UnifiedMCPError

__all__ = ["ReportFailed", "NotOffline"]


class ReportFailed(UnifiedMCPError):
    """A report notebook failed: ``notebook`` (its name), ``cell`` (index in the executed notebook,
    or None when it failed outside a cell), ``error`` (exception name and message), ``output``
    (the executed notebook kept for inspection, when written) and ``others`` (further failures)."""

    def __init__(
        self, notebook: str, *, cell: int | None, error: str, output: Path | None = None,
        others: tuple[str, ...] = (),
    ) -> None:
        self.notebook = notebook
        self.cell = cell
        self.error = error
        self.output = output
        self.others = others
        where = f"cell {cell}" if cell is not None else "outside any cell"
        text = f"report notebook {notebook} failed in {where}: {error}"
        if output is not None:
            text += f" (executed notebook: {output})"
        if others:
            text += f"; also failed: {', '.join(others)}"
        super().__init__(text)


class NotOffline(UnifiedMCPError):
    """An exported HTML file would load something from the network (``path``, ``reference``)."""

    def __init__(self, path: Path, reference: str) -> None:
        self.path = path
        self.reference = reference
        super().__init__(f"{path} is not self-contained: it references {reference!r}")
