/*
 * The exposition of the daemon's state, in the Prometheus text format
 * (0.0.4) or in OpenMetrics 1.0.0 as the scraper's Accept header asks,
 * and the latency window and histogram it draws from.  Pure code: no
 * sockets, no events.  Names follow Prometheus conventions: an fpmprobe_
 * prefix, base units (seconds), _total for counters; the status page's
 * numbers keep the names php-fpm_exporter gives them.  What comes from a
 * worker sample is served only while that sample is current: a pool
 * whose status page is gone shows sample_up 0 and its age, never its
 * last numbers as if they were still true.
 */

#include "config.h"

#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpmprobe.h"

/* A metric family: its name (as the text format has it), type and help. */
struct family {
	const char	*name, *type, *help;
};

static void	metric_head(struct buf *, const struct family *);
static void	openmetrics_from_text(struct buf *, const struct buf *);
static const char *family_unit(const char *, size_t);
static int	family_has(const struct family *, const char *, int);
static void	label_value(struct buf *, const char *);
static void	pool_labels(struct buf *, const struct pool *);
static void	check_labels(struct buf *, const struct check *);
static void	pool_metrics(struct buf *, struct pool *, uint64_t);
static void	sample_metrics(struct buf *, const struct pool *);
static int	accept_tchar(int);
static const char *accept_param(const char *, const char **, size_t *,
		    const char **, size_t *);
static int	accept_qvalue(const char *, size_t);
static int	accept_token_is(const char *, size_t, const char *);
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
metric_head(struct buf *b, const struct family *f)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
	    f->name, f->type);
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

/*
 * Is the pool's last status sample current: read and parsed by the last
 * attempt, and no older than STALE_INTERVALS of the sampler's interval?
 */
int
metrics_sample_current(const struct pool *pool, uint64_t now)
{
	const struct pool_workers	*pw = &pool->workers;

	return pool->sampler != NULL && pw->have && !pw->sample_failed &&
	    now >= pw->sampled_us && now - pw->sampled_us <=
	    (uint64_t)STALE_INTERVALS * pool->sampler->timing.interval_ms * 1000;
}

/*
 * The workers of a sample in disjoint states that add up to the processes
 * it lists: held (reading a request past stuck_after), stuck (in one past
 * it), idle, and active (every other one, our own status request's
 * included).  A page without the process list gives only idle and active.
 */
void
metrics_partition(const struct pool_workers *pw, struct worker_partition *wp)
{
	const struct fpm_status	*s = &pw->status;
	size_t			 i;

	memset(wp, 0, sizeof(*wp));
	if (s->nworkers == 0) {
		wp->idle = s->idle;
		wp->active = s->active;
		return;
	}
	for (i = 0; i < s->nworkers; i++) {
		const struct fpm_worker *w = &s->workers[i];

		if (w->held)
			wp->held++;
		else if (w->stuck)
			wp->stuck++;
		else if (w->state == FPM_W_IDLE)
			wp->idle++;
		else
			wp->active++;
	}
}

/* What a current status sample says: workers by state, the page's counters. */
static void
sample_metrics(struct buf *b, const struct pool *pool)
{
	const struct fpm_status	*s = &pool->workers.status;
	static const char	*states[] = { "idle", "active", "stuck", "held" };
	const struct {
		const char	*name;
		uint64_t	 value;
	} page[] = {
		{ "fpmprobe_pool_max_active_processes", s->max_active },
		{ "fpmprobe_pool_listen_queue", s->listen_queue },
		{ "fpmprobe_pool_max_listen_queue", s->max_listen_queue },
		{ "fpmprobe_pool_listen_queue_length", s->listen_queue_len },
		{ "fpmprobe_pool_start_since_seconds", s->start_since },
		{ "fpmprobe_pool_accepted_connections_total", s->accepted_conn },
		{ "fpmprobe_pool_max_children_reached_total",
		    s->max_children_reached },
		{ "fpmprobe_pool_slow_requests_total", s->slow_requests },
	};
	struct worker_partition	 wp;
	unsigned long long	 n[4];
	size_t			 i;

	metrics_partition(&pool->workers, &wp);
	n[0] = wp.idle;
	n[1] = wp.active;
	n[2] = wp.stuck;
	n[3] = wp.held;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		sample_line(b, "fpmprobe_pool_workers", pool, NULL,
		    ",state=\"%s\"} %llu\n", states[i], n[i]);
	for (i = 0; i < sizeof(page) / sizeof(page[0]); i++)
		sample_line(b, page[i].name, pool, NULL, "} %llu\n",
		    (unsigned long long)page[i].value);
}

