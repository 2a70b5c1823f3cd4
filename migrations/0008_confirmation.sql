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
