/*
 * Unit tests of the policy: agent answers, weights, stuck workers, and
 * busy-is-not-broken.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

#define SEC	1000000ULL

static struct pool	 pool;
static struct check	 app;
static struct check	 status;

/* The process manager the next samples' status page names. */
static const char	*pm = "static";

/* A pool with one healthy fastcgi check and a status page. */
static void
setup(void)
{
	fpm_status_free(&pool.workers.status);
	memset(&pool, 0, sizeof(pool));
	memset(&app, 0, sizeof(app));
	memset(&status, 0, sizeof(status));
	pm = "static";
	TAILQ_INIT(&pool.checks);
	pool.name = "www";
	pool.status_path = "/fpm-status";
	pool.have_status_listen = 1;
	pool.stuck_after_ms = 10000;
	pool.interval_ms = 2000;
	pool.timeout_ms = 1000;
	app.name = "app";
	app.ops = &check_fcgi_ops;
	app.pool = &pool;
	app.interval_ms = 2000;
	app.timeout_ms = 1000;
	app.st.healthy = 1;
	app.st.have_result = 1;
	app.st.done_us = 100 * SEC;
	app.rise = 2;
	app.fall = 2;
	TAILQ_INSERT_TAIL(&pool.checks, &app, entry);
	status.name = "status";
	status.ops = &check_fpm_status_ops;
	status.pool = &pool;
	status.interval_ms = 2000;
	status.timeout_ms = 1000;
	status.rise = 2;
	status.fall = 2;
	status.st.healthy = 1;
	TAILQ_INSERT_HEAD(&pool.checks, &status, entry);
	pool.sampler = &status;
}

/* Hand the policy one probe outcome of check c, as probe_done() does. */
static void
result(struct check *c, enum probe_result r, uint64_t now)
{
	struct outcome	 o;

	memset(&o, 0, sizeof(o));
	o.result = r;
	o.phase = PH_RESPONSE;
	o.detail = "";
	o.latency_us = r == PR_TIMEOUT ? c->timeout_ms * 1000ULL : 1500;
	policy_record(c, &o, now);
}

/* Added to the status page's "total processes" line by sample(). */
static unsigned int	 overcount;

/*
 * A sample of n workers; the first `running` run for `dur` seconds.  The
 * first worker holds the pool's whole request counter.
 */
static void
sample(unsigned int n, unsigned int running, unsigned int dur,
    uint64_t requests, uint64_t queue, uint64_t now)
{
	struct fpm_status	 st;
	unsigned int		 i;

	struct outcome		 o;

	memset(&st, 0, sizeof(st));
	strlcpy_safe(st.pm, pm, sizeof(st.pm));
	st.workers = calloc(n, sizeof(*st.workers));
	st.nworkers = n;
	st.total = n + overcount;
	st.active = running;
	st.idle = n - running;
	st.listen_queue = queue;
	for (i = 0; i < n; i++) {
		st.workers[i].pid = (pid_t)(1000 + i);
		st.workers[i].state = i < running ? FPM_W_RUNNING : FPM_W_IDLE;
		st.workers[i].request_duration_us = i < running ?
		    dur * SEC : 0;
		st.workers[i].requests = i == 0 ? requests : 0;
		strlcpy_safe(st.workers[i].uri, "/cart.php",
		    sizeof(st.workers[i].uri));
	}
	memset(&o, 0, sizeof(o));
	o.result = PR_OK;
	o.sample = &st;
	policy_record(&status, &o, now);
	ok(o.sample == NULL && st.workers == NULL,
	    "the policy took the sample");
}

