"""authd's password hasher: argon2id runs in a child process of its own,
in its own session (its own scheduling group) at the lowest priority; a
killed hasher is replaced, and a full queue answers 503."""

import os
import signal
from concurrent.futures import ThreadPoolExecutor

import authlib
from stacklib import pid_running, wait_until

SCHED_IDLE = 5


def hasher_pids(authd_pid):
    """Processes whose parent is authd and whose command line says --hasher."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = open(f"/proc/{entry}/stat").read()
            argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == authd_pid and b"--hasher" in argv:
            found.append(int(entry))
    return found


def session_of(pid):
    stat = open(f"/proc/{pid}/stat").read()
    return int(stat[stat.rindex(")") + 2:].split()[3])


def the_hasher(st):
    return wait_until(lambda: hasher_pids(st.pid("authd")) or None, 10,
                      what="authd's hasher process")[0]


def test_hasher_is_a_separate_low_priority_process(own_stack):
    st = own_stack
    authd = st.pid("authd")
    pid = the_hasher(st)
    assert session_of(pid) != session_of(authd), "the hasher must lead its own session"
    assert os.getpriority(os.PRIO_PROCESS, pid) == 19
    tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    assert tids and all(os.sched_getscheduler(t) == SCHED_IDLE for t in tids)
    if os.path.exists(f"/proc/{pid}/autogroup") and \
            open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1":
        assert "nice 19" in open(f"/proc/{pid}/autogroup").read()
    # authd's own threads keep normal priority: nothing of the hasher's
    # niceness leaks into the process that answers requests.
    assert os.getpriority(os.PRIO_PROCESS, authd) == 0
    # With CPUs to spare, hashing and authd's threads never share one.
    if len(os.sched_getaffinity(0)) > 1:
        hashing = set().union(*(os.sched_getaffinity(t) for t in tids))
        serving = set().union(*(os.sched_getaffinity(int(t))
                                for t in os.listdir(f"/proc/{authd}/task")))
        assert hashing and serving and not hashing & serving, (hashing, serving)
        assert f"on CPU(s) {','.join(map(str, sorted(hashing, reverse=True)))}" \
            in st.log("authd")
    # And it does the work: a registration and a login both hash.
    u = authlib.new_user(st, "hs")
    assert authlib.login(st, u.username).status_code == 200


def test_killed_hasher_is_replaced_and_sign_ins_resume(own_stack):
    st = own_stack
    authd = st.pid("authd")
    u = authlib.new_user(st, "hk")
    old = the_hasher(st)
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: not pid_running(old), 5, what="the hasher to exit")
    # While it is away a sign-in is refused cleanly, never hung or 500.
    r = authlib.login(st, u.username)
    assert r.status_code in (200, 503), r.text
    if r.status_code == 503:
        authlib.assert_error(r, 503, "busy")
    new = wait_until(lambda: [p for p in hasher_pids(authd) if p != old] or None, 10,
                     what="a new hasher process")
    assert new and pid_running(authd)
    ok = wait_until(lambda: authlib.login(st, u.username).status_code == 200 or None, 10,
                    what="sign-ins to work again")
    assert ok
    assert "hashing process stopped" in st.log("authd")


def test_full_queue_answers_503_and_the_rest_succeed(own_stack):
    st = own_stack
    conf = st.run_dir / "etc" / "authd.conf"
    original = conf.read_text()
    users = [authlib.new_user(st, "hq") for _ in range(24)]
    conf.write_text(original + "[passwords]\nhash_threads = 1\nhash_queue = 1\n")
    try:
        st.restart("authd")
        wait_until(lambda: authlib.login(st, users[0].username).status_code == 200 or None,
                   15, what="authd to serve sign-ins after the restart")

        def attempt(i):
            return authlib.login(st, users[i].username,
                                 source_ip=authlib.new_client_ip())

        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(attempt, range(24)))
        codes = [r.status_code for r in answers]
        assert set(codes) <= {200, 503}, codes
        assert codes.count(200) >= 2 and codes.count(503) >= 1, codes
        for r in answers:
            if r.status_code == 503:
                authlib.assert_error(r, 503, "busy")
    finally:
        conf.write_text(original)
        st.restart("authd")
        wait_until(lambda: authlib.login(st, users[0].username).status_code == 200 or None,
                   15, what="authd to serve sign-ins again")
