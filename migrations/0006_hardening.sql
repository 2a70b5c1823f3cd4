-- /metrics and the status page count dead notifications through an index, not a scan.
CREATE INDEX notifications_dead ON notifications (created_at) WHERE status = 'dead';

-- Failed sign-ins and admin API calls per client address, shared by every replica:
-- a client past the limit is refused for the rest of its window.
CREATE TABLE auth_failures (
    client       text NOT NULL,
    surface      text NOT NULL CHECK (surface IN ('login', 'admin')),
    window_start timestamptz NOT NULL DEFAULT now(),
    failures     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (client, surface)
);
