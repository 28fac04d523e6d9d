"""Run the report notebooks with papermill, publish them as offline HTML, and write the index.

    run = run_reports("2026-10", out_dir="reports", warehouse="data/warehouse.duckdb")
    run.index      # reports/2026-10/index.html

First the data-quality gate (``_quality``): nothing is published from data that fails it, and its
warnings, with the run's generation time and how far the data runs, head every page. Layout of
``out_dir/<month>/``: ``index.html`` (headline numbers, the month's alerts, links),
``<report>.html`` per report, one ``plotly.min.js`` they share, the executed notebooks in
``notebooks/`` and ``run.log`` (timings and outcomes; never parameter values).
Parameters are plain values (month, paths, currency, convention, thresholds). Secrets are never
parameters: papermill stores parameters in the output notebook, so a value that looks like a
Stripe key or webhook secret is refused. Kernels inherit the environment instead.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import papermill as pm

from .. import alerts
from .._dsn import is_database_url
from .. import warehouse as wh
from .._files import PRIVATE_DIR_MODE
from ..config import AlertSettings, TierTable
from ..errors import InvalidInput
from ..metrics import CONVENTIONS, monthly
from ..months import Month
from ._data import default_ledger, load_exports, open_data, source_tree
from ._errors import ReportFailed
from ._html import export_html, write_plotly_js
from ._index import Headline, headline_numbers, write_index
from ._kernel import KERNEL_NAME, CurrentEnvKernelManager
from ._quality import DataCheck, DataQualityError, check_data

__all__ = [
    "REPORTS",
    "NotebookRun",
    "ReportRun",
    "default_notebooks_dir",
    "run_notebook",
    "run_reports",
    "select_reports",
]

# name -> title, in the index's order.
REPORTS: dict[str, str] = {
    "usage": "Usage: calls by tier, tool and day",
    "revenue_churn": "Revenue and churn: MRR movements, churn, cohorts",
    "payments": "Payments: success, authorization, declines, recovery",
    "overages": "Overages: customers over and near their limits",
    "customers": "Customers: at risk, churned, top accounts",
    "ops": "Ops: webhook health",
}
# Parameters only some notebooks take.
_EXTRA = {"ops": ("ledger",), "customers": ("mask_pii",)}
_SECRET_PREFIXES = ("sk_", "rk_", "pk_live_", "whsec_", "umcp_")

log = logging.getLogger("unifiedmcp.reports")


@dataclass(frozen=True)
class NotebookRun:
    """One executed report: ``notebook`` (executed .ipynb), ``html`` and its run time."""

    name: str
    title: str
    notebook: Path
    html: Path
    seconds: float


@dataclass(frozen=True)
class ReportRun:
    """A published month: ``directory`` (``out_dir/<month>``), ``index``, each report, the
    headline numbers shown on the index, the data check, the month's alerts and the total time."""

    month: Month
    directory: Path
    index: Path
    notebooks: tuple[NotebookRun, ...]
    headline: tuple[Headline, ...]
    seconds: float
    check: DataCheck
    alerts: alerts.AlertReport
    log: Path = field(repr=False, default=Path())


def default_notebooks_dir() -> Path:
    """``notebooks/reports`` of the source tree the package is installed from, else of the cwd."""
    candidate = source_tree() / "notebooks" / "reports"
    if candidate.is_dir():
        return candidate
    raise InvalidInput("cannot find notebooks/reports: run from the project directory or pass notebooks_dir")


def _check_parameters(parameters: Mapping[str, Any]) -> None:
    for key, value in parameters.items():
        if isinstance(value, str) and value.strip().startswith(_SECRET_PREFIXES):
            raise InvalidInput(
                f"parameter {key!r} looks like a secret; secrets travel as environment variables, "
                "never as notebook parameters"
            )


