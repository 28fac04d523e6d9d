"""Check JSON responses and events against the shapes derived from stripe-node's declarations.

``stripe-shapes.json`` (written by ``scripts/derive-stripe-shapes.py``) gives, for each operation
the sandbox serves, its result type, for each event type the type of ``data.object``, and every
object type field by field. :meth:`Shapes.check_response` and :meth:`Shapes.check_event` return
the differences as ``(where, problem)`` pairs, where ``where`` names the declared type and field
(``PaymentIntent.LastPaymentError.advice_code``) so that one difference reads the same wherever
it occurs, and ``problem`` is one of:

- ``missing``: a required field is absent;
- ``undeclared``: a field the declarations do not have;
- ``null``: ``null`` where the field is not nullable;
- ``enum <value>``: a value outside the declared literals;
- ``type <json type>``: a value of another type.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["Shapes", "Difference", "SHAPES_PATH"]

SHAPES_PATH = Path(__file__).with_name("stripe-shapes.json")
Difference = tuple[str, str]
Type = Any


def _short(name: str) -> str:
    """``Checkout/Sessions:Session.Discount`` -> ``Checkout.Session.Discount`` (readable, still unique)."""
    module, _, chain = name.partition(":")
    top = module.split("/")[0]
    return f"{top}.{chain}" if "/" in module else chain


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class Shapes:
    def __init__(self, path: Path = SHAPES_PATH) -> None:
        data = json.loads(path.read_text())
        self.api_version: str = data["api_version"]
        self.operations: dict[str, dict[str, Any]] = data["operations"]
        self.events: dict[str, Type] = data["events"]
        self.event_base: Type = data["event_base"]
        self.types: dict[str, dict[str, Any]] = data["types"]

    # -- entry points ---------------------------------------------------------------------------
    def operation_key(self, method: str, template: str) -> str:
        return f"{method} " + re.sub(r"\{\w+\}", "{}", template)

    def check_response(self, method: str, template: str, body: Any) -> list[Difference]:
        op = self.operations[self.operation_key(method, template)]
        out: list[Difference] = []
        where = f"({op['sdk']})"
        if op["kind"] == "object":
            self._check(body, op["t"], where, out)
        else:  # list / search: the container, then each element
            container = {"list": op["t"]} if op["kind"] == "list" else None
            if container is not None:
                self._check(body, container, where, out)
            else:
                self._check_search(body, op["t"], where, out)
        return out

    def check_event(self, event: Any) -> list[Difference]:
        out: list[Difference] = []
        self._check(event, self.event_base, "Event", out)
        etype = event.get("type") if isinstance(event, dict) else None
        obj = ((event or {}).get("data") or {}).get("object")
        if etype in self.events:
            self._check(obj, self.events[etype], f"event {etype}", out)
        elif etype is not None:
            out.append((f"event {etype}", "no declared data.object"))
        return out

    # -- the walk -------------------------------------------------------------------------------
    def _check_search(self, body: Any, item: Type, where: str, out: list[Difference]) -> None:
        fields = {"object": {"enum": ["search_result"]}, "data": {"array": item}, "has_more": "boolean",
                  "url": "string", "next_page": {"union": ["null", "string"]}}
        self._fields(body, {k: {"t": v} for k, v in fields.items()} | {"total_count": {"t": "number", "optional": True}},
                     f"{where} search result", out)

    def _check(self, value: Any, t: Type, where: str, out: list[Difference]) -> None:
        if isinstance(t, str):
            self._scalar(value, t, where, out)
            return
        if "union" in t:
            self._union(value, t["union"], where, out)
        elif "enum" in t:
            if value is None:
                out.append((where, "null"))
            elif value not in t["enum"]:
                out.append((where, f"enum {value}"))
        elif "ref" in t:
            self._fields(value, self.types[t["ref"]]["fields"], _short(t["ref"]), out)
        elif "object" in t:
            self._fields(value, t["object"], where, out)
        elif "array" in t:
            if not isinstance(value, list):
                out.append((where, "null" if value is None else f"type {_json_type(value)}"))
                return
            for item in value:
                self._check(item, t["array"], where, out)
        elif "map" in t:
            if not isinstance(value, dict):
                out.append((where, "null" if value is None else f"type {_json_type(value)}"))
                return
            for item in value.values():
                self._check(item, t["map"], where, out)
        elif "list" in t:
            fields = {"object": {"t": {"enum": ["list"]}}, "data": {"t": {"array": t["list"]}},
                      "has_more": {"t": "boolean"}, "url": {"t": "string"}}
            self._fields(value, fields, f"{where} list", out)

    def _scalar(self, value: Any, t: str, where: str, out: list[Difference]) -> None:
        if t == "any":
            return
        if value is None:
            if t != "null":
                out.append((where, "null"))
            return
        got = _json_type(value)
        want = "string" if t == "decimal" else t
        if got != want:
            out.append((where, f"type {got}"))

    def _union(self, value: Any, alternatives: list[Type], where: str, out: list[Difference]) -> None:
        if value is None:
            if "null" not in alternatives and "any" not in alternatives:
                out.append((where, "null"))
            return
        tried: list[tuple[tuple[int, int], list[Difference]]] = []
        for alt in alternatives:
            if alt == "null":
                continue
            found: list[Difference] = []
            self._check(value, alt, where, found)
            if not found:
                return
            tried.append(((self._kinship(value, alt), len(found)), found))
        # Report against the alternative of the object's own kind (``object``, and deleted or not:
        # Customer vs DeletedCustomer), else the one with the fewest differences.
        out.extend(min(tried, key=lambda t: t[0])[1] if tried else [(where, f"type {_json_type(value)}")])

    def _kinship(self, value: Any, alt: Type) -> int:
        if not (isinstance(alt, dict) and "ref" in alt and isinstance(value, dict)):
            return 0
        fields = self.types[alt["ref"]]["fields"]
        declared = fields.get("object", {}).get("t", {})
        same_kind = isinstance(declared, dict) and value.get("object") in declared.get("enum", [])
        return -(2 * same_kind + (("deleted" in fields) == ("deleted" in value)))

    def _fields(self, value: Any, fields: dict[str, Any], where: str, out: list[Difference]) -> None:
        if not isinstance(value, dict):
            out.append((where, "null" if value is None else f"type {_json_type(value)}"))
            return
        for name, spec in fields.items():
            if name not in value:
                if not spec.get("optional"):
                    out.append((f"{where}.{name}", "missing"))
                continue
            self._check(value[name], spec["t"], f"{where}.{name}", out)
        for name in value:
            if name not in fields:
                out.append((f"{where}.{name}", "undeclared"))
