/*
 * Policy: the one place that decides.  probe_done() hands it each probe's
 * raw outcome (the sampler's worker sample included); it keeps rise/fall,
 * tells saturation from breakage, and turns check results and worker
 * samples into a pool's state, weight and reason.  It does no I/O: what
 * workers wait on was looked at by the sampler before the sample came.
 *
 * Busy is not broken.  A pool goes down only when its real path is
 * broken: a check failed, every worker the pool can have is stuck, or
 * real-path probes time out while the pool makes no progress at all.
 * Load lowers the weight.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

static int	worker_is_busy(const struct fpm_worker *);
static int	worker_serves_status(const struct pool *,
		    const struct fpm_worker *);
static void	sample_take(struct pool *, struct fpm_status *, uint64_t);
static void	capacity_learn(struct pool *);
static int	sample_fresh(const struct pool *, uint64_t);
static int	pool_times_out(const struct pool *);
static unsigned int unavailable(const struct pool_workers *);
static int	saturated(const struct pool *, const struct check *,
		    enum probe_result, uint64_t);
static enum self_late self_late(const struct check *, const struct outcome *);
static void	self_late_reason(const struct check *, const struct outcome *,
		    char *, size_t);
static uint64_t	result_age(const struct check *, uint64_t);
static void	duration_text(char *, size_t, unsigned int);
static void	stuck_reason(const struct pool *, char *, size_t);
static void	busy_reason(const struct pool *, const struct check *, char *,
		    size_t);
static void	reason_printf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	worker_stuck_working(const struct pool *,
		    const struct fpm_worker *);
static void	common_wait(const struct pool *, int (*)(const struct pool *,
		    const struct fpm_worker *), char *, size_t);

static const char *pool_state_names[] = {
	[POOL_UP] = "up",
	[POOL_DOWN] = "down",
	[POOL_MAINT] = "maint",
	[POOL_DRAIN] = "drain",
};

static const char *capacity_source_names[] = {
	[CAP_UNKNOWN] = "unknown",
	[CAP_CONFIG] = "config",
	[CAP_FPM_CONF] = "php-fpm config",
	[CAP_STATUS_PAGE] = "status_page",
};

/* The name of a pool state, as the JSON and reports use it. */
const char *
pool_state_str(enum pool_state s)
{
	if (s > POOL_DRAIN)
		return "unknown";
	return pool_state_names[s];
}

/* Where max_children came from, as the JSON names it. */
const char *
capacity_source_str(enum capacity_source s)
{
	if (s > CAP_STATUS_PAGE)
		return "unknown";
	return capacity_source_names[s];
}

/* Is the worker inside a request (the states a stuck worker is in)? */
static int
worker_is_busy(const struct fpm_worker *w)
{
	return w->state == FPM_W_RUNNING || w->state == FPM_W_READING_HEADERS;
}

/* Is the worker serving our own status request? */
static int
worker_serves_status(const struct pool *pool, const struct fpm_worker *w)
{
	size_t	 len;

	if (pool->have_status_listen || pool->status_path == NULL)
		return 0;
	len = strlen(pool->status_path);
	return w->state == FPM_W_RUNNING &&
	    strncmp(w->uri, pool->status_path, len) == 0 &&
	    (w->uri[len] == '\0' || w->uri[len] == '?');
}

/* Is the worker in a request other than our own status request? */
int
worker_busy(const struct pool *pool, const struct fpm_worker *w)
{
	return worker_is_busy(w) && !worker_serves_status(pool, w);
}

/*
 * Has the worker been in one request for longer than stuck_after?  The
 * sampler asks too, to know whose waits to look at.
 */
int
worker_overdue(const struct pool *pool, const struct fpm_worker *w)
{
	return worker_busy(pool, w) && w->request_duration_us >
	    (uint64_t)pool->stuck_after_ms * 1000;
}

/*
 * Did the last real-path probe of the pool time out?  Then --once samples
 * again, and the sampler looks at what every busy worker waits on.
 */
int
real_path_timed_out(const struct pool *pool)
{
	const struct check	*c;

	TAILQ_FOREACH(c, &pool->checks, entry)
		if (c->ops->real_path && c->st.have_result &&
		    c->st.result == PR_TIMEOUT)
			return 1;
	return 0;
}

