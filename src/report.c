/*
 * Reports of the pools' state: the readable one for a person or a
 * Nagios/Icinga-style monitor, and the JSON of --once --json.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

static const char *status_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };
static const char *level_names[] = { "ok", "warning", "critical" };

/* A threshold that a pool's or a check's value raised. */
struct threshold_hit {
	const struct pool	*pool;
	const struct check	*check;		/* latency; NULL: pool-wide */
	enum metric		 metric;
	double			 value;
	const struct range	*range;
	int			 code;
};

/* --warning and --critical of this run, or NULL. */
static const struct thresholds *thresholds;

static int	pool_code(struct config *, struct pool *);
static int	policy_exit_code(struct config *, struct pool **, size_t);
static int	latency_known(const struct check *);
static int	metric_value(const struct pool *, const struct check *,
		    enum metric, double *);
static void	threshold_check(const struct pool *, const struct check *,
		    enum metric, struct threshold_hit *, size_t *);
static int	thresholds_worst(struct pool **, size_t,
		    struct threshold_hit *, size_t *);
static void	threshold_hit_text(struct buf *, const struct threshold_hit *,
		    size_t);
static void	report_headline(struct buf *, struct config *, struct pool **,
		    size_t, size_t);
static void	perf_ranges(struct buf *, enum metric);
static int	cmp_u32(const void *, const void *);
static void	latency_stats(const struct check_status *, uint32_t *,
		    uint32_t *, uint32_t *);
static void	report_workers_text(struct buf *, struct pool *);
static int	pool_badness(const struct pool *);
static void	report_summary(struct buf *, struct pool **, size_t, size_t);
static void	report_perfdata(struct buf *, const struct pool *);
static void	report_workers_json(struct buf *, struct pool *);
static void	capacity_source_text(const struct pool *, char *, size_t);
static void	report_facts_json(struct buf *, const struct fpm_facts *);
static int	pool_type_warning(struct config *, struct pool *);
static void	report_listen_errors_json(struct buf *);
static const char *self_late_str(enum self_late);
static void	report_delay_text(struct buf *, const struct check *);
static void	report_delay_json(struct buf *, const struct check *);
static void	report_host_text(struct buf *);
static void	report_host_json(struct buf *);

/* Does what a check type adds to the report call for a WARNING? */
static int
pool_type_warning(struct config *conf, struct pool *pool)
{
	const struct check	*c;

	TAILQ_FOREACH(c, &pool->checks, entry)
		if (c->ops->report != NULL &&
		    c->ops->report(NULL, conf, c, 0))
			return 1;
	return 0;
}

/* Use these --warning and --critical ranges (NULL: none). */
void
report_thresholds(const struct thresholds *t)
{
	thresholds = t;
}

/*
 * Nagios code of one pool: down is critical, degraded is a warning.  A
 * weight under 100% (stuck workers) is a warning, unless a threshold on
 * the weight or on stuck workers says from when it is.
 */
static int
pool_code(struct config *conf, struct pool *pool)
{
	const struct verdict	*v = &pool->verdict;
	int			 judged;

	judged = thresholds_on(thresholds, METRIC_WEIGHT) ||
	    thresholds_on(thresholds, METRIC_STUCK);
	if (v->state == POOL_DOWN)
		return 2;
	if (v->state != POOL_UP || (v->weight < 100 && !judged) ||
	    v->saturated || pool_type_warning(conf, pool) ||
	    pool->workers.sample_failed ||
	    (conf->audit_warning && audit_warnings(pool) > 0))
		return 1;
	return 0;
}

/* The worst pool's code, thresholds aside. */
static int
policy_exit_code(struct config *conf, struct pool **pools, size_t n)
{
	size_t	 i;
	int	 code = 0, c;

	for (i = 0; i < n; i++)
		if ((c = pool_code(conf, pools[i])) > code)
			code = c;
	return code;
}

