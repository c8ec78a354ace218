-- Two-factor authentication (TOTP, RFC 6238) and the second step of a
-- login that needs it.
ALTER TABLE auth.users
    ADD COLUMN two_factor_secret text,          -- base32, while enabled
    ADD COLUMN two_factor_pending text,         -- base32, between setup and enable
    ADD COLUMN two_factor_last_step bigint NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored as hex SHA-256.
CREATE TABLE auth.recovery_codes (
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    code_hash text NOT NULL,
    used_at timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- The opaque challenge that joins a password check to its second factor:
-- five minutes, five tries, used once.
CREATE TABLE auth.login_challenges (
    challenge_hash text PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    used_at timestamptz
);
CREATE INDEX login_challenges_expiry_idx ON auth.login_challenges (expires_at);
