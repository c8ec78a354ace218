/* The IPC client's view of its connection: a peer that is refused (wrong
 * protocol) never counts as a connection, and once the right server is
 * there the client is connected, however many refusals came first. nng
 * reports the removal of a refused pipe without ever reporting it added. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <event2/event.h>
#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "ipc.h"

/* Waits up to ms for the client to be connected (or not); its last state. */
static bool
wait_connected(struct ipc_client *cli, bool want, int ms)
{
	for (int waited = 0; waited < ms && ipc_client_connected(cli) != want; waited += 20)
		usleep(20 * 1000);
	return ipc_client_connected(cli);
}

static void
test_refused_pipes_do_not_hide_a_later_connection(void **state)
{
	char url[128];
	struct event_base *base = event_base_new();
	nng_socket wrong, rep;
	struct ipc_client *cli;

	(void)state;
	snprintf(url, sizeof(url), "ipc:///tmp/enclavr-unit-ipc-%d.sock", (int)getpid());
	assert_non_null(base);
	/* A PUB socket where a REP is expected: every pipe is refused. */
	assert_int_equal(nng_pub0_open(&wrong), 0);
	assert_int_equal(nng_listen(wrong, url, NULL, 0), 0);
	cli = ipc_client_open(base, url);
	usleep(600 * 1000);	/* several dials (100 ms apart at first), each refused */
	assert_false(ipc_client_connected(cli));
	nng_close(wrong);

	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(nng_listen(rep, url, NULL, 0), 0);
	assert_true(wait_connected(cli, true, 5000));
	nng_close(rep);
	assert_false(wait_connected(cli, false, 5000));
	ipc_client_close(cli);
	event_base_free(base);
	unlink(url + 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_pipes_do_not_hide_a_later_connection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
