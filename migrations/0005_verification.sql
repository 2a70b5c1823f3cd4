-- Phone verification. A number counts as verified (in `verification.mode = "code"`) once
-- its owner typed back a code sent to it, or an admin set it. Numbers stored before this
-- version were all set by admins, so they start out verified.
ALTER TABLE users ADD COLUMN phone_verified_at timestamptz;
ALTER TABLE users ADD COLUMN phone_verified_by text
    CHECK (phone_verified_by IN ('admin', 'code'));
UPDATE users SET phone_verified_at = now(), phone_verified_by = 'admin'
    WHERE phone_number IS NOT NULL;
ALTER TABLE users ADD CONSTRAINT users_verified_number
    CHECK (phone_verified_at IS NULL OR phone_number IS NOT NULL);

-- Codes sent by the verification page. Only a salted hash of each code is kept. Rows stay
-- an hour after they were sent, because they are what the per-user hourly limit counts;
-- a code no plugin could deliver is deleted.
CREATE TABLE phone_codes (
    id           uuid PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    phone_number text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    channel      text NOT NULL CHECK (channel IN ('sms', 'call')),
    salt         bytea NOT NULL,
    code_hash    bytea NOT NULL,
    tries        integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    -- Set once a plugin delivered the code; until then it cannot be typed back.
    sent_at      timestamptz,
    -- Set when the code was used, replaced by a newer one, or ran out of tries.
    closed_at    timestamptz
);
CREATE INDEX phone_codes_user ON phone_codes (user_id, created_at DESC);

-- Secrets the replicas share: the key that signs web sessions and CSRF tokens.
CREATE TABLE web_secrets (
    name       text PRIMARY KEY,
    value      bytea NOT NULL CHECK (octet_length(value) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The status page shows each plugin's last failed attempt.
CREATE INDEX delivery_attempts_failed ON delivery_attempts (plugin, started_at DESC)
    WHERE outcome <> 'delivered';
