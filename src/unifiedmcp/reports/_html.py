"""Executed notebook -> an HTML page that works offline, beside the month's one ``plotly.min.js``.

nbconvert's ``lab`` template loads require.js, MathJax and Mermaid from CDNs; the ``offline``
template below drops those blocks and loads ``plotly.min.js`` from the page's own folder instead
(:func:`write_plotly_js` puts it there once per month, about 4.8 MB, rather than once per page),
and puts the run's header (generation and data time, warnings) at the top of the page.
:func:`check_offline` refuses any page that would fetch a script, stylesheet, image or frame
from the network, or that names a local script missing beside it.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter

from ._errors import NotOffline

__all__ = ["OFFLINE_TEMPLATE", "PLOTLY_JS", "check_offline", "export_html", "write_plotly_js"]

PLOTLY_JS = "plotly.min.js"
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}
<script src="plotly.min.js" charset="utf-8"></script>
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block body_header -%}{{ super() }}{{ resources.get('page_header', '') }}{%- endblock body_header -%}
"""
_TEMPLATE_FILE = "unifiedmcp_offline.html.j2"

# Attributes through which a page makes the browser fetch something by itself.
_FETCHING = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
             ("embed", "src"), ("object", "data"), ("audio", "src"), ("video", "src")}
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)


def _exporter(*, show_code: bool) -> HTMLExporter:
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({_TEMPLATE_FILE: OFFLINE_TEMPLATE})],
        embed_images=True,
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.template_file = _TEMPLATE_FILE
    return exporter


def write_plotly_js(directory: str | Path) -> Path:
    """Copy plotly.js (the version the figures were made with) into ``directory``, once."""
    target = Path(directory) / PLOTLY_JS
    source = resources.files("plotly").joinpath("package_data", PLOTLY_JS)
    with resources.as_file(source) as path:
        if not target.exists() or target.stat().st_size != path.stat().st_size:
            shutil.copyfile(path, target)
    return target


def export_html(
    notebook: str | Path, html: str | Path, *, title: str | None = None, show_code: bool = False, header: str = "",
) -> Path:
    """Write ``notebook`` (executed) as an offline HTML page with ``header`` (HTML) at its top,
    and check it; returns ``html``. The page loads ``plotly.min.js`` from its folder: see
    :func:`write_plotly_js`."""
    nb = nbformat.read(str(notebook), as_version=4)
    if title:
        nb.metadata["title"] = title
    body, _ = _exporter(show_code=show_code).from_notebook_node(
        nb, resources={"metadata": {"name": title or ""}, "page_header": header})
    html = Path(html)
    html.write_text(body, encoding="utf-8")
    check_offline(html)
    return html


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external: list[str] = []
        self.local_scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in _FETCHING and value and _EXTERNAL.match(value):
                self.external.append(f"<{tag} {name}={value}>")
            elif tag == "script" and name == "src" and value:
                if "cdn" in value.lower():
                    self.external.append(f"<{tag} {name}={value}>")
                elif not value.startswith(("data:", "blob:")):
                    self.local_scripts.append(value)


def check_offline(html: str | Path) -> None:
    """Raise :class:`NotOffline` when ``html`` would fetch anything from the network by itself,
    or loads a local script that is not beside it."""
    path = Path(html)
    text = path.read_text(encoding="utf-8")
    parser = _Fetches()
    parser.feed(text)
    parser.close()
    if parser.external:
        raise NotOffline(path, parser.external[0])
    for src in parser.local_scripts:
        if not (path.parent / src).is_file():
            raise NotOffline(path, f"{src} (missing beside the page)")
    for style in re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.DOTALL | re.IGNORECASE):
        if m := _CSS_IMPORT.search(style):
            raise NotOffline(path, m.group(0))
