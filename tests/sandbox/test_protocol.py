"""The wire protocol: auth, form encoding, errors, idempotency, pagination, expand, rate limits."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from unifiedmcp.sandbox import SandboxServer
from unifiedmcp.sandbox._params import endpoint_params
from unifiedmcp.sandbox._router import routes


def test_missing_and_invalid_keys_get_401(sandbox: SandboxServer) -> None:
    """No Authorization header -> 401 with Stripe's message; a wrong key -> 401, key masked."""
    r = httpx.get(f"{sandbox.url}/v1/customers")
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "You did not provide an API key" in r.json()["error"]["message"]
    bad = stripe.StripeClient("sk_test_wrongwrongwrong1234", base_addresses={"api": sandbox.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as exc:
        bad.v1.customers.list()
    assert exc.value.http_status == 401
    assert "sk_test_wrongwrongwrong1234" not in str(exc.value)


def test_basic_auth_like_curl_is_accepted(sandbox: SandboxServer) -> None:
    """``curl -u sk_test_...:`` sends Basic auth; Stripe accepts it, so does the sandbox."""
    r = httpx.get(f"{sandbox.url}/v1/customers", auth=(sandbox.api_key, ""))
    assert r.status_code == 200
    assert r.json()["object"] == "list"


def test_nested_form_parameters_round_trip(sandbox: SandboxServer) -> None:
    """items[0][price], metadata[k] and expand[] arrive as stripe-python (and curl) encode them."""
    client = sandbox.client()
    prod = client.v1.products.create({"name": "Form"})
    price = client.v1.prices.create({"product": prod.id, "unit_amount": 700, "currency": "usd", "recurring": {"interval": "month"}})
    cus = client.v1.customers.create({"metadata": {"tier": "pro", "123": "numeric key"}, "payment_method": "pm_card_visa",
                                      "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    assert cus.metadata.to_dict() == {"tier": "pro", "123": "numeric key"}
    sub = client.v1.subscriptions.create({"customer": cus.id, "items": [{"price": price.id, "quantity": 3}], "expand": ["customer", "latest_invoice"]})
    assert sub.items.data[0].quantity == 3
    assert sub.customer.id == cus.id  # expanded
    assert sub.latest_invoice.object == "invoice"
    # curl style: expand[]=customer, metadata[a]=b
    r = httpx.post(f"{sandbox.url}/v1/customers/{cus.id}", content="metadata[a]=b&expand[]=invoice_settings.default_payment_method",
                   headers={"Authorization": f"Bearer {sandbox.api_key}", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"]["a"] == "b"
    assert body["invoice_settings"]["default_payment_method"]["object"] == "payment_method"
    # a metadata map whose only key is numeric stays a map (not an array)
    numeric = client.v1.customers.create({"metadata": {"42": "answer"}})
    assert numeric.metadata.to_dict() == {"42": "answer"}


def test_unknown_parameters_are_rejected_like_stripe(sandbox: SandboxServer) -> None:
    """Parameters not in stripe-python's TypedDict for the endpoint -> 400 with the param path."""
    client = sandbox.client()
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create({"emial": "typo@example.com"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.http_status == 400
    assert exc.value.param == "emial"
    assert exc.value.user_message == "Received unknown parameter: emial"
    cus = client.v1.customers.create({})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.subscriptions.create({"customer": cus.id, "items": [{"prise": "price_x"}]})  # type: ignore[typeddict-unknown-key]
    assert exc.value.param == "items[0][prise]"


def test_every_route_is_checked_against_a_stripe_python_typeddict() -> None:
    """Each route the sandbox serves (meters included) has stripe-python's parameter TypedDict,
    so an unknown parameter is refused on every one."""
    served = routes()
    assert ("POST", "/v1/billing/meter_events") in served
    for method, template in served:
        assert endpoint_params(method, re.sub(r"\{\w+\}", "x_1", template)) is not None, (method, template)


def test_missing_objects_are_404_resource_missing(sandbox: SandboxServer) -> None:
    """Retrieving an unknown id -> 404 invalid_request_error, code resource_missing, param id."""
    with pytest.raises(stripe.InvalidRequestError) as exc:
        sandbox.client().v1.subscriptions.retrieve("sub_doesnotexist")
    err = exc.value
    assert err.http_status == 404
    assert err.code == "resource_missing"
    assert err.user_message == "No such subscription: 'sub_doesnotexist'"
    r = httpx.get(f"{sandbox.url}/v1/nothing_here", headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert r.status_code == 404
    assert "Unrecognized request URL" in r.json()["error"]["message"]


def test_idempotency_key_replays_and_conflicts(sandbox: SandboxServer) -> None:
    """Same key + same body -> the same object, marked replayed; same key + other body -> error."""
    client = sandbox.client()
    a = client.v1.customers.create({"email": "idem@example.com"}, {"idempotency_key": "key-123"})
    b = client.v1.customers.create({"email": "idem@example.com"}, {"idempotency_key": "key-123"})
    assert a.id == b.id
    assert b.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError) as exc:
        client.v1.customers.create({"email": "other@example.com"}, {"idempotency_key": "key-123"})
    assert exc.value.http_status == 400
    c = client.v1.customers.create({"email": "idem@example.com"}, {"idempotency_key": "key-456"})
    assert c.id != a.id
    # A declined payment is replayed too: the same error, and no second charge.
    for _ in range(2):
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(
                {"amount": 700, "currency": "usd", "customer": c.id, "payment_method": "pm_card_chargeCustomerFail", "confirm": True},
                {"idempotency_key": "key-decline"},
            )
    assert len(client.v1.charges.list({"customer": c.id}).data) == 1


def test_lists_are_newest_first_with_cursors(fresh_sandbox: SandboxServer) -> None:
    """limit, has_more, starting_after / ending_before and auto-paging behave like Stripe."""
    client = fresh_sandbox.client()
    ids = [client.v1.customers.create({"name": f"c{i}"}).id for i in range(7)]
    newest_first = list(reversed(ids))
    page1 = client.v1.customers.list({"limit": 3})
    assert [c.id for c in page1.data] == newest_first[:3]
    assert page1.has_more is True
    page2 = client.v1.customers.list({"limit": 3, "starting_after": page1.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[3:6]
    last = client.v1.customers.list({"limit": 3, "starting_after": page2.data[-1].id})
    assert [c.id for c in last.data] == newest_first[6:]
    assert last.has_more is False
    before = client.v1.customers.list({"limit": 2, "ending_before": page2.data[0].id})
    assert [c.id for c in before.data] == newest_first[1:3]
    assert [c.id for c in client.v1.customers.list({"limit": 2}).auto_paging_iter()] == newest_first
    for bad in (0, 101):
        with pytest.raises(stripe.InvalidRequestError) as exc:
            client.v1.customers.list({"limit": bad})
        assert exc.value.param == "limit"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.list({"starting_after": "cus_unknown"})
    assert exc.value.param == "starting_after"


def test_created_range_filter(fresh_sandbox: SandboxServer) -> None:
    """created[gte]/[lte] select by creation time (test-clock customers make times exact)."""
    client = fresh_sandbox.client()
    clock = client.v1.test_helpers.test_clocks.create({"frozen_time": 1_700_000_000})
    early = client.v1.customers.create({"test_clock": clock.id})
    client.v1.test_helpers.test_clocks.advance(clock.id, {"frozen_time": 1_700_000_100})
    late = client.v1.customers.create({"test_clock": clock.id})
    got = client.v1.customers.list({"created": {"gte": 1_700_000_050}})
    assert [c.id for c in got.data] == [late.id]
    got = client.v1.customers.list({"created": {"lt": 1_700_000_050}, "test_clock": clock.id})
    assert [c.id for c in got.data] == [early.id]


def test_expand_unknown_property_is_an_error(sandbox: SandboxServer) -> None:
    """Stripe refuses to expand a field that is not expandable (e.g. the pre-2025 invoice.payment_intent)."""
    client = sandbox.client()
    cus = client.v1.customers.create({})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve(cus.id, {"expand": ["payment_intent"]})
    assert "cannot be expanded" in exc.value.user_message


def test_rate_limit_gives_429(sandbox: SandboxServer) -> None:
    """With a configured limit, a burst beyond it is refused with 429 (stripe.RateLimitError)."""
    sandbox.settings(rate_limit_per_second=2)
    client = sandbox.client()
    with pytest.raises(stripe.RateLimitError) as exc:
        for _ in range(30):
            client.v1.customers.list({"limit": 1})
    assert exc.value.http_status == 429
    assert exc.value.json_body["error"]["code"] == "rate_limit"


def test_stripe_version_header_and_request_id(sandbox: SandboxServer) -> None:
    """Responses carry a Request-Id; the API version stripe-python sends is echoed back."""
    cus = sandbox.client().v1.customers.create({})
    headers = cus.last_response.headers
    assert headers["Request-Id"].startswith("req_")
    assert headers["Stripe-Version"] == stripe.api_version


@pytest.mark.parametrize(
    ("path", "data", "param"),
    [
        ("/v1/customers", {"balance": "abc"}, "balance"),
        ("/v1/customers", {"address": "not an object"}, "address"),
        ("/v1/customers", {"metadata[a][b]": "nested"}, "metadata[a]"),
        ("/v1/payment_intents", {"amount": "x", "currency": "usd"}, "amount"),
        ("/v1/prices", {"currency": "usd", "unit_amount": "5", "product": "prod_missing"}, "product"),
        ("/v1/refunds", {"charge": "ch_missing"}, "charge"),
    ],
)
def test_malformed_parameters_are_400_with_param(sandbox: SandboxServer, path: str, data: dict[str, str], param: str) -> None:
    """Malformed values and references to missing objects in parameters are 400s naming the
    parameter (a missing object in the URL path is a 404)."""
    r = httpx.post(f"{sandbox.url}{path}", data=data, headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def _error(sandbox: SandboxServer, method: str, path: str, data: dict[str, str] | None = None) -> tuple[httpx.Response, dict]:
    r = httpx.request(method, f"{sandbox.url}{path}", data=data, params=None,
                      headers={"Authorization": f"Bearer {sandbox.api_key}"})
    return r, r.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "data", "code", "param", "message"),
    [
        ("POST", "/v1/customers", {"emial": "x@example.com"}, "parameter_unknown", "emial",
         "Received unknown parameter: emial"),
        ("POST", "/v1/subscriptions", {"items[0][prise]": "price_x"}, "parameter_unknown", "items[0][prise]",
         "Received unknown parameter: items[0][prise]"),
        ("POST", "/v1/payment_intents", {"amount": "100"}, "parameter_missing", "currency",
         "Missing required param: currency."),
        ("GET", "/v1/subscription_items", None, "parameter_missing", "subscription",
         "Missing required param: subscription."),
        ("POST", "/v1/prices", {"currency": "usd", "unit_amount": "5", "recurring[interval]": "month",
                                "recurring[interval_count]": "1.5"}, "parameter_invalid_integer",
         "recurring[interval_count]", "Invalid integer: 1.5"),
        ("POST", "/v1/customers", {"balance": "abc"}, "parameter_invalid_integer", "balance", "Invalid integer: abc"),
        ("POST", "/v1/customers", {"email": ""}, "parameter_invalid_empty", "email",
         "You passed an empty string for 'email'. We assume empty values are an attempt to unset a parameter; however "
         "'email' cannot be unset. You should remove 'email' from your request or supply a non-empty value."),
    ],
)
def test_parameter_errors_carry_stripes_code_doc_url_and_param(
    sandbox: SandboxServer, method: str, path: str, data: dict[str, str] | None, code: str, param: str, message: str,
) -> None:
    """Unknown (top level and nested), missing, non-integer and empty parameters: Stripe's code,
    its doc_url, the param in Stripe's bracket form and Stripe's wording."""
    r, err = _error(sandbox, method, path, data)
    assert r.status_code == 400
    assert (err["type"], err["code"], err["param"], err["message"]) == ("invalid_request_error", code, param, message)
    assert err["doc_url"] == f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"


def test_a_value_outside_an_enum_names_the_param_and_the_values_without_a_code(sandbox: SandboxServer) -> None:
    """Stripe's enum error has no code (its error codes have none for it): message and param only,
    the param nested in brackets when the enum is nested."""
    _, err = _error(sandbox, "POST", "/v1/subscriptions", {"payment_behavior": "sometimes"})
    assert err == {"type": "invalid_request_error", "param": "payment_behavior", "message":
                   "Invalid payment_behavior: must be one of allow_incomplete, default_incomplete, error_if_incomplete, "
                   "or pending_if_incomplete"}
    _, err = _error(sandbox, "POST", "/v1/prices", {"currency": "usd", "unit_amount": "5", "recurring[interval]": "fortnight"})
    assert (err["param"], err["message"]) == ("recurring[interval]", "Invalid recurring[interval]: must be one of day, month, week, or year")
    assert "code" not in err


def test_stripe_version_is_on_errors_and_idempotent_replays_too(sandbox: SandboxServer) -> None:
    """The Stripe-Version header is on every answer: success, 400, 401, 402, 404 and a replay."""
    client = sandbox.client()
    cus = client.v1.customers.create({}, {"idempotency_key": "version-replay"})
    again = client.v1.customers.create({}, {"idempotency_key": "version-replay"})
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert again.last_response.headers["Stripe-Version"] == stripe.api_version
    auth = {"Authorization": f"Bearer {sandbox.api_key}"}
    answers = [
        httpx.post(f"{sandbox.url}/v1/customers", data={"emial": "x"}, headers=auth),
        httpx.get(f"{sandbox.url}/v1/customers"),
        httpx.post(f"{sandbox.url}/v1/payment_intents", headers=auth, data={
            "amount": "500", "currency": "usd", "customer": cus.id, "payment_method": "pm_card_chargeCustomerFail", "confirm": "true"}),
        httpx.get(f"{sandbox.url}/v1/customers/cus_nope", headers=auth),
    ]
    assert [a.status_code for a in answers] == [400, 401, 402, 404]
    assert {a.headers.get("stripe-version") for a in answers} == {stripe.api_version}
