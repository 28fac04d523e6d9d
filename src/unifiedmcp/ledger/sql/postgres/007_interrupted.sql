-- Ledger schema v7 (issue 20, item 8): a metered call may end `interrupted`, admitted and counted
-- but never seen ending (its process died mid-call); see unifiedmcp/_usage_status.py.
-- NOT VALID: every existing row passed the narrower constraint this one replaces, so the table is
-- not scanned again under the exclusive lock (which would hold metering back on a large ledger);
-- new and updated rows are checked as usual.
ALTER TABLE usage_events DROP CONSTRAINT usage_events_status_check;
ALTER TABLE usage_events ADD CONSTRAINT usage_events_status_check
    CHECK (status IN ('ok', 'error', 'rejected', 'interrupted')) NOT VALID;