/* The exit code of --once: the worst pool's, or a threshold's if worse. */
int
report_exit_code(struct config *conf, struct pool **pools, size_t n)
{
	struct threshold_hit	 hit;
	size_t			 nhits;
	int			 code, t;

	code = policy_exit_code(conf, pools, n);
	t = thresholds_worst(pools, n, &hit, &nhits);
	return t > code ? t : code;
}

/* Did the check's probe finish, so that its latency means something? */
static int
latency_known(const struct check *c)
{
	return c->st.have_result && c->st.result != PR_TIMEOUT &&
	    c->st.result != PR_ABORTED;
}

/*
 * A metric's value for the thresholds, as the performance data shows it;
 * -1 when it was not measured: the weight of a pool that is down, stuck
 * workers without a status sample, the latency of an unfinished probe.
 */
static int
metric_value(const struct pool *pool, const struct check *c, enum metric m,
    double *v)
{
	switch (m) {
	case METRIC_WEIGHT:
		if (pool->verdict.health != POOL_UP)
			return -1;
		*v = pool->verdict.weight;
		return 0;
	case METRIC_STUCK:
		if (!pool->workers.have)
			return -1;
		*v = pool->workers.stuck;
		return 0;
	case METRIC_LATENCY:
		if (c == NULL || !latency_known(c))
			return -1;
		*v = (double)c->st.latency_us / 1e6;
		return 0;
	default:
		return -1;
	}
}

/* Compare one value; keep the worst hit (the first of equals), count all. */
static void
threshold_check(const struct pool *pool, const struct check *c,
    enum metric m, struct threshold_hit *worst, size_t *nhits)
{
	const struct range	*r;
	double			 v;
	int			 code;

	if (metric_value(pool, c, m, &v) == -1 ||
	    (code = thresholds_code(thresholds, m, v, &r)) == 0)
		return;
	(*nhits)++;
	if (code <= worst->code)
		return;
	worst->pool = pool;
	worst->check = c;
	worst->metric = m;
	worst->value = v;
	worst->range = r;
	worst->code = code;
}

/* The worst threshold hit over the pools: its code (0: none), how many. */
static int
thresholds_worst(struct pool **pools, size_t n, struct threshold_hit *worst,
    size_t *nhits)
{
	const struct check	*c;
	size_t			 i;

	memset(worst, 0, sizeof(*worst));
	*nhits = 0;
	if (thresholds == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		threshold_check(pools[i], NULL, METRIC_WEIGHT, worst, nhits);
		threshold_check(pools[i], NULL, METRIC_STUCK, worst, nhits);
		TAILQ_FOREACH(c, &pools[i]->checks, entry)
			if (c != pools[i]->sampler)
				threshold_check(pools[i], c, METRIC_LATENCY,
				    worst, nhits);
	}
	return worst->code;
}

/*
 * "www weight 40% outside 50: (warning)", "www/app latency 1.503211s
 * outside 0.5 (critical, +1 more)".
 */
static void
threshold_hit_text(struct buf *b, const struct threshold_hit *h, size_t n)
{
	buf_addstr(b, h->pool->name);
	if (h->check != NULL)
		buf_printf(b, "/%s", h->check->name);
	buf_printf(b, " %s ", metric_str(h->metric));
	if (h->metric == METRIC_WEIGHT)
		buf_printf(b, "%.0f%%", h->value);
	else if (h->metric == METRIC_LATENCY)
		buf_printf(b, "%.6fs", h->value);
	else
		buf_printf(b, "%.0f", h->value);
	buf_printf(b, " %s %s (%s", h->range->inside ? "inside" : "outside",
	    h->range->text, level_names[h->code]);
	if (n > 1)
		buf_printf(b, ", +%zu more", n - 1);
	buf_addstr(b, ")");
}

/* Sort helper for latency samples. */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50, p99 and max over a check's recent latency window. */
static void
latency_stats(const struct check_status *st, uint32_t *p50, uint32_t *p99,
    uint32_t *max)
{
	uint32_t	 v[LATENCY_WINDOW];
	unsigned int	 n = st->lat_n;

	*p50 = *p99 = *max = 0;
	if (n == 0)
		return;
	memcpy(v, st->lat, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_u32);
	*p50 = v[(n - 1) / 2];
	*p99 = v[(n * 99 + 99) / 100 - 1];
	*max = v[n - 1];
}

