"""Password forgot / reset / validate-token / change and email verification
(authd, recovery.c and mail.c), end to end through gatewayd: the mails go
over SMTP to the stack's sink (stacklib.MailSink) and the tests take the
links from the mail bodies, as a user would.

Also the reference's bugs, fixed: verification really sets email_verified,
the tables exist on a fresh database, and verify/send cannot target another
user."""

import os
import signal
import socket
import statistics
import threading
import time

import pytest

from authlib import (PASSWORD, assert_accepted, assert_error, get, login, me, new_user,
                     pg_exec, pg_rows, post, rows_containing, sha256_hex, uniq, wait_refused)
from stacklib import (MailSink, Stack, StackError, bin_dir, finish_stack, free_port,
                      make_run_dir, pid_running, wait_until)

FORGOT = "/api/auth/password/forgot"
RESET = "/api/auth/password/reset"
VALIDATE = "/api/auth/password/validate-token"
CHANGE = "/api/auth/password/change"
VERIFY_SEND = "/api/auth/email/verify/send"
VERIFY = "/api/auth/email/verify"

FORGOT_BODY = {"message": "If the email exists, a reset link has been sent"}
INVALID = "Invalid or expired token"
NEW_PASSWORD = "N3w-Passw0rd!reset"
MAIL_WAIT_S = 5
QUIET_S = 0.5        # how long "no (further) mail" is watched for


def forgot(stack, email):
    return post(stack, FORGOT, {"email": email})


def assert_message(resp, text):
    assert resp.status_code == 200, f"{resp.status_code}: {resp.text[:300]}"
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    assert resp.json() == {"message": text}
    return resp


def reset_mail(stack, email, count=1):
    """Asks for a reset link and returns (mail, token) of the count-th mail
    to email."""
    assert_message(forgot(stack, email), FORGOT_BODY["message"])
    mail = stack.mail.wait_for(email, timeout=MAIL_WAIT_S, count=count)
    return mail, MailSink.link_token(mail, "/reset-password")


def verify_mail(stack, user, count=1, body=None):
    assert_message(post(stack, VERIFY_SEND, body, token=user.access), "Verification email sent")
    mail = stack.mail.wait_for(user.email, timeout=MAIL_WAIT_S, count=count)
    return mail, MailSink.link_token(mail, "/verify-email")


def quiet(stack, email, count):
    """No more than count mails reach email for a while."""
    time.sleep(QUIET_S)
    got = stack.mail.messages(email)
    assert len(got) == count, [m["message"]["Subject"] for m in got]


# ------------------------------------------------------------ forgot

def test_forgot_known_email_sends_one_mail_with_a_link(stack):
    u = new_user(stack, "fg")
    mail, token = reset_mail(stack, u.email)
    quiet(stack, u.email, 1)
    [got] = stack.mail.messages(u.email)
    assert got["to"] == [u.email] and got["from"] == "noreply@enclavr.local", got
    assert mail["To"] == f"<{u.email}>" or mail["To"] == u.email, mail["To"]
    assert "noreply@enclavr.local" in mail["From"]
    assert mail["Subject"] == "Reset your Enclavr password"
    assert mail["Date"] and mail["Message-ID"].endswith("@enclavr.local>"), dict(mail)
    assert mail.get_content_type() == "text/plain"
    # the link points at this stack's gatewayd ([mail] link_base)
    assert f"{stack.base}/reset-password?token={token}" in MailSink.body(mail)
    assert len(token) == 43
    # and it works (once)
    assert_message(post(stack, RESET, {"token": token, "new_password": NEW_PASSWORD}),
                   "Password reset successfully")


def test_forgot_unknown_email_same_answer_no_mail(stack):
    u = new_user(stack, "fu")
    unknown = f"{uniq('nobody')}@example.test"
    known_t, unknown_t = [], []
    for _ in range(5):
        for email, times in ((u.email, known_t), (unknown, unknown_t)):
            t0 = time.perf_counter()
            r = forgot(stack, email)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json() == FORGOT_BODY, r.text
            assert r.headers["Content-Type"].startswith("application/json")
    # the mail goes out after the answer: the answer never waits on SMTP
    diff = abs(statistics.median(known_t) - statistics.median(unknown_t))
    assert diff < 0.1, (known_t, unknown_t)
    stack.mail.wait_for(u.email, timeout=MAIL_WAIT_S, count=5)
    assert stack.mail.messages(unknown) == []
    # an unknown address differing only in case is the known one
    assert forgot(stack, u.email.upper()).json() == FORGOT_BODY
    stack.mail.wait_for(u.email, timeout=MAIL_WAIT_S, count=6)
    quiet(stack, unknown, 0)


