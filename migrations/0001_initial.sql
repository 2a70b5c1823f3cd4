-- Users the engine syncs by email; `id` is the "cloud id" the engine stores (at most 20 characters).
CREATE TABLE users (
    id           text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 20),
    email        text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254),
    username     text NOT NULL CHECK (char_length(username) BETWEEN 1 AND 150),
    name         text NOT NULL DEFAULT '',
    phone_number text CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    role         text NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user', 'observer')),
    active       boolean NOT NULL DEFAULT true,
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(attributes) = 'object'),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- Every SMS, call and push the engine hands us, committed before we answer it.
CREATE TABLE notifications (
    id              uuid PRIMARY KEY,
    channel         text NOT NULL CHECK (channel IN ('sms', 'call', 'push', 'shift', 'test')),
    user_id         text REFERENCES users (id) ON DELETE SET NULL,
    recipient_email text,
    message         text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivering', 'delivered', 'failed', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC);
CREATE INDEX notifications_created ON notifications (created_at DESC);

-- Per-user, per-channel counters for the daily limits (UTC days).
CREATE TABLE daily_usage (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel text NOT NULL,
    day     date NOT NULL,
    count   integer NOT NULL,
    PRIMARY KEY (user_id, channel, day)
);

-- Heartbeat integrations the engine creates, one per engine (idempotent by name).
CREATE TABLE integrations (
    id           text PRIMARY KEY CHECK (char_length(id) <= 50),
    name         text NOT NULL UNIQUE,
    type         text NOT NULL,
    token        text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz
);