/*
 * The pool's capacity, pm.max_children: fpmprobe's max_children first,
 * then php-fpm's own configuration, then, for a static pool only, the
 * processes its status page lists.  A dynamic or ondemand pool lists the
 * processes alive now, which says nothing of how many it may start.
 */
static void
capacity_learn(struct pool *pool)
{
	struct pool_workers	*pw = &pool->workers;
	const struct fpm_status	*s = &pw->status;

	if (pool->max_children > 0) {
		pw->max_children = pool->max_children;
		pw->capacity_source = CAP_CONFIG;
	} else if (pool->fpm.have && pool->fpm.max_children > 0) {
		pw->max_children = pool->fpm.max_children;
		pw->capacity_source = CAP_FPM_CONF;
	} else if (strcmp(s->pm, "static") == 0) {
		/*
		 * Count the processes the page lists rather than trust its
		 * "total processes" line: with pm.status_listen, php-fpm
		 * 8.2 over-counts it under load (17 for a static pool of 4
		 * behind HAProxy), which turned 3 stuck of 4 into "up 82%".
		 */
		pw->max_children = s->nworkers > 0 ?
		    (unsigned int)s->nworkers : (unsigned int)s->total;
		pw->capacity_source = CAP_STATUS_PAGE;
	} else {
		pw->max_children = 0;
		pw->capacity_source = CAP_UNKNOWN;
	}
}

/*
 * Take a new worker sample: mark overdue workers (stuck in a request, or
 * held by a client that never finished sending one), and tell whether
 * requests completed since the previous sample.  Takes ownership of the
 * status' worker array.
 */
static void
sample_take(struct pool *pool, struct fpm_status *st, uint64_t now)
{
	struct pool_workers	*pw = &pool->workers;
	uint64_t		 requests = 0;
	unsigned int		 stuck = 0, held = 0, own;
	size_t			 i;

	for (i = 0; i < st->nworkers; i++) {
		struct fpm_worker *w = &st->workers[i];

		requests += w->requests;
		w->stuck = worker_overdue(pool, w);
		w->held = w->stuck && w->state == FPM_W_READING_HEADERS;
		if (w->held)
			held++;
		else if (w->stuck)
			stuck++;
	}

	/*
	 * Progress: a worker's request counter moves when it takes a new
	 * request, i.e. after it finished one.  Our own status request
	 * through the main listener accounts for one of them.
	 */
	own = pool->have_status_listen ? 0 : 1;
	if (!pw->have)
		pw->progress = -1;
	else if (requests < pw->requests)
		pw->progress = 1;	/* workers were replaced */
	else {
		pw->completed = requests - pw->requests;
		pw->progress = pw->completed > own;
	}
	pw->requests = requests;

	fpm_status_free(&pw->status);
	pw->status = *st;
	memset(st, 0, sizeof(*st));
	pw->have = 1;
	pw->sampled_us = now;
	pw->stuck = stuck;
	pw->held = held;
	capacity_learn(pool);
}

/* Is the last worker sample recent enough to judge by? */
static int
sample_fresh(const struct pool *pool, uint64_t now)
{
	const struct pool_workers *pw = &pool->workers;

	return pw->have && now - pw->sampled_us <=
	    (uint64_t)STALE_INTERVALS * pool->timing.interval_ms * 1000;
}

/* Workers that cannot take a request: stuck, or held by their client. */
static unsigned int
unavailable(const struct pool_workers *pw)
{
	return pw->stuck + pw->held;
}

/* Is the pool down because a real-path probe timed out? */
static int
pool_times_out(const struct pool *pool)
{
	const struct check	*c;

	TAILQ_FOREACH(c, &pool->checks, entry)
		if (c->ops->real_path && !c->st.healthy &&
		    c->st.result == PR_TIMEOUT)
			return 1;
	return 0;
}

/*
 * Does a failed real-path probe only mean the pool is busy?  A timeout
 * while the pool demonstrably completes requests and not every worker it
 * can have is stuck is saturation, not breakage.  --once sees progress
 * too: it samples again after a real-path timeout.
 */
static int
saturated(const struct pool *pool, const struct check *c, enum probe_result r,
    uint64_t now)
{
	const struct pool_workers *pw = &pool->workers;

	if (!c->ops->real_path || r != PR_TIMEOUT)
		return 0;
	if (!(pool->once ? pw->have : sample_fresh(pool, now)) ||
	    pw->progress != 1)
		return 0;
	return pw->max_children == 0 || unavailable(pw) < pw->max_children;
}

