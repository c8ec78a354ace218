-- Login attempts are counted before the password is checked, in one
-- locked step: concurrent guesses cannot all slip past a check made before
-- any of them was counted. A successful login deletes the row.
DROP FUNCTION auth.login_locked(text);
DROP FUNCTION auth.login_failed(text, integer, integer, integer);

-- Counts an attempt for the identifier and says whether it may go ahead:
-- false while it is locked. The p_max-th attempt within p_window_s locks it
-- for p_lock_s unless that attempt succeeds (which deletes the row).
CREATE FUNCTION auth.login_attempt(p_identifier text, p_max integer,
    p_window_s integer, p_lock_s integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    a auth.login_attempts%ROWTYPE;
BEGIN
    INSERT INTO auth.login_attempts (identifier, failures, window_start)
    VALUES (lower(p_identifier), 0, now()) ON CONFLICT DO NOTHING;
    SELECT * INTO a FROM auth.login_attempts
    WHERE identifier = lower(p_identifier) FOR UPDATE;
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
    WHERE identifier = a.identifier;
    RETURN true;
END $$;
