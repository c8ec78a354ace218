/* The metrics registry and its Prometheus text format: HELP/TYPE lines,
 * escaping, the daemon label, cumulative histogram buckets ending in +Inf
 * with _sum and _count, collect hooks, re-registration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "metrics.c"

static char *
render(void)
{
	size_t len = 0;
	char *text = metrics_render(&len);

	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

/* Fails unless text holds line as a whole line. */
static void
assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
	fail_msg("line not found: %s\n--- in ---\n%s", line, text);
}

static int
teardown(void **state)
{
	(void)state;
	metrics_reset();
	return 0;
}

static void
test_counter_labels_and_escaping(void **state)
{
	static const char *const labels[] = { "route", "status", NULL };
	struct metric *m;
	char *text;
	(void)state;

	metrics_init("chatd");
	m = metrics_counter("enclavr_test_total", "Help with \\ and\nnewline \"kept\".",
	    labels);
	metrics_inc(m, (const char *[]){ "GET /api/rooms/{id}", "200" });
	metrics_add(m, (const char *[]){ "GET /api/rooms/{id}", "200" }, 2);
	metrics_inc(m, (const char *[]){ "a\"b\\c\nd", "404" });
	text = render();
	assert_line(text, "# HELP enclavr_test_total Help with \\\\ and\\nnewline \"kept\".");
	assert_line(text, "# TYPE enclavr_test_total counter");
	assert_line(text, "enclavr_test_total{daemon=\"chatd\",route=\"GET /api/rooms/{id}\","
	    "status=\"200\"} 3");
	assert_line(text, "enclavr_test_total{daemon=\"chatd\",route=\"a\\\"b\\\\c\\nd\","
	    "status=\"404\"} 1");
	assert_true(metrics_value(m, (const char *[]){ "GET /api/rooms/{id}", "200" }) == 3);
	free(text);
}

static void
test_histogram_buckets(void **state)
{
	static const double b[] = { 0.001, 0.1, 0.5 };
	struct metric *h;
	char *text;
	(void)state;

	metrics_init("authd");
	h = metrics_histogram("enclavr_test_seconds", "Latency.", NULL, b, 3);
	metrics_observe(h, NULL, 0.001);	/* on a bound: counted in it */
	metrics_observe(h, NULL, 0.25);
	metrics_observe(h, NULL, 100);		/* past the last: +Inf only */
	text = render();
	assert_line(text, "# TYPE enclavr_test_seconds histogram");
	assert_line(text, "enclavr_test_seconds_bucket{daemon=\"authd\",le=\"0.001\"} 1");
	assert_line(text, "enclavr_test_seconds_bucket{daemon=\"authd\",le=\"0.1\"} 1");
	assert_line(text, "enclavr_test_seconds_bucket{daemon=\"authd\",le=\"0.5\"} 2");
	assert_line(text, "enclavr_test_seconds_bucket{daemon=\"authd\",le=\"+Inf\"} 3");
	assert_line(text, "enclavr_test_seconds_sum{daemon=\"authd\"} 100.251");
	assert_line(text, "enclavr_test_seconds_count{daemon=\"authd\"} 3");
	free(text);
}

static void
test_labelled_histogram_has_le_last(void **state)
{
	static const char *const labels[] = { "op", NULL };
	struct metric *h;
	char *text;
	(void)state;

	h = metrics_histogram("enclavr_test_op_seconds", "By op.", labels,
	    metrics_latency_buckets, metrics_latency_nbuckets);
	metrics_observe(h, (const char *[]){ "hash" }, 0.003);
	text = render();
	/* No daemon label without metrics_init. */
	assert_line(text, "enclavr_test_op_seconds_bucket{op=\"hash\",le=\"0.0025\"} 0");
	assert_line(text, "enclavr_test_op_seconds_bucket{op=\"hash\",le=\"0.005\"} 1");
	assert_line(text, "enclavr_test_op_seconds_bucket{op=\"hash\",le=\"10\"} 1");
	assert_line(text, "enclavr_test_op_seconds_bucket{op=\"hash\",le=\"+Inf\"} 1");
	assert_line(text, "enclavr_test_op_seconds_count{op=\"hash\"} 1");
	free(text);
}

