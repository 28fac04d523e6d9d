"""Plotly figures shared by the report notebooks, the renderer set-up that makes them survive HTML
export, and the formatting of numbers in tables.

Plotly 6.1+ renders to ``plotly_mimetype`` only in a kernel, which nbconvert drops; the notebooks
call :func:`setup_plotly` first, which adds an HTML renderer whose figures expect ``Plotly`` to be
loaded by the page: the published pages load the month folder's one ``plotly.min.js`` (see
``_html``), so neither executed notebooks nor pages carry their own copy of plotly.js.

Every chart has axis titles, legends in words (never column names), one colour per meaning in
every chart (:data:`COLORS`: succeeded is green and failed red everywhere, each tier its own
colour), amounts in major units with the currency in the axis title, and rates as percentages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.io._base_renderers import NotebookRenderer

__all__ = [
    "COLORS",
    "RENDERERS",
    "bar_chart",
    "cohort_heatmap",
    "line_chart",
    "major",
    "money",
    "mrr_waterfall",
    "percent",
    "setup_plotly",
    "table",
]

OFFLINE_RENDERER = "unifiedmcp_offline"
RENDERERS = f"plotly_mimetype+{OFFLINE_RENDERER}"
TEMPLATE = "plotly_white"

# One colour per meaning, the same in every chart.
COLORS: dict[str, str] = {
    "succeeded": "#2e7d32", "success rate": "#2e7d32", "recovered": "#2e7d32", "applied": "#2e7d32",
    "ok": "#2e7d32",
    "failed": "#c62828", "rejected": "#c62828", "involuntary": "#c62828", "churned": "#c62828", "over": "#c62828",
    "authorization rate": "#1565c0", "voluntary": "#ef6c00", "errors": "#ef6c00", "near": "#f9a825",
    "ignored": "#9e9e9e", "received": "#f9a825", "upgrade": "#6a1b9a",
    "free": "#90a4ae", "pro": "#1e88e5", "enterprise": "#6a1b9a",
    "subscriber churn rate": "#c62828", "gross MRR churn rate": "#ef6c00", "net MRR churn rate": "#6a1b9a",
    "MRR": "#1e88e5", "overage revenue": "#6a1b9a",
    # decline reasons (metrics.md §5: outcome.reason, else failure_code)
    "generic_decline": "#c62828", "insufficient_funds": "#ef6c00", "expired_card": "#8d6e63",
    "authentication_required": "#6a1b9a", "do_not_honor": "#ad1457", "card_declined": "#e53935",
    "incorrect_cvc": "#5d4037", "processing_error": "#546e7a", "lost_card": "#37474f", "stolen_card": "#263238",
    "fraudulent": "#000000", "unknown": "#9e9e9e",
}
_FALLBACK = ("#00838f", "#7cb342", "#f4511e", "#3949ab", "#fdd835", "#8e24aa", "#00acc1", "#c0ca33")
# Lines that share an axis differ in dash and marker too: the first is a thick line with small
# filled markers, the others thinner dashes with large open markers drawn over it, so where two
# series are equal (success and authorization rates often are) both still show.
_DASHES = ("solid", "dash", "dot", "dashdot")
_MARKERS = ("circle", "diamond-open", "square-open", "triangle-up-open")


def _color(name: str, k: int) -> str:
    return COLORS.get(name, _FALLBACK[k % len(_FALLBACK)])


class _OfflineNotebookRenderer(NotebookRenderer):
    """Plotly's ``notebook`` renderer with neither plotly.js (the page loads it once) nor the
    MathJax CDN tag it adds to every figure."""

    def activate(self) -> None:
        """Do not embed plotly.js in the notebook: published pages load plotly.min.js once."""

    def to_mimebundle(self, fig_dict: dict) -> dict[str, str]:
        html = pio.to_html(
            fig_dict, config=self.config, auto_play=self.auto_play, include_plotlyjs=False,
            include_mathjax=False, full_html=False, animation_opts=self.animation_opts,
            default_width="100%", default_height=525, validate=False,
        )
        return {"text/html": html}


def setup_plotly() -> None:
    """Render figures both as the plotly MIME bundle (JupyterLab) and as HTML for the published
    pages (nbconvert), which load plotly.js themselves."""
    if OFFLINE_RENDERER not in pio.renderers:
        pio.renderers[OFFLINE_RENDERER] = _OfflineNotebookRenderer()
    pio.renderers.default = RENDERERS
    pio.templates.default = TEMPLATE


# Currencies whose minor unit is the major unit (Stripe's zero-decimal list, the common ones).
ZERO_DECIMAL = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                          "vuv", "xaf", "xof", "xpf"})


def major(minor: float | pd.Series, currency: str = "usd") -> float | pd.Series:
    """Minor units in major units (cents to dollars; zero-decimal currencies as they are)."""
    return minor if currency.lower() in ZERO_DECIMAL else minor / 100


def money(minor: float | None, currency: str = "usd") -> str:
    """Minor units as a readable amount: ``money(129900) == '1,299.00 USD'``."""
    if minor is None or pd.isna(minor):
        return "n/a"
    return f"{major(minor, currency):,.2f} {currency.upper()}"


def percent(x: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (``percent(0.125) == '12.5%'``); ``n/a`` for None/NaN."""
    if x is None or pd.isna(x):
        return "n/a"
    return f"{x:.{digits}%}"