def test_forgot_needs_an_email(stack):
    assert_error(post(stack, FORGOT, {}), 400, "invalid_request", "Email is required")
    assert_error(post(stack, FORGOT, {"email": ""}), 400, "invalid_request", "Email is required")
    assert_error(post(stack, FORGOT, {"email": 42}), 400, "invalid_request")
    assert_error(post(stack, FORGOT, b"not json", headers={"Content-Type": "application/json"}),
                 400, "invalid_json")


# ------------------------------------------------------------ reset

def test_reset_by_mail_revokes_every_session(stack):
    u = new_user(stack, "rs")
    access2, refresh2 = u.session(stack)
    _, token = reset_mail(stack, u.email)
    r = post(stack, RESET, {"token": token, "new_password": NEW_PASSWORD})
    assert_message(r, "Password reset successfully")
    # every session, both access tokens, within 1 s; refresh tokens too
    wait_refused(stack, u.access, what="session 1's access token")
    wait_refused(stack, access2, what="session 2's access token")
    for rt in (u.refresh, refresh2):
        assert post(stack, "/api/auth/refresh", {"refresh_token": rt}).status_code == 401
    # single use
    assert_error(post(stack, RESET, {"token": token, "new_password": "An0ther-Passw0rd!"}),
                 400, "invalid_token", INVALID)
    # the old password fails, the new one works
    assert_error(login(stack, u.username, PASSWORD), 401, "invalid_credentials")
    r = login(stack, u.username, NEW_PASSWORD)
    assert r.status_code == 200, r.text
    [(changed,)] = pg_rows(stack, "SELECT password_changed_at > now() - interval '1 minute'"
                           " FROM auth.users WHERE id = %s", (u.id,))
    assert changed is True


def test_newer_reset_mail_voids_the_older(stack):
    u = new_user(stack, "rn")
    _, first = reset_mail(stack, u.email, count=1)
    _, second = reset_mail(stack, u.email, count=2)
    assert first != second
    assert_error(post(stack, RESET, {"token": first, "new_password": NEW_PASSWORD}),
                 400, "invalid_token", INVALID)
    assert_message(post(stack, RESET, {"token": second, "new_password": NEW_PASSWORD}),
                   "Password reset successfully")


def test_reset_refusals(stack):
    u = new_user(stack, "rf")
    _, token = reset_mail(stack, u.email)
    for body in ({}, {"token": token}, {"new_password": NEW_PASSWORD},
                 {"token": "", "new_password": NEW_PASSWORD}):
        assert_error(post(stack, RESET, body), 400, "invalid_request",
                     "Token and new password are required")
    for weak, msg in (("Sh0rt!", "password must be at least 8 characters"),
                      ("nouppercase1!", "password must contain at least one uppercase letter"),
                      ("NoDigits-here", "password must contain at least one number"),
                      ("NoSymbol123x", "password must contain at least one special character")):
        assert_error(post(stack, RESET, {"token": token, "new_password": weak}),
                     400, "invalid_request", msg)
    for bad in ("x", token[:-1], token + "A", "!" * 43, "A" * 43):
        assert_error(post(stack, RESET, {"token": bad, "new_password": NEW_PASSWORD}),
                     400, "invalid_token", INVALID)
    # expired: the same 400, and nothing changes
    assert pg_exec(stack, "UPDATE auth.password_resets SET expires_at = now() - interval '1 second'"
                   " WHERE token_hash = %s", (sha256_hex(token),)) == 1
    assert_error(post(stack, RESET, {"token": token, "new_password": NEW_PASSWORD}),
                 400, "invalid_token", INVALID)
    assert login(stack, u.username, PASSWORD).status_code == 200


# ------------------------------------------------------------ validate-token

