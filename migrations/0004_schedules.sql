-- Schedule tracking: the on-call set last seen per schedule, who polls it now, and every
-- announced shift change (unique, so each is announced once across replicas and restarts).
CREATE TABLE schedules (
    name           text PRIMARY KEY,
    on_call        jsonb,              -- usernames; NULL until the first successful poll
    body           text,               -- the last export, reused on 304 Not Modified
    etag           text,
    last_modified  text,
    next_poll_at   timestamptz NOT NULL DEFAULT now(),
    poll_owner     text,
    poll_until     timestamptz,
    last_polled_at timestamptz,
    last_error     text,
    last_error_at  timestamptz
);

CREATE TABLE shift_events (
    schedule     text NOT NULL,
    username     text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('start', 'end')),
    at           timestamptz NOT NULL,
    announced_at timestamptz NOT NULL DEFAULT now(),
    notification uuid,
    PRIMARY KEY (schedule, username, kind, at)
);