def table(
    df: pd.DataFrame, columns: Mapping[str, str], *, money_columns: Sequence[str] = (),
    percent_columns: Sequence[str] = (), currency: str = "usd",
) -> pd.DataFrame:
    """``df``'s ``columns`` (name -> heading) for a page: amounts as money, rates as percentages,
    other numbers with thousands separators (whole ones without decimals), times to the minute;
    a blank index (row numbers mean nothing)."""
    out = pd.DataFrame(index=df.index)
    for col, heading in columns.items():
        s = df[col]
        if col in money_columns:
            out[heading] = s.map(lambda v: money(v, currency))
        elif col in percent_columns:
            out[heading] = s.map(percent)
        elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[heading] = s.map(_number)
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[heading] = s.dt.strftime("%Y-%m-%d %H:%M")
        else:
            out[heading] = s.fillna("").astype(str)
    out.index = [""] * len(out)
    return out


def _number(v: float) -> str:
    """A count with thousands separators (whole floats from SQL sums too), else 2 decimals."""
    if pd.isna(v):
        return ""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"


def _amounts(df: pd.DataFrame, cols: Sequence[str], currency: str | None) -> pd.DataFrame:
    if currency is None:
        return df
    return df.assign(**{c: major(df[c], currency) for c in cols})


def _axis_title(title: str, currency: str | None) -> str:
    return f"{title} ({currency.upper()})" if currency else title


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
            y=[major(s[1], currency) for s in steps],
            measure=[s[2] for s in steps],
            text=[f"{major(s[1], currency):,.2f}" for s in steps],
            textposition="outside",
            connector={"line": {"color": "#888"}},
            increasing={"marker": {"color": COLORS["succeeded"]}},
            decreasing={"marker": {"color": COLORS["failed"]}},
            totals={"marker": {"color": COLORS["MRR"]}},
        )
    )
    fig.update_layout(title=title or "MRR movements", yaxis_title=_axis_title("MRR", currency),
                      xaxis_title="", showlegend=False, height=420)
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
            zmin=0, zmax=1, colorscale="Blues", colorbar={"title": {"text": "retained"}, "tickformat": ".0%"},
            text=[[("" if pd.isna(v) else f"{v:.0%}") for v in row] for row in grid.to_numpy(dtype=float)],
            texttemplate="%{text}", hovertemplate="cohort %{y}, month %{x}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title="months since first payment", yaxis_title="cohort (first paid month)",
                      yaxis_autorange="reversed", height=max(300, 40 * len(grid) + 150))
    return fig


def bar_chart(
    df: pd.DataFrame, *, x: str, y: str | Sequence[str], title: str, y_title: str, x_title: str = "",
    color: str | None = None, legend_title: str = "", barmode: str = "stack",
    labels: Mapping[str, str] | None = None, amounts: str | None = None, percent: bool = False,
    orientation: str = "v",
) -> go.Figure:
    """Bars of ``y`` (one column, or several as series named by ``labels``) by ``x``; ``color``
    splits into series by its values. ``amounts`` (a currency) shows minor units as major ones
    and names the currency on the axis; ``percent`` formats the value axis as percentages."""
    if df.empty:
        return _empty(title)
    cols = [y] if isinstance(y, str) else list(y)
    df = _amounts(df, cols, amounts)
    names = labels or {}
    fig = go.Figure()
    if color is not None:
        for k, (key, part) in enumerate(df.groupby(color, sort=True)):
            name = names.get(str(key), str(key))
            fig.add_bar(**_xy(part[x], part[cols[0]], orientation), name=name, marker_color=_color(str(key), k))
    else:
        for k, col in enumerate(cols):
            name = names.get(col, col)
            fig.add_bar(**_xy(df[x], df[col], orientation), name=name, marker_color=_color(name, k))
    value_axis = {"title": _axis_title(y_title, amounts)} | ({"tickformat": ".0%"} if percent else {})
    category_axis = {"title": x_title}
    fig.update_layout(title=title, barmode=barmode, height=420, showlegend=len(fig.data) > 1 or color is not None,
                      legend_title_text=legend_title,
                      xaxis=value_axis if orientation == "h" else category_axis,
                      yaxis=category_axis if orientation == "h" else value_axis)
    return fig


def line_chart(
    df: pd.DataFrame, *, x: str, y: str | Sequence[str], title: str, y_title: str, x_title: str = "",
    percent: bool = False, labels: Mapping[str, str] | None = None, amounts: str | None = None,
) -> go.Figure:
    """Lines of one or several columns by ``x``, told apart by colour, dash and marker;
    ``percent`` formats the y axis as a percentage, ``amounts`` shows major units of a currency."""
    if df.empty:
        return _empty(title)
    cols = [y] if isinstance(y, str) else list(y)
    df = _amounts(df, cols, amounts)
    names = labels or {}
    fig = go.Figure()
    for k, col in enumerate(cols):
        name = names.get(col, col)
        fig.add_scatter(x=df[x], y=df[col], mode="lines+markers", name=name,
                        line={"color": _color(name, k), "dash": _DASHES[k % len(_DASHES)], "width": 4 if k == 0 else 2},
                        marker={"symbol": _MARKERS[k % len(_MARKERS)], "size": 7 if k == 0 else 13,
                                "line": {"width": 2}})
    fig.update_layout(title=title, height=400, showlegend=True, xaxis_title=x_title,
                      yaxis_title=_axis_title(y_title, amounts))
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
