/*
 * The Prometheus text exposition of the daemon's state, and the latency
 * window and histogram it draws from.  Pure code: no sockets, no events.
 * Names follow Prometheus conventions: an fpmprobe_ prefix, base units
 * (seconds), _total for counters.
 */

#include "config.h"

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

static void	metric_head(struct buf *, const char *, const char *,
		    const char *);
static void	label_value(struct buf *, const char *);
static void	pool_labels(struct buf *, const struct pool *);
static void	check_labels(struct buf *, const struct check *);
static void	pool_metrics(struct buf *, struct pool *, uint64_t);
static void	check_metrics(struct buf *, const struct check *);
static void	sample_line(struct buf *, const char *, const struct pool *,
		    const struct check *, const char *, ...)
		    __attribute__((format(printf, 5, 6)));

static const uint64_t latency_bounds_us[LATENCY_NBUCKETS] = LATENCY_BUCKETS_US;

/* Record one probe's latency in the window and the histogram. */
void
latency_observe(struct check_status *st, uint64_t us)
{
	size_t	 i;

	st->lat[st->lat_pos] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	st->lat_pos = (st->lat_pos + 1) % LATENCY_WINDOW;
	if (st->lat_n < LATENCY_WINDOW)
		st->lat_n++;
	for (i = 0; i < LATENCY_NBUCKETS && us > latency_bounds_us[i]; i++)
		;
	st->hist[i]++;
	st->hist_sum_us += us;
}

/* The HELP and TYPE lines of a metric family. */
static void
metric_head(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value, escaped as the exposition format wants. */
static void
label_value(struct buf *b, const char *s)
{
	buf_addstr(b, "\"");
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_addstr(b, "\\\\");
		else if (*s == '"')
			buf_addstr(b, "\\\"");
		else if (*s == '\n')
			buf_addstr(b, "\\n");
		else
			buf_add(b, s, 1);
	}
	buf_addstr(b, "\"");
}

/* {pool="www" */
static void
pool_labels(struct buf *b, const struct pool *pool)
{
	buf_addstr(b, "{pool=");
	label_value(b, pool->name);
}

/* {pool="www",check="app",type="fastcgi" */
static void
check_labels(struct buf *b, const struct check *c)
{
	pool_labels(b, c->pool);
	buf_addstr(b, ",check=");
	label_value(b, c->name);
	buf_printf(b, ",type=\"%s\"", c->ops->name);
}

/*
 * One sample: the metric's name, the pool's (or the check's) labels, and
 * the rest as fmt says, from the closing brace on.
 */