/*
 * Readable worker block: numbers, then each stuck worker, with its
 * database session and what blocks it when a check found them.
 */
static void
report_workers_text(struct buf *b, struct pool *pool)
{
	const struct pool_workers	*pw = &pool->workers;
	const struct fpm_status		*s = &pw->status;
	char				 wait[160], cap[320], max[340];
	size_t				 i;

	if (pool->status_path == NULL)
		return;
	if (!pw->have) {
		buf_printf(b, "  workers: no status sample%s%s\n",
		    pool->sampler != NULL && pool->sampler->st.reason[0] ?
		    ": " : "", pool->sampler != NULL ?
		    pool->sampler->st.reason : "");
		return;
	}
	if (pw->max_children > 0) {
		capacity_source_text(pool, cap, sizeof(cap));
		snprintf(max, sizeof(max), "%u (%s)", pw->max_children, cap);
	} else
		strlcpy_safe(max, "unknown", sizeof(max));
	buf_printf(b, "  workers: %llu active, %llu idle, %u stuck, %u held, "
	    "max_children %s, pm %s, listen queue %llu, "
	    "max children reached %llu, slow requests %llu\n",
	    (unsigned long long)s->active, (unsigned long long)s->idle,
	    pw->stuck, pw->held, max, s->pm[0] != '\0' ? s->pm : "unknown",
	    (unsigned long long)s->listen_queue,
	    (unsigned long long)s->max_children_reached,
	    (unsigned long long)s->slow_requests);
	if (pw->capacity_source == CAP_UNKNOWN)
		buf_printf(b, "  WARNING: max_children unknown for this %s "
		    "pool: stuck workers lower neither its weight nor take it "
		    "down; set max_children\n", s->pm[0] != '\0' ? s->pm :
		    "");
	if (pool->fpm.warning[0] != '\0')
		buf_printf(b, "  WARNING: %s\n", pool->fpm.warning);
	for (i = 0; i < s->nworkers; i++) {
		const struct fpm_worker *w = &s->workers[i];

		/* Stuck ones, and busy ones the sampler looked at. */
		if (!w->stuck && !w->wait.known && !w->wait.denied)
			continue;
		wait_info_format(&w->wait, wait, sizeof(wait));
		if (w->held)
			buf_printf(b, "    held pid %d %s %.1fs, by %s\n",
			    (int)w->pid, fpm_wstate_str(w->state),
			    (double)w->request_duration_us / 1e6,
			    w->wait.client[0] != '\0' ? w->wait.client :
			    "an unknown client");
		else
			buf_printf(b, "    %s pid %d %s %.1fs %s %s, "
			    "waiting in %s\n", w->stuck ? "stuck" : "busy",
			    (int)w->pid, fpm_wstate_str(w->state),
			    (double)w->request_duration_us / 1e6, w->method,
			    w->uri, wait);
		culprit_worker_report(b, pool, w, 0);
	}
}

/*
 * How bad a pool's answer is, for the first line: down, then drained or in
 * maintenance, then degraded, then fine.
 */
static int
pool_badness(const struct pool *pool)
{
	const struct verdict	*v = &pool->verdict;

	if (v->state == POOL_DOWN)
		return 3;
	if (v->state != POOL_UP)
		return 2;
	return v->weight < 100 || v->saturated || v->reason[0] != '\0';
}

/*
 * The first line says why, since most notifications keep nothing else:
 * the worst pool, its state and reason ("www down: app: timeout after
 * 1000ms in response"), how many others are not fine; or that all are.
 */
