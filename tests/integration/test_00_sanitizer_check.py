"""The sanitizer-report check used at every stack's teardown must itself be
able to fail: fed a fake log with a report, it must find it."""

import pytest

from stacklib import find_sanitizer_reports, sanitizer_text_reports


CLEAN = ("2026-01-01T00:00:00.000Z gatewayd[1] info http: listening\n"
         "2026-01-01T00:00:01.000Z gatewayd[1] info draining\n")


@pytest.mark.parametrize("line", [
    "==4242==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
    "==4242==ERROR: LeakSanitizer: detected memory leaks",
    "libcommon/svc.c:203:2: runtime error: null pointer passed as argument 2",
    "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior gatewayd/http.c:10:3",
])
def test_checker_detects_reports(tmp_path, line):
    (tmp_path / "gatewayd.log").write_text(CLEAN)
    (tmp_path / "asan.1234").write_text(CLEAN + line + "\n    #0 0x1 in main x.c:1\n")
    reports = find_sanitizer_reports(tmp_path)
    assert len(reports) == 1, reports
    assert "asan.1234" in reports[0] and line in reports[0]
    assert "#0 0x1 in main" in reports[0], "the stack trace must be printed"
    assert sanitizer_text_reports(CLEAN + line) == [line]


def test_checker_accepts_clean_logs(tmp_path):
    (tmp_path / "gatewayd.log").write_text(CLEAN)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "authd.log").write_text(CLEAN)
    assert find_sanitizer_reports(tmp_path) == []
    assert find_sanitizer_reports(tmp_path / "missing") == []
    assert sanitizer_text_reports(CLEAN) == []
