"""Plotly figures shared by the report notebooks, and the renderer set-up that makes them survive
HTML export.

Plotly 6.1+ renders to ``plotly_mimetype`` only in a kernel, which nbconvert drops; the notebooks
call :func:`setup_plotly` first, which adds an HTML renderer (plotly.js embedded once in the
notebook, never loaded from a CDN). Plotly's own ``notebook`` renderer also writes a MathJax
``<script src>`` pointing at a CDN into every figure; ours is the same renderer without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import NotebookRenderer

__all__ = [
    "RENDERERS",
    "bar_chart",
    "cohort_heatmap",
    "line_chart",
    "money",
    "mrr_waterfall",
    "percent",
    "setup_plotly",
]

OFFLINE_RENDERER = "unifiedmcp_offline"
RENDERERS = f"plotly_mimetype+{OFFLINE_RENDERER}"
TEMPLATE = "plotly_white"


class _OfflineNotebookRenderer(NotebookRenderer):
    """Plotly's ``notebook`` renderer (plotly.js embedded once, offline) minus the MathJax CDN tag."""

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        html = pio.to_html(
            fig_dict, config=self.config, auto_play=self.auto_play, include_plotlyjs=False,
            include_mathjax=False, full_html=False, animation_opts=self.animation_opts,
            default_width="100%", default_height=525, validate=False,
        )
        return {"text/html": html}


def setup_plotly() -> None:
    """Render figures both as the plotly MIME bundle (JupyterLab) and as offline HTML (nbconvert)."""
    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = _OfflineNotebookRenderer()
    pio.renderers.default = RENDERERS
    pio.templates.default = TEMPLATE


# Currencies whose minor unit is the major unit (Stripe's zero-decimal list, the common ones).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})


def money(minor: float | None, currency: str = "usd") -> str:
    """Minor units as a readable amount: ``money(129900) == '1,299.00 USD'``."""
    if minor is None or pd.isna(minor):
        return "n/a"
    major = minor if currency.lower() in ZERO_DECIMAL else minor / 100
    return f"{major:,.2f} {currency.upper()}"


def percent(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``percent(0.125) == '12.5%'``); ``n/a`` for None/NaN."""
    if x is None or pd.isna(x):
        return "n/a"
    return f"{x:.{digits}%}"


def mrr_waterfall(mrr: Mapping[str, float], *, currency: str = "usd", title: str | None = None) -> go.Figure:
    """MRR at the start of the month, its five movements, and MRR at the end (metrics.md §3).

    ``mrr`` is the ``mrr`` object of ``metrics.monthly`` (start, new, reactivation, expansion,
    contraction, churned, end), in minor units; the chart shows major units.
    """
    steps = [
        ("MRR start", mrr["start"], "absolute"),
        ("New", mrr["new"], "relative"),
        ("Reactivation", mrr["reactivation"], "relative"),
        ("Expansion", mrr["expansion"], "relative"),
        ("Contraction", -mrr["contraction"], "relative"),
        ("Churned", -mrr["churned"], "relative"),
        ("MRR end", mrr["end"], "total"),
    ]
    fig = go.Figure(
        go.Waterfall(
            x=[s[0] for s in steps],
            y=[s[1] / 100 for s in steps],
            measure=[s[2] for s in steps],
            text=[f"{s[1] / 100:,.2f}" for s in steps],
            textposition="outside",
            connector={"line": {"color": "#888"}},
        )
    )
    fig.update_layout(
        title=title or "MRR movements", yaxis_title=currency.upper(), showlegend=False, height=420
    )
    return fig


def cohort_heatmap(cohorts: pd.DataFrame, *, title: str = "Cohort retention") -> go.Figure:
    """Retention by cohort (rows) and age in months (columns) from :func:`cohort_retention`."""
    if cohorts.empty:
        return _empty(title)
    grid = cohorts.pivot(index="cohort", columns="age", values="retention").sort_index()
    sizes = cohorts.groupby("cohort")["cohort_size"].max().reindex(grid.index)
    fig = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(dtype=float),
            x=[f"+{int(a)}" for a in grid.columns],
            y=[f"{c} (n={int(n)})" for c, n in zip(grid.index, sizes, strict=True)],
            zmin=0, zmax=1, colorscale="Blues",
            text=[[("" if pd.isna(v) else f"{v:.0%}") for v in row] for row in grid.to_numpy(dtype=float)],
            texttemplate="%{text}", hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="months since first payment", yaxis_autorange="reversed",
                      height=max(300, 40 * len(grid) + 150))
    return fig


def bar_chart(
    df: pd.DataFrame, *, x: str, y: str | Sequence[str], color: str | None = None, title: str,
    barmode: str = "stack", labels: Mapping[str, str] | None = None, orientation: str = "v",
) -> go.Figure:
    """Bars of ``y`` (one column, or several as series) by ``x``; ``color`` splits into series."""
    fig = go.Figure()
    if df.empty:
        return _empty(title)
    names = labels or {}
    if color is not None:
        for key, part in df.groupby(color, sort=True):
            fig.add_bar(**_xy(part[x], part[y], orientation), name=str(key))
    else:
        for col in [y] if isinstance(y, str) else list(y):
            fig.add_bar(**_xy(df[x], df[col], orientation), name=names.get(col, col))
    fig.update_layout(title=title, barmode=barmode, legend_title_text=color or "", height=420)
    return fig


def line_chart(
    df: pd.DataFrame, *, x: str, y: str | Sequence[str], title: str, percent: bool = False,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Lines of one or several columns by ``x``; ``percent`` formats the y axis as a percentage."""
    if df.empty:
        return _empty(title)
    names = labels or {}
    fig = go.Figure()
    for col in [y] if isinstance(y, str) else list(y):
        fig.add_scatter(x=df[x], y=df[col], mode="lines+markers", name=names.get(col, col))
    fig.update_layout(title=title, height=400)
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return fig


def _xy(x: pd.Series, y: pd.Series, orientation: str) -> dict[str, object]:
    return {"x": x, "y": y} if orientation == "v" else {"x": y, "y": x, "orientation": "h"}


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title=title, height=250, xaxis_visible=False, yaxis_visible=False,
        annotations=[{"text": "no data for this period", "showarrow": False, "font": {"size": 16}}],
    )
    return fig
