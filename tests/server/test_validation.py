"""Bad arguments never reach Stripe: every tool answers a validation error (wrong id prefix,
negative amount, unknown currency, limit out of range), and random arguments thrown at every
tool (hypothesis) give structured errors, never a crash.

An operator server on a recording client (network cut) serves every tool with the same argument
schemas a customer server has (a customer's tools add only ``account``, tested in test_tenancy)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import anyio.from_thread
import mcp
import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from unifiedmcp.ledger import Ledger
from unifiedmcp.server import Runtime, ServerOptions, build_server

from .conftest import RecordingHTTPClient


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, RecordingHTTPClient]]:
    """One offline server and in-memory client for the module, driven from sync code via a portal."""
    recorder = RecordingHTTPClient()
    client = stripe.StripeClient("sk_test_offline", http_client=recorder, max_network_retries=0)
    with Ledger(tmp_path_factory.mktemp("ledger") / "ledger.sqlite3") as ledger:
        ledger.upsert_customer("cus_validation", tier="enterprise")
        options = ServerOptions(role="operator", tools="all")
        server = build_server(Runtime(stripe_client=client, ledger=ledger, options=options))
        with anyio.from_thread.start_blocking_portal() as portal:
            with portal.wrap_async_context_manager(mcp.Client(server, raise_exceptions=True)) as c:
                yield (lambda name, args: portal.call(c.call_tool, name, args)), recorder


@pytest.fixture
def recorder(offline: tuple[Any, RecordingHTTPClient]) -> RecordingHTTPClient:
    offline[1].requests.clear()
    return offline[1]


@pytest.fixture
def session(offline: tuple[Any, RecordingHTTPClient], recorder: RecordingHTTPClient) -> Any:
    return offline[0]


def _schemas() -> dict[str, dict[str, Any]]:
    async def fetch() -> dict[str, dict[str, Any]]:
        options = ServerOptions(role="operator", tools="all")
        runtime = Runtime(stripe_client=stripe.StripeClient("sk_test_x"), ledger=None, options=options)
        async with mcp.Client(build_server(runtime)) as c:
            return {t.name: t.input_schema for t in (await c.list_tools()).tools}

    return anyio.run(fetch)


SCHEMAS = _schemas()


def _branches(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]


_ID_PATTERN = re.compile(r"^\^(?:\(\?:)?([a-z]+)[a-z|]*\)?_")  # ^cus_..., ^(?:ch|py)_...


def _valid(prop: dict[str, Any], name: str = "") -> Any:
    b = _branches(prop)[0]
    if "currency" in name:
        return "usd"
    if "pattern" in b:
        prefix = _ID_PATTERN.match(b["pattern"])
        return f"{prefix.group(1)}_abc123" if prefix else "abc"
    if "enum" in b:
        return b["enum"][0]
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": [], "object": {}}.get(b.get("type"), "x")


def _bad_values(name: str, prop: dict[str, Any]) -> list[tuple[str, Any]]:
    bad: list[tuple[str, Any]] = []
    for b in _branches(prop):
        if "pattern" in b and _ID_PATTERN.match(b["pattern"]):
            bad.append(("wrong id prefix", "xyz_123"))
        if b.get("type") == "integer" and b.get("minimum") == 0:
            bad.append(("negative amount", -1))
        if name == "limit":
            bad += [("limit 0", 0), ("limit 101", 101)]
        if b.get("type") == "string" and b.get("minLength", 0) >= 1 and "pattern" not in b:
            bad.append(("empty text", ""))
        items = b.get("items") or {}
        if b.get("type") == "array" and _ID_PATTERN.match(items.get("pattern", "")):
            bad.append(("wrong id prefix", ["xyz_123"]))
    if "currency" in name:
        bad.append(("unknown currency", "xyz"))
    return bad


CASES = [
    pytest.param(tool, prop, why, value, id=f"{tool}-{prop}-{why}")
    for tool, schema in SCHEMAS.items()
    for prop, spec in schema.get("properties", {}).items()
    for why, value in _bad_values(prop, spec)
]


def test_the_bad_input_table_covers_every_tool_with_arguments() -> None:
    covered = {c.values[0] for c in CASES}
    with_args = {t for t, s in SCHEMAS.items() if s.get("properties")}
    assert covered == with_args
    kinds = {c.values[2] for c in CASES}
    assert {"wrong id prefix", "negative amount", "unknown currency", "limit 0", "limit 101"} <= kinds


@pytest.mark.parametrize(("tool", "prop", "why", "value"), CASES)
def test_invalid_argument_is_an_invalid_arguments_error_naming_the_field_and_no_stripe_call(
    session: Any, recorder: RecordingHTTPClient, tool: str, prop: str, why: str, value: Any
) -> None:
    schema = SCHEMAS[tool]
    args = {p: _valid(schema["properties"][p], p) for p in schema.get("required", [])}
    args[prop] = value
    result = session(tool, args)
    assert result.is_error
    text = result.content[0].text
    error = result.structured_content["error"]
    assert error["type"] == "invalid_arguments" and prop in text and "\n" not in text, text
    assert prop in {e["field"].split(".")[0] for e in error["errors"]}
    assert recorder.requests == []


def test_a_tool_specific_rule_is_checked_before_stripe(session: Any, recorder: RecordingHTTPClient) -> None:
    result = session("create_refund", {"payment_intent": "pi_1", "charge": "ch_1", "confirm": True})
    assert result.is_error
    # destructive: the confirmation gate answers first; a plain create_coupon shows the rule itself
    result = session("create_coupon", {"percent_off": 10, "amount_off": 100, "currency": "usd"})
    assert result.structured_content["error"]["type"] == "validation_error"
    assert recorder.requests == []


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    tool = draw(st.sampled_from(sorted(SCHEMAS)))
    props = sorted(SCHEMAS[tool].get("properties", {}))
    keys = draw(st.lists(st.sampled_from(props) | st.text(max_size=8), max_size=5, unique=True)) if props else []
    args = {k: draw(_json | st.just(_valid(SCHEMAS[tool]["properties"][k], k)) if k in props else _json) for k in keys}
    return tool, args


@settings(max_examples=250, deadline=None)
@given(_calls())
def test_random_arguments_give_structured_errors_never_a_crash(
    offline: tuple[Any, RecordingHTTPClient], drawn: tuple[str, dict[str, Any]]
) -> None:
    tool, args = drawn
    result = offline[0](tool, args)
    text = result.content[0].text if result.content else ""
    assert text != f"Error executing tool {tool}", "the tool crashed"
    if result.is_error:
        assert "validation error" in text or "error" in (result.structured_content or {}), text
    else:
        assert isinstance(result.structured_content, dict)