/*
 * Did fpmprobe itself run late for a timeout, by SELF_LATE_PCT of the
 * timeout or more?  Stalled: the deadline passed while fpmprobe was not
 * running (judged that late past it), so the backend may well have
 * answered in time.  Start: the timer fired late but the probe then had
 * its whole timeout; the host is starved, the backend likely with it.
 */
static enum self_late
self_late(const struct check *c, const struct outcome *o)
{
	uint64_t	 bar = (uint64_t)c->timing.timeout_ms * 10 * SELF_LATE_PCT;

	if (o->result != PR_TIMEOUT)
		return LATE_NO;
	if (bar < SELF_LATE_MIN_US)
		bar = SELF_LATE_MIN_US;
	if (o->overrun_us >= bar)
		return LATE_STALLED;
	if (o->start_delay_us >= bar)
		return LATE_START;
	return LATE_NO;
}

/*
 * "app: timeout after 1000ms in response; fpmprobe itself ran 1200ms
 * late (host cpu pressure 64%)": the probe's reason, cut so that what
 * exonerates the pool fits.
 */
static void
self_late_reason(const struct check *c, const struct outcome *o, char *out,
    size_t outlen)
{
	char		 base[REASON_MAX + 1], pressure[40] = "", tail[96];
	uint64_t	 late = o->overrun_us > o->start_delay_us ?
			    o->overrun_us : o->start_delay_us;
	size_t		 room;

	probe_reason(c, o->result, o->phase, o->detail != NULL ? o->detail :
	    "", base, sizeof(base));
	if (o->cpu_pressure_pct >= 0)
		snprintf(pressure, sizeof(pressure), " (host cpu pressure %d%%)",
		    o->cpu_pressure_pct);
	snprintf(tail, sizeof(tail), "; fpmprobe itself ran %llums late%s",
	    (unsigned long long)(late / 1000), pressure);
	room = outlen > strlen(tail) ? outlen - strlen(tail) - 1 : 0;
	reason_printf(out, outlen, "%.*s%s", (int)room, base, tail);
}

/*
 * The one entry point of a probe's outcome: keep it, the latency window
 * and the rise/fall counters, take the worker sample it carries, and
 * compute the pool's answer again.
 */
void
policy_record(struct check *c, struct outcome *o, uint64_t now)
{
	struct check_status	*st = &c->st;
	struct pool		*pool = c->pool;
	int			 ok = o->result == PR_OK, pass, once = pool->once;

	if (o->sample != NULL) {
		sample_take(pool, o->sample, now);
		o->sample = NULL;
	}
	if (c == pool->sampler)
		pool->workers.sample_failed = o->result != PR_OK;
	st->have_result = 1;
	st->result = o->result;
	st->phase = o->phase;
	st->done_us = now;
	st->latency_us = o->latency_us;
	st->connect_us = o->connect_us;
	st->first_byte_us = o->first_byte_us;
	st->probes++;
	latency_observe(st, o->latency_us);
	st->overrun_us = o->overrun_us;
	st->self_late = self_late(c, o);
	if (ok)
		st->reason[0] = '\0';
	else if (st->self_late != LATE_NO)
		self_late_reason(c, o, st->reason, sizeof(st->reason));
	else
		probe_reason(c, o->result, o->phase, o->detail != NULL ?
		    o->detail : "", st->reason, sizeof(st->reason));

	/* A timeout on a busy pool that makes progress is not a failure. */
	st->saturated = !ok && !once && saturated(pool, c, o->result, now);
	pass = ok || st->saturated;
	if (!ok)
		st->failures++;
	if (st->self_late != LATE_NO)
		st->self_late_total++;
	/*
	 * A deadline that passed while fpmprobe was not running says
	 * nothing of the pool: the daemon counts it neither way.  --once has
	 * no other probe to go by, and reports the timeout.
	 */
	if (st->self_late == LATE_STALLED && !once)
		;
	else if (pass) {
		st->fail_run = 0;
		st->ok_run++;
		if (!st->healthy && (once || st->ok_run >= c->timing.rise))
			st->healthy = 1;
	} else {
		st->ok_run = 0;
		st->fail_run++;
		if (st->healthy && (once || st->fail_run >= c->timing.fall))
			st->healthy = 0;
	}
	policy_update(pool, now);
}