/*
 * The gauges of one pool.  With a status sampler, sample_up and the
 * sample's age always; what the sample says only while it is current.
 */
static void
pool_metrics(struct buf *b, struct pool *pool, uint64_t now)
{
	const struct verdict		*v = pool_verdict(pool, now);
	const struct pool_workers	*pw = &pool->workers;
	static const enum pool_state	 states[] = { POOL_UP, POOL_DOWN,
					    POOL_MAINT, POOL_DRAIN };
	const struct audit_finding	*f[AUDIT_FINDINGS_MAX];
	size_t				 i, n;
	int				 current;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		sample_line(b, "fpmprobe_pool_state", pool, NULL,
		    ",state=\"%s\"} %d\n", pool_state_str(states[i]),
		    v->state == states[i]);
	sample_line(b, "fpmprobe_pool_weight_ratio", pool, NULL, "} %.2f\n",
	    v->weight / 100.0);
	sample_line(b, "fpmprobe_pool_saturated", pool, NULL, "} %d\n",
	    v->saturated);
	n = audit_collect(pool, f, AUDIT_FINDINGS_MAX);
	for (i = 0; i < n && i < AUDIT_FINDINGS_MAX; i++)
		sample_line(b, "fpmprobe_audit_finding", pool, NULL,
		    ",layer=\"%s\",setting=\"%s\",severity=\"%s\"} 1\n",
		    f[i]->layer, f[i]->setting, f[i]->warn ? "warning" : "info");
	if (pw->max_children > 0)
		sample_line(b, "fpmprobe_pool_max_children", pool, NULL,
		    "} %u\n", pw->max_children);
	if (pool->sampler == NULL)
		return;
	current = metrics_sample_current(pool, now);
	sample_line(b, "fpmprobe_pool_status_sample_up", pool, NULL, "} %d\n",
	    current);
	/* Never sampled: the last good sample is infinitely old. */
	if (!pw->have || now < pw->sampled_us)
		sample_line(b, "fpmprobe_pool_status_sample_age_seconds", pool,
		    NULL, "} +Inf\n");
	else
		sample_line(b, "fpmprobe_pool_status_sample_age_seconds", pool,
		    NULL, "} %.3f\n", (now - pw->sampled_us) / 1e6);
	if (current)
		sample_metrics(b, pool);
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

/* The pool families, in the order they are written. */
static const struct family pool_families[] = {
	{ "fpmprobe_pool_state", "gauge",
	    "1 for the state the pool is in (up, down, maint, drain)" },
	{ "fpmprobe_pool_weight_ratio", "gauge",
	    "share of the configured weight the agent answers" },
	{ "fpmprobe_pool_saturated", "gauge",
	    "1 while real-path probes time out on a pool that makes progress" },
	{ "fpmprobe_pool_max_children", "gauge",
	    "workers the pool can run, when known" },
	{ "fpmprobe_pool_status_sample_up", "gauge",
	    "1 while the last status sample was read and is current; 0 when "
	    "it failed or is stale: the sample's numbers are then not served" },
	{ "fpmprobe_pool_status_sample_age_seconds", "gauge",
	    "seconds since the last status sample that was read, +Inf before "
	    "the first" },
	{ "fpmprobe_pool_workers", "gauge",
	    "processes of the current status sample by state (idle, active, "
	    "stuck, held): disjoint, they add up to the processes listed" },
	{ "fpmprobe_pool_max_active_processes", "gauge",
	    "most processes active at once since php-fpm started" },
	{ "fpmprobe_pool_listen_queue", "gauge",
	    "connections waiting for a worker" },
	{ "fpmprobe_pool_max_listen_queue", "gauge",
	    "most connections waiting at once since php-fpm started" },
	{ "fpmprobe_pool_listen_queue_length", "gauge",
	    "size of the pool's listen backlog" },
	{ "fpmprobe_pool_start_since_seconds", "gauge",
	    "seconds php-fpm had run at the status sample" },
	{ "fpmprobe_pool_accepted_connections_total", "counter",
	    "connections the pool accepted since php-fpm started" },
	{ "fpmprobe_pool_max_children_reached_total", "counter",
	    "times the process manager found pm.max_children reached" },
	{ "fpmprobe_pool_slow_requests_total", "counter",
	    "requests that outlasted request_slowlog_timeout" },
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
}, daemon_families[] = {
	{ "fpmprobe_build_info", "gauge",
	    "the running version, always 1" },
	{ "fpmprobe_start_time_seconds", "gauge",
	    "when the daemon started, in seconds since the epoch" },
	{ "fpmprobe_agent_answers_total", "counter",
	    "agent-check answers served, by kind" },
};

#define NPOOL_FAMILIES	(sizeof(pool_families) / sizeof(pool_families[0]))
#define NCHECK_FAMILIES	(sizeof(check_families) / sizeof(check_families[0]))

/* Does a sample line belong to the family (its name, then { or _)? */
static int
family_has(const struct family *f, const char *line, int suffixed)
{
	size_t	 len = strlen(f->name);

	return strncmp(line, f->name, len) == 0 && (line[len] == '{' ||
	    (suffixed && line[len] == '_'));
}

/*
 * Everything the daemon knows, as Prometheus text or as OpenMetrics,
 * which is made from the text: the families are the same.
 */
void
metrics_write(struct buf *b, struct config *conf, uint64_t start_time,
    enum exposition expo)
{
	struct buf	 text = { NULL, 0, 0 };

	if (expo == EXPO_TEXT) {
		metrics_format(b, conf, start_time);
		return;
	}
	metrics_format(&text, conf, start_time);
	openmetrics_from_text(b, &text);
	buf_free(&text);
}

/*
 * Everything the daemon knows, in the Prometheus text format.  Families
 * are written whole, one after the other, as the format requires.
 */
void
metrics_format(struct buf *b, struct config *conf, uint64_t start_time)
{
	static const char *answers[] = { "up", "down", "maint", "drain",
					 "unknown_pool" };
	struct buf	 fam[NPOOL_FAMILIES], cfam[NCHECK_FAMILIES];
	struct buf	 one = { NULL, 0, 0 };
	struct pool	*pool;
	struct check	*c;
	uint64_t	 now = now_us();
	size_t		 i, j;
	char		*line, *end;

	metric_head(b, &daemon_families[0]);
	buf_printf(b, "fpmprobe_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);
	metric_head(b, &daemon_families[1]);
	buf_printf(b, "fpmprobe_start_time_seconds %llu\n",
	    (unsigned long long)start_time);
	metric_head(b, &daemon_families[2]);
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
			for (j = 0; j < NPOOL_FAMILIES; j++)
				if (family_has(&pool_families[j], line, 0))
					buf_add(&fam[j], line,
					    (size_t)(end - line) + 1);
			for (j = 0; j < NCHECK_FAMILIES; j++)
				if (family_has(&check_families[j], line, 1))
					buf_add(&cfam[j], line,
					    (size_t)(end - line) + 1);
		}
	}
	for (j = 0; j < NPOOL_FAMILIES; j++) {
		if (fam[j].len == 0)
			continue;
		metric_head(b, &pool_families[j]);
		buf_add(b, fam[j].data, fam[j].len);
		buf_free(&fam[j]);
	}
	for (j = 0; j < NCHECK_FAMILIES; j++) {
		if (cfam[j].len == 0)
			continue;
		metric_head(b, &check_families[j]);
		buf_add(b, cfam[j].data, cfam[j].len);
		buf_free(&cfam[j]);
	}
	buf_free(&one);
	host_metrics(b, conf);
}

