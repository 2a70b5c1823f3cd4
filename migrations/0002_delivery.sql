-- Delivery through plugins: who delivered, leases for workers, and every attempt.
ALTER TABLE notifications
    ADD COLUMN delivered_by text,
    ADD COLUMN delivered_at timestamptz,
    ADD COLUMN lease_owner  text,
    ADD COLUMN lease_until  timestamptz;

CREATE TABLE delivery_attempts (
    id              bigserial PRIMARY KEY,
    notification_id uuid NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    plugin          text NOT NULL,
    plugin_version  text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('delivered', 'retryable', 'permanent')),
    error           text,
    receipt         text,
    duration_ms     integer NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id, id);