static void
test_replies(void)
{
	char	 out[AGENT_REPLY_MAX], longr[400];
	size_t	 n;

	n = agent_reply_format(out, sizeof(out), POOL_UP, 63, NULL, ADMIN_SET);
	is_str(out, "ready up 63%\n", "up with ready");
	is_int(n, strlen(out), "length returned");
	agent_reply_format(out, sizeof(out), POOL_UP, 63, NULL, ADMIN_LEAVE);
	is_str(out, "up 63%\n", "admin_state leave: no ready");
	agent_reply_format(out, sizeof(out), POOL_UP, 0, NULL, ADMIN_SET);
	is_str(out, "ready up 1%\n", "never below 1%% while up");
	agent_reply_format(out, sizeof(out), POOL_UP, 250, NULL, ADMIN_SET);
	is_str(out, "ready up 100%\n", "never above 100%%");
	agent_reply_format(out, sizeof(out), POOL_DOWN, 0,
	    "db: timeout after 500ms", ADMIN_SET);
	is_str(out, "down #db: timeout after 500ms\n", "down with reason");
	agent_reply_format(out, sizeof(out), POOL_DOWN, 0, "", ADMIN_SET);
	is_str(out, "down #unknown\n", "down always has a reason");
	agent_reply_format(out, sizeof(out), POOL_DOWN, 0, "a\nready up 100%",
	    ADMIN_SET);
	is_str(out, "down #a ready up 100%\n", "a reason cannot add lines");
	agent_reply_format(out, sizeof(out), POOL_MAINT, 0, "deploy 4711",
	    ADMIN_SET);
	is_str(out, "maint #deploy 4711\n", "maint");
	agent_reply_format(out, sizeof(out), POOL_DRAIN, 0, "db move",
	    ADMIN_SET);
	is_str(out, "drain #db move\n", "drain");
	memset(longr, 'x', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	n = agent_reply_format(out, sizeof(out), POOL_DOWN, 0, longr,
	    ADMIN_SET);
	ok(n < 128 && out[n - 1] == '\n' && strchr(out, '\n') == out + n - 1,
	    "a long reason is cut under 128 bytes, one line (%zu)", n);
	ok(strlen(out) - strlen("down #\n") <= 119, "reason under 120 chars");
}

static void
test_health(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 100%\n", "healthy, no sample");
	app.st.healthy = 0;
	strlcpy_safe(app.st.reason, "app: timeout after 1000ms in response",
	    sizeof(app.st.reason));
	policy_update(&pool, now);
	is_str(pool.verdict.reply,
	    "down #app: timeout after 1000ms in response\n",
	    "a failed check takes the pool down with its reason");
	is_int(pool.verdict.state, POOL_DOWN, "state down");
	is_int(pool.verdict.weight, 0, "weight 0 when down");

	setup();
	policy_update(&pool, 100 * SEC + 6 * SEC + 1);
	is_int(pool.verdict.state, POOL_DOWN, "a result older than three "
	    "intervals is a failure");
	ok(strstr(pool.verdict.reason, "stale") != NULL, "reason says stale");
	policy_update(&pool, 100 * SEC + 5 * SEC);
	is_int(pool.verdict.state, POOL_UP, "fresh again within three "
	    "intervals");
	ok(pool.verdict.fresh_until_us == 106 * SEC,
	    "the verdict knows when it goes stale");
}

static void
test_workers(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	sample(4, 0, 0, 10, 0, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 100%\n", "idle pool: 100%%");

	sample(4, 2, 12, 10, 0, now);
	policy_update(&pool, now);
	is_int(pool.workers.stuck, 2, "2 workers stuck");
	is_str(pool.verdict.reply, "ready up 50%\n", "2 of 4 stuck: 50%%");
	ok(strstr(pool.verdict.reason, "2/4 workers stuck >10s") != NULL,
	    "the reason counts them (%s)", pool.verdict.reason);

	sample(4, 2, 5, 10, 0, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 100%\n",
	    "running under stuck_after is not stuck");

	sample(4, 4, 12, 10, 0, now);
	pool.workers.status.workers[0].wait.known = 1;
	strlcpy_safe(pool.workers.status.workers[0].wait.syscall, "poll",
	    sizeof(pool.workers.status.workers[0].wait.syscall));
	strlcpy_safe(pool.workers.status.workers[0].wait.peers[0],
	    "127.0.0.1:5432", sizeof(pool.workers.status.workers[0].wait.peers[0]));
	pool.workers.status.workers[0].wait.npeers = 1;
	policy_update(&pool, now);
	is_int(pool.verdict.state, POOL_DOWN, "every worker stuck: down");
	ok(strncmp(pool.verdict.reply, "down #4/4 workers stuck >10s", 28) == 0,
	    "reason: %s", pool.verdict.reason);
	ok(strstr(pool.verdict.reason, "127.0.0.1:5432") != NULL,
	    "the reason names what they wait on");

	app.st.healthy = 0;
	app.st.result = PR_TIMEOUT;
	strlcpy_safe(app.st.reason, "app: timeout after 1000ms in response",
	    sizeof(app.st.reason));
	policy_update(&pool, now);
	ok(strncmp(pool.verdict.reply, "down #4/4 workers stuck", 23) == 0,
	    "every worker stuck explains the timeout: %s", pool.verdict.reason);
	app.st.result = PR_STATUS;
	strlcpy_safe(app.st.reason, "app: status 500", sizeof(app.st.reason));
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "down #app: status 500\n",
	    "a failed check keeps its own reason");
	app.st.healthy = 1;

	pool.max_children = 8;
	sample(4, 4, 12, 10, 0, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 50%\n", "max_children from config"
	    " (4 of 8 stuck)");
	is_int(pool.workers.capacity_source, CAP_CONFIG,
	    "says where max came from");

	pool.max_children = 0;
	overcount = 13;
	sample(4, 3, 12, 10, 0, now);
	overcount = 0;
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 25%\n", "max_children from the "
	    "processes listed, not an over-counted total (3 of 4 stuck)");
	sample(4, 4, 1, 10, 60, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 100%\n",
	    "a long queue on a busy pool does not lower the weight");
	sample(4, 4, 1, 10, 3, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 100%\n",
	    "so equally busy pools keep equal weights, whatever their queues");
	sample(4, 4, 12, 10, 60, now);
	policy_update(&pool, now);
	ok(pool.verdict.state == POOL_DOWN, "every worker stuck, queue or not: "
	    "down");
	sample(200, 199, 12, 10, 0, now);
	policy_update(&pool, now);
	is_str(pool.verdict.reply, "ready up 1%\n",
	    "199 of 200 stuck: never below 1%%");
}

