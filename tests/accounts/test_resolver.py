"""Resolving a caller to a Stripe account: customers reach only their own connections (never the
operator's client, never without Stripe-Account for OAuth ones), operators only the operator's
account; removals take effect at once; decrypted clients are cached per connection."""

from __future__ import annotations

import pytest
import stripe

from unifiedmcp.accounts import Accounts, Caller, CredentialCipher, new_secret_key
from unifiedmcp.config import Settings
from unifiedmcp.errors import AccountChoice, NoConnection, OperatorAccountRefused
from unifiedmcp.ledger import Ledger

KEY = new_secret_key()
OPERATOR_KEY = "sk_test_operator_0123456789"


def _accounts(ledger: Ledger, **options: object) -> Accounts:
    settings = Settings(_env_file=None, stripe_api_key=OPERATOR_KEY, stripe_api_base="http://127.0.0.1:9", secret_key=KEY)
    operator = stripe.StripeClient(OPERATOR_KEY, base_addresses={"api": "http://127.0.0.1:9"})
    return Accounts(ledger=ledger, settings=settings, operator_client=operator, cipher=CredentialCipher(KEY), **options)


def _stripe_account(client: stripe.StripeClient) -> str | None:
    return client._requestor._options.stripe_account  # noqa: SLF001 (what every request will send)


def _api_key(client: stripe.StripeClient) -> str | None:
    return client._requestor._options.api_key  # noqa: SLF001


def test_a_customer_without_a_connection_is_refused(ledger: Ledger) -> None:
    with pytest.raises(NoConnection, match="connections connect --customer cus_pro"):
        _accounts(ledger).resolve(Caller.of_customer("cus_pro"))


def test_manual_records_of_other_providers_are_not_stripe_accounts(ledger: Ledger) -> None:
    ledger.add_connection("cus_pro", "github", account="octo")
    ledger.add_connection("cus_pro", "stripe", account="acct_recordonly")  # kind manual: no credential
    with pytest.raises(NoConnection):
        _accounts(ledger).resolve(Caller.of_customer("cus_pro"))


def test_an_oauth_connection_is_the_platform_key_with_stripe_account(ledger: Ledger) -> None:
    ledger.add_connection("cus_pro", "stripe", account="acct_cust1", kind="oauth", credential="x")
    target = _accounts(ledger).resolve(Caller.of_customer("cus_pro"))
    assert (target.account, target.operator) == ("acct_cust1", False)
    assert _stripe_account(target.client) == "acct_cust1" and _api_key(target.client) == OPERATOR_KEY


def test_an_api_key_connection_uses_the_customers_key_not_the_operators(ledger: Ledger) -> None:
    their_key = "rk_test_customer_own_key_42"
    ledger.add_connection(
        "cus_pro", "stripe", account="acct_cust2", kind="api_key", credential=CredentialCipher(KEY).encrypt(their_key)
    )
    target = _accounts(ledger).resolve(Caller.of_customer("cus_pro"))
    assert _api_key(target.client) == their_key and _stripe_account(target.client) is None


def test_several_connections_need_an_account_and_only_ones_own_are_accepted(ledger: Ledger) -> None:
    for acct in ("acct_one", "acct_two"):
        ledger.add_connection("cus_pro", "stripe", account=acct, kind="oauth", credential="x")
    accounts = _accounts(ledger)
    with pytest.raises(AccountChoice, match="acct_one, acct_two") as info:
        accounts.resolve(Caller.of_customer("cus_pro"))
    assert info.value.choices == ["acct_one", "acct_two"]
    assert accounts.resolve(Caller.of_customer("cus_pro"), account="acct_two").account == "acct_two"
    ledger.add_connection("cus_free", "stripe", account="acct_other", kind="oauth", credential="x")
    with pytest.raises(AccountChoice, match="no connection to acct_other"):
        accounts.resolve(Caller.of_customer("cus_pro"), account="acct_other")  # another customer's


def test_a_connection_to_the_operators_account_is_never_used(ledger: Ledger) -> None:
    ledger.add_connection("cus_pro", "stripe", account="acct_operator", kind="oauth", credential="x")
    with pytest.raises(OperatorAccountRefused):
        _accounts(ledger, operator_account="acct_operator").resolve(Caller.of_customer("cus_pro"))


def test_operators_reach_only_the_operators_account(ledger: Ledger) -> None:
    accounts = _accounts(ledger, operator_account="acct_operator")
    target = accounts.resolve(Caller.operator())
    assert target.operator and _stripe_account(target.client) is None
    with pytest.raises(AccountChoice, match="operator's own account only"):
        accounts.resolve(Caller.operator(), account="acct_cust1")


def test_clients_are_cached_but_a_removed_connection_stops_at_once(ledger: Ledger) -> None:
    conn = ledger.add_connection("cus_pro", "stripe", account="acct_c", kind="oauth", credential="x")
    accounts = _accounts(ledger)
    first = accounts.resolve(Caller.of_customer("cus_pro"))
    assert accounts.resolve(Caller.of_customer("cus_pro")) is first  # cached
    ledger.remove_connection(conn.connection_id)
    with pytest.raises(NoConnection):
        accounts.resolve(Caller.of_customer("cus_pro"))


def test_the_cache_expires(ledger: Ledger) -> None:
    ledger.add_connection("cus_pro", "stripe", account="acct_c", kind="oauth", credential="x")
    accounts = _accounts(ledger, cache_seconds=0.0)
    assert accounts.resolve(Caller.of_customer("cus_pro")) is not accounts.resolve(Caller.of_customer("cus_pro"))
