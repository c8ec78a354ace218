/* Prometheus metrics: one registry per process of counters, gauges and
 * histograms (fixed buckets), each family with a fixed small set of label
 * names, and the text exposition format (version 0.0.4) that
 * metrics_http.c serves on a loopback port.
 *
 * Single-threaded by contract: every update, collect hook and render runs
 * on the event loop's thread. Code on other threads (nng's pipe callbacks,
 * the workpool's workers, the argon2 child) never touches the registry.
 *
 * Every metric is named enclavr_<what>_<unit> and every series carries the
 * constant label daemon="<name>" set by metrics_init. docs/operations.md
 * lists them all. */
#ifndef ENCLAVR_METRICS_H
#define ENCLAVR_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#define METRICS_MAX_LABELS 4
#define METRICS_MAX_BUCKETS 24
#define METRICS_MAX_SERIES 2048		/* per family; more are dropped */
#define METRICS_MAX_VALUE 128		/* bytes of a label value kept */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric;

/* Latency buckets in seconds, 0.5 ms to 10 s. */
extern const double metrics_latency_buckets[];
extern const size_t metrics_latency_nbuckets;

/* Names the process: every series gets the label daemon="<daemon>". */
void metrics_init(const char *daemon);
/* Registers a family, or returns the one of that name already registered
 * (same type and labels, else fatal). labels is NULL-ended (NULL = none);
 * names and labels must be string literals or outlive the registry. */
struct metric *metrics_counter(const char *name, const char *help,
    const char *const *labels);
struct metric *metrics_gauge(const char *name, const char *help,
    const char *const *labels);
/* buckets: upper bounds, strictly increasing, without +Inf. */
struct metric *metrics_histogram(const char *name, const char *help,
    const char *const *labels, const double *buckets, size_t nbuckets);

/* Updates the series of values (one per label, in order; NULL when the
 * family has none). A NULL m is a no-op, so that callers need not check
 * whether metrics are on. */
void metrics_inc(struct metric *m, const char *const *values);
void metrics_add(struct metric *m, const char *const *values, double v);
void metrics_set(struct metric *m, const char *const *values, double v);
void metrics_observe(struct metric *m, const char *const *values, double v);
/* The current value of a counter or gauge series (0 when absent); tests. */
double metrics_value(struct metric *m, const char *const *values);

/* fn runs before every render, to set gauges read from elsewhere (pool
 * sizes, queue lengths). Remove it before arg is freed. */
void metrics_on_collect(void (*fn)(void *arg), void *arg);
void metrics_off_collect(void (*fn)(void *arg), void *arg);

/* The registry in the text format: malloc'd, NUL-terminated; *len is its
 * length. NULL when out of memory. */
char *metrics_render(size_t *len);
/* Frees every family and hook (at exit, and between unit tests). */
void metrics_reset(void);
/* Monotonic time in seconds, for durations. */
double metrics_now(void);

#endif
