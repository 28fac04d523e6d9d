"""pytest set-up for ``--nbval-lax`` runs over the notebooks (``make test`` collects this folder).

- Plotly figures carry random div ids and embed plotly.js, so their ``text/html`` and the plotly
  JSON bundle are never compared; ``# NBVAL_CHECK_OUTPUT`` cells compare their ``text/plain``.
- Each notebook's cells share one kernel, so under pytest-xdist (``--dist loadgroup``) all cells
  of a notebook go to the same worker.
- Notebooks run in their own folder with their default parameters. With ``warehouse = ""`` a
  notebook reports on the configured warehouse when it exists (the demo's, after ``make
  report``), else on the committed sample, which the stored outputs show: so the kernels nbval
  starts see an empty data directory and no configured warehouse or ledger.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

_SKIP = ("text/html", "application/vnd.plotly.v1+json")


@pytest.hookimpl(trylast=True)
def pytest_collectstart(collector: pytest.Collector) -> None:
    if collector.path is not None and collector.path.suffix == ".ipynb" and hasattr(collector, "skip_compare"):
        collector.skip_compare = tuple(collector.skip_compare) + _SKIP


# tryfirst: pytest-xdist reads the groups in its own modifyitems hook, so the marks must be there first.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix != ".ipynb":
            continue
        group = f"nbval-{item.path.parent.name}-{item.path.stem}"
        item.add_marker(pytest.mark.xdist_group(group))
        item.add_marker(pytest.mark.timeout(300))


_SAMPLE_ONLY = {"UNIFIEDMCP_DATA_DIR": tempfile.mkdtemp(prefix="unifiedmcp-nbval-"), "UNIFIEDMCP_WAREHOUSE": None,
                "UNIFIEDMCP_LEDGER": None}


# tryfirst and a wrapper: the environment is in place before nbval starts the notebook's kernel
# (in the setup of the file, before its first cell) and restored after each cell.
@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if item.path.suffix != ".ipynb":
        yield
        return
    saved = {k: os.environ.get(k) for k in _SAMPLE_ONLY}
    for key, value in _SAMPLE_ONLY.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
