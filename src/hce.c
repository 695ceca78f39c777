/*
 * The health check engine: owns every check's interval, launches probes,
 * cancels one still running when the next interval comes, and funnels
 * every outcome into probe_done().
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmprobe.h"

#define OVERRUN_US	1000000	/* past a probe's deadline: cut it */

/* One --once run, for its overall --timeout. */
struct once_run {
	struct pool	**pools;
	size_t		  npools;
	unsigned int	  timeout_ms;
	int		  expired;
};

static void	hce_tick(int, short, void *);
static void	once_expire(int, short, void *);
static void	hce_schedule(struct check *, unsigned int);
static void	probe_start(struct check *, uint64_t);
static void	delay_record(struct check *, uint64_t, uint64_t);
static void	check_init(struct check *);
static void	pool_prepare(struct config *, struct pool *);

static struct event_base	*hce_base;
static int			 hce_once;	/* --once: one probe each */
static size_t			 hce_pending;	/* --once: probes not done */

static const char *probe_result_names[PR_MAX] = {
	[PR_OK] = "ok",
	[PR_CONNECT_REFUSED] = "connection refused",
	[PR_CONNECT_ERROR] = "cannot connect",
	[PR_TIMEOUT] = "timeout",
	[PR_IO_ERROR] = "I/O error",
	[PR_CLOSED] = "connection closed",
	[PR_PROTOCOL] = "protocol error",
	[PR_TOO_BIG] = "response too large",
	[PR_FCGI_STATUS] = "FastCGI request not completed",
	[PR_STATUS] = "status",
	[PR_BODY] = "body mismatch",
	[PR_DB_AUTH] = "authentication failed",
	[PR_DB_UNKNOWN_DB] = "unknown database",
	[PR_DB_TOO_MANY] = "too many connections",
	[PR_DB_QUERY] = "query error",
	[PR_DB_EXPECT] = "unexpected value",
	[PR_DB_ERROR] = "database error",
	[PR_DNS] = "name resolution failed",
	[PR_TLS] = "TLS error",
	[PR_STALE] = "stale",
	[PR_ABORTED] = "aborted",
	[PR_INTERNAL] = "internal error",
};

static const char *probe_phase_names[PH_MAX] = {
	[PH_CONNECT] = "connect",
	[PH_AUTH] = "auth",
	[PH_REQUEST] = "request",
	[PH_RESPONSE] = "response",
	[PH_QUERY] = "query",
};

/* The short name of a result, as reasons and the JSON use it. */
const char *
probe_result_str(enum probe_result r)
{
	if (r < 0 || r >= PR_MAX || probe_result_names[r] == NULL)
		return "unknown";
	return probe_result_names[r];
}

/* The name of a probe phase. */
const char *
probe_phase_str(enum probe_phase ph)
{
	if (ph < 0 || ph >= PH_MAX)
		return "unknown";
	return probe_phase_names[ph];
}

/*
 * The one place where an operator's reason is built: "app: timeout after
 * 1000ms in response", "app: status 404: Primary script unknown".
 */
void
probe_reason(const struct check *c, enum probe_result r, enum probe_phase ph,
    const char *detail, char *out, size_t outlen)
{
	char	 text[DETAIL_MAX + 64];

	if (r == PR_TIMEOUT)
		snprintf(text, sizeof(text), "%s: timeout after %ums in %s%s%s",
		    c->name, c->timing.timeout_ms, probe_phase_str(ph),
		    detail[0] != '\0' ? ", " : "", detail);
	else if (detail[0] != '\0')
		snprintf(text, sizeof(text), "%s: %s %s", c->name,
		    probe_result_str(r), detail);
	else
		snprintf(text, sizeof(text), "%s: %s", c->name,
		    probe_result_str(r));
	sanitize_text(out, outlen, text, strlen(text));
}

/* Microseconds left before the probe's deadline, 0 when it has passed. */
static uint64_t
probe_left_us(struct probe *p)
{
	uint64_t	 now = now_us();

	return now >= p->deadline_us ? 0 : p->deadline_us - now;
}

/* Has the probe's one deadline passed? */
int
probe_expired(struct probe *p)
{
	return probe_left_us(p) == 0;
}