/*
 * The unit a family's name ends in, as OpenMetrics' # UNIT names it;
 * NULL for none.
 */
static const char *
family_unit(const char *name, size_t len)
{
	static const char	*units[] = { "seconds", "ratio", "bytes" };
	size_t			 i, n;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		n = strlen(units[i]);
		if (len > n + 1 && name[len - n - 1] == '_' &&
		    memcmp(name + len - n, units[i], n) == 0)
			return units[i];
	}
	return NULL;
}

/*
 * OpenMetrics 1.0.0 from the text format, families and samples unchanged:
 * a counter's family is named without the _total its samples keep, a
 * family whose name ends in a unit says it in # UNIT, a double quote in
 * a HELP text is escaped, and # EOF ends it all.  A family's HELP line
 * comes right before its TYPE line, as every writer here puts them.
 */
static void
openmetrics_from_text(struct buf *b, const struct buf *text)
{
	const char	*line, *end, *help = NULL, *name, *type, *unit, *p;
	size_t		 len, nlen, fam, hlen = 0;

	for (line = (const char *)text->data; line != NULL && *line != '\0';
	    line = end + 1) {
		if ((end = strchr(line, '\n')) == NULL)
			end = line + strlen(line);
		len = (size_t)(end - line);
		if (strncmp(line, "# TYPE ", 7) != 0 || help == NULL) {
			if (help != NULL)
				buf_add(b, help, hlen + 1);
			help = NULL;
			if (strncmp(line, "# HELP ", 7) == 0) {
				help = line;
				hlen = len;
			} else
				buf_add(b, line, len + (*end == '\n'));
			if (*end == '\0')
				break;
			continue;
		}
		name = line + 7;
		nlen = strcspn(name, " \n");
		type = name + nlen + (name[nlen] == ' ');
		fam = nlen;
		if ((size_t)(end - type) == 7 && strncmp(type, "counter", 7) == 0 &&
		    nlen > 6 && memcmp(name + nlen - 6, "_total", 6) == 0)
			fam -= 6;
		/* The HELP line of this family: its name, then its text. */
		if (hlen > 7 + nlen && strncmp(help + 7, name, nlen) == 0 &&
		    help[7 + nlen] == ' ') {
			buf_printf(b, "# HELP %.*s ", (int)fam, name);
			for (p = help + 8 + nlen; p < help + hlen; p++)
				if (*p == '"')
					buf_addstr(b, "\\\"");
				else
					buf_add(b, p, 1);
			buf_addstr(b, "\n");
		} else
			buf_add(b, help, hlen + 1);
		help = NULL;
		buf_printf(b, "# TYPE %.*s %.*s\n", (int)fam, name,
		    (int)(end - type), type);
		if ((unit = family_unit(name, fam)) != NULL)
			buf_printf(b, "# UNIT %.*s %s\n", (int)fam, name, unit);
		if (*end == '\0')
			break;
	}
	if (help != NULL)
		buf_add(b, help, hlen + 1);
	buf_addstr(b, "# EOF\n");
}