static void
report_summary(struct buf *b, struct pool **pools, size_t n, size_t down)
{
	const struct pool	*worst = NULL;
	size_t			 i, bad = 0;
	int			 w = 0, pw;

	for (i = 0; i < n; i++) {
		if ((pw = pool_badness(pools[i])) == 0)
			continue;
		bad++;
		if (pw > w) {
			w = pw;
			worst = pools[i];
		}
	}
	if (worst == NULL) {
		buf_printf(b, "%zu pool%s up", n, n == 1 ? "" : "s");
		return;
	}
	buf_printf(b, "%s %s", worst->name, pool_state_str(worst->verdict.state));
	if (worst->verdict.state == POOL_UP)
		buf_printf(b, " %u%%", worst->verdict.weight);
	if (worst->verdict.reason[0] != '\0')
		buf_printf(b, ": %s", worst->verdict.reason);
	if (bad > 1)
		buf_printf(b, " (+%zu more not fine)", bad - 1);
	buf_printf(b, "; %zu of %zu pool%s down", down, n, n == 1 ? "" : "s");
}

/*
 * The first line: the status, then why.  A threshold that makes the
 * status worse than the pools' own state comes first; one that does not
 * comes after the pools' summary.
 */
static void
report_headline(struct buf *b, struct config *conf, struct pool **pools,
    size_t n, size_t down)
{
	struct threshold_hit	 hit;
	size_t			 nhits;
	int			 code, t;

	code = policy_exit_code(conf, pools, n);
	t = thresholds_worst(pools, n, &hit, &nhits);
	buf_printf(b, "FPMPROBE %s - ", status_names[t > code ? t : code]);
	if (t > code) {
		threshold_hit_text(b, &hit, nhits);
		buf_addstr(b, "; ");
	}
	report_summary(b, pools, n, down);
	if (t > 0 && t <= code) {
		buf_addstr(b, "; ");
		threshold_hit_text(b, &hit, nhits);
	}
}

/* ";warn;crit" of a metric: its ranges as written, or empty fields. */
static void
perf_ranges(struct buf *b, enum metric m)
{
	buf_printf(b, ";%s;%s",
	    thresholds != NULL ? thresholds->warn[m].text : "",
	    thresholds != NULL ? thresholds->crit[m].text : "");
}

/*
 * A pool's performance data, label=value[UOM];warn;crit;min;max.  Labels
 * are quoted and joined with a space (pool-wide) or a slash (per check),
 * which names cannot contain, so two pools never share a label; a probe
 * that timed out has no latency (U), though its thresholds are shown.
 */
static void
report_perfdata(struct buf *b, const struct pool *pool)
{
	const struct pool_workers	*pw = &pool->workers;
	const struct check		*c;

	buf_printf(b, " '%s weight'=%u%%", pool->name, pool->verdict.weight);
	perf_ranges(b, METRIC_WEIGHT);
	buf_addstr(b, ";0;100");
	if (pw->have) {
		buf_printf(b, " '%s active'=%llu;;;0 '%s idle'=%llu;;;0 "
		    "'%s stuck'=%u", pool->name,
		    (unsigned long long)pw->status.active, pool->name,
		    (unsigned long long)pw->status.idle, pool->name,
		    pw->stuck);
		perf_ranges(b, METRIC_STUCK);
		buf_printf(b, ";0 '%s held'=%u;;;0 '%s listen queue'=%llu;;;0",
		    pool->name, pw->held, pool->name,
		    (unsigned long long)pw->status.listen_queue);
	}
	TAILQ_FOREACH(c, &pool->checks, entry) {
		if (c == pool->sampler)
			continue;
		if (!latency_known(c)) {
			buf_printf(b, " '%s/%s'=U", pool->name, c->name);
			if (thresholds_on(thresholds, METRIC_LATENCY))
				perf_ranges(b, METRIC_LATENCY);
			continue;
		}
		buf_printf(b, " '%s/%s'=%.6fs", pool->name, c->name,
		    (double)c->st.latency_us / 1e6);
		perf_ranges(b, METRIC_LATENCY);
		buf_addstr(b, ";0");
	}
}

