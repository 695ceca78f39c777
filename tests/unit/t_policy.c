/*
 * Unit tests of the policy: agent answers, weights, stuck workers, and
 * busy-is-not-broken.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"
#include "policy_fixture.h"

#define SEC	1000000ULL

static struct pool	 pool;
static struct check	 app;
static struct check	 status;

/* The process manager the next samples' status page names. */
static const char	*pm = "static";
/* What the next samples' running workers wait on, when set. */
static const char	*wait_peer;

/* A pool with one healthy fastcgi check and a status page. */
static void
setup(void)
{
	fixture_pool(&pool, &app, &status);
	pm = "static";
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
	o.latency_us = r == PR_TIMEOUT ? c->timing.timeout_ms * 1000ULL : 1500;
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
		if (wait_peer != NULL && i < running) {
			struct wait_info *wi = &st.workers[i].wait;

			wi->known = 1;
			strlcpy_safe(wi->syscall, "poll", sizeof(wi->syscall));
			strlcpy_safe(wi->peers[0], wait_peer,
			    sizeof(wi->peers[0]));
			strlcpy_safe(wi->peer_names[0], "PostgreSQL",
			    sizeof(wi->peer_names[0]));
			wi->npeers = 1;
		}
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
	agent_reply_format(out, sizeof(out), POOL_DRAIN, 63, "db move",
	    ADMIN_SET);
	is_str(out, "drain up 63% #db move\n", "drain of a healthy pool "
	    "carries up and its weight");
	agent_reply_format(out, sizeof(out), POOL_DRAIN, 0, "app: status 500",
	    ADMIN_SET);
	is_str(out, "drain down #app: status 500\n", "drain of a broken pool "
	    "carries down");
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

/* A timeout says at once where the busy workers wait. */
static void
test_busy_reason(void)
{
	uint64_t	 now = 101 * SEC;

	setup();
	wait_peer = "127.0.0.1:5432";
	result(&app, PR_TIMEOUT, now);
	result(&app, PR_TIMEOUT, now);
	sample(4, 4, 2, 10, 0, now);
	is_str(pool.verdict.reason, "app: timeout after 1000ms in response; "
	    "4/4 workers busy 2s in poll() on 127.0.0.1:5432 (PostgreSQL)",
	    "a timeout names where the busy workers wait, before stuck_after");
	ok(strlen(pool.verdict.reply) <= 128, "the answer stays under 128 "
	    "bytes (%zu)", strlen(pool.verdict.reply));
	sample(4, 4, 12, 10, 0, now);
	ok(strncmp(pool.verdict.reason, "4/4 workers stuck >10s, blocked in "
	    "poll() on 127.0.0.1:5432 (PostgreSQL)", 70) == 0,
	    "past stuck_after the stuck reason takes over (%s)",
	    pool.verdict.reason);
	wait_peer = NULL;
	sample(4, 1, 2, 10, 0, now);
	is_str(pool.verdict.reason, "app: timeout after 1000ms in response; "
	    "1/4 workers busy 2s", "one busy worker whose wait is unknown");
	sample(4, 0, 0, 10, 0, now);
	is_str(pool.verdict.reason, "app: timeout after 1000ms in response",
	    "no worker busy: the timeout alone");
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
	is_str(pool.verdict.reply, "drain up 100% #drain\n",
	    "drain without reason");
	app.st.healthy = 0;
	strlcpy_safe(app.st.reason, "app: status 500", sizeof(app.st.reason));
	policy_update(&pool, 101 * SEC);
	is_str(pool.verdict.reply, "drain down #app: status 500\n",
	    "a drained pool that breaks says down, so that HAProxy stops its "
	    "sticky sessions");
	is_int(pool.verdict.state, POOL_DRAIN, "and stays drained");
}

/* The bounded-blocking audit's decisions and its one line of text. */
static void
test_audit(void)
{
	struct audit_list	 l = { NULL, 0 }, fresh = { NULL, 0 };
	struct fpm_conf		 conf;
	char			 err[128], line[AUDIT_LINE_MAX];
	static const char	 pool_conf[] = "[www]\n"
	    "request_terminate_timeout = 0\n"
	    "php_admin_value[max_execution_time] = 20\n";
	static const char	 bounded_conf[] = "[www]\n"
	    "request_terminate_timeout = 30s\n"
	    "request_slowlog_timeout = 5s\n";

	audit_pg_setting(&l, "pgsql 127.0.0.1:5432", "statement_timeout", "0",
	    "ms", "default", 30);
	is_int((int)l.n, 1, "statement_timeout 0 is a finding");
	ok(l.n == 1 && l.f[0].warn, "a warning");
	audit_line(line, sizeof(line), &l.f[0]);
	is_str(line, "WARNING postgresql statement_timeout = 0 (pgsql "
	    "127.0.0.1:5432, pg_settings source default): unbounded: a hung "
	    "query holds its worker for ever; safe: statement_timeout below "
	    "the pool's request_terminate_timeout (30s), e.g. 15s",
	    "one line: layer, setting, value, source, why, safe");
	audit_clear(&l);
	audit_pg_setting(&l, "pg", "statement_timeout", "5000", "ms", "user",
	    30);
	is_int((int)l.n, 0, "5s below a 30s request_terminate_timeout is none");
	audit_pg_setting(&l, "pg", "statement_timeout", "30000", "ms", "user",
	    30);
	ok(l.n == 1 && l.f[0].warn && strstr(l.f[0].why, "longer") != NULL,
	    "30s against 30s is: php-fpm kills the worker first");
	ok(l.n == 1 && strcmp(l.f[0].value, "30000ms") == 0,
	    "the value carries its unit");
	audit_clear(&l);
	audit_pg_setting(&l, "pg", "statement_timeout", "60000", "ms", "user",
	    -1);
	is_int((int)l.n, 0, "without a known request_terminate_timeout, "
	    "a set statement_timeout is none");
	audit_pg_setting(&l, "pg", "lock_timeout", NULL, NULL, NULL, 30);
	ok(l.n == 1 && !l.f[0].warn && strcmp(l.f[0].value, "unreadable") == 0,
	    "a setting the role cannot read is said to be unreadable");
	audit_clear(&l);
	audit_pg_setting(&l, "pg", "idle_in_transaction_session_timeout",
	    "0", "ms", "default", 30);
	ok(l.n == 1 && l.f[0].warn, "idle_in_transaction_session_timeout 0 "
	    "is a warning");
	audit_clear(&l);

	audit_my_setting(&l, "mariadb", "my", "wait_timeout", "28800", 30);
	ok(l.n == 1 && l.f[0].warn, "wait_timeout 28800 is a warning");
	audit_my_setting(&l, "mariadb", "my", "wait_timeout", "300", 30);
	is_int((int)l.n, 1, "wait_timeout 300 is none");
	audit_my_setting(&l, "mariadb", "my", "max_statement_time",
	    "0.000000", 30);
	ok(l.n == 2 && l.f[1].warn, "max_statement_time 0 is a warning");
	audit_my_setting(&l, "mariadb", "my", "max_statement_time",
	    "5.000000", 30);
	is_int((int)l.n, 2, "max_statement_time 5 below 30s is none");
	audit_my_setting(&l, "mysql", "my", "max_execution_time", "40000", 30);
	ok(l.n == 3 && l.f[2].warn, "MySQL's max_execution_time is in ms: "
	    "40000 outlives 30s");
	audit_my_setting(&l, "mysql", "my", "max_execution_time", "20000", 30);
	is_int((int)l.n, 3, "and 20000 does not");
	audit_my_setting(&l, "mysql", "my", "max_statement_time", NULL, 30);
	ok(l.n == 4 && strcmp(l.f[3].value, "unreadable") == 0,
	    "a variable not reported is said to be unreadable");

	/* The list is replaced whole; the fresh one is left empty. */
	audit_add(&fresh, 0, "php", "x", "1", "-", "why", NULL);
	pool.once = 1;
	audit_replace(&l, &fresh, &pool);
	pool.once = 0;
	ok(l.n == 1 && fresh.n == 0 && fresh.f == NULL,
	    "a new audit replaces the old findings");
	audit_clear(&l);

	memset(&conf, 0, sizeof(conf));
	ok(fpm_conf_parse(&conf, "/etc/www.conf", pool_conf,
	    sizeof(pool_conf) - 1, err, sizeof(err)) == 0, "pool parsed");
	audit_fpm(&l, fpm_conf_pool(&conf, "www"), 0, 0, NULL, NULL, NULL);
	ok(l.n >= 1 && l.f[0].warn && strcmp(l.f[0].setting,
	    "request_terminate_timeout") == 0 && strcmp(l.f[0].source,
	    "/etc/www.conf:2") == 0, "request_terminate_timeout = 0, with "
	    "its file and line");
	ok(l.n == 3 && strcmp(l.f[1].setting, "request_slowlog_timeout") == 0 &&
	    strcmp(l.f[1].source, "default") == 0 && !l.f[1].warn,
	    "no request_slowlog_timeout: php-fpm's default, no slow log");
	ok(l.n == 3 && strcmp(l.f[2].setting,
	    "php_admin_value[max_execution_time]") == 0 &&
	    strstr(l.f[2].why, "does not bound a DB wait") != NULL,
	    "a max_execution_time override does not bound a DB wait");
	audit_clear(&l);
	audit_fpm(&l, fpm_conf_pool(&conf, "www"), 0, 0, NULL, "/etc/php.ini",
	    "/etc/php.ini:3: expected key = value");
	ok(l.n == 4 && strcmp(l.f[3].setting, "php.ini") == 0 &&
	    strcmp(l.f[3].value, "unreadable") == 0, "a php.ini that does not "
	    "parse is a finding of its own");
	audit_clear(&l);
	fpm_conf_free(&conf);
	ok(fpm_conf_parse(&conf, "/etc/www.conf", bounded_conf,
	    sizeof(bounded_conf) - 1, err, sizeof(err)) == 0, "pool parsed");
	audit_fpm(&l, fpm_conf_pool(&conf, "www"), 30, 0, NULL, NULL, NULL);
	is_int((int)l.n, 0, "request_terminate_timeout 30s and a slow log: "
	    "no finding");
	audit_fpm(&l, fpm_conf_pool(&conf, "www"), 30, 60000, NULL, NULL,
	    NULL);
	is_int((int)l.n, 0, "nor below HAProxy's timeout server 60s");
	audit_fpm(&l, fpm_conf_pool(&conf, "www"), 30, 30000, NULL, NULL,
	    NULL);
	ok(l.n == 1 && l.f[0].warn && strstr(l.f[0].why, "timeout server") !=
	    NULL && strcmp(l.f[0].source, "/etc/www.conf:2") == 0,
	    "30s against HAProxy's timeout server 30s is a finding");
	audit_clear(&l);
	fpm_conf_free(&conf);
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

/* A timeout of app that fpmprobe was late for, as probe_done() hands it. */
static void
late_timeout(uint64_t start_delay_ms, uint64_t overrun_ms, int pressure,
    const char *detail, uint64_t now)
{
	struct outcome	 o;

	memset(&o, 0, sizeof(o));
	o.result = PR_TIMEOUT;
	o.phase = PH_RESPONSE;
	o.detail = detail;
	o.latency_us = 1000 * 1000 + overrun_ms * 1000;
	o.start_delay_us = start_delay_ms * 1000;
	o.overrun_us = overrun_ms * 1000;
	o.cpu_pressure_pct = pressure;
	policy_record(&app, &o, now);
}

/*
 * A timeout fpmprobe itself was late for: the reason says so, and one
 * whose deadline passed while fpmprobe was stalled does not count.
 */
static void
test_self_late(void)
{
	uint64_t	 now = 101 * SEC;
	static const char long_detail[] = "still running 1200ms past its "
	    "deadline, and a detail long enough to push the rest of the "
	    "reason past what HAProxy shows";

	setup();
	late_timeout(0, 1200, 64, "", now);
	is_str(app.st.reason, "app: timeout after 1000ms in response; "
	    "fpmprobe itself ran 1200ms late (host cpu pressure 64%)",
	    "a stalled deadline: the reason names fpmprobe, not the pool");
	is_int(app.st.self_late, LATE_STALLED, "stalled");
	late_timeout(0, 1500, 64, "", now + 2 * SEC);
	late_timeout(0, 1500, 64, "", now + 4 * SEC);
	ok(app.st.healthy && app.st.fail_run == 0, "three in a row do not "
	    "count toward fall");
	is_int(pool.verdict.state, POOL_UP, "the pool stays up");
	ok(strstr(pool.verdict.reason, "fpmprobe itself ran 1500ms late") !=
	    NULL, "its reason says why the last probe did not count: %s",
	    pool.verdict.reason);
	is_int(app.st.self_late_total, 3, "counted as self-late");
	is_int(app.st.failures, 3, "still failures in the counters");
	result(&app, PR_OK, now + 6 * SEC);
	is_str(pool.verdict.reason, "", "an ok probe clears the reason");

	setup();
	late_timeout(400, 0, -1, "", now);
	is_int(app.st.self_late, LATE_START, "a late start of 40%% of the "
	    "timeout");
	is_str(app.st.reason, "app: timeout after 1000ms in response; "
	    "fpmprobe itself ran 400ms late", "no pressure known: none said");
	late_timeout(400, 0, -1, "", now + 2 * SEC);
	ok(!app.st.healthy, "a late start still counts: the probe had its "
	    "whole timeout");
	is_int(pool.verdict.state, POOL_DOWN, "down after fall");
	ok(strstr(pool.verdict.reason, "fpmprobe itself ran 400ms late") !=
	    NULL, "and the reason says the host starves fpmprobe");

	setup();
	late_timeout(100, 100, 10, "", now);
	is_int(app.st.self_late, LATE_NO, "10%% late is not fpmprobe's");
	is_str(app.st.reason, "app: timeout after 1000ms in response",
	    "the plain timeout reason");
	is_int(app.st.fail_run, 1, "and it counts");

	setup();
	app.timing.timeout_ms = 40;
	late_timeout(0, 15, 0, "", now);
	is_int(app.st.self_late, LATE_NO, "under 20ms is never fpmprobe's, "
	    "whatever the timeout");

	setup();
	late_timeout(0, 1200, 99, long_detail, now);
	ok(strlen(app.st.reason) <= REASON_MAX, "a long reason fits (%zu)",
	    strlen(app.st.reason));
	ok(strstr(app.st.reason, "; fpmprobe itself ran 1200ms late (host "
	    "cpu pressure 99%)") != NULL, "and keeps what exonerates the "
	    "pool: %s", app.st.reason);

	setup();
	{
		struct outcome	 o;

		memset(&o, 0, sizeof(o));
		o.result = PR_CONNECT_REFUSED;
		o.detail = "";
		o.start_delay_us = 5 * SEC;
		o.overrun_us = 5 * SEC;
		policy_record(&app, &o, now);
		is_int(app.st.self_late, LATE_NO, "a refused connection is "
		    "the backend's, however late");
	}

	setup();
	app.due_us = 101 * SEC;		/* its timer overdue since then */
	policy_update(&pool, 100 * SEC + 6 * SEC + 1);
	is_int(pool.verdict.state, POOL_UP, "no result for three intervals "
	    "while fpmprobe's own timer is overdue: not stale");
	policy_update(&pool, 100 * SEC + 9 * SEC);
	is_int(pool.verdict.state, POOL_UP, "still not, however long");
	app.due_us = 107 * SEC;		/* it fired 1.5s late at 106s */
	app.st.have_delay = 1;
	app.st.tick_us = 106 * SEC;
	app.st.delay_us = 1500000;
	policy_update(&pool, 100 * SEC + 6 * SEC + 1);
	is_int(pool.verdict.state, POOL_UP, "nor when it fired late and its "
	    "probe is still running");
	app.st.delay_us = 1000;		/* on time, and still no result */
	policy_update(&pool, 100 * SEC + 6 * SEC + SEC / 2);
	is_int(pool.verdict.state, POOL_DOWN, "stale when the timer ran on "
	    "time and still no result came");

	setup();
	pool.once = 1;
	late_timeout(0, 1200, 5, "", now);
	is_int(pool.verdict.state, POOL_DOWN, "--once, with no other probe "
	    "to go by, reports a stalled deadline as the timeout it is");
	ok(strstr(pool.verdict.reason, "fpmprobe itself ran 1200ms late") !=
	    NULL, "and says that fpmprobe ran late");
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
	test_busy_reason();
	test_once();
	test_marks();
	test_audit();
	test_no_sample();
	test_self_late();
	fpm_status_free(&pool.workers.status);
	return tap_done();
}
