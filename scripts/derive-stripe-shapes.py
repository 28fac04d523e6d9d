#!/usr/bin/env python3
"""Derive the response shapes of every operation the sandbox serves from stripe-node's declarations.

    .venv/bin/python scripts/derive-stripe-shapes.py

stripe-node 23.1.x pins the API version stripe-python 16 sends (2026-10-28.endive), and its
TypeScript declarations are generated from Stripe's OpenAPI spec (whose spec3.json is too large
to vendor). This script installs ``stripe@23.1.0`` and ``typescript`` into ``.cache/`` (through
``scripts/install-npm.sh``), asks the TypeScript checker (``derive-stripe-shapes.mjs``) for the
result type of each route the sandbox registers and of each event type the sandbox's source names,
and writes two files:

- ``tests/sandbox/stripe-shapes.json``: the operations, the events and every object type they
  reach, field by field (required or optional, nullable, enums, expandable, lists), one type per
  line. ``tests/sandbox/test_stripe_shapes.py`` validates every response and event against it,
  offline.
- ``src/unifiedmcp/sandbox/_shapes.py``: the top-level keys of each object kind the sandbox builds
  (``blank()`` starts every object from them), so that a builder cannot add a key Stripe does not
  have or forget one it always returns. The declarations mark many keys optional (``?``) that
  Stripe returns on every object in practice (``customer.name``); Stripe's published example of
  each resource (``tests/sandbox/stripe-openapi-fixtures3.json``) shows which, so a key is
  defaulted when it is required or the example has it, and otherwise left out until set.

A sandbox route stripe-node does not have is an error (exit 1): the sandbox serves Stripe's API,
nothing else. Run it again after adding a route or an event, and commit both files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "src" / "unifiedmcp" / "sandbox"
SHAPES_JSON = ROOT / "tests" / "sandbox" / "stripe-shapes.json"
SHAPES_PY = SANDBOX / "_shapes.py"
FIXTURES = ROOT / "tests" / "sandbox" / "stripe-openapi-fixtures3.json"
PACKAGES = ("stripe@23.1.0", "typescript@5.9.3")

Json = dict[str, Any]


def install() -> Path:
    out = subprocess.run([str(ROOT / "scripts" / "install-npm.sh"), "stripe-shapes", *PACKAGES],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip()) / "node_modules" / "stripe"


def sandbox_routes() -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT / "src"))
    from unifiedmcp.sandbox import _app  # noqa: F401  (registers every route)
    from unifiedmcp.sandbox._router import routes

    return sorted({(m, re.sub(r"\{\w+\}", "{}", t)) for m, t in routes()})


def event_candidates() -> list[str]:
    """Every quoted dotted name in the sandbox's source; the checker keeps those that are event types."""
    text = "\n".join(p.read_text() for p in SANDBOX.rglob("*.py"))
    return sorted(set(re.findall(r"\"([a-z_]+(?:\.[a-z_]+)+)\"", text)))


def derive(stripe_dir: Path, routes: list[tuple[str, str]], events: list[str]) -> Json:
    with tempfile.NamedTemporaryFile("w", suffix=".json") as req:
        json.dump({"operations": routes, "events": events}, req)
        req.flush()
        out = subprocess.run(["node", str(ROOT / "scripts" / "derive-stripe-shapes.mjs"), str(stripe_dir), req.name],
                             check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def write_json(data: Json) -> None:
    # One type per line: a regenerated file diffs type by type.
    head = {k: data[k] for k in ("stripe_node", "api_version", "event_types", "event_base", "operations", "events")}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)},")
    lines.append('"types": {')
    names = sorted(data["types"])
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(data['types'][name], sort_keys=True)}{comma}")
    lines.append("}}")
    SHAPES_JSON.write_text("\n".join(lines) + "\n")