/*
 * The readable report: a Nagios-style first line with performance data,
 * then a line per pool and per check.
 */
void
report_text(struct buf *b, struct config *conf, struct pool **pools,
    size_t n)
{
	struct check	*c;
	size_t		 i, down = 0;

	for (i = 0; i < n; i++)
		if (pools[i]->verdict.state == POOL_DOWN)
			down++;
	report_headline(b, conf, pools, n, down);
	buf_addstr(b, " |");
	for (i = 0; i < n; i++)
		report_perfdata(b, pools[i]);
	buf_addstr(b, "\n");
	for (i = 0; i < n; i++) {
		struct pool *pool = pools[i];
		const struct verdict *v = &pool->verdict;

		buf_printf(b, "pool %s: %s", pool->name,
		    pool_state_str(v->state));
		if (v->state == POOL_UP)
			buf_printf(b, " %u%%", v->weight);
		if (v->reason[0] != '\0')
			buf_printf(b, " (%s)", v->reason);
		buf_printf(b, "; agent answers \"%.*s\"\n",
		    (int)(v->replylen > 0 ? v->replylen - 1 : 0), v->reply);
		TAILQ_FOREACH(c, &pool->checks, entry) {
			if (c == pool->sampler)
				continue;
			buf_printf(b, "  check %s (%s): %s in %.1f ms%s%s\n",
			    c->name, c->ops->name,
			    c->st.result == PR_OK ? "ok" : "FAILED",
			    (double)c->st.latency_us / 1000,
			    c->st.reason[0] != '\0' ? ": " : "",
			    c->st.reason);
			report_delay_text(b, c);
			if (c->ops->report != NULL)
				c->ops->report(b, conf, c, 0);
		}
		report_workers_text(b, pool);
	}
	report_host_text(b);
	audit_text(b, pools, n);
}

/*
 * Where max_children came from: "config", "php-fpm config FILE:LINE",
 * "status_page" or "unknown".
 */
static void
capacity_source_text(const struct pool *pool, char *out, size_t outlen)
{
	if (pool->workers.capacity_source == CAP_FPM_CONF)
		snprintf(out, outlen, "php-fpm config %s", pool->fpm.source);
	else
		strlcpy_safe(out, capacity_source_str(
		    pool->workers.capacity_source), outlen);
}

/*
 * What php-fpm's own configuration says of the pool, or null when it was
 * not looked at (a pool on another host).
 */
static void
report_facts_json(struct buf *b, const struct fpm_facts *f)
{
	if (f->read_us == 0) {
		buf_addstr(b, "null");
		return;
	}
	buf_addstr(b, "{\"file\": ");
	if (f->file[0] != '\0')
		json_str(b, f->file);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"pm\": ");
	if (f->have)
		json_str(b, f->pm);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"request_terminate_timeout_s\": ");
	if (f->have && f->terminate_s >= 0)
		buf_printf(b, "%d", f->terminate_s);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"warning\": ");
	if (f->warning[0] != '\0')
		json_str(b, f->warning);
	else
		buf_addstr(b, "null");
	buf_addstr(b, "}");
}

