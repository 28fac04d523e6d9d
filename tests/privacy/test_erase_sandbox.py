"""The local sandbox's state file (``DATA_DIR/sandbox.sqlite3``) as a privacy store: a stopped
sandbox's customer, card and meter events are erased to the last byte, and the sandbox starts again
on the erased file with the customer's objects under the pseudonym."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe
from privacy_data import PSEUDONYM_KEY, byte_search

from unifiedmcp.ledger import Ledger
from unifiedmcp.privacy import Places, Pseudonyms, erase_customer
from unifiedmcp.sandbox import serve_in_thread

EMAIL, NAME, PHONE = "grace.sandbox+erase@example.org", "Grace Brewster-Hopper", "+1 202 555 0147"


def test_a_stopped_sandboxs_customer_and_meter_events_are_erased_from_its_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serve_in_thread(db_path=data / "sandbox.sqlite3") as sb:
        client = sb.client()
        customer = client.v1.customers.create({"email": EMAIL, "name": NAME, "phone": PHONE,
                                               "address": {"line1": "1 Erasure Way", "city": "Arlington"}})
        meter = client.v1.billing.meters.create({"display_name": "MCP calls", "event_name": "mcp_api_call",
                                                 "default_aggregation": {"formula": "sum"}})
        client.v1.billing.meter_events.create({"event_name": meter.event_name, "identifier": f"calls-{customer.id}",
                                               "payload": {"stripe_customer_id": customer.id, "value": "7"}})
        key = sb.api_key
    traces = [customer.id, EMAIL, NAME, PHONE, "1 Erasure Way"]
    assert set(byte_search([data], traces)) == set(traces)

    pseudonym = Pseudonyms(PSEUDONYM_KEY).of(customer.id)
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:  # the ledger never knew this customer
        places = Places(ledger=ledger, warehouse=data / "warehouse.duckdb", data_dir=data,
                        reports_dir=tmp_path / "reports")
        result = erase_customer(customer.id, places=places, pseudonyms=Pseudonyms(PSEUDONYM_KEY))
    assert result.outcome == "erased" and result.changed["sandbox"]["account_objects"] >= 2
    assert byte_search([data], traces) == {}

    with serve_in_thread(db_path=data / "sandbox.sqlite3", api_key=key) as sb:
        client = sb.client()
        kept = client.v1.customers.retrieve(pseudonym)
        with pytest.raises(stripe.InvalidRequestError):
            client.v1.customers.retrieve(customer.id)
    assert (kept.email, kept.name, kept.phone, kept.address) == (None, None, None, None)
