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

-- The id in OnCall's "Verify in Cloud" link is a secret of its own (20 letters and
-- digits, as the engine's cloud_id column holds), apart from the user id that logs,
-- the admin API and plugins see. Existing links stop working until OnCall's next sync.
ALTER TABLE users ADD COLUMN link_id text;
UPDATE users SET link_id = substr(
    translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),
              '+/=', ''),
    1, 20);
ALTER TABLE users ALTER COLUMN link_id SET NOT NULL;
CREATE UNIQUE INDEX users_link_id ON users (link_id);
