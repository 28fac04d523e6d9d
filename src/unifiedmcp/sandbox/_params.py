"""Parameter checks driven by the ``stripe`` package's own TypedDicts: unknown, missing, empty,
integer and enum parameters, with Stripe's messages and codes.

stripe-python ships one TypedDict per endpoint (``stripe/params/_customer_create_params.py``) and
its services name them next to the request path (``params: Optional["CustomerCreateParams"]`` ...
``"post", "/v1/customers"``). Reading that pairing from the installed package gives the accepted
parameters of every endpoint for the exact API version the client speaks, with nothing to maintain
here. Nested dicts are checked as deep as the TypedDicts describe them. Each parameter's annotation
also says what it accepts, and the checks follow it:

- a name the TypedDict lacks: ``parameter_unknown`` (``Received unknown parameter: items[0][colour]``);
- a required key (``__required_keys__``) absent: ``parameter_missing``;
- ``""`` where the annotation has no ``Literal['']`` (the parameter cannot be unset):
  ``parameter_invalid_empty``;
- not an integer where the annotation is ``int`` (alone, or beside literals): ``parameter_invalid_integer``;
- a value outside ``Literal[...]`` where the annotation is an enum (``Literal['a', 'b']|str``: the
  ``|str`` is the SDK's allowance for values added later, not something the API accepts):
  ``Invalid x: must be one of a or b``, with ``param`` and, as Stripe, no code.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

from typing_extensions import NotRequired, Required, is_typeddict

from ._errors import invalid_empty, invalid_enum, invalid_integer, missing_param, unknown_param

__all__ = ["check_params", "endpoint_params", "warm_up"]

_METHOD = re.compile(
    r'params: (?:Optional\[)?"(\w+Params)".*?self\._request\(\s*"(\w+)",\s*"(/v1/[^"]*)"', re.S
)
_IMPORT = re.compile(r"from (stripe\.params[\w.]*) import \(?\s*(\w+)")
_NAME = re.compile(r"\b(\w+Params\w*)\b")
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_QUOTED = re.compile(r"'([^']*)'")
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
def _nested(td: type) -> dict[str, tuple[type, str]]:
    """Per key, the nested TypedDict its annotation names and how: ``one``, a ``list`` of them, or a
    ``map`` (``Dict[str, X]``: free keys, such as currencies, each holding an X).

    The annotations are strings (``NotRequired["Literal['']|List[XParamsItem]"]``) that
    ``typing.get_type_hints`` cannot evaluate (a base class names an import-guarded type), so
    the names are read from the annotation text and looked up in the defining module.
    """
    module = vars(importlib.import_module(td.__module__))
    out: dict[str, tuple[type, str]] = {}
    for key, ann in getattr(td, "__annotations__", {}).items():
        text = repr(ann)
        for name in _NAME.findall(text):
            cls = module.get(name)
            if cls is not None and is_typeddict(cls):
                if re.search(r"List\[(?:ForwardRef\(')?" + name + r"\b", text):
                    out[key] = (cls, "list")
                elif re.search(r"Dict\[str, " + name + r"\b", text):
                    out[key] = (cls, "map")
                else:
                    out[key] = (cls, "one")
                break
    return out


@dataclass(frozen=True)
class _Scalar:
    """What one parameter's annotation accepts, for the checks that apply to a single value."""

    empty_ok: bool  # Literal[''] is among the alternatives
    literals: tuple[str, ...]  # an enum's values ('' left out), in the SDK's order
    integer: bool  # int is among the alternatives
    boolean: bool  # bool is ("true" / "false" on the wire)
    number: bool  # float is
    other: bool  # something else too: any string (str alone), a dict, a list