static void
sample_line(struct buf *b, const char *name, const struct pool *pool,
    const struct check *c, const char *fmt, ...)
{
	char	*rest;
	va_list	 ap;

	buf_addstr(b, name);
	if (c != NULL)
		check_labels(b, c);
	else
		pool_labels(b, pool);
	va_start(ap, fmt);
	if (vasprintf(&rest, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	buf_addstr(b, rest);
	free(rest);
}

/* The gauges of one pool. */
static void
pool_metrics(struct buf *b, struct pool *pool, uint64_t now)
{
	const struct verdict		*v = pool_verdict(pool, now);
	const struct pool_workers	*pw = &pool->workers;
	static const enum pool_state	 states[] = { POOL_UP, POOL_DOWN,
					    POOL_MAINT, POOL_DRAIN };
	const struct audit_finding	*f[AUDIT_FINDINGS_MAX];
	size_t				 i, n;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		sample_line(b, "fpmprobe_pool_state", pool, NULL,
		    ",state=\"%s\"} %d\n", pool_state_str(states[i]),
		    v->state == states[i]);
	sample_line(b, "fpmprobe_pool_weight_ratio", pool, NULL, "} %.2f\n",
	    v->weight / 100.0);
	sample_line(b, "fpmprobe_pool_saturated", pool, NULL, "} %d\n",
	    v->saturated);
	if (pool->sampler != NULL)
		sample_line(b, "fpmprobe_pool_status_sample_up", pool, NULL,
		    "} %d\n", pw->have && !pw->sample_failed);
	n = audit_collect(pool, f, AUDIT_FINDINGS_MAX);
	for (i = 0; i < n && i < AUDIT_FINDINGS_MAX; i++)
		sample_line(b, "fpmprobe_audit_finding", pool, NULL,
		    ",layer=\"%s\",setting=\"%s\",severity=\"%s\"} 1\n",
		    f[i]->layer, f[i]->setting, f[i]->warn ? "warning" : "info");
	if (!pw->have)
		return;
	sample_line(b, "fpmprobe_pool_workers", pool, NULL,
	    ",state=\"active\"} %llu\n", (unsigned long long)pw->status.active);
	sample_line(b, "fpmprobe_pool_workers", pool, NULL,
	    ",state=\"idle\"} %llu\n", (unsigned long long)pw->status.idle);
	sample_line(b, "fpmprobe_pool_workers", pool, NULL,
	    ",state=\"stuck\"} %u\n", pw->stuck);
	sample_line(b, "fpmprobe_pool_max_children", pool, NULL, "} %u\n",
	    pw->max_children);
	sample_line(b, "fpmprobe_pool_listen_queue", pool, NULL, "} %llu\n",
	    (unsigned long long)pw->status.listen_queue);
}

/* The gauges, counters and latency histogram of one check. */
static void
check_metrics(struct buf *b, const struct check *c)
{
	const struct check_status	*st = &c->st;
	uint64_t			 cum = 0;
	size_t				 i;

	sample_line(b, "fpmprobe_check_up", c->pool, c, "} %d\n", st->healthy);
	sample_line(b, "fpmprobe_check_consecutive_failures", c->pool, c,
	    "} %u\n", st->fail_run);
	sample_line(b, "fpmprobe_check_probes_total", c->pool, c, "} %llu\n",
	    (unsigned long long)st->probes);
	sample_line(b, "fpmprobe_check_failures_total", c->pool, c, "} %llu\n",
	    (unsigned long long)st->failures);
	for (i = 0; i <= LATENCY_NBUCKETS; i++) {
		cum += st->hist[i];
		if (i < LATENCY_NBUCKETS)
			sample_line(b, "fpmprobe_check_latency_seconds_bucket",
			    c->pool, c, ",le=\"%g\"} %llu\n",
			    latency_bounds_us[i] / 1e6, (unsigned long long)cum);
		else
			sample_line(b, "fpmprobe_check_latency_seconds_bucket",
			    c->pool, c, ",le=\"+Inf\"} %llu\n",
			    (unsigned long long)cum);
	}
	sample_line(b, "fpmprobe_check_latency_seconds_sum", c->pool, c,
	    "} %.6f\n", st->hist_sum_us / 1e6);
	sample_line(b, "fpmprobe_check_latency_seconds_count", c->pool, c,
	    "} %llu\n", (unsigned long long)cum);
}

/*
 * Everything the daemon knows, as Prometheus text.  Families are written
 * whole, one after the other, as the format requires.
 */
void
metrics_format(struct buf *b, struct config *conf, uint64_t start_time)
{
	static const char *answers[] = { "up", "down", "maint", "drain",
					 "unknown_pool" };
	static const struct {
		const char	*name, *type, *help;
	} pool_families[] = {
		{ "fpmprobe_pool_state", "gauge",
		    "1 for the state the pool is in (up, down, maint, drain)" },
		{ "fpmprobe_pool_weight_ratio", "gauge",
		    "share of the configured weight the agent answers" },
		{ "fpmprobe_pool_saturated", "gauge",
		    "1 while real-path probes time out on a pool that makes "
		    "progress" },
		{ "fpmprobe_pool_status_sample_up", "gauge",
		    "1 while the last status page was read and parsed, 0 "
		    "when it could not be had: stuck workers go unseen" },
		{ "fpmprobe_pool_workers", "gauge",
		    "workers by state in the last status sample" },
		{ "fpmprobe_pool_max_children", "gauge",
		    "workers the pool can run" },
		{ "fpmprobe_pool_listen_queue", "gauge",
		    "connections waiting for a worker" },
		{ "fpmprobe_audit_finding", "gauge",
		    "1 for each setting that leaves a wait unbounded (audit)" },
	}, check_families[] = {
		{ "fpmprobe_check_up", "gauge",
		    "1 while the check passes after rise/fall" },
		{ "fpmprobe_check_consecutive_failures", "gauge",
		    "failures in a row" },
		{ "fpmprobe_check_probes_total", "counter", "probes run" },
		{ "fpmprobe_check_failures_total", "counter", "probes failed" },
		{ "fpmprobe_check_latency_seconds", "histogram",
		    "time a probe took" },
	};
	struct buf	 fam[sizeof(pool_families) / sizeof(pool_families[0])];
	struct buf	 cfam[sizeof(check_families) / sizeof(check_families[0])];
	struct buf	 one = { NULL, 0, 0 };
	struct pool	*pool;
	struct check	*c;
	uint64_t	 now = now_us();
	size_t		 i, j, nf = sizeof(fam) / sizeof(fam[0]);
	size_t		 ncf = sizeof(cfam) / sizeof(cfam[0]);
	char		*line, *end;

	metric_head(b, "fpmprobe_build_info", "gauge",
	    "the running version, always 1");
	buf_printf(b, "fpmprobe_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metric_head(b, "fpmprobe_start_time_seconds", "gauge",
	    "when the daemon started, in seconds since the epoch");
	buf_printf(b, "fpmprobe_start_time_seconds %llu\n",
	    (unsigned long long)start_time);
	metric_head(b, "fpmprobe_agent_answers_total", "counter",
	    "agent-check answers served, by kind");
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
		buf_printf(b, "fpmprobe_agent_answers_total{answer=\"%s\"} "
		    "%llu\n", answers[i], (unsigned long long)agent_answers[i]);

	/* Format per pool, then sort the lines into their families. */
	memset(fam, 0, sizeof(fam));
	memset(cfam, 0, sizeof(cfam));
	TAILQ_FOREACH(pool, &conf->pools, entry) {
		buf_reset(&one);
		pool_metrics(&one, pool, now);
		TAILQ_FOREACH(c, &pool->checks, entry)
			if (c != pool->sampler)
				check_metrics(&one, c);
		for (line = (char *)one.data; line != NULL && *line != '\0';
		    line = end + 1) {
			end = strchr(line, '\n');
			for (j = 0; j < nf; j++)
				if (strncmp(line, pool_families[j].name,
				    strlen(pool_families[j].name)) == 0 &&
				    line[strlen(pool_families[j].name)] == '{')
					buf_add(&fam[j], line,
					    (size_t)(end - line) + 1);
			for (j = 0; j < ncf; j++)
				if (strncmp(line, check_families[j].name,
				    strlen(check_families[j].name)) == 0)
					buf_add(&cfam[j], line,
					    (size_t)(end - line) + 1);
		}
	}
	for (j = 0; j < nf; j++) {
		if (fam[j].len == 0)
			continue;
		metric_head(b, pool_families[j].name, pool_families[j].type,
		    pool_families[j].help);
		buf_add(b, fam[j].data, fam[j].len);
		buf_free(&fam[j]);
	}
	for (j = 0; j < ncf; j++) {
		if (cfam[j].len == 0)
			continue;
		metric_head(b, check_families[j].name, check_families[j].type,
		    check_families[j].help);
		buf_add(b, cfam[j].data, cfam[j].len);
		buf_free(&cfam[j]);
	}
	buf_free(&one);
	host_metrics(b, conf);
}