static void
test_saturation(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	result(&app, PR_TIMEOUT, now);
	ok(!app.st.saturated && app.st.healthy, "no sample: a timeout is a "
	    "failure, the first of fall 2");
	result(&app, PR_TIMEOUT, now);
	ok(!app.st.healthy, "the second takes the check down");
	is_int(pool.verdict.state, POOL_DOWN, "and the pool");
	result(&app, PR_OK, now);
	ok(!app.st.healthy, "one success of rise 2 is not enough");
	result(&app, PR_OK, now);
	ok(app.st.healthy, "the second brings it back");
	is_int(pool.verdict.state, POOL_UP, "and the pool");

	setup();
	sample(4, 4, 1, 10, 30, now);
	result(&app, PR_TIMEOUT, now);
	ok(!app.st.saturated, "one sample: progress unknown, a failure");
	sample(4, 4, 1, 20, 30, now + SEC);
	is_int(pool.workers.progress, 1, "request counters moved: progress");
	result(&app, PR_TIMEOUT, now + SEC);
	ok(app.st.saturated, "timeout while making progress: saturated");
	ok(app.st.healthy && app.st.fail_run == 0,
	    "saturation does not count toward fall");
	ok(pool.verdict.state == POOL_UP && pool.verdict.saturated,
	    "saturated stays up");
	ok(strncmp(pool.verdict.reason, "saturated: ", 11) == 0,
	    "and says so in the report (%s)", pool.verdict.reason);
	result(&app, PR_STATUS, now + SEC);
	ok(!app.st.saturated, "a wrong status is never saturation");
	result(&app, PR_OK, now + SEC);
	sample(4, 4, 1, 20, 30, now + 2 * SEC);
	is_int(pool.workers.progress, 0, "no counter moved: no progress");
	result(&app, PR_TIMEOUT, now + 2 * SEC);
	result(&app, PR_TIMEOUT, now + 2 * SEC);
	ok(!app.st.saturated && !app.st.healthy,
	    "timeouts without progress: down after fall");
	pool.have_status_listen = 0;
	sample(4, 4, 1, 21, 30, now + 3 * SEC);
	is_int(pool.workers.progress, 0, "our own status request is not "
	    "progress");

	setup();
	sample(4, 4, 12, 10, 0, now);
	sample(4, 4, 12, 20, 0, now + SEC);
	result(&app, PR_TIMEOUT, now + SEC);
	ok(!app.st.saturated, "every worker stuck: a timeout is no "
	    "saturation, progress or not");
}

