"""API handlers, one module per area; importing this package registers every route."""

from . import catalog, checkout, customers, invoices, meter_events, meters, payments, platform, portal, promotions, schedules, setup_intents, subscriptions  # noqa: F401