/* Is c a tchar (RFC 9110, 5.6.2)? */
static int
accept_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~",
	    c) != NULL);
}

/* Is the token (len bytes) the word, case aside? */
static int
accept_token_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/*
 * One parameter, name=value, the value a token or a quoted string: its
 * name and value (the quoted string's inside, escapes kept), and where
 * it ends; NULL when it does not parse.
 */
static const char *
accept_param(const char *p, const char **name, size_t *nlen,
    const char **val, size_t *vlen)
{
	const unsigned char	*u;

	for (*name = p; accept_tchar((unsigned char)*p); p++)
		;
	if ((*nlen = (size_t)(p - *name)) == 0 || *p++ != '=')
		return NULL;
	if (*p != '"') {
		for (*val = p; accept_tchar((unsigned char)*p); p++)
			;
		*vlen = (size_t)(p - *val);
		return *vlen > 0 ? p : NULL;
	}
	for (*val = ++p; *p != '"'; p++) {
		u = (const unsigned char *)p;
		if (*u == '\\' && (u[1] == '\t' || u[1] >= 0x20) && u[1] != 0x7f)
			p++;
		else if (*u != '\t' && (*u < 0x20 || *u == 0x7f))
			return NULL;	/* the end of the string, or a control */
	}
	*vlen = (size_t)(p - *val);
	return p + 1;
}

