#include "metrics.h"

#include <math.h>		/* isnan, isinf, INFINITY: macros */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define METRICS_MAX_HOOKS 16

const double metrics_latency_buckets[] = { 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
const size_t metrics_latency_nbuckets =
    sizeof(metrics_latency_buckets) / sizeof(metrics_latency_buckets[0]);

/* One labelled series of a family; owned by its family. */
struct metric_series {
	struct metric_series *next;
	char *values[METRICS_MAX_LABELS];
	double value;			/* counter, gauge */
	double sum;			/* histogram */
	unsigned long long count;
	unsigned long long *buckets;	/* per bucket, not cumulative */
};

/* One family (one name); owned by the registry. */
struct metric {
	struct metric *next;
	const char *name, *help;
	enum metric_type type;
	const char *labels[METRICS_MAX_LABELS];
	size_t nlabels;
	double bounds[METRICS_MAX_BUCKETS];
	size_t nbuckets;
	struct metric_series *series, *last;
	size_t nseries;
	bool warned;
};

struct metrics_hook {
	void (*fn)(void *arg);
	void *arg;
};

static struct {
	char *daemon;
	struct metric *head, *tail;
	struct metrics_hook hooks[METRICS_MAX_HOOKS];
	size_t nhooks;
} reg;

static struct metric_series *metrics_series_new(struct metric *m,
    const char *const *values);

/* ------------------------------------------------------------ registry */

static bool
metrics_name_ok(const char *s, bool colon)
{
	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
			return false;
	return true;
}

void
metrics_init(const char *daemon)
{
	free(reg.daemon);
	if ((reg.daemon = strdup(daemon)) == NULL)
		fatalx("metrics: out of memory");
}

static struct metric *
metrics_find(const char *name)
{
	for (struct metric *m = reg.head; m != NULL; m = m->next)
		if (strcmp(m->name, name) == 0)
			return m;
	return NULL;
}

/* An existing family must be registered again the same way. */
static struct metric *
metrics_same(struct metric *m, enum metric_type type, const char *const *labels)
{
	size_t n = 0;

	while (labels != NULL && labels[n] != NULL)
		n++;
	if (m->type != type || m->nlabels != n)
		fatalx("metrics: %s registered twice, differently", m->name);
	for (size_t i = 0; i < n; i++)
		if (strcmp(m->labels[i], labels[i]) != 0)
			fatalx("metrics: %s registered twice, differently", m->name);
	return m;
}

static struct metric *
metrics_register(const char *name, const char *help, enum metric_type type,
    const char *const *labels, const double *buckets, size_t nbuckets)
{
	struct metric *m = metrics_find(name);

	if (m != NULL)
		return metrics_same(m, type, labels);
	if (!metrics_name_ok(name, true) || nbuckets > METRICS_MAX_BUCKETS)
		fatalx("metrics: bad metric %s", name ? name : "(null)");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		fatalx("metrics: out of memory");
	m->name = name, m->help = help, m->type = type;
	for (; labels != NULL && labels[m->nlabels] != NULL; m->nlabels++) {
		if (m->nlabels == METRICS_MAX_LABELS ||
		    !metrics_name_ok(labels[m->nlabels], false) ||
		    strcmp(labels[m->nlabels], "le") == 0 ||
		    strcmp(labels[m->nlabels], "daemon") == 0)
			fatalx("metrics: bad labels for %s", name);
		m->labels[m->nlabels] = labels[m->nlabels];
	}
	for (size_t i = 0; i < nbuckets; i++) {
		if (i > 0 && !(buckets[i] > buckets[i - 1]))
			fatalx("metrics: %s: buckets must increase", name);
		m->bounds[i] = buckets[i];
	}
	m->nbuckets = nbuckets;
	/* A family without labels has its one series from the start. */
	if (m->nlabels == 0 && metrics_series_new(m, NULL) == NULL)
		fatalx("metrics: out of memory");
	if (reg.tail != NULL)
		reg.tail->next = m;
	else
		reg.head = m;
	reg.tail = m;
	return m;
}

struct metric *
metrics_counter(const char *name, const char *help, const char *const *labels)
{
	return metrics_register(name, help, METRIC_COUNTER, labels, NULL, 0);
}

struct metric *
metrics_gauge(const char *name, const char *help, const char *const *labels)
{
	return metrics_register(name, help, METRIC_GAUGE, labels, NULL, 0);
}

struct metric *
metrics_histogram(const char *name, const char *help, const char *const *labels,
    const double *buckets, size_t nbuckets)
{
	return metrics_register(name, help, METRIC_HISTOGRAM, labels, buckets, nbuckets);
}

static void
metrics_series_free(struct metric_series *s)
{
	for (size_t i = 0; i < METRICS_MAX_LABELS; i++)
		free(s->values[i]);
	free(s->buckets);
	free(s);
}

/* A copy of v cut to METRICS_MAX_VALUE bytes, not inside a UTF-8 sequence. */
static char *
metrics_value_dup(const char *v)
{
	size_t n = strnlen(v ? v : "", METRICS_MAX_VALUE + 1);
	char *s;

	if (n > METRICS_MAX_VALUE) {
		n = METRICS_MAX_VALUE;
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	}
	if ((s = malloc(n + 1)) != NULL) {
		memcpy(s, v ? v : "", n);
		s[n] = '\0';
	}
	return s;
}

static struct metric_series *
metrics_series_new(struct metric *m, const char *const *values)
{
	struct metric_series *s;

	if (m->nseries >= METRICS_MAX_SERIES) {
		if (!m->warned)
			log_warnx("metrics: %s has %d series; dropping new ones",
			    m->name, METRICS_MAX_SERIES);
		m->warned = true;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	for (size_t i = 0; i < m->nlabels; i++)
		if ((s->values[i] = metrics_value_dup(values[i])) == NULL)
			return metrics_series_free(s), NULL;
	if (m->type == METRIC_HISTOGRAM &&
	    (s->buckets = calloc(m->nbuckets + 1, sizeof(*s->buckets))) == NULL)
		return metrics_series_free(s), NULL;
	if (m->last != NULL)
		m->last->next = s;
	else
		m->series = s;
	m->last = s;
	m->nseries++;
	return s;
}

/* The series of values, created when new; NULL when it cannot be. */
static struct metric_series *
metrics_series(struct metric *m, const char *const *values, bool create)
{
	for (struct metric_series *s = m->series; s != NULL; s = s->next) {
		size_t i = 0;

		while (i < m->nlabels && strncmp(s->values[i], values[i] ? values[i] : "",
		    METRICS_MAX_VALUE) == 0)
			i++;
		if (i == m->nlabels)
			return s;
	}
	return create ? metrics_series_new(m, values) : NULL;
}

void
metrics_add(struct metric *m, const char *const *values, double v)
{
	struct metric_series *s;

	if (m != NULL && m->type != METRIC_HISTOGRAM &&
	    (s = metrics_series(m, values, true)) != NULL)
		s->value += v;
}

void
metrics_inc(struct metric *m, const char *const *values)
{
	metrics_add(m, values, 1);
}

void
metrics_set(struct metric *m, const char *const *values, double v)
{
	struct metric_series *s;

	if (m != NULL && m->type == METRIC_GAUGE &&
	    (s = metrics_series(m, values, true)) != NULL)
		s->value = v;
}

void
metrics_observe(struct metric *m, const char *const *values, double v)
{
	struct metric_series *s;
	size_t i = 0;

	if (m == NULL || m->type != METRIC_HISTOGRAM ||
	    (s = metrics_series(m, values, true)) == NULL)
		return;
	while (i < m->nbuckets && v > m->bounds[i])
		i++;
	s->buckets[i]++;		/* i == nbuckets: only +Inf */
	s->sum += v;
	s->count++;
}

double
metrics_value(struct metric *m, const char *const *values)
{
	struct metric_series *s = m ? metrics_series(m, values, false) : NULL;

	return s ? (m->type == METRIC_HISTOGRAM ? (double)s->count : s->value) : 0;
}

void
metrics_on_collect(void (*fn)(void *arg), void *arg)
{
	if (reg.nhooks == METRICS_MAX_HOOKS)
		fatalx("metrics: too many collect hooks");
	reg.hooks[reg.nhooks++] = (struct metrics_hook){ fn, arg };
}

void
metrics_off_collect(void (*fn)(void *arg), void *arg)
{
	for (size_t i = 0; i < reg.nhooks; i++) {
		if (reg.hooks[i].fn == fn && reg.hooks[i].arg == arg) {
			memmove(&reg.hooks[i], &reg.hooks[i + 1],
			    (reg.nhooks - i - 1) * sizeof(reg.hooks[0]));
			reg.nhooks--;
			return;
		}
	}
}

void
metrics_reset(void)
{
	while (reg.head != NULL) {
		struct metric *m = reg.head;

		reg.head = m->next;
		while (m->series != NULL) {
			struct metric_series *s = m->series;
			m->series = s->next;
			metrics_series_free(s);
		}
		free(m);
	}
	reg.tail = NULL;
	reg.nhooks = 0;
	free(reg.daemon);
	reg.daemon = NULL;
}

double
metrics_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ rendering */

/* A sample value or bound as Prometheus reads it: integers without a
 * point, others in the shortest form that reads back the same. */
static void
metrics_put_number(FILE *f, double v)
{
	char buf[64];

	if (isnan(v)) {
		fputs("NaN", f);
		return;
	}
	if (isinf(v)) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	if (v < 1e15 && v > -1e15 && v == (double)(long long)v) {
		fprintf(f, "%lld", (long long)v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* HELP text escapes backslash and newline; label values also '"'. */
static void
metrics_put_escaped(FILE *f, const char *s, bool quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (quote && *s == '"')
			fputs("\\\"", f);
		else
			fputc(*s, f);
	}
}

static void
metrics_put_label(FILE *f, bool *first, const char *name, const char *value)
{
	fputs(*first ? "{" : ",", f);
	*first = false;
	fprintf(f, "%s=\"", name);
	metrics_put_escaped(f, value, true);
	fputc('"', f);
}

/* name[suffix]{daemon,labels[,le]} value */
static void
metrics_put_sample(FILE *f, const struct metric *m, const struct metric_series *s,
    const char *suffix, const double *le, double v)
{
	bool first = true;

	fprintf(f, "%s%s", m->name, suffix);
	if (reg.daemon != NULL)
		metrics_put_label(f, &first, "daemon", reg.daemon);
	for (size_t i = 0; i < m->nlabels; i++)
		metrics_put_label(f, &first, m->labels[i], s->values[i]);
	if (le != NULL) {
		fputs(first ? "{le=\"" : ",le=\"", f);
		first = false;
		metrics_put_number(f, *le);
		fputc('"', f);
	}
	if (!first)
		fputc('}', f);
	fputc(' ', f);
	metrics_put_number(f, v);
	fputc('\n', f);
}

static void
metrics_put_histogram(FILE *f, const struct metric *m, const struct metric_series *s)
{
	unsigned long long cum = 0;
	double inf = INFINITY;

	for (size_t i = 0; i < m->nbuckets; i++) {
		cum += s->buckets[i];
		metrics_put_sample(f, m, s, "_bucket", &m->bounds[i], (double)cum);
	}
	metrics_put_sample(f, m, s, "_bucket", &inf, (double)s->count);
	metrics_put_sample(f, m, s, "_sum", NULL, s->sum);
	metrics_put_sample(f, m, s, "_count", NULL, (double)s->count);
}

static void
metrics_put_family(FILE *f, const struct metric *m)
{
	static const char *types[] = { "counter", "gauge", "histogram" };
	const struct metric_series *s = m->series;

	fprintf(f, "# HELP %s ", m->name);
	metrics_put_escaped(f, m->help ? m->help : "", false);
	fprintf(f, "\n# TYPE %s %s\n", m->name, types[m->type]);
	for (; s != NULL; s = s->next) {
		if (m->type == METRIC_HISTOGRAM)
			metrics_put_histogram(f, m, s);
		else
			metrics_put_sample(f, m, s, "", NULL, s->value);
	}
}

char *
metrics_render(size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	for (size_t i = 0; i < reg.nhooks; i++)
		reg.hooks[i].fn(reg.hooks[i].arg);
	if ((f = open_memstream(&buf, &n)) == NULL)
		return NULL;
	for (const struct metric *m = reg.head; m != NULL; m = m->next)
		metrics_put_family(f, m);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (len != NULL)
		*len = n;
	return buf;
}
