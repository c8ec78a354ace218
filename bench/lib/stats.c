/* stats: latency histogram and CPU / memory figures from /proc for the
 * benchmarks' C load clients (stats.h). */
#define _GNU_SOURCE
#include "stats.h"
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct cpu_group cpu_groups[MAX_CPU_GROUPS];
int ncpu_groups;

/* ------------------------------------------------------------ histogram */

/* The bucket of value v. */
static inline int
h_index(uint64_t v)
{
	int msb, shift;

	if (v < 256)
		return (int)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - 7;
	if (msb - 8 >= 48)
		return H_BUCKETS - 1;
	return 256 + (msb - 8) * H_SUB + (int)((v >> shift) - H_SUB);
}

/* The middle of bucket i. */
static uint64_t
h_value(int i)
{
	int e, shift;

	if (i < 256)
		return (uint64_t)i;
	e = (i - 256) / H_SUB + 8;
	shift = e - 7;
	return (((uint64_t)((i - 256) % H_SUB + H_SUB)) << shift) + (1ull << shift) / 2;
}

/* Counts one value (ns). */
void
h_add(struct hist *h, uint64_t v)
{
	h->b[h_index(v)]++;
	h->n++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

/* The pct-th percentile in ms (0 when empty), never above the maximum. */
double
h_pct_ms(const struct hist *h, double pct)
{
	uint64_t want, acc = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)((double)h->n * pct / 100.0);
	if (want >= h->n)
		want = h->n - 1;
	for (int i = 0; i < H_BUCKETS; i++) {
		acc += h->b[i];
		if (acc > want) {
			uint64_t v = h_value(i);
			return (double)(v > h->max ? h->max : v) / 1e6;
		}
	}
	return (double)h->max / 1e6;
}

/* The mean in ms (0 when empty). */
double
h_mean_ms(const struct hist *h)
{
	return h->n ? (double)h->sum / (double)h->n / 1e6 : 0.0;
}

/* ------------------------------------------------------------ CPU */

/* -c NAME=PID[,PID...]: a group of server processes to report. */
void
cpu_group_add(const char *spec)
{
	struct cpu_group *g;
	const char *eq = strchr(spec, '=');
	char *list, *tok, *save;

	if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(g->name) ||
	    ncpu_groups == MAX_CPU_GROUPS)
		die("bad -c %s (want NAME=PID[,PID...])", spec);
	g = &cpu_groups[ncpu_groups++];
	memcpy(g->name, spec, (size_t)(eq - spec));
	list = strdup(eq + 1);
	for (tok = strtok_r(list, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save))
		if (g->npids < 64 && atoi(tok) > 0)
			g->pids[g->npids++] = atoi(tok);
	free(list);
}

/* utime + stime of pid in ticks (0 when gone); adds stime to *sys. */
static unsigned long long
proc_ticks(int pid, unsigned long long *sys)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	/* fields 3.. after ") "; utime and stime are fields 14 and 15 */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	*sys += st;
	return ut + st;
}

/* Reads every group's CPU ticks: at the start (t0, s0) or the end (t1, s1). */
void
cpu_sample(bool end)
{
	for (int g = 0; g < ncpu_groups; g++) {
		struct cpu_group *cg = &cpu_groups[g];
		unsigned long long t = 0, st = 0;
		for (int i = 0; i < cg->npids; i++)
			t += proc_ticks(cg->pids[i], &st);
		if (end)
			cg->t1 = t, cg->s1 = st;
		else
			cg->t0 = t, cg->s0 = st;
	}
}

/* Group g's CPU between the samples over a window of win_s seconds in
 * which events (deliveries) happened. */
struct cpu_figures
cpu_figures(const struct cpu_group *g, double win_s, uint64_t events)
{
	double hz = (double)sysconf(_SC_CLK_TCK);
	struct cpu_figures f = { .name = g->name };

	f.s = (double)(g->t1 - g->t0) / hz;
	f.sys_s = (double)(g->s1 - g->s0) / hz;
	f.pct = win_s > 0 ? 100.0 * f.s / win_s : 0.0;
	f.sys_pct = win_s > 0 ? 100.0 * f.sys_s / win_s : 0.0;
	f.us = events ? f.s * 1e6 / (double)events : 0.0;
	f.sys_us = events ? f.sys_s * 1e6 / (double)events : 0.0;
	return f;
}

/* The whole machine's busy and total jiffies (all CPUs, /proc/stat). */
void
machine_ticks(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (f == NULL)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8) {
		for (int i = 0; i < 8; i++)	/* guest time is in user already */
			*total += v[i];
		*busy = *total - v[3] - v[4];	/* minus idle and iowait */
	}
	fclose(f);
}

/* pid's VmRSS in KiB; -1 when it cannot be read. */
long
vm_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

/* This process's CPU time (user + system) in seconds. */
double
cpu_self_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}