/* pm = dynamic and ondemand: capacity is pm.max_children, not what runs. */
static void
test_process_managers(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	pm = "dynamic";
	sample(3, 2, 12, 10, 0, now);
	is_int(pool.workers.capacity_source, CAP_UNKNOWN,
	    "dynamic, nothing configured: max_children unknown");
	is_str(pool.verdict.reply, "ready up 100%\n", "so 2 stuck of 3 "
	    "running lower nothing");
	ok(strstr(pool.verdict.reason, "max_children unknown") != NULL,
	    "and the reason says why (%s)", pool.verdict.reason);
	sample(3, 3, 12, 10, 0, now);
	is_int(pool.verdict.state, POOL_UP, "every running worker stuck, "
	    "capacity unknown: never down from stuck counts alone");

	pool.fpm.have = 1;
	pool.fpm.max_children = 10;
	strlcpy_safe(pool.fpm.source, "/etc/php/8.2/fpm/pool.d/www.conf:113",
	    sizeof(pool.fpm.source));
	sample(3, 2, 12, 10, 0, now);
	is_int(pool.workers.capacity_source, CAP_FPM_CONF,
	    "learned from php-fpm's configuration");
	is_int(pool.workers.max_children, 10, "max_children 10");
	is_str(pool.verdict.reply, "ready up 80%\n", "dynamic, 2 of 10 "
	    "stuck: 80%%");
	ok(strstr(pool.verdict.reason, "2/10 workers stuck") != NULL,
	    "reason: %s", pool.verdict.reason);
	pool.max_children = 8;
	sample(3, 2, 12, 10, 0, now);
	is_int(pool.workers.capacity_source, CAP_CONFIG,
	    "fpmprobe's max_children overrides php-fpm's");
	is_str(pool.verdict.reply, "ready up 75%\n", "2 of 8: 75%%");
	pool.max_children = 0;

	pm = "ondemand";
	sample(1, 1, 12, 10, 0, now);
	is_str(pool.verdict.reply, "ready up 90%\n", "ondemand, one slow "
	    "request of 10 workers: up 90%%, not down");
	sample(10, 10, 12, 10, 0, now);
	is_int(pool.verdict.state, POOL_DOWN, "ondemand, 10 of 10 stuck: "
	    "down");
	ok(strncmp(pool.verdict.reason, "10/10 workers stuck", 19) == 0,
	    "reason: %s", pool.verdict.reason);

	pm = "static";
	pool.fpm.have = 0;
	sample(4, 1, 12, 10, 0, now);
	is_int(pool.workers.capacity_source, CAP_STATUS_PAGE,
	    "static: the processes listed are the capacity");
	is_str(pool.verdict.reply, "ready up 75%\n", "1 of 4 stuck: 75%%");
}

/* Workers a client never finished sending a request to. */
static void
test_held(void)
{
	uint64_t	 now = 101 * SEC;
	size_t		 i;

	setup();
	sample(4, 4, 12, 10, 0, now);
	for (i = 0; i < 4; i++)
		pool.workers.status.workers[i].state = FPM_W_READING_HEADERS;
	strlcpy_safe(pool.workers.status.workers[0].wait.client,
	    "127.0.0.1:50123", sizeof(pool.workers.status.workers[0].wait.client));
	/* Re-judge the same sample, as a new one would be. */
	{
		struct fpm_status st = pool.workers.status;
		struct outcome o;

		memset(&pool.workers.status, 0, sizeof(pool.workers.status));
		memset(&o, 0, sizeof(o));
		o.result = PR_OK;
		o.sample = &st;
		policy_record(&status, &o, now);
	}
	is_int(pool.workers.held, 4, "4 workers held reading a request");
	is_int(pool.workers.stuck, 0, "none of them counted as working");
	is_int(pool.verdict.state, POOL_DOWN, "no worker can take a request: "
	    "down");
	is_str(pool.verdict.reason, "4/4 workers held >10s reading a request "
	    "from 127.0.0.1:50123", "the reason names the client");
}