static void
test_unlabelled_series_exist_at_zero(void **state)
{
	static const char *const labels[] = { "topic", NULL };
	char *text;
	(void)state;

	metrics_counter("enclavr_a_total", "A.", NULL);
	metrics_gauge("enclavr_b", "B.", NULL);
	metrics_histogram("enclavr_c_seconds", "C.", NULL, metrics_latency_buckets,
	    metrics_latency_nbuckets);
	metrics_counter("enclavr_d_total", "D.", labels);
	text = render();
	assert_line(text, "enclavr_a_total 0");
	assert_line(text, "enclavr_b 0");
	assert_line(text, "enclavr_c_seconds_bucket{le=\"+Inf\"} 0");
	assert_line(text, "enclavr_c_seconds_count 0");
	/* A labelled family with no series yet: HELP and TYPE only. */
	assert_line(text, "# TYPE enclavr_d_total counter");
	assert_null(strstr(text, "enclavr_d_total{"));
	free(text);
}

static void
test_gauges_and_numbers(void **state)
{
	struct metric *g = metrics_gauge("enclavr_g", "G.", NULL);
	char *text;
	(void)state;

	metrics_set(g, NULL, 0.1);
	text = render();
	assert_line(text, "enclavr_g 0.1");
	free(text);
	metrics_set(g, NULL, -3);
	text = render();
	assert_line(text, "enclavr_g -3");
	free(text);
	metrics_set(g, NULL, 1234567890123.5);
	text = render();
	assert_line(text, "enclavr_g 1234567890123.5");
	free(text);
	metrics_set(g, NULL, NAN);
	text = render();
	assert_line(text, "enclavr_g NaN");
	free(text);
}

static void
set_gauge(void *arg)
{
	metrics_set(arg, NULL, 42);
}

static void
test_collect_hooks_and_reregistration(void **state)
{
	struct metric *g = metrics_gauge("enclavr_pool", "Pool.", NULL);
	char *text;
	(void)state;

	assert_ptr_equal(g, metrics_gauge("enclavr_pool", "Pool.", NULL));
	metrics_on_collect(set_gauge, g);
	text = render();
	assert_line(text, "enclavr_pool 42");
	free(text);
	metrics_off_collect(set_gauge, g);
	metrics_set(g, NULL, 1);
	text = render();
	assert_line(text, "enclavr_pool 1");
	free(text);
	/* Updates through NULL are no-ops; wrong-type updates are ignored. */
	metrics_inc(NULL, NULL);
	metrics_observe(g, NULL, 1);
	assert_true(metrics_value(g, NULL) == 1);
}

static void
test_long_values_are_cut(void **state)
{
	static const char *const labels[] = { "v", NULL };
	struct metric *m = metrics_counter("enclavr_long_total", "L.", labels);
	char value[300], want[METRICS_MAX_VALUE + 64];
	char *text;
	(void)state;

	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	metrics_inc(m, (const char *[]){ value });
	metrics_inc(m, (const char *[]){ value });
	snprintf(want, sizeof(want), "enclavr_long_total{v=\"%.*s\"} 2",
	    METRICS_MAX_VALUE, value);
	text = render();
	assert_line(text, want);
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_counter_labels_and_escaping, teardown),
		cmocka_unit_test_teardown(test_histogram_buckets, teardown),
		cmocka_unit_test_teardown(test_labelled_histogram_has_le_last, teardown),
		cmocka_unit_test_teardown(test_unlabelled_series_exist_at_zero, teardown),
		cmocka_unit_test_teardown(test_gauges_and_numbers, teardown),
		cmocka_unit_test_teardown(test_collect_hooks_and_reregistration, teardown),
		cmocka_unit_test_teardown(test_long_values_are_cut, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
