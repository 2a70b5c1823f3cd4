-- Two-way paging: which alert group a page was about, what came back from providers
-- (key presses, replies, buttons, receipts) and what the host did with it.

-- Set when a delivery round identified the group (incident-details matching, or the
-- push payload): an action on the page acts on this group.
ALTER TABLE notifications ADD COLUMN alert_group_id text;
CREATE INDEX notifications_alert_group ON notifications (alert_group_id, created_at DESC)
    WHERE alert_group_id IS NOT NULL;

-- The provider's own id for what an attempt sent (a Twilio Message or Call SID), so a
-- receipt that names only that id finds its notification.
ALTER TABLE delivery_attempts ADD COLUMN provider_id text;
CREATE INDEX delivery_attempts_provider_id ON delivery_attempts (plugin, provider_id)
    WHERE provider_id IS NOT NULL;

-- Every event a provider's call meant, with what came of it.
CREATE TABLE inbound_events (
    id              bigserial PRIMARY KEY,
    plugin          text NOT NULL,
    notification_id uuid REFERENCES notifications (id) ON DELETE CASCADE,
    alert_group_id  text,
    kind            text NOT NULL CHECK (kind IN ('acknowledge', 'resolve', 'silence',
                        'unacknowledge', 'delivered', 'not_delivered', 'not_answered')),
    detail          text,
    via             text NOT NULL,
    ok              boolean NOT NULL,
    outcome         text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_events_notification ON inbound_events (notification_id, id);
CREATE INDEX inbound_events_received ON inbound_events (received_at DESC);

-- Provider calls that named events, by digest, so a replayed call (the same signed
-- request again) acts once. Rows older than the longest reply URL life are dropped.
CREATE TABLE inbound_requests (
    digest      bytea PRIMARY KEY,
    plugin      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_requests_received ON inbound_requests (received_at);

-- Once the alert group is acknowledged, resolved or silenced, the pages still waiting
-- for it are not sent: they end as 'cancelled'.
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'dead', 'cancelled'));

-- Who has been told what happened to an alert group: one row per group, event and
-- person, so each is told once however many replicas hear OnCall's webhook.
CREATE TABLE group_announcements (
    alert_group_id  text NOT NULL,
    event           text NOT NULL,
    user_id         text NOT NULL,
    notification_id uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_group_id, event, user_id)
);