def run_notebook(
    source: str | Path, output: str | Path, *, parameters: Mapping[str, Any], timeout: float = 600,
) -> float:
    """Execute one notebook with papermill (kernel: this interpreter, cwd: the notebook's folder);
    returns its run time. Failures raise :class:`ReportFailed` naming the notebook and the cell."""
    source, output = Path(source).resolve(), Path(output).resolve()
    _check_parameters(parameters)
    started = time.perf_counter()
    try:
        # The kernel's cwd comes from resources, not papermill's `cwd=`, which chdirs the whole
        # process and so breaks notebooks running in parallel threads.
        pm.execute_notebook(
            str(source), str(output), parameters=dict(parameters), kernel_name=KERNEL_NAME,
            kernel_manager_class=CurrentEnvKernelManager, resources={"metadata": {"path": str(source.parent)}},
            progress_bar=False,
            log_output=False, execution_timeout=timeout, start_timeout=120, request_save_on_cell_execute=False,
        )
    except pm.PapermillExecutionError as exc:
        raise ReportFailed(source.stem, cell=exc.cell_index, error=f"{exc.ename}: {exc.evalue}",
                           output=output if output.exists() else None) from None
    except Exception as exc:  # kernel death, timeout, unreadable notebook: no cell to name
        raise ReportFailed(source.stem, cell=_failed_cell(output), error=f"{type(exc).__name__}: {exc}",
                           output=output if output.exists() else None) from None
    return time.perf_counter() - started


def _failed_cell(output: Path) -> int | None:
    """The index of the cell papermill marked as failed in ``output`` (None if none is marked)."""
    if not output.exists():
        return None
    import nbformat

    try:
        nb = nbformat.read(str(output), as_version=4)
    except Exception:
        return None
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("exception"):
            return i
    return None


def select_reports(names: Iterable[str] | None) -> list[str]:
    """The reports to run (all of them for None), or :class:`InvalidInput` naming unknown ones."""
    chosen = list(names or REPORTS)
    unknown = [n for n in chosen if n not in REPORTS]
    if unknown:
        raise InvalidInput(f"unknown report(s) {', '.join(unknown)}: expected {', '.join(REPORTS)}")
    return chosen


def run_reports(
    month: Month | str,
    *,
    out_dir: str | Path,
    warehouse: str | Path,
    ledger: str | Path | None = None,
    parallel: int | None = None,
    currency: str = "usd",
    convention: str = "stripe",
    reports: Sequence[str] | None = None,
    parameters: Mapping[str, Mapping[str, Any]] | None = None,
    notebooks_dir: str | Path | None = None,
    tiers: TierTable | None = None,
    timeout: float = 600,
    allow_partial: bool = False,
    strict: bool = False,
    max_rejected_share: float = 0.001,
    mask_pii: bool = False,
    alert_settings: AlertSettings | None = None,
    now: datetime | None = None,
    on_report: Callable[[NotebookRun | ReportFailed], None] = lambda _: None,
) -> ReportRun:
    """Check the data, run the report notebooks for ``month`` into ``out_dir/<month>/`` and publish them.

    ``warehouse`` is a DuckDB file or an export directory (e.g. ``data/sample``); ``ledger`` the
    ledger (a SQLite file or a PostgreSQL URL) for the ops report and the webhook alerts, by
    default the configured one if it exists (what the ops notebook reads too); both are only read.
    ``reports`` picks a subset of :data:`REPORTS`. ``parallel`` is the number of notebooks run at
    once (default: one per core, at most one per report). ``parameters`` adds per-report
    parameters, e.g. ``{"ops": {"max_failed_events": 0}}``.

    The data check (``_quality``) raises :class:`DataQualityError` before anything is published:
    a missing table, a month not ended (unless ``allow_partial``: then every page says "partial
    month"), a month outside the data; with ``strict``, its warnings too (exit code 2). Otherwise
    its warnings head every page. ``mask_pii`` publishes customer ids without names or e-mails.
    ``on_report`` hears each notebook as it finishes. Every report runs even when one fails;
    then :class:`ReportFailed` names the first failing notebook and cell (and the others).
    """
    ledger = ledger or default_ledger()  # one answer for the runner's alerts and the notebooks' ""
    m = Month.coerce(month)
    if convention not in CONVENTIONS:
        raise InvalidInput(f"unknown convention {convention!r}: expected stripe or chartmogul")
    names = select_reports(reports)
    source_dir = (Path(notebooks_dir) if notebooks_dir else default_notebooks_dir()).resolve()
    with tempfile.TemporaryDirectory(prefix="unifiedmcp-report-") as scratch:
        source = Path(warehouse)
        data_file = _load_exports(source, Path(scratch) / "warehouse.duckdb") if source.is_dir() else source
        with open_data(data_file) as con:
            check = check_data(source, con, m, reports=names, allow_partial=allow_partial,
                               max_rejected_share=max_rejected_share, now=now)
            if strict and check.warnings:
                raise DataQualityError(check.warnings, exit_code=2)
            report = monthly(con, m, currency=currency, convention=convention, tiers=tiers)
        directory = Path(out_dir).resolve() / str(m)
        if not directory.exists():
            # Pages name customers (the customers report): readable by their owner only, the
            # files inside whatever their mode (docs/privacy.md).
            directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True)
        (directory / "notebooks").mkdir(exist_ok=True)
        return _run(m, directory=directory, source_dir=source_dir, names=names, warehouse=data_file,
                    ledger=ledger, parallel=parallel, currency=currency, convention=convention,
                    parameters=parameters, timeout=timeout, check=check, report=report, mask_pii=mask_pii,
                    alert_settings=alert_settings or AlertSettings(), on_report=on_report)