/* The workers block of the JSON. */
static void
report_workers_json(struct buf *b, struct pool *pool)
{
	const struct pool_workers	*pw = &pool->workers;
	const struct fpm_status		*s = &pw->status;
	char				 cap[320];
	size_t				 i, j;

	if (pool->status_path == NULL || !pw->have) {
		buf_addstr(b, "null");
		return;
	}
	buf_addstr(b, "{\"max_children\": ");
	if (pw->max_children > 0)
		buf_printf(b, "%u", pw->max_children);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"max_children_source\": ");
	capacity_source_text(pool, cap, sizeof(cap));
	json_str(b, cap);
	buf_addstr(b, ", \"pm\": ");
	json_str(b, s->pm);
	buf_printf(b, ", \"active\": %llu, \"idle\": %llu, \"total\": %llu, "
	    "\"stuck\": %u, \"held\": %u, "
	    "\"listen_queue\": %llu, \"max_children_reached\": %llu, "
	    "\"slow_requests\": %llu, \"accepted_conn\": %llu, "
	    "\"progress\": %s, \"php_fpm_config\": ",
	    (unsigned long long)s->active, (unsigned long long)s->idle,
	    (unsigned long long)s->total, pw->stuck, pw->held,
	    (unsigned long long)s->listen_queue,
	    (unsigned long long)s->max_children_reached,
	    (unsigned long long)s->slow_requests,
	    (unsigned long long)s->accepted_conn,
	    pw->progress < 0 ? "null" : pw->progress ? "true" : "false");
	report_facts_json(b, &pool->fpm);
	buf_addstr(b, ", \"processes\": [");
	for (i = 0; i < s->nworkers; i++) {
		const struct fpm_worker *w = &s->workers[i];

		buf_printf(b, "%s{\"pid\": %d, \"state\": ", i ? ", " : "",
		    (int)w->pid);
		json_str(b, fpm_wstate_str(w->state));
		buf_printf(b, ", \"requests\": %llu, \"request_duration_us\": "
		    "%llu, \"request_method\": ",
		    (unsigned long long)w->requests,
		    (unsigned long long)w->request_duration_us);
		json_str(b, w->method);
		buf_addstr(b, ", \"request_uri\": ");
		json_str(b, w->uri);
		buf_printf(b, ", \"stuck\": %s", w->stuck ? "true" : "false");
		if (w->stuck || w->wait.known || w->wait.denied) {
			buf_addstr(b, ", \"wait\": ");
			if (!w->wait.known && !w->wait.denied)
				buf_addstr(b, "null");
			else if (w->wait.denied)
				buf_addstr(b, "{\"error\": \"unknown "
				    "(permission)\"}");
			else {
				buf_addstr(b, "{\"syscall\": ");
				json_str(b, w->wait.syscall);
				buf_addstr(b, ", \"wchan\": ");
				json_str(b, w->wait.wchan);
				buf_addstr(b, ", \"peers\": [");
				for (j = 0; j < w->wait.npeers; j++) {
					if (j > 0)
						buf_addstr(b, ", ");
					json_str(b, w->wait.peers[j]);
				}
				/* What listens behind each peer, in order. */
				buf_addstr(b, "], \"peer_process\": ");
				if (w->wait.npeers > 0 &&
				    w->wait.peer_names[0][0] != '\0')
					json_str(b, w->wait.peer_names[0]);
				else
					buf_addstr(b, "null");
				buf_addstr(b, ", \"peer_names\": [");
				for (j = 0; j < w->wait.npeers; j++) {
					if (j > 0)
						buf_addstr(b, ", ");
					json_str(b, w->wait.peer_names[j]);
				}
				buf_addstr(b, "]}");
			}
		}
		culprit_worker_report(b, pool, w, 1);
		buf_addstr(b, "}");
	}
	buf_addstr(b, "]}");
}

