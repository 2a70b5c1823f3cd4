-- Escalation on what came back: a failover route with `confirm_within` waits, after a
-- plugin's provider took the page, for a receipt or an action before it moves on to
-- its next plugin. Such a page is 'awaiting' until then, due at `next_attempt_at`, and
-- `route_position` says which of the route's plugins comes next.
ALTER TABLE notifications ADD COLUMN route_position integer NOT NULL DEFAULT 0;
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'dead', 'cancelled',
                      'awaiting'));
DROP INDEX notifications_due;
CREATE INDEX notifications_due ON notifications (next_attempt_at)
    WHERE status IN ('pending', 'failed', 'awaiting');

-- What is known of each alert group's state: from OnCall's webhook, or from an action
-- taken through a page. An SMS reply acts only on a group still open.
CREATE TABLE group_states (
    alert_group_id text PRIMARY KEY,
    state          text NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved', 'silenced')),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The short code ("a", "b", …) an SMS reply names an alert group by, per person, given
-- when the person has several groups open.
CREATE TABLE reply_codes (
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    alert_group_id text NOT NULL,
    code           text NOT NULL CHECK (code ~ '^[a-z]{1,2}$'),
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, alert_group_id)
);
CREATE INDEX reply_codes_code ON reply_codes (user_id, code);
