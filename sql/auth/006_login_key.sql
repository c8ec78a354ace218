-- Failed logins of one account count together, whether the name or the
-- email was typed: the key is the account's ("user:<id>") when the
-- identifier names one, else the identifier itself (unknown names still
-- lock, so the answer reveals nothing).
CREATE FUNCTION auth.login_key(p_identifier text)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(
        (SELECT 'user:' || id FROM auth.users
         WHERE lower(username) = lower(p_identifier) OR lower(email) = lower(p_identifier)
         LIMIT 1),
        lower(p_identifier));
$$;

CREATE OR REPLACE FUNCTION auth.login_attempt(p_identifier text, p_max integer,
    p_window_s integer, p_lock_s integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    k text := auth.login_key(p_identifier);
    a auth.login_attempts%ROWTYPE;
BEGIN
    INSERT INTO auth.login_attempts (identifier, failures, window_start)
    VALUES (k, 0, now()) ON CONFLICT DO NOTHING;
    SELECT * INTO a FROM auth.login_attempts WHERE identifier = k FOR UPDATE;
    IF a.locked_until > now() THEN
        RETURN false;
    END IF;
    IF a.window_start < now() - make_interval(secs => p_window_s) THEN
        a.failures := 0;
        a.window_start := now();
    END IF;
    a.failures := a.failures + 1;
    UPDATE auth.login_attempts SET failures = a.failures,
        window_start = a.window_start,
        locked_until = CASE WHEN a.failures >= p_max
            THEN now() + make_interval(secs => p_lock_s) END
    WHERE identifier = k;
    RETURN true;
END $$;

-- Rows keyed by the old rule (lower-cased names and emails of accounts)
-- are forgotten.
DELETE FROM auth.login_attempts a USING auth.users u
WHERE a.identifier IN (lower(u.username), lower(u.email));
