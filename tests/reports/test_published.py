"""One full ``unifiedmcp report --latest`` run (the ``published`` fixture), checked from outside:
what it writes, that the pages are offline and self-contained, that no secret leaks, and that a
real browser renders the charts without any request leaving the machine."""

from __future__ import annotations

import hashlib
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
        assert (d / f"{name}.html").is_file(), name
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


_PLOTLY_JS_BANNER = "plotly.js v"  # the first line of plotly.min.js
_SHARED_SCRIPT = re.compile(r'<script[^>]*\bsrc="plotly\.min\.js"')


def test_pages_share_one_plotly_js_and_work_offline(published: Published) -> None:
    """No page loads a script from a CDN or any URL; the report pages draw their figures with the
    month folder's one plotly.min.js, which neither they nor the executed notebooks embed."""
    d = published.directory
    assert (d / "plotly.min.js").read_text(encoding="utf-8")[:200].count(_PLOTLY_JS_BANNER) == 1
    for page in d.glob("*.html"):
        check_offline(page)
        text = page.read_text()
        assert not _REMOTE_SCRIPT.search(text), page.name
        assert not re.search(r"<script[^>]*src=[^>]*cdn", text, re.IGNORECASE), page.name
        assert _PLOTLY_JS_BANNER not in text, page.name
        if page.name != "index.html":
            assert "Plotly.newPlot" in text and len(_SHARED_SCRIPT.findall(text)) == 1, page.name
    for nb in (d / "notebooks").glob("*.ipynb"):
        assert _PLOTLY_JS_BANNER not in nb.read_text(encoding="utf-8"), nb.name


def test_a_month_folder_stays_under_10_mb(published: Published) -> None:
    """Pages, executed notebooks, plotly.min.js and the log of one month: at most 10 MB (each page
    used to embed its own 4.8 MB plotly.js: 49 MB a month)."""
    size = sum(p.stat().st_size for p in published.directory.rglob("*") if p.is_file())
    assert size <= 10 * 1024 * 1024, f"{size / 1e6:.1f} MB"


def test_every_page_states_generation_and_data_time(published: Published, warehouse_file: Path) -> None:
    """Index and pages carry the run's stamp: when it was generated and how far the data runs
    (the 2026-11-01 renewals), and no data warning on clean data."""
    last = metrics.data_span(warehouse_file).last
    for page in published.directory.glob("*.html"):
        text = page.read_text()
        assert re.search(r"Generated \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", text), page.name
        assert f"data runs to {last:%Y-%m-%d %H:%M} UTC" in text and "month 2026-10" in text, page.name
        assert "umcp-banner" not in text and "partial month" not in text, page.name


def test_the_ledger_is_not_written(published: Published, ledger_file: Path, ledger_digest: str) -> None:
    """The ops report and the alerts read the ledger read-only: its bytes are unchanged."""
    assert hashlib.sha256(ledger_file.read_bytes()).hexdigest() == ledger_digest


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


def test_without_the_shared_plotly_js_no_chart_renders(published: Published, tmp_path: Path) -> None:
    """Control for the test above: the same page copied away from plotly.min.js draws nothing, so
    the charts there came from the month folder's shared file."""
    alone = tmp_path / "alone" / "revenue_churn.html"
    alone.parent.mkdir()
    alone.write_bytes((published.directory / "revenue_churn.html").read_bytes())
    page = load(alone.as_uri(), tmp_path / "browser")
    assert "MRR movements" in page.dom and 'class="main-svg"' not in page.dom


def test_browser_check_sees_requests_leaving_the_page(tmp_path: Path) -> None:
    """Control for the test above: a page that fetches a remote script and a local-port image is
    caught by the same net-log check (so an empty list there means something)."""
    control = tmp_path / "control.html"
    control.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                       '<script src="https://cdn.example.invalid/x.js"></script></body></html>')
    page = load(control.as_uri(), tmp_path / "control")
    assert sorted(page.external()) == ["http://127.0.0.1:9/x.png", "https://cdn.example.invalid/x.js"]