def test_validate_token(stack):
    u = new_user(stack, "vt")
    _, token = reset_mail(stack, u.email)
    r = get(stack, f"{VALIDATE}?token={token}")
    assert r.status_code == 200 and r.json() == {"valid": True}, r.text
    assert_error(get(stack, f"{VALIDATE}?token={'A' * 43}"), 400, "invalid_token", INVALID)
    assert_error(get(stack, f"{VALIDATE}?token=garbage"), 400, "invalid_token", INVALID)
    assert_error(get(stack, VALIDATE), 400, "invalid_request", "Token is required")
    # validating does not spend it
    assert get(stack, f"{VALIDATE}?token={token}").status_code == 200
    pg_exec(stack, "UPDATE auth.password_resets SET expires_at = now() - interval '1 second'"
            " WHERE token_hash = %s", (sha256_hex(token),))
    assert_error(get(stack, f"{VALIDATE}?token={token}"), 400, "invalid_token", INVALID)


def test_validate_token_after_use(stack):
    u = new_user(stack, "vu")
    _, token = reset_mail(stack, u.email)
    assert_message(post(stack, RESET, {"token": token, "new_password": NEW_PASSWORD}),
                   "Password reset successfully")
    assert_error(get(stack, f"{VALIDATE}?token={token}"), 400, "invalid_token", INVALID)


# ------------------------------------------------------------ change

def test_change_password(stack):
    u = new_user(stack, "ch")
    access2, refresh2 = u.session(stack)
    access3, _ = u.session(stack)
    assert_error(post(stack, CHANGE, {"old_password": "Wr0ng-password!", "new_password": NEW_PASSWORD},
                      token=u.access), 401, "invalid_password", "Current password is incorrect")
    assert_error(post(stack, CHANGE, {"old_password": PASSWORD, "new_password": "weakpass"},
                      token=u.access), 400, "invalid_request",
                 "password must contain at least one uppercase letter")
    assert_error(post(stack, CHANGE, {"old_password": PASSWORD}, token=u.access),
                 400, "invalid_request", "Old and new passwords are required")
    # nothing changed so far
    assert_accepted(stack, access2, user_id=u.id)
    r = post(stack, CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
             token=u.access)
    assert_message(r, "Password changed successfully")
    # the others die within 1 s; this one lives on
    wait_refused(stack, access2, what="session 2's access token")
    wait_refused(stack, access3, what="session 3's access token")
    assert post(stack, "/api/auth/refresh", {"refresh_token": refresh2}).status_code == 401
    assert_accepted(stack, u.access, user_id=u.id)
    r = post(stack, "/api/auth/refresh", {"refresh_token": u.refresh})
    assert r.status_code == 200, r.text
    assert_error(login(stack, u.username, PASSWORD), 401, "invalid_credentials")
    assert login(stack, u.username, NEW_PASSWORD).status_code == 200


