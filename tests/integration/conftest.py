"""Fixtures of the integration tier.

`stack` (session scope) is one whole Enclavr stack started with
scripts/stack.sh from the binaries in $ENCLAVR_BIN (default build/san/bin),
with the sanitizers logging into RUN_DIR/log. At teardown the stack is
stopped and the session FAILS if any log holds a sanitizer report.

Every stack made by stacklib.launch_stack sends its mail to a real SMTP
server of its own, started before the stack (stacklib.MailSink): tests read
what authd sent with stack.mail.wait_for(to=...).

Tests that disturb a stack (killing daemons, stopping it) start their own
with stacklib.launch_stack in a module-scoped fixture."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import stacklib  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test (slow or disruptive)")


def pytest_collection_modifyitems(session, config, items):
    """Tests marked `last` run at the end, in their collected order."""
    items[:] = ([i for i in items if i.get_closest_marker("last") is None] +
                [i for i in items if i.get_closest_marker("last") is not None])


def pytest_report_header(config):
    return f"enclavr binaries: {stacklib.bin_dir()}"


def _stack_fixture(request, prefix):
    failed_before = request.session.testsfailed
    try:
        st = stacklib.launch_stack(prefix)
    except stacklib.StackError as e:
        pytest.fail(f"the stack did not start:\n{e}", pytrace=False)
    yield st
    failed = request.session.testsfailed > failed_before
    problems = stacklib.finish_stack(st, keep=failed)
    if problems:
        pytest.fail("\n\n".join(problems) + f"\nrun directory kept: {st.run_dir}", pytrace=False)


@pytest.fixture(scope="session")
def stack(request):
    """The shared stack. Tests must leave it as they found it."""
    yield from _stack_fixture(request, "enc-")


@pytest.fixture(scope="module")
def own_stack(request):
    """A private stack for one module's disruptive tests."""
    yield from _stack_fixture(request, "enc-m-")


@pytest.fixture
def user_token(stack):
    return stack.token()
