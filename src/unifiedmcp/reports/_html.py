"""Executed notebook -> one self-contained HTML file that works offline.

nbconvert's ``lab`` template loads require.js, MathJax and Mermaid from CDNs; the ``offline``
template below drops those blocks. Plotly figures carry their own plotly.js (the ``notebook``
renderer embeds it once per notebook, see :func:`setup_plotly`). :func:`check_offline` refuses
any file that would still fetch a script, stylesheet, image or frame from the network.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import nbformat
from nbconvert import HTMLExporter

from ._errors import NotOffline

__all__ = ["OFFLINE_TEMPLATE", "check_offline", "export_html"]

OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
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


def export_html(notebook: str | Path, html: str | Path, *, title: str | None = None, show_code: bool = False) -> Path:
    """Write ``notebook`` (executed) as one offline HTML file and check it; returns ``html``."""
    nb = nbformat.read(str(notebook), as_version=4)
    if title:
        nb.metadata["title"] = title
    body, _ = _exporter(show_code=show_code).from_notebook_node(nb, resources={"metadata": {"name": title or ""}})
    html = Path(html)
    html.write_text(body, encoding="utf-8")
    check_offline(html)
    return html


class _Fetches(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in _FETCHING and value and _EXTERNAL.match(value):
                self.external.append(f"<{tag} {name}={value}>")
            if tag == "script" and name == "src" and value and "cdn" in value.lower():
                self.external.append(f"<{tag} {name}={value}>")


def check_offline(html: str | Path) -> None:
    """Raise :class:`NotOffline` when ``html`` would fetch anything from the network by itself."""
    path = Path(html)
    text = path.read_text(encoding="utf-8")
    parser = _Fetches()
    parser.feed(text)
    parser.close()
    if parser.external:
        raise NotOffline(path, parser.external[0])
    for style in re.findall(r"<style[^>]*>(.*?)</style>", text, flags=re.DOTALL | re.IGNORECASE):
        if m := _CSS_IMPORT.search(style):
            raise NotOffline(path, m.group(0))