def test_change_needs_a_user(stack):
    r = post(stack, CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_error(r, 401, "unauthorized")


def test_change_voids_reset_links(stack):
    u = new_user(stack, "cv")
    _, token = reset_mail(stack, u.email)
    assert_message(post(stack, CHANGE, {"old_password": PASSWORD, "new_password": NEW_PASSWORD},
                        token=u.access), "Password changed successfully")
    assert_error(post(stack, RESET, {"token": token, "new_password": "An0ther-Passw0rd!"}),
                 400, "invalid_token", INVALID)


# ------------------------------------------------------------ email verification

def test_email_verification(stack):
    u = new_user(stack, "ev")
    other = new_user(stack, "eo")
    assert me(stack, u.access).json()["email_verified"] is False
    # a user_id in the body (the reference's IDOR) is ignored: the mail goes
    # to the caller
    mail, token = verify_mail(stack, u, body={"user_id": other.id})
    assert mail["Subject"] == "Verify your Enclavr email address"
    assert f"{stack.base}/verify-email?token={token}" in MailSink.body(mail)
    quiet(stack, other.email, 0)
    assert_message(post(stack, VERIFY, {"token": token}), "Email verified successfully")
    assert me(stack, u.access).json()["email_verified"] is True
    assert me(stack, other.access).json()["email_verified"] is False
    # single use
    assert_error(post(stack, VERIFY, {"token": token}), 400, "invalid_token", INVALID)
    # nothing left to verify
    assert_error(post(stack, VERIFY_SEND, token=u.access), 400, "already_verified")
    quiet(stack, u.email, 1)


def test_email_verification_refusals(stack):
    u = new_user(stack, "er")
    assert_error(post(stack, VERIFY_SEND), 401, "unauthorized")
    assert_error(post(stack, VERIFY, {}), 400, "invalid_request", "Token is required")
    assert_error(post(stack, VERIFY, {"token": "A" * 43}), 400, "invalid_token", INVALID)
    _, first = verify_mail(stack, u, count=1)
    _, second = verify_mail(stack, u, count=2)
    # a reset token is not a verification token, nor the other way round
    assert_error(post(stack, RESET, {"token": second, "new_password": NEW_PASSWORD}),
                 400, "invalid_token", INVALID)
    # the newer link voids the older; an expired one fails
    assert_error(post(stack, VERIFY, {"token": first}), 400, "invalid_token", INVALID)
    pg_exec(stack, "UPDATE auth.email_verifications SET expires_at = now() - interval '1 second'"
            " WHERE token_hash = %s", (sha256_hex(second),))
    assert_error(post(stack, VERIFY, {"token": second}), 400, "invalid_token", INVALID)
    assert me(stack, u.access).json()["email_verified"] is False


# ------------------------------------------------------------ storage

def test_tokens_stored_only_hashed(stack):
    u = new_user(stack, "th")
    _, reset = reset_mail(stack, u.email)
    _, verify = verify_mail(stack, u, count=2)  # after the reset mail
    for token, table in ((reset, "password_resets"), (verify, "email_verifications")):
        rows = pg_rows(stack, f"SELECT token_hash FROM auth.{table}"
                       " WHERE user_id = %s", (u.id,))
        assert len(rows) == 1 and rows[0][0] == sha256_hex(token), rows
        assert rows_containing(stack, token) == {}, f"{table}: the token itself is stored"
        assert token not in stack.log("authd"), "a token reached the log"
    lifetimes = [pg_rows(stack, f"SELECT extract(epoch FROM expires_at - created_at)::int"
                         f" FROM auth.{t} WHERE user_id = %s", (u.id,))[0][0]
                 for t in ("password_resets", "email_verifications")]
    assert lifetimes == [3600, 86400], lifetimes


# ------------------------------------------------------------ when mail fails

class BlackHole:
    """A TCP server that accepts connections and never says a word: an SMTP
    server that hangs before its greeting."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture(scope="module")
def hole_stack(request):
    """A private stack whose mail goes to a BlackHole; tests point [mail] at
    other places with mail_conf() (all [mail] options reload on SIGHUP)."""
    hole = BlackHole()
    failed_before = request.session.testsfailed
    st = Stack(make_run_dir("enc-mail-"), free_port(), bin_dir())
    st.env["SMTP_URL"] = f"smtp://127.0.0.1:{hole.port}"
    try:
        st.up()
    except StackError as e:
        finish_stack(st, keep=True)
        hole.close()
        pytest.fail(f"the stack did not start:\n{e}", pytrace=False)
    st.hole = hole
    st.base_conf = (st.run_dir / "etc" / "authd.conf").read_text()
    yield st
    problems = finish_stack(st, keep=request.session.testsfailed > failed_before)
    hole.close()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def mail_conf(st, **opts):
    """Rewrites authd's [mail] options (over the generated ones) and reloads."""
    before = st.log("authd").count("reload:")
    extra = "".join(f"{k} = {v}\n" for k, v in opts.items())
    (st.run_dir / "etc" / "authd.conf").write_text(st.base_conf + "[mail]\n" + extra)
    os.kill(st.pid("authd"), signal.SIGHUP)
    wait_until(lambda: st.log("authd").count("reload:") > before, 5, what="authd's reload")


def timed_forgot(st, email):
    t0 = time.monotonic()
    r = forgot(st, email)
    assert r.status_code == 200 and r.json() == FORGOT_BODY, r.text
    return time.monotonic() - t0


def wait_log(st, text, timeout=5):
    return wait_until(lambda: text in st.log("authd"), timeout, what=f"{text!r} in authd's log")


def test_hung_smtp_server_times_out_without_delaying_answers(hole_stack):
    st = hole_stack
    mail_conf(st, timeout_ms=500)
    u = new_user(st, "mh")
    assert timed_forgot(st, u.email) < 0.4     # the answer never waits on SMTP
    wait_until(lambda: st.hole.conns, 2, what="authd to connect to the SMTP server")
    wait_log(st, f"mail not sent: password reset for user {u.id}: ")
    # other requests are served meanwhile and after
    assert me(st, u.access).status_code == 200
    assert "token=" not in st.log("authd")


def test_refused_connection_is_logged(hole_stack):
    st = hole_stack
    mail_conf(st, smtp_url=f"smtp://127.0.0.1:{free_port()}")
    u = new_user(st, "mr")
    assert_message(post(st, VERIFY_SEND, token=u.access), "Verification email sent")
    wait_log(st, f"mail not sent: email verification for user {u.id}: ")
    assert me(st, u.access).status_code == 200


def test_mail_off_warns_without_the_token(hole_stack):
    st = hole_stack
    mail_conf(st, smtp_url="")
    u = new_user(st, "mo")
    assert timed_forgot(st, u.email) < 0.4
    wait_log(st, f"mail is off ([mail] smtp_url is empty or not smtp/smtps): "
             f"password reset for user {u.id} not sent")
    assert_message(post(st, VERIFY_SEND, token=u.access), "Verification email sent")
    wait_log(st, f"email verification for user {u.id} not sent")
    # the link exists (in the database, hashed) but is nowhere in the log
    [(n,)] = pg_rows(st, "SELECT count(*) FROM auth.password_resets WHERE user_id = %s", (u.id,))
    assert n == 1
    assert "token=" not in st.log("authd")


def test_stop_aborts_a_mail_in_flight(hole_stack):
    """SIGTERM while a mail hangs (60 s timeout) and another waits: authd
    exits at once, logs both as not sent, and frees them (LeakSanitizer)."""
    st = hole_stack
    mail_conf(st, smtp_url=f"smtp://127.0.0.1:{st.hole.port}", timeout_ms=60000)
    users = [new_user(st, "ms") for _ in range(2)]
    conns = len(st.hole.conns)
    for u in users:
        timed_forgot(st, u.email)
    wait_until(lambda: len(st.hole.conns) > conns, 2, what="the first mail to hang")
    pid = st.pid("authd")
    t0 = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_running(pid), 4, interval=0.05, what="authd to exit")
    assert time.monotonic() - t0 < 3
    log = st.log("authd")
    for u in users:
        assert f"mail not sent: password reset for user {u.id}: " in log, log[-2000:]


