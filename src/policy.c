/*
 * Policy: the one place that turns check results and worker samples into
 * a pool's state, weight and reason, and formats the agent's answer.
 *
 * Busy is not broken.  A pool goes down only when its real path is
 * broken: a check failed, every worker is stuck, or real-path probes time
 * out while the pool makes no progress at all.  Load lowers the weight.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define STUCK_INSPECT_MAX	64	/* stuck workers looked at per sample */

static int	pool_is_local(const struct pool *);
static int	worker_is_busy(const struct fpm_worker *);
static int	worker_serves_status(const struct pool *,
		    const struct fpm_worker *);
static void	stuck_reason(const struct pool *, char *, size_t);
static int	sample_fresh(const struct pool *, uint64_t);
static int	pool_times_out(const struct pool *);

static const char *pool_state_names[] = {
	[POOL_UP] = "up",
	[POOL_DOWN] = "down",
	[POOL_MAINT] = "maint",
	[POOL_DRAIN] = "drain",
};

/* The name of a pool state, as the JSON and reports use it. */
const char *
pool_state_str(enum pool_state s)
{
	if (s > POOL_DRAIN)
		return "unknown";
	return pool_state_names[s];
}

/*
 * Format one agent-check answer.  Healthy answers carry "ready" so that
 * they also end a drain or maint set earlier (unless admin_state: leave);
 * every answer carries a health word, since HAProxy ignores a bare weight
 * after a down.
 */
size_t
agent_reply_format(char *out, size_t outlen, enum pool_state state,
    unsigned int weight, const char *reason, enum admin_state admin)
{
	char	 why[REASON_MAX + 1];
	int	 n;

	sanitize_text(why, sizeof(why), reason != NULL ? reason : "",
	    reason != NULL ? strlen(reason) : 0);
	if (why[0] == '\0')
		strlcpy_safe(why, "unknown", sizeof(why));
	if (weight < 1)
		weight = 1;
	if (weight > 100)
		weight = 100;
	switch (state) {
	case POOL_UP:
		n = snprintf(out, outlen, "%sup %u%%\n",
		    admin == ADMIN_SET ? "ready " : "", weight);
		break;
	case POOL_MAINT:
		n = snprintf(out, outlen, "maint #%s\n", why);
		break;
	case POOL_DRAIN:
		n = snprintf(out, outlen, "drain #%s\n", why);
		break;
	case POOL_DOWN:
	default:
		n = snprintf(out, outlen, "down #%s\n", why);
		break;
	}
	if (n < 0 || outlen == 0)
		return 0;
	if ((size_t)n >= outlen) {
		/* Cut, but keep the line ending. */
		out[outlen - 2] = '\n';
		return outlen - 1;
	}
	return (size_t)n;
}

/* Is the pool on this host, so that its pids are ours to inspect? */
static int
pool_is_local(const struct pool *pool)
{
	const struct sockaddr_storage	*ss = &pool->fastcgi.ss;
	const struct sockaddr_in6	*sin6;
	static const uint8_t		 lo6[16] = { [15] = 1 };

	switch (ss->ss_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)ss;
		return memcmp(&sin6->sin6_addr, lo6, sizeof(lo6)) == 0;
	}
	return 0;
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

/*
 * Take a new worker sample: mark stuck workers, see what they wait on,
 * and tell whether requests completed since the previous sample.
 * Takes ownership of the status' worker array.
 */