/*
 * Re-arm the probe's event on its fd for the time that is left of its
 * one deadline.  Returns -1 when the deadline has already passed; the
 * callback then sees EV_TIMEOUT at once.
 */
int
probe_again(struct probe *p, short what, event_callback_fn cb)
{
	return event_again(&p->ev, p->base, p->fd, what, cb, p,
	    p->deadline_us) == 0 ? -1 : 0;
}

/* Release the probe's fd, event and buffers; idempotent. */
void
probe_close(struct probe *p)
{
	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (p->fd != -1) {
		close(p->fd);
		p->fd = -1;
	}
	buf_free(&p->out);
	buf_free(&p->in);
	if (p->sample != NULL) {
		fpm_status_free(p->sample);
		free(p->sample);
		p->sample = NULL;
	}
}

/* End a probe with a result and a detail for the reason. */
void
probe_fail(struct probe *p, enum probe_result r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	probe_done(p, r);
}

/*
 * Every probe ends here, exactly once: the check type releases its I/O,
 * and the raw outcome, with the worker sample it may carry, goes to the
 * policy, which keeps it and computes the pool's answer again.
 */
void
probe_done(struct probe *p, enum probe_result r)
{
	struct check	*c = p->check;
	struct outcome	 o;
	uint64_t	 now = now_us();

	if (p->done)
		return;
	p->done = 1;
	p->total_us = now - p->start_us;
	if (c->ops->abort != NULL)
		c->ops->abort(p);
	memset(&o, 0, sizeof(o));
	o.result = r;
	o.phase = p->phase;
	o.detail = p->detail;
	o.latency_us = p->total_us;
	o.connect_us = p->connect_us;
	o.first_byte_us = p->first_byte_us;
	o.sample = r == PR_OK ? p->sample : NULL;
	/* How late fpmprobe itself was: see policy.c's self_late(). */
	o.start_delay_us = p->start_delay_us;
	o.overrun_us = now > p->deadline_us && !p->self_blocked ?
	    now - p->deadline_us : 0;
	if (r == PR_TIMEOUT)
		host_sample(now, 0);
	o.cpu_pressure_pct = host_cpu_pressure_pct();
	policy_record(c, &o, now);
	if (r != PR_OK || c == c->pool->sampler)
		log_debug("pool %s check %s: %s", c->pool->name, c->name,
		    r == PR_OK ? "ok" : c->st.reason);
	probe_close(p);
	c->probe = NULL;
	free(p);
	if (hce_once && --hce_pending == 0)
		event_base_loopbreak(hce_base);
}

/* Launch one probe of a check, delay_us after it was due. */
static void
probe_start(struct check *c, uint64_t delay_us)
{
	struct probe	*p;

	p = xcalloc(1, sizeof(*p));
	p->check = c;
	p->base = hce_base;
	p->fd = -1;
	p->start_us = now_us();
	p->start_delay_us = delay_us;
	p->deadline_us = p->start_us + (uint64_t)c->timing.timeout_ms * 1000;
	c->probe = p;
	c->ops->start(p);
	/*
	 * A start that blocked past the deadline (a name resolved in the
	 * library's connect) held the loop itself: its lateness is the
	 * probe's, not the host's.
	 */
	if (c->probe == p && now_us() > p->deadline_us)
		p->self_blocked = 1;
}

/*
 * The interval timer: start the next probe.  A probe still running has
 * its own deadline (timeout may be longer than interval), so it runs to
 * it, and the start that fell due meanwhile is skipped: a wait is only
 * reported once it happened.
 */
static void
hce_tick(int fd, short ev, void *arg)
{
	struct check	*c = arg;
	uint64_t	 now = now_us(), delay;

	/* Late against the due time, which has the jitter in it already. */
	delay = now > c->due_us ? now - c->due_us : 0;
	delay_record(c, now, delay);
	host_sample(now, 0);
	hce_schedule(c, c->timing.interval_ms);
	/* Every check type ends at its deadline; this only guards that. */
	if (c->probe != NULL && now > c->probe->deadline_us + OVERRUN_US) {
		c->probe->self_blocked = 1;	/* its type did not end it */
		probe_fail(c->probe, PR_TIMEOUT, "still running %llums past "
		    "its deadline", (unsigned long long)
		    ((now - c->probe->deadline_us) / 1000));
	}
	if (c->probe == NULL)
		probe_start(c, delay);
}