def _load_exports(directory: Path, target: Path) -> Path:
    con = wh.connect(target)
    try:
        load_exports(con, directory)
    finally:
        con.close()
    return target


def _run(
    m: Month, *, directory: Path, source_dir: Path, names: list[str], warehouse: Path,
    ledger: str | Path | None, parallel: int | None, currency: str, convention: str,
    parameters: Mapping[str, Mapping[str, Any]] | None, timeout: float, check: DataCheck,
    report: dict[str, Any], mask_pii: bool, alert_settings: AlertSettings,
    on_report: Callable[[NotebookRun | ReportFailed], None],
) -> ReportRun:
    warehouse_path = str(warehouse.resolve())
    # A PostgreSQL URL carries a password: the notebook gets "" and reads the configured ledger.
    ledger_path = str(Path(ledger).resolve()) if ledger and not is_database_url(ledger) else ""
    common = {"month": str(m), "warehouse": warehouse_path, "currency": currency, "convention": convention}
    extra = {"ledger": ledger_path, "mask_pii": mask_pii}
    workers = max(1, min(len(names), parallel or os.cpu_count() or 1))
    log_path = directory / "run.log"
    (directory / "index.html").unlink(missing_ok=True)  # a failed run must not leave an old index
    write_plotly_js(directory)
    header = check.header_html()
    started = time.perf_counter()

    def one(name: str) -> NotebookRun | ReportFailed:
        params = dict(common) | {k: extra[k] for k in _EXTRA.get(name, ())}
        params.update((parameters or {}).get(name, {}))
        executed = directory / "notebooks" / f"{name}.ipynb"
        try:
            seconds = run_notebook(source_dir / f"{name}.ipynb", executed, parameters=params, timeout=timeout)
            html = export_html(executed, directory / f"{name}.html", title=f"{REPORTS[name]} ({m})", header=header)
            result: NotebookRun | ReportFailed = NotebookRun(name, REPORTS[name], executed, html, seconds)
        except ReportFailed as exc:
            result = exc
        on_report(result)
        return result

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
        results = list(pool.map(one, names))

    lines = [f"month {m}, {len(names)} report(s), {workers} in parallel"]
    for name, r in zip(names, results, strict=True):
        lines.append(f"{name}: " + (f"ok in {r.seconds:.1f} s" if isinstance(r, NotebookRun) else f"FAILED: {r}"))
    failures = [r for r in results if isinstance(r, ReportFailed)]
    if failures:
        log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        first = failures[0]
        raise ReportFailed(first.notebook, cell=first.cell, error=first.error, output=first.output,
                           others=tuple(f.notebook for f in failures[1:]))
    runs = tuple(r for r in results if isinstance(r, NotebookRun))

    window = alerts.Window.month(m, now=check.generated_at)
    fired = alerts.check_alerts(warehouse=warehouse, ledger=ledger, window=window, settings=alert_settings,
                                currency=currency, now=check.generated_at)
    health = alerts.webhook_health(ledger, window).as_dict() if "ops" in names else None
    headline = tuple(h for h in headline_numbers(report, health) if h.report in names)
    index = write_index(
        directory / "index.html", month=str(m), currency=currency, convention=convention, headline=headline,
        reports=[(r.name, r.title, r.html.name, f"notebooks/{r.notebook.name}", r.seconds) for r in runs],
        header=header, alerts=[r.message for r in fired.fired],
    )
    total = time.perf_counter() - started
    lines.append(f"total {total:.1f} s")
    log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        log.info(line)
    return ReportRun(m, directory, index, runs, headline, total, check, fired, log_path)