/*
 * How long a check has had no result, leaving out fpmprobe's own
 * lateness: the time its timer has been overdue, or how late it fired
 * when it fired since.  While fpmprobe itself is stalled (stopped,
 * starved of CPU) it probes nothing, which says nothing of the pool.
 */
static uint64_t
result_age(const struct check *c, uint64_t now)
{
	const struct check_status *st = &c->st;
	uint64_t	 until = c->due_us != 0 && c->due_us < now ?
			    c->due_us : now, late = 0;

	if (st->have_delay && st->tick_us > st->done_us)
		late = st->delay_us;
	return until > st->done_us + late ? until - st->done_us - late : 0;
}

/* Print a duration as the config would: "10s", "1500ms". */
static void
duration_text(char *out, size_t outlen, unsigned int ms)
{
	if (ms % 1000 == 0)
		snprintf(out, outlen, "%us", ms / 1000);
	else
		snprintf(out, outlen, "%ums", ms);
}

/* Print a reason, cut to fit as HAProxy would cut it anyway. */
static void
reason_printf(char *out, size_t outlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
}

/* Is the worker stuck at work, not held by its client? */
static int
worker_stuck_working(const struct pool *pool, const struct fpm_worker *w)
{
	(void)pool;
	return w->stuck && !w->held;
}

/*
 * The wait most of the workers PICK selects share, in words ("poll() on
 * 127.0.0.1:5432 (PostgreSQL)"), or "" when none of them was looked at.
 */
static void
common_wait(const struct pool *pool, int (*pick)(const struct pool *,
    const struct fpm_worker *), char *best, size_t bestlen)
{
	const struct pool_workers	*pw = &pool->workers;
	char				 wait[160], other[160];
	unsigned int			 bestn = 0, n;
	size_t				 i, j;

	best[0] = '\0';
	for (i = 0; i < pw->status.nworkers; i++) {
		const struct fpm_worker *w = &pw->status.workers[i];

		if (!pick(pool, w) || !w->wait.known)
			continue;
		wait_info_format(&w->wait, wait, sizeof(wait));
		for (n = 0, j = i; j < pw->status.nworkers; j++) {
			const struct fpm_worker *v = &pw->status.workers[j];

			if (!pick(pool, v) || !v->wait.known)
				continue;
			wait_info_format(&v->wait, other, sizeof(other));
			if (strcmp(wait, other) == 0)
				n++;
		}
		if (n > bestn) {
			bestn = n;
			strlcpy_safe(best, wait, bestlen);
		}
	}
}

/*
 * "3/4 workers stuck >10s, blocked in poll() on 127.0.0.1:5432", or,
 * when a database check found the session that blocks them, "4/4
 * workers stuck >10s on a PostgreSQL lock at 127.0.0.1:5432 held by pid
 * 4711 (idle in transaction 12s)"; for workers a client never finished
 * sending a request to, "4/4 workers held >2s reading a request from
 * 127.0.0.1:50123".
 */
static void
stuck_reason(const struct pool *pool, char *out, size_t outlen)
{
	const struct pool_workers	*pw = &pool->workers;
	char				 best[160], of[24] = "";
	char				 after[24], client[80] = "", verb[40];
	size_t				 i;

	for (i = 0; i < pw->status.nworkers; i++) {
		const struct fpm_worker *w = &pw->status.workers[i];

		if (w->held && w->wait.client[0] != '\0') {
			snprintf(client, sizeof(client), " from %s",
			    w->wait.client);
			break;
		}
	}
	common_wait(pool, worker_stuck_working, best, sizeof(best));
	duration_text(after, sizeof(after), pool->stuck_after_ms);
	snprintf(verb, sizeof(verb), "stuck >%s on", after);
	if (pw->max_children > 0)
		snprintf(of, sizeof(of), "/%u", pw->max_children);
	if (pw->stuck > 0 && pw->held > 0)
		reason_printf(out, outlen, "%u%s workers stuck >%s%s%s, %u held "
		    "reading a request%s", pw->stuck, of, after,
		    best[0] != '\0' ? ", blocked in " : "", best, pw->held,
		    client);
	else if (pw->held > 0)
		reason_printf(out, outlen, "%u%s workers held >%s reading a "
		    "request%s", pw->held, of, after, client);
	else if (!culprit_reason(pool, worker_stuck_working, verb, out,
	    outlen))
		reason_printf(out, outlen, "%u%s workers stuck >%s%s%s",
		    pw->stuck, of, after, best[0] != '\0' ? ", blocked in " :
		    "", best);
	if (pw->max_children == 0 && strlen(out) + 24 < outlen)
		strcat(out, " (max_children unknown)");
}