void
policy_sample(struct pool *pool, struct fpm_status *st, uint64_t now)
{
	struct pool_workers	*pw = &pool->workers;
	uint64_t		 limit = (uint64_t)pool->stuck_after_ms * 1000;
	uint64_t		 requests = 0;
	unsigned int		 stuck = 0, inspected = 0, own;
	int			 local = pool_is_local(pool);
	size_t			 i;

	for (i = 0; i < st->nworkers; i++) {
		struct fpm_worker *w = &st->workers[i];

		requests += w->requests;
		w->stuck = worker_is_busy(w) && w->request_duration_us > limit &&
		    !worker_serves_status(pool, w);
		if (!w->stuck)
			continue;
		stuck++;
		if (local && inspected < STUCK_INSPECT_MAX) {
			inspected++;
			proc_wait_inspect(w->pid, &w->wait);
		}
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
	if (pool->max_children > 0) {
		pw->max_children = pool->max_children;
		pw->max_children_from_config = 1;
	} else {
		/*
		 * Count the processes the page lists rather than trust its
		 * "total processes" line: with pm.status_listen, php-fpm
		 * 8.2 over-counts it under load (17 for a static pool of 4
		 * behind HAProxy), which turned 3 stuck of 4 into "up 82%".
		 */
		pw->max_children = pw->status.nworkers > 0 ?
		    (unsigned int)pw->status.nworkers :
		    (unsigned int)pw->status.total;
		pw->max_children_from_config = 0;
	}
}

/* Is the last worker sample recent enough to judge by? */
static int
sample_fresh(const struct pool *pool, uint64_t now)
{
	const struct pool_workers *pw = &pool->workers;

	return pw->have && now - pw->sampled_us <=
	    (uint64_t)STALE_INTERVALS * pool->interval_ms * 1000;
}

/* Is the pool down because a real-path probe timed out? */
static int
pool_times_out(const struct pool *pool)
{
	const struct check	*c;

	TAILQ_FOREACH(c, &pool->checks, entry)
		if (c->ops->type == CHECK_FASTCGI && !c->st.healthy &&
		    c->st.result == PR_TIMEOUT)
			return 1;
	return 0;
}

/*
 * Does a failed real-path probe only mean the pool is busy?  A timeout
 * while the pool demonstrably completes requests and not every worker is
 * stuck is saturation, not breakage.
 */
int
policy_saturated(struct pool *pool, struct check *c, enum probe_result r,
    uint64_t now)
{
	const struct pool_workers *pw = &pool->workers;

	if (c->ops->type != CHECK_FASTCGI || r != PR_TIMEOUT)
		return 0;
	if (!sample_fresh(pool, now) || pw->progress != 1)
		return 0;
	return pw->max_children == 0 || pw->stuck < pw->max_children;
}

/* "3/4 workers stuck >10s, blocked in poll() on 127.0.0.1:5432" */
static void
stuck_reason(const struct pool *pool, char *out, size_t outlen)
{
	const struct pool_workers	*pw = &pool->workers;
	char				 wait[160], best[160] = "";
	unsigned int			 bestn = 0, n;
	size_t				 i, j;

	for (i = 0; i < pw->status.nworkers; i++) {
		const struct fpm_worker *w = &pw->status.workers[i];

		if (!w->stuck || !w->wait.known)
			continue;
		wait_info_format(&w->wait, wait, sizeof(wait));
		n = 0;
		for (j = i; j < pw->status.nworkers; j++) {
			const struct fpm_worker *v = &pw->status.workers[j];
			char other[160];

			if (!v->stuck || !v->wait.known)
				continue;
			wait_info_format(&v->wait, other, sizeof(other));
			if (strcmp(wait, other) == 0)
				n++;
		}
		if (n > bestn) {
			bestn = n;
			strlcpy_safe(best, wait, sizeof(best));
		}
	}
	if (pool->stuck_after_ms % 1000 == 0)
		snprintf(out, outlen, "%u/%u workers stuck >%us%s%s", pw->stuck,
		    pw->max_children, pool->stuck_after_ms / 1000,
		    best[0] != '\0' ? ", blocked in " : "", best);
	else
		snprintf(out, outlen, "%u/%u workers stuck >%ums%s%s",
		    pw->stuck, pw->max_children, pool->stuck_after_ms,
		    best[0] != '\0' ? ", blocked in " : "", best);
}

/*
 * Compute the pool's state, weight, reason and agent answer now.  In
 * --once mode every check has exactly one result and nothing is stale.
 */
void
policy_update(struct pool *pool, uint64_t now, int once)
{
	struct verdict		*v = &pool->verdict;
	const struct pool_workers *pw = &pool->workers;
	struct check		*c;
	enum pool_state		 health = POOL_UP;
	enum admin_state	 admin = ADMIN_SET;
	uint64_t		 fresh_until = UINT64_MAX, stale_us;
	unsigned int		 weight = 100, max;
	char			 reason[REASON_MAX + 1] = "";
	char			 info[REASON_MAX + 1] = "";
	enum pool_state		 was = v->health;
	int			 first = v->replylen == 0;

	v->saturated = 0;
	TAILQ_FOREACH(c, &pool->checks, entry) {
		if (c->ops->type == CHECK_FPM_STATUS)
			continue;
		stale_us = (uint64_t)STALE_INTERVALS * c->interval_ms * 1000;
		if (!once && now - c->st.done_us > stale_us) {
			if (health == POOL_UP) {
				health = POOL_DOWN;
				snprintf(reason, sizeof(reason), "%s: stale "
				    "(no result for %llums)", c->name,
				    (unsigned long long)
				    ((now - c->st.done_us) / 1000));
			}
			continue;
		}
		if (!once && c->st.done_us + stale_us < fresh_until)
			fresh_until = c->st.done_us + stale_us;
		if (!c->st.healthy && health == POOL_UP) {
			health = POOL_DOWN;
			strlcpy_safe(reason, c->st.reason, sizeof(reason));
		} else if (c->st.saturated && c->st.result != PR_OK &&
		    !v->saturated) {
			v->saturated = 1;
			snprintf(info, sizeof(info), "saturated: %.100s",
			    c->st.reason);
		}
	}

	if (once || sample_fresh(pool, now)) {
		max = pw->max_children;
		if (pw->have && max > 0) {
			/*
			 * Every worker stuck is the root cause of any
			 * real-path timeout: say that rather than the
			 * timeout it explains.
			 */
			if (pw->stuck >= max && (health == POOL_UP ||
			    pool_times_out(pool))) {
				health = POOL_DOWN;
				stuck_reason(pool, reason, sizeof(reason));
			}
			/*
			 * The weight is the share of workers not stuck.  The
			 * listen queue is left out on purpose: sampled once an
			 * interval and read by HAProxy a second later, it
			 * swings traffic between equally busy pools (25% vs
			 * 7% seen for two identical saturated pools), and the
			 * pool that gets more then queues past HAProxy's
			 * server timeout.  Balancing a queue is HAProxy's job.
			 */
			weight = 100 * (max - (pw->stuck < max ? pw->stuck :
			    max)) / max;
			if (pw->stuck > 0 && info[0] == '\0')
				stuck_reason(pool, info, sizeof(info));
		}
	}
	if (weight < 1)
		weight = 1;

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
	} else
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
		policy_update(pool, now, 0);
	return &pool->verdict;
}
