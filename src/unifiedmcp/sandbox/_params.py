"""The "Received unknown parameter" check, driven by the ``stripe`` package's own TypedDicts.

stripe-python ships one TypedDict per endpoint (``stripe/params/_customer_create_params.py``) and
its services name them next to the request path (``params: Optional["CustomerCreateParams"]`` ...
``"post", "/v1/customers"``). Reading that pairing from the installed package gives the accepted
parameters of every endpoint for the exact API version the client speaks, with nothing to maintain
here. Nested dicts are checked as deep as the TypedDicts describe them.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import Any

from typing_extensions import is_typeddict

from ._errors import invalid

__all__ = ["check_params", "endpoint_params", "warm_up"]

_METHOD = re.compile(
    r'params: (?:Optional\[)?"(\w+Params)".*?self\._request\(\s*"(\w+)",\s*"(/v1/[^"]*)"', re.S
)
_IMPORT = re.compile(r"from (stripe\.params[\w.]*) import \(?\s*(\w+)")
_NAME = re.compile(r"\b(\w+Params\w*)\b")
# Keys of stripe.RequestOptions are client options, never sent as parameters.
_OPTION_KEYS = {
    "api_key", "stripe_version", "stripe_account", "stripe_context",
    "max_network_retries", "idempotency_key", "content_type", "headers",
}


@cache
def _routes() -> list[tuple[str, re.Pattern[str], int, str]]:
    import stripe

    root = Path(stripe.__file__).parent
    routes: list[tuple[str, re.Pattern[str], int, str]] = []
    for path in root.rglob("_*_service.py"):
        if "v2" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        modules = {n: m for m, n in _IMPORT.findall(text)}
        for chunk in text.split("\n    def ")[1:]:
            m = _METHOD.search(chunk)
            if m:
                cls, method, url = m.groups()
                literal = len(re.sub(r"\{\w+\}", "", url))
                pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(url)) + "$")
                routes.append((method.upper(), pattern, literal, f"{modules.get(cls, '')}:{cls}"))
    return routes


def warm_up() -> None:
    """Index the stripe package now (about 0.5 s) rather than on the first request."""
    _routes()


@cache
def endpoint_params(method: str, path: str) -> type | None:
    """The TypedDict of ``method path`` (e.g. ``POST /v1/customers``), or ``None`` if unknown."""
    best: tuple[int, str] | None = None
    for m, pattern, literal, cls in _routes():
        if m == method and pattern.match(path):
            # Prefer the most literal route: /v1/customers/search over /v1/customers/{customer}.
            if best is None or literal > best[0]:
                best = (literal, cls)
    return None if best is None else _resolve_class(best[1])


@cache
def _resolve_class(qualified: str) -> type | None:
    module, _, name = qualified.partition(":")
    try:
        return getattr(importlib.import_module(module or "stripe.params"), name)
    except (ImportError, AttributeError):
        return None


@cache
def _known(td: type) -> frozenset[str]:
    return frozenset(getattr(td, "__annotations__", {})) - _OPTION_KEYS


@cache
def _nested(td: type) -> dict[str, tuple[type, bool]]:
    """Per key, the nested TypedDict its annotation names and whether it is a list of them.

    The annotations are strings (``NotRequired["Literal['']|List[XParamsItem]"]``) that
    ``typing.get_type_hints`` cannot evaluate (a base class names an import-guarded type), so
    the names are read from the annotation text and looked up in the defining module.
    """
    module = vars(importlib.import_module(td.__module__))
    out: dict[str, tuple[type, bool]] = {}
    for key, ann in getattr(td, "__annotations__", {}).items():
        text = repr(ann)
        for name in _NAME.findall(text):
            cls = module.get(name)
            if cls is not None and is_typeddict(cls):
                is_list = re.search(r"List\[(?:ForwardRef\(')?" + name + r"\b", text) is not None
                out[key] = (cls, is_list)
                break
    return out


def check_params(method: str, path: str, params: dict[str, Any]) -> None:
    """Raise Stripe's 400 for the first parameter the endpoint does not define."""
    td = endpoint_params(method, path)
    if td is not None:
        _check(td, params, prefix="")


def _check(td: type, value: dict[str, Any], *, prefix: str) -> None:
    known = _known(td)
    nested = _nested(td)
    for key, sub in value.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in known:
            raise invalid(f"Received unknown parameter: {name}", param=name)
        if key not in nested:
            continue
        inner, is_list = nested[key]
        if is_list and isinstance(sub, list):
            for i, item in enumerate(sub):
                if isinstance(item, dict):
                    _check(inner, item, prefix=f"{name}[{i}]")
        elif isinstance(sub, dict):
            _check(inner, sub, prefix=name)
