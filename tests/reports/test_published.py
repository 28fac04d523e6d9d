"""One full ``unifiedmcp report --latest`` run (the ``published`` fixture), checked from outside:
what it writes, that the pages are offline and self-contained, that no secret leaks, and that a
real browser renders the charts without any request leaving the machine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pytest
from browser import load

from unifiedmcp import metrics
from unifiedmcp.reports import REPORTS, check_offline, money, percent

if TYPE_CHECKING:
    from conftest import Published

pytestmark = pytest.mark.xdist_group("reports-published")


def test_latest_complete_month_is_published_with_every_report(published: Published) -> None:
    """--latest picks the month before the last data (2026-11 renewals -> 2026-10) and writes the
    index, one HTML page and one executed notebook per report, and a run log."""
    d = published.directory
    assert (d / "index.html").is_file()
    for name in REPORTS:
        assert (d / f"{name}.html").stat().st_size > 100_000, name       # plotly.js is inside
        nb = nbformat.read(d / "notebooks" / f"{name}.ipynb", as_version=4)
        assert nb.metadata.papermill.parameters["month"] == published.month
        assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
    log = (d / "run.log").read_text()
    assert all(f"{name}: ok" in log for name in REPORTS)
    assert str(d / "index.html") in " ".join(published.stdout.split())


def test_index_shows_the_metrics_headline_and_links_every_report(published: Published, warehouse_file: Path) -> None:
    """The index's numbers are metrics.monthly's for the month, and it links each page and notebook."""
    html = (published.directory / "index.html").read_text()
    r = metrics.monthly(warehouse_file, published.month)
    for text in (money(r["mrr"]["end"]), percent(r["subscriber_churn_rate"]),
                 percent(r["payments"]["success_rate"]), f"{r['usage']['calls']:,}"):
        assert text in html, text
    assert "Failed webhook events" in html and ">3<" in html  # the ledger fixture has 3 failed events
    for name in REPORTS:
        assert f'href="{name}.html"' in html and f'href="notebooks/{name}.ipynb"' in html


_REMOTE_SCRIPT = re.compile(r"<script[^>]*\bsrc\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE)


def test_pages_are_self_contained_and_offline(published: Published) -> None:
    """No page loads a script from a CDN or any URL; each embeds plotly.js and draws its figures."""
    for page in published.directory.glob("*.html"):
        check_offline(page)
        text = page.read_text()
        assert not _REMOTE_SCRIPT.search(text), page.name
        assert not re.search(r"<script[^>]*src=[^>]*cdn", text, re.IGNORECASE), page.name
        if page.name != "index.html":
            assert "Plotly.newPlot" in text and text.count("plotly.js v") >= 1, page.name


def test_secrets_in_the_environment_reach_no_output(published: Published, canaries: tuple[str, ...]) -> None:
    """STRIPE_API_KEY and STRIPE_WEBHOOK_SECRET were set for the run: neither (nor its distinctive
    tail) is in any executed notebook, HTML page, log, or the command's output."""
    needles = canaries
    files = [p for p in published.out.rglob("*") if p.is_file()]
    assert len(files) >= 12
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in needles:
            assert needle not in text, f"{needle} found in {path}"
    for needle in needles:
        assert needle not in published.stdout and needle not in published.stderr


def test_browser_renders_charts_without_network(published: Published, tmp_path: Path) -> None:
    """Headless Chromium opens index.html and the revenue report from disk: the index shows the
    headline, the report draws its plotly charts (.main-svg), and every request is a file:// one."""
    index = load((published.directory / "index.html").as_uri(), tmp_path / "index")
    assert "MRR at month end" in index.dom and 'href="revenue_churn.html"' in index.dom
    assert index.external() == []
    page = load((published.directory / "revenue_churn.html").as_uri(), tmp_path / "revenue")
    assert page.dom.count('class="main-svg"') >= 2 * 5   # five figures, two svg layers each
    assert "waterfall" in page.dom
    assert page.external() == [], page.external()


def test_browser_check_sees_requests_leaving_the_page(tmp_path: Path) -> None:
    """Control for the test above: a page that fetches a remote script and a local-port image is
    caught by the same net-log check (so an empty list there means something)."""
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                       '<script src="https://cdn.example.invalid/x.js"></script></body></html>')
    page = load(control.as_uri(), tmp_path / "control")
    assert sorted(page.external()) == ["http://127.0.0.1:9/x.png", "https://cdn.example.invalid/x.js"]