def _split(text: str) -> list[str]:
    """``"Literal['']|List[X]"`` -> ``["Literal['']", "List[X]"]``: the top-level ``|`` alternatives."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _alternatives(annotation: Any) -> list[str]:
    """An annotation's alternatives as text: ``NotRequired["Literal['']|int"]`` -> ``["Literal['']", "int"]``.

    Optional keys carry string annotations (``ForwardRef``); required keys of nested TypedDicts
    carry evaluated ones (``Union[Literal['day', 'month'], str]``, ``int``): both are read.
    """
    if isinstance(annotation, str):
        return _split(annotation)
    if isinstance(annotation, ForwardRef):
        return _split(annotation.__forward_arg__)
    origin = get_origin(annotation)
    if origin in (NotRequired, Required):
        return _alternatives(get_args(annotation)[0])
    if origin is Union:
        return [alt for arg in get_args(annotation) for alt in _alternatives(arg)]
    if origin is Literal:
        return [f"Literal[{', '.join(repr(a) for a in get_args(annotation))}]"]
    return [getattr(annotation, "__name__", repr(annotation))]


def _scalar(annotation: Any) -> _Scalar:
    alts = _alternatives(annotation)
    literals: list[str] = []
    empty_ok = any_literal = False
    for alt in alts:
        if alt.startswith("Literal["):
            any_literal = True
            for value in _QUOTED.findall(alt):
                if value == "":
                    empty_ok = True
                else:
                    literals.append(value)
    # ``Literal[...]|str``: the str is the SDK's allowance for enum values added later.
    plain = {a for a in alts if not a.startswith("Literal[")} - ({"str"} if literals else set())
    return _Scalar(empty_ok, tuple(literals), "int" in plain, "bool" in plain, "float" in plain,
                   bool(plain - {"int", "bool", "float"}) or (not any_literal and not plain))


@cache
def _scalars(td: type) -> dict[str, _Scalar]:
    return {k: _scalar(a) for k, a in getattr(td, "__annotations__", {}).items() if k not in _OPTION_KEYS}


@cache
def _required(td: type) -> tuple[str, ...]:
    return tuple(sorted(k for k in getattr(td, "__required_keys__", ()) if k not in _OPTION_KEYS))


def check_params(method: str, path: str, params: dict[str, Any]) -> None:
    """Raise Stripe's 400 for the first parameter the endpoint does not accept as sent."""
    td = endpoint_params(method, path)
    if td is not None:
        _check(td, params, prefix="")


def _check_value(rule: _Scalar, value: Any, name: str) -> None:
    if value == "":
        if not rule.empty_ok:
            raise invalid_empty(name)
        return
    if not isinstance(value, str) or rule.other or value in rule.literals:
        return  # a dict or a list is checked by its own TypedDict, if any
    if rule.boolean and value in ("true", "false"):
        return
    if rule.integer and _INTEGER.match(value):
        return
    if rule.number and _NUMBER.match(value):
        return
    if rule.integer:
        raise invalid_integer(value, name)  # an integer, or one of a few words (trial_end: "now")
    if rule.literals:
        raise invalid_enum(name, list(rule.literals))


def _check(td: type, value: dict[str, Any], *, prefix: str) -> None:
    known = _known(td)
    nested = _nested(td)
    scalars = _scalars(td)
    for key, sub in value.items():
        name = f"{prefix}[{key}]" if prefix else key
        if key not in known:
            raise unknown_param(name)
        _check_value(scalars[key], sub, name)
        if key not in nested:
            continue
        inner, how = nested[key]
        if how == "list" and isinstance(sub, list):
            for i, item in enumerate(sub):
                if isinstance(item, dict):
                    _check(inner, item, prefix=f"{name}[{i}]")
        elif how == "map" and isinstance(sub, dict):
            for k, item in sub.items():
                if isinstance(item, dict):
                    _check(inner, item, prefix=f"{name}[{k}]")
        elif isinstance(sub, dict):
            _check(inner, sub, prefix=name)
    for key in _required(td):
        if key not in value:
            raise missing_param(f"{prefix}[{key}]" if prefix else key)