/* The JSON report, as INTERFACE.md describes it (and a little more). */
void
report_json(struct buf *b, struct config *conf, struct pool **pools,
    size_t n)
{
	struct check	*c;
	size_t		 i, k;
	uint32_t	 p50, p99, max;

	buf_printf(b, "{\"status\": \"%s\", \"pools\": [",
	    status_names[report_exit_code(conf, pools, n)]);
	for (i = 0; i < n; i++) {
		struct pool *pool = pools[i];
		const struct verdict *v = &pool->verdict;

		buf_addstr(b, i ? ", {\"name\": " : "{\"name\": ");
		json_str(b, pool->name);
		buf_printf(b, ", \"state\": \"%s\", \"weight\": %u, "
		    "\"agent\": ", pool_state_str(v->state), v->weight);
		json_strn(b, v->reply, v->replylen > 0 ? v->replylen - 1 : 0);
		buf_addstr(b, ", \"reason\": ");
		json_str(b, v->reason[0] != '\0' ? v->reason : NULL);
		buf_printf(b, ", \"saturated\": %s, \"checks\": [",
		    v->saturated ? "true" : "false");
		k = 0;
		TAILQ_FOREACH(c, &pool->checks, entry) {
			if (c == pool->sampler)
				continue;
			latency_stats(&c->st, &p50, &p99, &max);
			buf_addstr(b, k++ ? ", {\"name\": " : "{\"name\": ");
			json_str(b, c->name);
			buf_printf(b, ", \"type\": \"%s\", \"ok\": %s, "
			    "\"healthy\": %s, \"result\": \"%s\", "
			    "\"latency_us\": %llu, \"connect_us\": %llu, "
			    "\"first_byte_us\": %llu, \"latency_p50_us\": %u, "
			    "\"latency_p99_us\": %u, \"latency_max_us\": %u, "
			    "\"probes\": %llu, \"failures\": %llu, "
			    "\"error\": ", c->ops->name,
			    c->st.have_result && c->st.result == PR_OK ?
			    "true" : "false",
			    c->st.healthy ? "true" : "false",
			    c->st.have_result ?
			    probe_result_str(c->st.result) : "pending",
			    (unsigned long long)c->st.latency_us,
			    (unsigned long long)c->st.connect_us,
			    (unsigned long long)c->st.first_byte_us,
			    p50, p99, max,
			    (unsigned long long)c->st.probes,
			    (unsigned long long)c->st.failures);
			json_str(b, c->st.reason[0] != '\0' ? c->st.reason :
			    NULL);
			report_delay_json(b, c);
			if (c->ops->report != NULL)
				c->ops->report(b, conf, c, 1);
			buf_addstr(b, "}");
		}
		buf_addstr(b, "], \"workers\": ");
		report_workers_json(b, pool);
		buf_addstr(b, "}");
	}
	buf_addstr(b, "]");
	report_host_json(b);
	audit_json(b, pools, n);
	report_listen_errors_json(b);
	buf_addstr(b, "}\n");
}

/*
 * The daemon's ports that its configuration asks for and it could not
 * bind, when there are any (--once binds none: the field is absent).
 */
static void
report_listen_errors_json(struct buf *b)
{
	const struct listen_error	*le;
	size_t				 i, n;

	if ((le = listen_errors(&n)) == NULL || n == 0)
		return;
	buf_addstr(b, ", \"listen_errors\": [");
	for (i = 0; i < n; i++) {
		buf_addstr(b, i > 0 ? ", {\"service\": " : "{\"service\": ");
		json_str(b, le[i].who);
		buf_addstr(b, ", \"address\": ");
		json_str(b, le[i].address);
		buf_addstr(b, ", \"error\": ");
		json_str(b, le[i].error);
		buf_addstr(b, ", \"kept_open\": ");
		json_str(b, le[i].kept_open);
		buf_addstr(b, "}");
	}
	buf_addstr(b, "]");
}

/* How fpmprobe itself was late for the last result, as the JSON says. */
static const char *
self_late_str(enum self_late l)
{
	if (l == LATE_STALLED)
		return "stalled";
	if (l == LATE_START)
		return "start";
	return NULL;
}

/*
 * How late fpmprobe started the check's last probe, and whether its
 * deadline passed while fpmprobe itself was stalled.
 */
static void
report_delay_text(struct buf *b, const struct check *c)
{
	const struct check_status	*st = &c->st;

	if (!st->have_delay)
		return;
	buf_printf(b, "    schedule delay %.1f ms (max %.1f ms)",
	    st->delay_us / 1000.0, check_delay_max(st) / 1000.0);
	if (st->self_late == LATE_STALLED)
		buf_printf(b, "; judged %.1f ms past its deadline: fpmprobe "
		    "was stalled, not counted", st->overrun_us / 1000.0);
	else if (st->self_late == LATE_START)
		buf_addstr(b, "; fpmprobe started it late");
	buf_addstr(b, "\n");
}