def test_smtp_password_from_a_file(hole_stack, tmp_path):
    """[mail] password_file: the SMTP password comes from a file (the user
    name from smtp_url); a wrong one sends nothing and says why."""
    st = hole_stack
    sink = MailSink(login=("mailer", "s3cret pass")).start()
    pw = tmp_path / "smtp.password"
    try:
        for password, delivered in (("wrong", False), ("s3cret pass", True)):
            pw.write_text(password + "\n")
            pw.chmod(0o600)
            (st.run_dir / "etc" / "authd.conf").write_text(
                st.base_conf + f"[mail]\nsmtp_url = smtp://mailer@127.0.0.1:{sink.port}\n"
                f"password_file = {pw}\n")
            st.restart("authd")
            wait_until(lambda: st.get("/api/health/authd").status_code == 200, 20,
                       interval=0.2, what="authd back")
            u = new_user(st, "smtpauth")
            forgot(st, u.email)
            if delivered:
                assert "reset" in MailSink.body(sink.wait_for(u.email)).lower()
            else:
                wait_log(st, "mail not sent", timeout=20)
                assert sink.messages(u.email) == []
            assert password not in st.log("authd")
    finally:
        sink.stop()
        (st.run_dir / "etc" / "authd.conf").write_text(st.base_conf)
        st.restart("authd")
        wait_until(lambda: st.get("/api/health/authd").status_code == 200, 20, interval=0.2,
                   what="authd back")