/* A qvalue ("0", "0.5", "1.000") in thousandths; -1 when it is none. */
static int
accept_qvalue(const char *s, size_t len)
{
	size_t	 i;
	int	 q;

	if (len == 0 || (s[0] != '0' && s[0] != '1') ||
	    (len > 1 && s[1] != '.') || len > 5)
		return -1;
	q = (s[0] - '0') * 1000;
	for (i = 2; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || (s[0] == '1' && s[i] != '0'))
			return -1;
		q += (s[i] - '0') * (i == 2 ? 100 : i == 3 ? 10 : 1);
	}
	return q;
}

/*
 * Choose what /metrics answers from its Accept header (RFC 9110, 12.5.1:
 * media ranges, parameters, q-values; the most specific range matching a
 * format gives its weight).  OpenMetrics 1.0.0 when a range that matches
 * it (application/openmetrics-text, without a version or with
 * version=1.0.0) weighs more than the text format's, or as much and names
 * it; the text format otherwise, and without a header.  A range with a
 * charset other than utf-8, or another version, matches neither.
 * 0 with *out set; 1 when neither format is acceptable (q=0, or only other
 * types); -1 for a header that does not parse.  Pure.
 */
int
metrics_negotiate(const char *accept, enum exposition *out)
{
	static const struct {
		const char	*type, *subtype, *version;
	} offer[2] = {
		[EXPO_TEXT] = { "text", "plain", "0.0.4" },
		[EXPO_OPENMETRICS] = { "application", "openmetrics-text",
		    "1.0.0" },
	};
	const char	*p = accept, *type, *sub, *name, *val, *ver;
	size_t		 tlen, slen, nlen, vlen, verlen;
	int		 spec[2] = { 0, 0 }, q[2] = { 0, 0 };
	int		 w, s, i, any = 0, charset_ok;

	*out = EXPO_TEXT;
	if (p == NULL)
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		any = 1;
		for (type = p; accept_tchar((unsigned char)*p); p++)
			;
		tlen = (size_t)(p - type);
		if (tlen == 0 || *p++ != '/')
			return -1;
		for (sub = p; accept_tchar((unsigned char)*p); p++)
			;
		slen = (size_t)(p - sub);
		if (slen == 0 || (accept_token_is(type, tlen, "*") &&
		    !accept_token_is(sub, slen, "*")))
			return -1;
		ver = NULL;
		verlen = 0;
		w = -1;
		charset_ok = 1;
		for (;;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != ';')
				break;
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			/* An empty parameter is allowed (RFC 9110, 5.6.6). */
			if (*p == ';' || *p == ',' || *p == '\0')
				continue;
			if ((p = accept_param(p, &name, &nlen, &val, &vlen)) ==
			    NULL)
				return -1;
			if (accept_token_is(name, nlen, "q") && w == -1) {
				if ((w = accept_qvalue(val, vlen)) == -1)
					return -1;
			} else if (w != -1)
				;	/* an extension after the weight */
			else if (accept_token_is(name, nlen, "version")) {
				ver = val;
				verlen = vlen;
			} else if (accept_token_is(name, nlen, "charset"))
				charset_ok = accept_token_is(val, vlen,
				    "utf-8");
		}
		if (*p != ',' && *p != '\0')
			return -1;
		if (w == -1)
			w = 1000;
		for (i = 0; i < 2; i++) {
			if (accept_token_is(type, tlen, "*"))
				s = 1;
			else if (!accept_token_is(type, tlen, offer[i].type))
				continue;
			else if (accept_token_is(sub, slen, "*"))
				s = 2;
			else if (!accept_token_is(sub, slen, offer[i].subtype))
				continue;
			else
				s = ver != NULL ? 4 : 3;
			if (!charset_ok || (ver != NULL &&
			    (verlen != strlen(offer[i].version) ||
			    strncmp(ver, offer[i].version, verlen) != 0)))
				continue;
			if (s > spec[i] || (s == spec[i] && w > q[i])) {
				spec[i] = s;
				q[i] = w;
			}
		}
	}
	if (!any)
		return 0;
	if (q[EXPO_OPENMETRICS] > q[EXPO_TEXT] ||
	    (q[EXPO_OPENMETRICS] == q[EXPO_TEXT] && q[EXPO_TEXT] > 0 &&
	    spec[EXPO_OPENMETRICS] >= 3))
		*out = EXPO_OPENMETRICS;
	else if (q[EXPO_TEXT] == 0)
		return 1;
	return 0;
}