/* The check's scheduling delay and fpmprobe's own lateness, in the JSON. */
static void
report_delay_json(struct buf *b, const struct check *c)
{
	const struct check_status	*st = &c->st;

	if (st->have_delay)
		buf_printf(b, ", \"schedule_delay_us\": %llu, "
		    "\"schedule_delay_max_us\": %llu",
		    (unsigned long long)st->delay_us,
		    (unsigned long long)check_delay_max(st));
	else
		buf_addstr(b, ", \"schedule_delay_us\": null, "
		    "\"schedule_delay_max_us\": null");
	buf_printf(b, ", \"deadline_overrun_us\": %llu, \"self_late\": ",
	    (unsigned long long)st->overrun_us);
	json_str(b, self_late_str(st->self_late));
	buf_printf(b, ", \"self_late_total\": %llu",
	    (unsigned long long)st->self_late_total);
}

/*
 * The host line of the readable report: "host: cpu pressure some 4.02%
 * full 0.00% (avg10), io ..., memory ...; cpu steal 0.4% over 1.2s", or
 * what is not available and why.
 */
static void
report_host_text(struct buf *b)
{
	const struct host_facts	*h = host_facts();
	const struct host_psi	*p;
	const char		*note = NULL;
	int			 r, shown = 0;

	if (h->read_us == 0)
		return;
	buf_addstr(b, "host:");
	for (r = 0; r < HR_MAX; r++) {
		p = &h->psi[r];
		if (!p->have) {
			if (note == NULL)
				note = p->note;
			continue;
		}
		buf_printf(b, "%s %s pressure some %.2f%%", shown++ ? "," : "",
		    host_resource_str(r), p->some.avg10);
		if (p->full.have)
			buf_printf(b, " full %.2f%%", p->full.avg10);
	}
	if (shown > 0)
		buf_addstr(b, " (avg10)");
	if (note != NULL)
		buf_printf(b, "%s %s", shown ? ";" : "", note);
	if (h->have_steal)
		buf_printf(b, "; cpu steal %.1f%% over %.1fs\n",
		    h->steal_ratio * 100, h->steal_window_us / 1e6);
	else
		buf_printf(b, "; %s\n", h->steal_note);
}

/*
 * The host block of the JSON: each resource's PSI, or null with a note
 * saying why; the CPU steal share, or null with its note.
 */
static void
report_host_json(struct buf *b)
{
	const struct host_facts	*h = host_facts();
	const struct host_psi	*p;
	const char		*note = NULL;
	int			 r;

	if (h->read_us == 0) {
		buf_addstr(b, ", \"host\": null");
		return;
	}
	buf_addstr(b, ", \"host\": {\"pressure\": {");
	for (r = 0; r < HR_MAX; r++) {
		p = &h->psi[r];
		buf_printf(b, "%s\"%s\": ", r > 0 ? ", " : "",
		    host_resource_str(r));
		if (!p->have) {
			if (note == NULL)
				note = p->note;
			buf_addstr(b, "null");
			continue;
		}
		buf_printf(b, "{\"some\": {\"avg10\": %.2f, \"total_us\": "
		    "%llu}, \"full\": ", p->some.avg10,
		    (unsigned long long)p->some.total_us);
		if (p->full.have)
			buf_printf(b, "{\"avg10\": %.2f, \"total_us\": %llu}}",
			    p->full.avg10, (unsigned long long)p->full.total_us);
		else
			buf_addstr(b, "null}");
	}
	buf_addstr(b, "}, \"pressure_note\": ");
	json_str(b, note);
	buf_addstr(b, ", \"cpu_steal_ratio\": ");
	if (h->have_steal)
		buf_printf(b, "%.4f, \"cpu_steal_window_ms\": %llu, "
		    "\"cpu_steal_note\": null", h->steal_ratio,
		    (unsigned long long)(h->steal_window_us / 1000));
	else {
		buf_addstr(b, "null, \"cpu_steal_window_ms\": null, "
		    "\"cpu_steal_note\": ");
		json_str(b, h->steal_note);
	}
	buf_addstr(b, "}");
}