/* --once: one result decides, and busy is not broken there either. */
static void
test_once(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	pool.once = 1;
	result(&app, PR_TIMEOUT, now);
	ok(!app.st.healthy, "--once: one failure decides");
	is_int(pool.verdict.state, POOL_DOWN, "a timeout with no sample: "
	    "down");
	sample(4, 4, 1, 10, 5, now);
	is_int(pool.verdict.state, POOL_DOWN, "one sample of a busy pool: "
	    "a black hole that just opened looks the same, down");
	sample(4, 4, 1, 10, 5, now + SEC);
	is_int(pool.verdict.state, POOL_DOWN, "sampled again after the "
	    "timeout, no request completed: down");
	sample(4, 4, 1, 20, 5, now + SEC);
	is_int(pool.verdict.state, POOL_UP, "sampled again, requests "
	    "completed meanwhile: saturated, up");
	ok(pool.verdict.saturated, "and reported saturated");
	sample(4, 4, 12, 10, 5, now);
	is_int(pool.verdict.state, POOL_DOWN, "every worker stuck: down");
	ok(strncmp(pool.verdict.reason, "4/4 workers stuck", 17) == 0,
	    "with the stuck reason (%s)", pool.verdict.reason);
}

static void
test_marks(void)
{
	setup();
	pool.mark = MARK_MAINT;
	pool.mark_reason = "deploy 4711";
	policy_update(&pool, 101 * SEC);
	is_str(pool.verdict.reply, "maint #deploy 4711\n", "operator maint");
	pool.admin_state = ADMIN_LEAVE;
	policy_update(&pool, 101 * SEC);
	is_str(pool.verdict.reply, "up 100%\n",
	    "admin_state leave: marks are reported, not sent");
	is_int(pool.verdict.state, POOL_MAINT, "but reported");
	pool.admin_state = ADMIN_SET;
	pool.mark = MARK_DRAIN;
	pool.mark_reason = NULL;
	policy_update(&pool, 101 * SEC);
	is_str(pool.verdict.reply, "drain #drain\n", "drain without reason");
}

/*
 * A status page that cannot be had (too large, unparsable) is never
 * silence: the reason says so while the pool is up, --once warns.
 */
static void
test_no_sample(void)
{
	struct outcome	 o;
	struct config	 conf;
	struct pool	*pools[1] = { &pool };

	setup();
	memset(&conf, 0, sizeof(conf));
	result(&app, PR_OK, 101 * SEC);
	sample(4, 0, 0, 10, 0, 101 * SEC);
	is_str(pool.verdict.reason, "", "a sample: no reason");
	memset(&o, 0, sizeof(o));
	o.result = PR_TOO_BIG;
	o.phase = PH_RESPONSE;
	o.detail = "(over 262144 bytes)";
	policy_record(&status, &o, 103 * SEC);
	ok(pool.workers.sample_failed, "the sample could not be had");
	is_str(pool.verdict.reply, "ready up 100%\n", "still up: the app answers");
	is_str(pool.verdict.reason, "no status sample: status: response too "
	    "large (over 262144 bytes)", "the reason says why");
	is_int(report_exit_code(&conf, pools, 1), 1, "--once: WARNING");
	sample(4, 0, 0, 12, 0, 105 * SEC);
	ok(!pool.workers.sample_failed && pool.verdict.reason[0] == '\0',
	    "the next sample clears it");
	is_int(report_exit_code(&conf, pools, 1), 0, "--once: OK again");

	/* The page may grow with the pool. */
	pool.max_children = 0;
	pool.workers.max_children = 0;
	is_int(sampler_response_max(&pool), FPM_STATUS_RESPONSE_MAX,
	    "max_children unknown: the hard cap");
	pool.max_children = 4;
	is_int(sampler_response_max(&pool), FCGI_RESPONSE_MAX,
	    "a small pool: what any response may take");
	pool.max_children = 1000;
	is_int(sampler_response_max(&pool), 1000 * FPM_STATUS_PER_WORKER,
	    "1000 processes: 1 KiB each");
	pool.max_children = 0;
	pool.workers.max_children = 20000;
	is_int(sampler_response_max(&pool), FPM_STATUS_RESPONSE_MAX,
	    "never more than the hard cap");
}

int
main(void)
{
	test_replies();
	test_health();
	test_workers();
	test_saturation();
	test_process_managers();
	test_held();
	test_once();
	test_marks();
	test_no_sample();
	fpm_status_free(&pool.workers.status);
	return tap_done();
}
