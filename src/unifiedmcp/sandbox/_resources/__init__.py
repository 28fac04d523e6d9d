"""API handlers, one module per area; importing this package registers every route."""

from . import catalog, customers, invoices, payments, platform, subscriptions  # noqa: F401
