-- Account recovery: password reset links and email verification links.
-- A link carries a random token; only its hex SHA-256 is stored, so that a
-- copy of the database opens no account. Each token is used once.

-- A reset link lives one hour. A new request for the same user deletes the
-- older links, so only the newest mail works; every request also sweeps
-- the expired links of everyone (hence the index on expires_at).
CREATE TABLE auth.password_resets (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX password_resets_user_idx ON auth.password_resets (user_id);
CREATE INDEX password_resets_expiry_idx ON auth.password_resets (expires_at);

-- A verification link lives 24 hours and proves control of the address it
-- was sent to: it verifies nothing once the account's email differs. A
-- new request replaces the user's older links and sweeps expired ones.
CREATE TABLE auth.email_verifications (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX email_verifications_user_idx ON auth.email_verifications (user_id);
CREATE INDEX email_verifications_expiry_idx ON auth.email_verifications (expires_at);
