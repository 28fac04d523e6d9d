"""The tools, one module per Stripe resource group; importing this package declares them all."""

from . import (  # noqa: F401  (declaration order is the listing order)
    _customers,
    _catalog,
    _invoices,
    _payments,
    _subscriptions,
    _coupons,
    _disputes,
    _account,
    _resources,
    _usage,
    _metrics,
)