/*
 * Keep how late a check's timer fired: the last, and a window for the
 * largest.  A host that does not schedule fpmprobe shows here first.
 */
static void
delay_record(struct check *c, uint64_t now, uint64_t delay_us)
{
	struct check_status	*st = &c->st;

	st->have_delay = 1;
	st->tick_us = now;
	st->delay_us = delay_us;
	st->delays[st->delay_pos] = delay_us > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)delay_us;
	st->delay_pos = (st->delay_pos + 1) % SCHED_DELAY_WINDOW;
	if (st->delay_n < SCHED_DELAY_WINDOW)
		st->delay_n++;
}

/* Arm a check's timer for ms from now, less up to 10% of jitter. */
static void
hce_schedule(struct check *c, unsigned int ms)
{
	struct timeval	 tv;
	long		 jitter, span;

	span = (long)ms * INTERVAL_JITTER_PCT / 100;
	jitter = span > 0 ? -(long)(random() % (span + 1)) : 0;
	ms = (unsigned int)((long)ms + jitter);
	c->due_us = now_us() + (uint64_t)ms * 1000;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (c->timer == NULL &&
	    (c->timer = evtimer_new(hce_base, hce_tick, c)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(c->timer, &tv);
}

/*
 * Give a pool what the engine adds to its configuration: the admin
 * state for its answers, and the status-page sampler when status_path
 * is set.
 */
static void
pool_prepare(struct config *conf, struct pool *pool)
{
	pool->admin_state = conf->admin_state;
	if (pool->status_path == NULL || pool->sampler != NULL)
		return;
	pool->sampler = check_fpm_status_new(pool);
	TAILQ_INSERT_HEAD(&pool->checks, pool->sampler, entry);
}

/* Reset a check's state so that it starts healthy, like HAProxy's servers. */
static void
check_init(struct check *c)
{
	memset(&c->st, 0, sizeof(c->st));
	c->st.healthy = 1;
	c->st.done_us = now_us();	/* staleness counts from now */
}

/*
 * Before a reload: give every check of the new configuration that probes
 * the same thing as a running one its state and history (no flap, no new
 * rise), and every pool its last worker sample when it samples the same
 * page.  hce_start() leaves such checks as they are.  Returns how many
 * checks kept their state.
 */
size_t
hce_carry(struct config *from, struct config *to)
{
	struct pool	*old, *pool;
	struct check	*oc, *c;
	size_t		 kept = 0;

	TAILQ_FOREACH(pool, &to->pools, entry) {
		if ((old = config_find_pool(from, pool->name)) == NULL)
			continue;
		TAILQ_FOREACH(c, &pool->checks, entry)
			TAILQ_FOREACH(oc, &old->checks, entry)
				if (strcmp(oc->name, c->name) == 0 &&
				    oc != old->sampler && check_same(oc, c)) {
					c->st = oc->st;
					kept++;
					break;
				}
		if (old->workers.have && str_same(old->status_path,
		    pool->status_path) && pool->stuck_after_ms ==
		    old->stuck_after_ms) {
			pool->workers = old->workers;
			memset(&old->workers, 0, sizeof(old->workers));
		}
	}
	return kept;
}

/*
 * Start every check of every pool.  The first probes are spread over the
 * first interval so that pools do not fall into step.
 */
void
hce_start(struct event_base *base, struct config *conf)
{
	struct pool	*pool;
	struct check	*c;

	hce_base = base;
	hce_once = 0;
	srandom((unsigned int)(now_us() ^ (uint64_t)getpid()));
	host_sample(now_us(), 1);
	TAILQ_FOREACH(pool, &conf->pools, entry) {
		pool_prepare(conf, pool);
		pool->once = 0;
		TAILQ_FOREACH(c, &pool->checks, entry) {
			/* A check carried over a reload keeps its state. */
			if (!c->st.have_result)
				check_init(c);
			hce_schedule(c, (unsigned int)(random() %
			    (c->timing.interval_ms + 1)));
		}
		policy_update(pool, now_us());
	}
}

/*
 * Stop every probe and timer, release what checks keep, and take back
 * the status samplers pool_prepare() added: the configuration is as it
 * was loaded, for config_free().
 */
void
hce_stop(struct config *conf)
{
	struct pool	*pool;
	struct check	*c;

	TAILQ_FOREACH(pool, &conf->pools, entry) {
		TAILQ_FOREACH(c, &pool->checks, entry) {
			if (c->probe != NULL) {
				c->probe->done = 1;
				if (c->ops->abort != NULL)
					c->ops->abort(c->probe);
				probe_close(c->probe);
				free(c->probe);
				c->probe = NULL;
			}
			if (c->timer != NULL) {
				event_free(c->timer);
				c->timer = NULL;
			}
			if (c->ops->free != NULL)
				c->ops->free(c);
		}
		if (pool->sampler != NULL) {
			TAILQ_REMOVE(&pool->checks, pool->sampler, entry);
			check_free(pool->sampler);
			pool->sampler = NULL;
		}
	}
}

/*
 * --once: probe every check of the given pools once, concurrently, and
 * return when all are done.  Each probe is bounded by its own deadline.
 */
void
hce_run_once(struct event_base *base, struct config *conf,
    struct pool **pools, size_t npools, unsigned int timeout_ms)
{
	struct once_run	 run = { pools, npools, timeout_ms, 0 };
	struct event	*cap = NULL;
	struct timeval	 tv;
	struct check	*c;
	size_t		 i;
	uint64_t	 due, now;

	hce_base = base;
	hce_once = 1;
	hce_pending = 0;
	/* Read now and at the end: the steal share is the run's. */
	due = now_us();
	host_sample(due, 1);
	for (i = 0; i < npools; i++) {
		pool_prepare(conf, pools[i]);
		pools[i]->once = 1;
		TAILQ_FOREACH(c, &pools[i]->checks, entry) {
			check_init(c);
			hce_pending++;
		}
	}
	if (hce_pending == 0)
		return;
	if (timeout_ms > 0) {
		if ((cap = evtimer_new(base, once_expire, &run)) == NULL)
			fatalx("evtimer_new");
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		evtimer_add(cap, &tv);
	}
	/*
	 * Every probe is due at the run's start: its delay is the time
	 * fpmprobe took to get to it (starting the others, a stall).
	 */
	for (i = 0; i < npools; i++)
		TAILQ_FOREACH(c, &pools[i]->checks, entry) {
			now = now_us();
			delay_record(c, now, now - due);
			probe_start(c, now - due);
		}
	if (hce_pending > 0)
		event_base_dispatch(base);
	/*
	 * A real-path probe timed out: sample the workers again, so that
	 * the policy sees whether requests completed meanwhile (busy) or
	 * not (broken), as the daemon sees it between intervals.
	 */
	for (i = 0; i < npools && !run.expired; i++)
		if (pools[i]->sampler != NULL && real_path_timed_out(pools[i])) {
			hce_pending++;
			probe_start(pools[i]->sampler, 0);
		}
	if (hce_pending > 0)
		event_base_dispatch(base);
	/*
	 * Workers wait on the server of a database check: probe it once
	 * more, now that the sample says who waits, so that it looks up the
	 * session that blocks them.
	 */
	for (i = 0; i < npools && !run.expired; i++)
		TAILQ_FOREACH(c, &pools[i]->checks, entry)
			if (c->probe == NULL && db_culprit_due(c)) {
				hce_pending++;
				probe_start(c, 0);
			}
	if (hce_pending > 0)
		event_base_dispatch(base);
	if (cap != NULL)
		event_free(cap);
	host_sample(now_us(), 1);
	for (i = 0; i < npools; i++)
		policy_update(pools[i], now_us());
}

/*
 * --once's --timeout: end every probe still running, as aborted rather
 * than timed out, since its own timeout did not pass.
 */
static void
once_expire(int fd, short ev, void *arg)
{
	struct once_run	*run = arg;
	struct check	*c;
	size_t		 i;

	run->expired = 1;
	for (i = 0; i < run->npools; i++)
		TAILQ_FOREACH(c, &run->pools[i]->checks, entry)
			if (c->probe != NULL)
				probe_fail(c->probe, PR_ABORTED, "(--timeout "
				    "%ums reached)", run->timeout_ms);
}
