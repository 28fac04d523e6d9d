"""pytest set-up for ``--nbval-lax`` runs over the notebooks (``make test`` collects this folder).

- Plotly figures carry random div ids and embed plotly.js, so their ``text/html`` and the plotly
  JSON bundle are never compared; ``# NBVAL_CHECK_OUTPUT`` cells compare their ``text/plain``.
- Each notebook's cells share one kernel, so under pytest-xdist (``--dist loadgroup``) all cells
  of a notebook go to the same worker.
- Notebooks run in their own folder with their default parameters: the committed sample data.
"""

from __future__ import annotations

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
