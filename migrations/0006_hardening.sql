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
-- The default also serves replicas of the previous version still running during a
-- rolling upgrade, whose inserts do not name the column.
ALTER TABLE users ADD COLUMN link_id text NOT NULL DEFAULT substr(
    translate(encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'base64'),
              '+/=', ''),
    1, 20);
CREATE UNIQUE INDEX users_link_id ON users (link_id);

-- A code sent before the number changed (an admin set another, say) must not be typed
-- back afterwards to move the number: every change of number closes the open codes.
CREATE FUNCTION close_codes_on_number_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.phone_number IS DISTINCT FROM OLD.phone_number THEN
        UPDATE phone_codes SET closed_at = now() WHERE user_id = NEW.id AND closed_at IS NULL;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_close_codes AFTER UPDATE OF phone_number ON users
    FOR EACH ROW EXECUTE FUNCTION close_codes_on_number_change();