def _refs(t: Any, *, follow_expandable: bool) -> list[str]:
    """Object types a field's type embeds (an expandable's alternatives are separate resources)."""
    if isinstance(t, str):
        return []
    if "ref" in t:
        return [t["ref"]]
    if "union" in t:
        if not follow_expandable and "string" in t["union"]:
            return []
        return [r for u in t["union"] for r in _refs(u, follow_expandable=follow_expandable)]
    for key in ("array", "list", "map"):
        if key in t:
            return _refs(t[key], follow_expandable=follow_expandable)
    if "object" in t:
        return [r for f in t["object"].values() for r in _refs(f["t"], follow_expandable=follow_expandable)]
    return []


def object_kinds(data: Json) -> dict[str, Json]:
    """``object`` value -> fields, for the resources the sandbox returns and the objects they embed."""
    types = data["types"]
    todo = [r for op in data["operations"].values() for r in _refs(op["t"], follow_expandable=True)]
    todo += [r for t in data["events"].values() for r in _refs(t, follow_expandable=True)]
    seen: set[str] = set()
    kinds: dict[str, Json] = {}
    while todo:
        name = todo.pop()
        if name in seen or types.get(name) is None:
            continue
        seen.add(name)
        fields = types[name]["fields"]
        for f in fields.values():
            todo += _refs(f["t"], follow_expandable=False)
        kind = (fields.get("object") or {}).get("t")
        if isinstance(kind, dict) and len(kind.get("enum", [])) == 1 and "deleted" not in fields:
            kinds.setdefault(kind["enum"][0], fields)
    return dict(sorted(kinds.items()))


def _is_list(t: Any) -> bool:
    return isinstance(t, dict) and "array" in t


def _has_array(t: Any) -> bool:
    """An array, possibly nullable (Stripe's example shows ``[]`` for those it returns empty)."""
    return _is_list(t) or (isinstance(t, dict) and any(_is_list(u) for u in t.get("union", [])))


def write_py(data: Json) -> None:
    kinds = object_kinds(data)
    examples = json.loads(FIXTURES.read_text())["resources"]
    out = [
        '"""Top-level keys of each Stripe object the sandbox builds, derived from stripe-node\'s declarations.',
        "",
        f"Generated by ``scripts/derive-stripe-shapes.py`` from stripe-node {data['stripe_node']} (API version",
        f"``{data['api_version']}``); do not edit by hand. Every object the sandbox returns is built from these",
        "key lists (see :func:`unifiedmcp.sandbox._objects.blank`): ``L`` keys hold a list (default ``[]``),",
        "``S`` keys anything else (default ``None`` unless the builder sets them): the declared required keys",
        "and the optional ones Stripe's example object has (``stripe-openapi-fixtures3.json``); ``O`` keys are",
        "the other optional ones, present only when a builder sets them, as Stripe omits them otherwise.",
        "``tests/sandbox/test_stripe_shapes.py`` checks every field, nested ones included.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        'L = "list"',
        'S = "scalar"',
        'O = "optional"',
        "",
        "SHAPES: dict[str, dict[str, str]] = {",
    ]
    for kind, fields in kinds.items():
        example = examples.get(kind, {})
        out.append(f"    {kind!r}: {{")
        for name, spec in fields.items():
            optional = spec.get("optional") and name not in example
            listed = _is_list(spec["t"]) or (isinstance(example.get(name), list) and _has_array(spec["t"]))
            mark = "O" if optional else ("L" if listed else "S")
            out.append(f"        {name!r}: {mark},")
        out.append("    },")
    out.append("}")
    SHAPES_PY.write_text("\n".join(out) + "\n")


def main() -> int:
    stripe_dir = install()
    routes = sandbox_routes()
    data = derive(stripe_dir, routes, event_candidates())
    if data["unknown_operations"]:
        print("stripe-node has no operation for these sandbox routes:", *data["unknown_operations"], sep="\n  ",
              file=sys.stderr)
        return 1
    write_json(data)
    write_py(data)
    print(f"{len(data['operations'])} operations, {len(data['events'])} event types, {len(data['types'])} types "
          f"-> {SHAPES_JSON.relative_to(ROOT)}, {SHAPES_PY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
