"""``erase``: a customer's personal data out of every store, in steps that are each safe to repeat.

Order, and why:

1. **Find** the customer in every store (its id, and the e-mails, names and phone numbers held
   with it). Nowhere, and never erased: :class:`UnknownCustomer`, nothing changed. Billable calls
   not yet reported to Stripe: :class:`ErasureBlocked`, nothing changed (push them first).
2. **Log** the erasure (``erasure_log``: pseudonym and time; the terms encrypted until done).
3. **Stripe** (``stripe=client``): delete the customer in the operator's account. First, so that
   a Stripe that refuses stops the erasure before anything local is gone.
4. **Ledger**, **warehouse**, **sandbox**, **usage logs**: each store erased and its step marked
   done in the log (the ledger's mark commits with its changes).
5. **Reports**: months naming the customer published again from the erased warehouse.
6. **Done**: the log forgets the terms, then the ledger's file is rewritten, so that they leave
   no bytes either, then the log says done. Then every file under the data and reports folders is
   searched for the customer: what still names it (a copy the toolkit does not own, such as a
   backup or an export archive) is listed for deletion.

A run killed anywhere is finished by running it again: the log says which steps are done, its
encrypted terms say what to look for in the stores not yet erased, and every step finds nothing
left where it already ran. A run after a finished one changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import stripe

from ..billing import StripeRequestFailed, billable_tiers
from ..errors import ErasureBlocked, UnknownCustomer
from ._file_stores import ReportsStore, SandboxStore, UsageLogStore
from ._ledger_store import LedgerStore
from ._log import ErasureLog
from ._registry import Counts, Places, Store
from ._scan import files_naming, walk
from ._subject import Pseudonyms, Subject, check_customer_id
from ._warehouse_store import WarehouseStore

__all__ = ["ErasureResult", "erase_customer", "stores"]

#: The steps after the Stripe deletion, in order (each a store's ``erase``).
STEPS = ("ledger", "warehouse", "sandbox", "files", "reports")


def stores(places: Places) -> dict[str, Store]:
    """Every store, by name, in erasure order."""
    return {
        "ledger": LedgerStore(places.ledger),
        "warehouse": WarehouseStore(places.warehouse),
        "sandbox": SandboxStore(places.sandbox_file),
        "files": UsageLogStore(places),
        "reports": ReportsStore(places.reports_dir, notebooks_dir=places.notebooks_dir),
    }


@dataclass(frozen=True)
class ErasureResult:
    """What an erasure found and did. ``outcome``: ``erased``, ``already_erased`` or ``dry_run``
    (``found`` is then what it would change). ``leftovers``: files that still name the customer."""

    outcome: Literal["erased", "already_erased", "dry_run"]
    pseudonym: str
    erasure_id: str | None
    found: dict[str, Counts]
    changed: dict[str, Counts] = field(default_factory=dict)
    stripe: str | None = None
    resumed: bool = False
    leftovers: tuple[Path, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "pseudonym": self.pseudonym, "erasure_id": self.erasure_id,
            "resumed": self.resumed, "stripe": self.stripe, "found": self.found, "changed": self.changed,
            "leftovers": [str(p) for p in self.leftovers],
        }


def erase_customer(
    customer_id: str,
    *,
    places: Places,
    pseudonyms: Pseudonyms,
    stripe_client: stripe.StripeClient | None = None,
    dry_run: bool = False,
    on_step: Callable[[str, Counts], None] = lambda step, counts: None,
) -> ErasureResult:
    """Erase ``customer_id`` everywhere (module docstring). ``stripe_client``: the operator's
    account, to delete the customer there too. ``on_step`` hears each step as it is done."""
    check_customer_id(customer_id)
    pseudonym = pseudonyms.of(customer_id)
    log = ErasureLog(places.ledger, pseudonyms)
    every = stores(places)
    ledger = every["ledger"]
    assert isinstance(ledger, LedgerStore)
    latest = log.latest(pseudonym)
    unfinished = latest if latest is not None and not latest.done else None
    terms = set(unfinished.terms if unfinished else ())
    for store in every.values():
        terms |= store.terms(customer_id)
    subject = Subject(customer_id, pseudonym, frozenset(terms))
    found = {name: counts for name, store in every.items() if (counts := store.find(subject))}
    if not found and unfinished is None:
        if latest is None:
            raise UnknownCustomer(customer_id)
        return ErasureResult("already_erased", pseudonym, latest.erasure_id, {},
                             stripe=latest.stripe, leftovers=_leftovers(places, subject))
    unbilled = ledger.unbilled(customer_id, billable_tiers=billable_tiers(places.ledger.tiers))
    if unbilled:
        raise ErasureBlocked(
            "unbilled_usage",
            f"the customer has {unbilled} billable call(s) or meter event(s) not yet reported to Stripe; "
            "run `unifiedmcp billing push-usage` first, then erase",
            count=unbilled,
        )
    if dry_run:
        return ErasureResult("dry_run", pseudonym, None, found)

    entry = unfinished or log.start(pseudonym, subject.terms)
    changed: dict[str, Counts] = {}
    outcome = entry.stripe
    if stripe_client is not None and outcome is None:
        outcome = _delete_in_stripe(stripe_client, subject)
        log.stripe(entry.erasure_id, outcome)
        on_step("stripe", {})
    for step in STEPS:
        if step in entry.steps:
            continue
        if step == "ledger":
            counts = ledger.erase(subject, within=lambda conn, c: log.mark(entry.erasure_id, "ledger", c, conn=conn))
        else:
            counts = every[step].erase(subject)
            log.mark(entry.erasure_id, step, counts)
        changed[step] = counts
        on_step(step, counts)
    log.seal(entry.erasure_id)
    ledger.reclaim()  # after the seal: the encrypted terms leave no bytes either
    log.finish(entry.erasure_id)
    on_step("done", {})
    return ErasureResult("erased", pseudonym, entry.erasure_id, found, changed, stripe=outcome,
                         resumed=unfinished is not None, leftovers=_leftovers(places, subject))


def _leftovers(places: Places, subject: Subject) -> tuple[Path, ...]:
    return tuple(files_naming(walk([places.data_dir, places.reports_dir]), subject))


def _delete_in_stripe(client: stripe.StripeClient, subject: Subject) -> str:
    """Delete the customer in the operator's Stripe account: ``deleted``, or ``already_deleted``
    when Stripe has no such customer (deleted by an earlier run, or never there)."""
    try:
        client.v1.customers.delete(subject.customer_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            return "already_deleted"
        raise _failed(exc, subject) from None
    except stripe.StripeError as exc:
        raise _failed(exc, subject) from None
    return "deleted"


def _failed(exc: stripe.StripeError, subject: Subject) -> StripeRequestFailed:
    message = subject.scrub_text(exc.user_message or str(exc) or type(exc).__name__)
    return StripeRequestFailed("customers.delete", status=exc.http_status, code=exc.code, message=message)
