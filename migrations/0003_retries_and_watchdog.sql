-- Retries by hand restart the attempt budget; leases that ran out are found quickly.
ALTER TABLE notifications
    ADD COLUMN retry_base_attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN retry_requested_at  timestamptz;
CREATE INDEX notifications_expired_leases ON notifications (lease_until) WHERE status = 'delivering';

-- The heartbeat watchdog: when an engine was declared down, so each outage is announced
-- once across replicas, and its recovery once.
ALTER TABLE integrations
    ADD COLUMN down_notified_at timestamptz;
