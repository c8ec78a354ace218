"""make install lays the suite out as an operator's host expects (issue:
operations): binaries in /usr/sbin, configs in /etc/enclavr, the web client
and SQL migrations in /usr/share/enclavr, units in /lib/systemd/system,
sysusers/tmpfiles entries, and man pages — here into a DESTDIR."""
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAEMONS = ("authd", "chatd", "voiced", "gatewayd")


def test_make_install_layout(tmp_path):
    dest = tmp_path / "root"
    build = "build/san" if os.environ.get("ENCLAVR_BIN", "").endswith("build/san/bin") else "build/rel"
    res = subprocess.run(["make", "-s", "-C", str(REPO), "install", f"DESTDIR={dest}",
                          f"SANITIZE={'1' if build == 'build/san' else '0'}"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    for name in DAEMONS + ("enclavrctl",):
        exe = dest / "usr/sbin" / name
        assert exe.is_file() and os.access(exe, os.X_OK), exe
        assert (dest / "usr/share/man/man8" / f"{name}.8").is_file(), name
    for name in DAEMONS:
        conf = dest / "etc/enclavr" / f"{name}.conf"
        assert conf.is_file() and (conf.stat().st_mode & 0o777) == 0o640, conf
        assert (dest / "usr/share/man/man5" / f"{name}.conf.5").is_file(), name
        assert (dest / "lib/systemd/system" / f"enclavr-{name}.service").is_file(), name
    assert (dest / "lib/systemd/system/enclavr.target").is_file()
    assert (dest / "lib/systemd/system/enclavr-turn.service").is_file()
    assert (dest / "etc/enclavr/turnserver.conf").is_file()
    assert (dest / "usr/lib/sysusers.d/enclavr.conf").is_file()
    assert (dest / "usr/lib/tmpfiles.d/enclavr.conf").is_file()
    assert (dest / "usr/share/enclavr/web/index.html").is_file()
    for schema in ("auth", "chat", "voice"):
        shipped = sorted(p.name for p in (REPO / "sql" / schema).glob("*.sql"))
        installed = sorted(p.name for p in (dest / "usr/share/enclavr/sql" / schema).glob("*.sql"))
        assert shipped and installed == shipped, schema
