"""API handlers, one module per area; importing this package registers every route."""

from . import catalog, customers, invoices, meter_events, meters, payments, platform, subscriptions  # noqa: F401