/*
 * The reason of check c's real-path timeout that stuck workers do not
 * explain yet, with where the busy workers wait: "app: timeout after
 * 1000ms in response; 4/4 workers busy 2s in poll() on 127.0.0.1:5432
 * (PostgreSQL)", or, when a database check found the session that
 * blocks them, the short "app: timeout 1000ms; 4/4 workers wait on a
 * PostgreSQL lock at 127.0.0.1:5432 held by pid 4711 (idle in
 * transaction 12s)".  The check's reason alone when no worker is busy.
 */
static void
busy_reason(const struct pool *pool, const struct check *c, char *out,
    size_t outlen)
{
	const struct pool_workers	*pw = &pool->workers;
	char				 best[160], of[24] = "", least[24];
	unsigned int			 busy = 0;
	uint64_t			 min_us = UINT64_MAX;
	size_t				 i;
	int				 n;

	n = snprintf(out, outlen, "%s: timeout %ums; ", c->name,
	    c->timing.timeout_ms);
	if (n > 0 && (size_t)n < outlen && culprit_reason(pool, worker_busy,
	    "wait on", out + n, outlen - (size_t)n))
		return;
	strlcpy_safe(out, c->st.reason, outlen);
	for (i = 0; i < pw->status.nworkers; i++) {
		const struct fpm_worker *w = &pw->status.workers[i];

		if (!worker_busy(pool, w))
			continue;
		busy++;
		if (w->request_duration_us < min_us)
			min_us = w->request_duration_us;
	}
	if (busy == 0)
		return;
	common_wait(pool, worker_busy, best, sizeof(best));
	if (pw->max_children > 0)
		snprintf(of, sizeof(of), "/%u", pw->max_children);
	duration_text(least, sizeof(least), min_us >= 1000000 ?
	    (unsigned int)(min_us / 1000000) * 1000 :
	    (unsigned int)(min_us / 1000));
	reason_printf(out, outlen, "%.60s; %u%s workers busy %s%s%s",
	    c->st.reason, busy, of, least, best[0] != '\0' ? " in " : "",
	    best);
}

/*
 * Compute the pool's state, weight, reason and agent answer now.  In
 * --once mode every check has exactly one result and nothing is stale.
 */
