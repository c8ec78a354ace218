-- Accounts, sessions and refresh tokens. Multi-step operations are
-- functions, so that each is one round trip and one transaction.

-- Timestamps on the wire: RFC 3339, UTC, microseconds.
CREATE FUNCTION auth.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
$$;

CREATE TABLE auth.users (
    id uuid PRIMARY KEY,
    username text NOT NULL CHECK (username ~ '^[A-Za-z0-9_-]{3,32}$'),
    email text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 64),
    avatar_url text NOT NULL DEFAULT '' CHECK (length(avatar_url) <= 512),
    password_hash text,                     -- NULL for external accounts
    is_admin boolean NOT NULL DEFAULT false,
    email_verified boolean NOT NULL DEFAULT false,
    two_factor_enabled boolean NOT NULL DEFAULT false,
    password_changed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- Names and addresses are unique whatever their case: "Alice" and "alice"
-- are one account.
CREATE UNIQUE INDEX users_username_key ON auth.users (lower(username));
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email));

-- A session is one login on one device; its access tokens carry its id
-- (sid) and die with it.
CREATE TABLE auth.sessions (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,        -- the refresh horizon
    revoked_at timestamptz,
    ip_address text NOT NULL DEFAULT '',
    user_agent text NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_idx ON auth.sessions (user_id, created_at DESC);

-- Refresh tokens are stored as the hex SHA-256 of the token; each is used
-- once.
CREATE TABLE auth.refresh_tokens (
    token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens (session_id);

-- Failed logins by the identifier typed (known or not, so that the
-- answer tells nothing about which accounts exist).
CREATE TABLE auth.login_attempts (
    identifier text PRIMARY KEY,
    failures integer NOT NULL,
    window_start timestamptz NOT NULL,
    locked_until timestamptz
);

-- Creates a user. The first user becomes an administrator when
-- p_first_is_admin is set; the lock makes two simultaneous first
-- registrations impossible. A duplicate raises unique_violation.
CREATE FUNCTION auth.register(p_id uuid, p_username text, p_email text,
    p_hash text, p_first_is_admin boolean)
RETURNS SETOF auth.users LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('enclavr.auth.register'));
    RETURN QUERY
    INSERT INTO auth.users (id, username, email, display_name, password_hash,
        is_admin, password_changed_at)
    VALUES (p_id, p_username, p_email, p_username, p_hash,
        p_first_is_admin AND NOT EXISTS (SELECT 1 FROM auth.users), now())
    RETURNING *;
END $$;

-- Opens a session with its first refresh token.
CREATE FUNCTION auth.session_open(p_session uuid, p_user uuid, p_ip text,
    p_agent text, p_refresh text, p_ttl_s integer)
RETURNS void LANGUAGE sql AS $$
    WITH s AS (
        INSERT INTO auth.sessions (id, user_id, expires_at, ip_address, user_agent)
        VALUES (p_session, p_user, now() + make_interval(secs => p_ttl_s),
            left(p_ip, 64), left(p_agent, 512))
        RETURNING id)
    INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at)
    SELECT p_refresh, id, now() + make_interval(secs => p_ttl_s) FROM s;
$$;

-- Spends refresh token p_hash and stores its successor p_next. outcome is
-- 'ok', 'invalid' (unknown token), 'expired' (token or session over), or
-- 'reused' (already spent: the whole session is revoked).
CREATE FUNCTION auth.refresh(p_hash text, p_next text, p_ttl_s integer,
    OUT outcome text, OUT o_session uuid, OUT o_user uuid)
LANGUAGE plpgsql AS $$
DECLARE
    t auth.refresh_tokens%ROWTYPE;
    s auth.sessions%ROWTYPE;
BEGIN
    SELECT * INTO t FROM auth.refresh_tokens WHERE token_hash = p_hash FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'invalid';
        RETURN;
    END IF;
    SELECT * INTO s FROM auth.sessions WHERE id = t.session_id FOR UPDATE;
    o_session := s.id;
    o_user := s.user_id;
    IF t.used_at IS NOT NULL THEN
        UPDATE auth.sessions SET revoked_at = coalesce(revoked_at, now())
        WHERE id = s.id;
        outcome := 'reused';
        RETURN;
    END IF;
    IF s.revoked_at IS NOT NULL OR s.expires_at <= now() OR t.expires_at <= now() THEN
        outcome := 'expired';
        RETURN;
    END IF;
    UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = p_hash;
    INSERT INTO auth.refresh_tokens (token_hash, session_id, expires_at)
    VALUES (p_next, s.id, now() + make_interval(secs => p_ttl_s));
    UPDATE auth.sessions SET last_used_at = now(),
        expires_at = now() + make_interval(secs => p_ttl_s)
    WHERE id = s.id;
    outcome := 'ok';
END $$;

-- When the identifier is locked out, until when; NULL otherwise.
CREATE FUNCTION auth.login_locked(p_identifier text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT locked_until FROM auth.login_attempts
    WHERE identifier = lower(p_identifier) AND locked_until > now();
$$;

-- Counts a failure: p_max failures within p_window_s lock the identifier
-- for p_lock_s; failures older than the window are forgotten.
CREATE FUNCTION auth.login_failed(p_identifier text, p_max integer,
    p_window_s integer, p_lock_s integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO auth.login_attempts AS a (identifier, failures, window_start)
    VALUES (lower(p_identifier), 1, now())
    ON CONFLICT (identifier) DO UPDATE SET
        failures = CASE WHEN a.window_start < now() - make_interval(secs => p_window_s)
            THEN 1 ELSE a.failures + 1 END,
        window_start = CASE WHEN a.window_start < now() - make_interval(secs => p_window_s)
            THEN now() ELSE a.window_start END,
        locked_until = CASE WHEN a.window_start >= now() - make_interval(secs => p_window_s)
            AND a.failures + 1 >= p_max
            THEN now() + make_interval(secs => p_lock_s) ELSE a.locked_until END;
$$;
