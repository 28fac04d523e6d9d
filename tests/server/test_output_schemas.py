"""Output schemas: every tool has a real one (valid JSON Schema 2020-12, advertised as is), and
results match it. Every tool test validates its results through ``conftest.call``; this module
adds the tools no other test calls and checks the schemas themselves."""

from __future__ import annotations

from typing import Any

import jsonschema
import mcp
import pytest

from unifiedmcp.server import Runtime, ServerOptions, build_server, tool_specs
from unifiedmcp.server._schemas import OUTPUT_SCHEMAS

from .conftest import call, ok

pytestmark = pytest.mark.anyio


def test_every_tool_has_a_valid_output_schema_that_says_something() -> None:
    assert set(OUTPUT_SCHEMAS) == {s.name for s in tool_specs()}
    for name, schema in OUTPUT_SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object" and schema["required"], name
        if not next(s for s in tool_specs() if s.name == name).read_only:
            assert "replayed" in schema["required"], name


async def test_advertised_schemas_are_the_tools_own(server: Any, ledger: Any) -> None:
    operator = build_server(Runtime(stripe_client=None, ledger=ledger, options=ServerOptions(role="operator")))
    listed = {}
    for srv in (server, operator):
        async with mcp.Client(srv, raise_exceptions=True) as client:
            listed |= {t.name: t for t in (await client.list_tools()).tools}
    assert {n: t.output_schema for n, t in listed.items()} == OUTPUT_SCHEMAS
    assert all(t.input_schema.get("additionalProperties") is False for t in listed.values())


async def test_catalog_results_match_their_schemas(server: Any) -> None:
    async with mcp.Client(server, raise_exceptions=True) as client:
        product = ok(await call(client, "create_product", {"name": "Schema check"}))
        price = ok(await call(client, "create_price", {"product": product["id"], "unit_amount": 500, "currency": "usd",
                                                       "recurring_interval": "month"}))
        assert price["object"] == "price" and price["replayed"] is False
        ok(await call(client, "list_prices", {"product": product["id"]}))
        ok(await call(client, "search_stripe_resources", {"resource": "products", "query": 'name:"Schema check"'}))