void
policy_update(struct pool *pool, uint64_t now)
{
	struct verdict		*v = &pool->verdict;
	const struct pool_workers *pw = &pool->workers;
	struct check		*c;
	enum pool_state		 health = POOL_UP;
	enum admin_state	 admin = ADMIN_SET;
	uint64_t		 fresh_until = UINT64_MAX, stale_us;
	unsigned int		 weight = 100, max, out;
	char			 reason[REASON_MAX + 1] = "";
	char			 info[REASON_MAX + 1] = "";
	const struct check	*timeout_check = NULL;
	enum pool_state		 was = v->health;
	int			 first = v->replylen == 0, once = pool->once;
	int			 sat;

	v->saturated = 0;
	TAILQ_FOREACH(c, &pool->checks, entry) {
		if (c == pool->sampler)
			continue;
		stale_us = (uint64_t)STALE_INTERVALS * c->timing.interval_ms *
		    1000;
		if (!once && result_age(c, now) > stale_us) {
			if (health == POOL_UP) {
				health = POOL_DOWN;
				snprintf(reason, sizeof(reason), "%s: stale "
				    "(no result for %llums)", c->name,
				    (unsigned long long)
				    (result_age(c, now) / 1000));
			}
			continue;
		}
		if (!once && c->st.done_us + stale_us < fresh_until)
			fresh_until = c->st.done_us + stale_us;
		/* --once's second sample may come after the timeout. */
		sat = once ? !c->st.healthy && saturated(pool, c,
		    c->st.result, now) : c->st.saturated && c->st.result != PR_OK;
		if (!c->st.healthy && !sat && health == POOL_UP) {
			health = POOL_DOWN;
			strlcpy_safe(reason, c->st.reason, sizeof(reason));
			if (c->ops->real_path && c->st.result == PR_TIMEOUT)
				timeout_check = c;
		} else if (sat && !v->saturated) {
			v->saturated = 1;
			snprintf(info, sizeof(info), "saturated: %.100s",
			    c->st.reason);
		} else if (c->st.self_late == LATE_STALLED &&
		    c->st.result != PR_OK && info[0] == '\0')
			/* Up, and why the last probe did not count. */
			strlcpy_safe(info, c->st.reason, sizeof(info));
	}

	if (pw->have && (once || sample_fresh(pool, now))) {
		max = pw->max_children;
		out = unavailable(pw);
		/*
		 * Every worker the pool can have stuck is the root cause of
		 * any real-path timeout: say that rather than the timeout it
		 * explains.  With max_children unknown (a remote dynamic
		 * pool), stuck counts alone never take a pool down.
		 */
		if (max > 0 && out >= max && (health == POOL_UP ||
		    pool_times_out(pool))) {
			health = POOL_DOWN;
			stuck_reason(pool, reason, sizeof(reason));
		}
		/*
		 * The weight is the share of max_children that can take a
		 * request.  The listen queue is left out on purpose: sampled
		 * once an interval and read by HAProxy a second later, it
		 * swings traffic between equally busy pools (25% vs 7% seen
		 * for two identical saturated pools), and the pool that gets
		 * more then queues past HAProxy's server timeout.  Balancing
		 * a queue is HAProxy's job.
		 */
		if (max > 0)
			weight = 100 * (max - (out < max ? out : max)) / max;
		if (out > 0 && info[0] == '\0')
			stuck_reason(pool, info, sizeof(info));
		/*
		 * A real-path timeout that stuck workers do not explain
		 * (yet): say where the busy workers wait, at the moment of
		 * detection rather than stuck_after later.
		 */
		if (health == POOL_DOWN && timeout_check != NULL &&
		    strcmp(reason, timeout_check->st.reason) == 0)
			busy_reason(pool, timeout_check, reason,
			    sizeof(reason));
	}
	if (weight < 1)
		weight = 1;
	/*
	 * Without a sample, stuck workers go unseen: never look healthy in
	 * silence.  The reason says so while the pool is up.
	 */
	if (pool->sampler != NULL && pw->sample_failed && info[0] == '\0')
		snprintf(info, sizeof(info), "no status sample: %.90s",
		    pool->sampler->st.reason);

	if (pool->mark == MARK_MAINT) {
		v->state = POOL_MAINT;
		strlcpy_safe(v->reason, pool->mark_reason != NULL ?
		    pool->mark_reason : "maintenance", sizeof(v->reason));
	} else if (pool->mark == MARK_DRAIN) {
		v->state = POOL_DRAIN;
		strlcpy_safe(v->reason, pool->mark_reason != NULL ?
		    pool->mark_reason : "drain", sizeof(v->reason));
	} else {
		v->state = health;
		strlcpy_safe(v->reason, health == POOL_DOWN ? reason : info,
		    sizeof(v->reason));
	}
	v->weight = health == POOL_UP ? weight : 0;
	if (pool->admin_state == ADMIN_LEAVE) {
		admin = ADMIN_LEAVE;
		v->replylen = agent_reply_format(v->reply, sizeof(v->reply),
		    health, weight, reason, admin);
	} else if (v->state == POOL_DRAIN)
		/* A drain carries health: the failure says why when down. */
		v->replylen = agent_reply_format(v->reply, sizeof(v->reply),
		    v->state, v->weight, health == POOL_DOWN ? reason :
		    v->reason, admin);
	else
		v->replylen = agent_reply_format(v->reply, sizeof(v->reply),
		    v->state, weight, v->state == POOL_DOWN ? reason :
		    v->reason, admin);
	v->fresh_until_us = fresh_until;
	v->health = health;
	if (!once && !first && health != was)
		log_info("pool %s: %s -> %s%s%s", pool->name,
		    pool_state_str(was), pool_state_str(health),
		    health == POOL_DOWN ? ": " : "",
		    health == POOL_DOWN ? reason : "");
}

/* The pool's answer now, recomputed when a result may have gone stale. */
const struct verdict *
pool_verdict(struct pool *pool, uint64_t now)
{
	if (now >= pool->verdict.fresh_until_us)
		policy_update(pool, now);
	return &pool->verdict;
}
