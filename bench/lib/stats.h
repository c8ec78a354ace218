/* stats: what the benchmarks' C load clients measure besides their own
 * counters: a latency histogram (percentiles, mean), the CPU time of
 * server process groups (-c NAME=PID,...) and of the whole machine from
 * /proc, a process's VmRSS, and the client's own CPU time. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stdbool.h>
#include <stdint.h>

/* Latency histogram in ns: exact below 256, then 128 buckets per power of
 * two (under 1% error). */
#define H_SUB 128
#define H_BUCKETS (256 + 48 * H_SUB)
struct hist {
	uint64_t n, max, sum;
	uint64_t b[H_BUCKETS];
};

void h_add(struct hist *h, uint64_t v);
double h_pct_ms(const struct hist *h, double pct);
double h_mean_ms(const struct hist *h);

/* A server process group whose CPU time a client reports. */
#define MAX_CPU_GROUPS 8
struct cpu_group {
	char name[32];
	int npids;
	int pids[64];
	unsigned long long t0, t1, s0, s1;	/* all, system only (ticks) */
};

extern struct cpu_group cpu_groups[MAX_CPU_GROUPS];
extern int ncpu_groups;

/* A group's CPU between the samples: seconds, % of one CPU over the
 * window, µs per event (a delivery); the same for its system part. */
struct cpu_figures {
	const char *name;
	double s, pct, us;
	double sys_s, sys_pct, sys_us;
};

void cpu_group_add(const char *spec);
void cpu_sample(bool end);
struct cpu_figures cpu_figures(const struct cpu_group *g, double win_s, uint64_t events);
void machine_ticks(unsigned long long *busy, unsigned long long *total);
long vm_rss_kib(int pid);
double cpu_self_s(void);

#endif
