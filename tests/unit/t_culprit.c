/*
 * Unit tests of the database culprit's pure parts: the reason's short
 * form within its bound, PostgreSQL's id arrays, the lookup's address
 * lists, matching a session to a worker, and hostile values cut to
 * their fields.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"
#include "policy_fixture.h"

#define SEC	1000000ULL

static struct pool	 pool;
static struct check	 app, status, db;

/* Every tier of the short form, each within what it is given. */
static void
test_reason(void)
{
	char	 out[REASON_MAX + 1];
	size_t	 room;

	ok(culprit_reason_format(out, sizeof(out), "4/4 workers wait on",
	    "PostgreSQL", "lock", "127.0.0.1:5432", "pid", 4711,
	    "idle in transaction", 12), "the whole form fits");
	is_str(out, "4/4 workers wait on a PostgreSQL lock at 127.0.0.1:5432 "
	    "held by pid 4711 (idle in transaction 12s)", "the whole form");

	/* After "app: timeout 1000ms; " (21 bytes). */
	room = sizeof(out) - 21;
	culprit_reason_format(out, room, "4/4 workers wait on", "PostgreSQL",
	    "lock", "127.0.0.1:5432", "pid", 4194303, "idle in transaction",
	    734);
	is_str(out, "4/4 workers wait on a PostgreSQL lock at :5432 held by "
	    "pid 4194303 (idle in transaction 12m)", "a long pid: the host goes");
	ok(strlen(out) < room, "within the room left (%zu < %zu)", strlen(out),
	    room);

	culprit_reason_format(out, 70, "4/4 workers wait on", "PostgreSQL",
	    "lock", "127.0.0.1:5432", "pid", 4711, "idle in transaction", 12);
	is_str(out, "4/4 workers wait on a PostgreSQL lock at :5432 held by "
	    "pid 4711", "less room: the state goes");

	culprit_reason_format(out, 70, "4/4 workers wait on", "MariaDB",
	    "row lock", "127.0.0.1:3306", "thread", 42, "", -1);
	is_str(out, "4/4 workers wait on a MariaDB row lock at :3306 held by "
	    "thread 42", "no state known");

	culprit_reason_format(out, sizeof(out), "4/4 workers wait on",
	    "PostgreSQL", "lock", "unix:/run/postgresql/.s.PGSQL.5432", "pid",
	    -1, "", -1);
	is_str(out, "4/4 workers wait on a PostgreSQL lock at "
	    "unix:/run/postgresql/.s.PGSQL.5432 held by a session not visible",
	    "a holder not known, a unix socket");

	culprit_reason_format(out, 12, "4/4 workers wait on", "PostgreSQL",
	    "lock", "127.0.0.1:5432", "pid", 4711, "active", 3);
	is_int(strlen(out), 11, "nothing fits: cut to the buffer");
}

/* pg_blocking_pids()'s text. */
static void
test_ids(void)
{
	int64_t	 ids[CULPRIT_BLOCKED_BY_MAX];

	is_int(culprit_ids_parse("{4711}", ids, 4), 1, "one id");
	is_int(ids[0], 4711, "its value");
	is_int(culprit_ids_parse("{1,2,3,4,5,6}", ids, 4), 4, "at most max");
	is_int(ids[3], 4, "in order");
	is_int(culprit_ids_parse("{}", ids, 4), 0, "none");
	is_int(culprit_ids_parse(NULL, ids, 4), 0, "NULL");
	is_int(culprit_ids_parse("{12,x}", ids, 4), 1, "garbage stops it");
	is_int(culprit_ids_parse("4711", ids, 4), 0, "not an array");
	is_int(culprit_ids_parse("{-5}", ids, 4), 0, "no negative id");
}

/* The WHERE lists, and finding a worker by the session's client. */
static void
test_match(void)
{
	struct db_culprit	 cu;
	struct buf		 b = { NULL, 0, 0 };

	memset(&cu, 0, sizeof(cu));
	strlcpy_safe(cu.w[0].local, "127.0.0.1:40112", sizeof(cu.w[0].local));
	strlcpy_safe(cu.w[1].local, "[::1]:40113", sizeof(cu.w[1].local));
	strlcpy_safe(cu.w[2].local, "1.2.3.4:5'; DROP", sizeof(cu.w[2].local));
	cu.n = 3;
	culprit_sql_list(&b, &cu, 0);
	is_str((char *)b.data, "40112, 40113", "ports; a hostile entry left out");
	buf_reset(&b);
	culprit_sql_list(&b, &cu, 1);
	is_str((char *)b.data, "'127.0.0.1:40112', '[::1]:40113'",
	    "quoted host:port");
	buf_reset(&b);
	cu.n = 0;
	culprit_sql_list(&b, &cu, 0);
	is_str((char *)b.data, "0", "no worker: a list that matches none");
	buf_free(&b);
	cu.n = 3;
	ok(culprit_worker(&cu, "127.0.0.1", 40112) == &cu.w[0],
	    "PostgreSQL's client_addr and client_port");
	ok(culprit_worker(&cu, "::1", 40113) == &cu.w[1], "IPv6 in brackets");
	ok(culprit_worker(&cu, "127.0.0.1:40112", -1) == &cu.w[0],
	    "PROCESSLIST's HOST");
	ok(culprit_worker(&cu, "127.0.0.1", 40114) == NULL, "another port");
	ok(culprit_worker(&cu, NULL, 1) == NULL, "NULL");
}

/* A hostile application_name: cut, printable, NULL as empty. */
static void
test_text(void)
{
	char	 out[CULPRIT_TEXT_MAX], big[4096];

	memset(big, 'A', sizeof(big));
	big[10] = '\n';
	big[11] = (char)0xff;
	culprit_text(out, sizeof(out), big, sizeof(big));
	ok(strlen(out) < sizeof(out), "cut to its field");
	ok(strchr(out, '\n') == NULL && strchr(out, (char)0xff) == NULL,
	    "control and high bytes replaced");
	ok(strstr(out, "...") != NULL, "cut visibly");
	culprit_text(out, sizeof(out), "nightly-r\xc3\xa9port \xe5\x90\x8d\x01", 20);
	is_str(out, "nightly-r\xc3\xa9port \xe5\x90\x8d",
	    "UTF-8 is kept, a control byte is not");
	culprit_text(out, sizeof(out), NULL, 0);
	is_str(out, "", "NULL is empty");
}

/*
 * The pool's 4 workers busy for dur seconds in poll() on PostgreSQL, each
 * from its own local port, as the sampler hands them to the policy.
 */
static void
busy_sample(unsigned int dur, uint64_t now)
{
	struct fpm_status	 st;
	struct outcome		 o;
	unsigned int		 i;

	memset(&st, 0, sizeof(st));
	strlcpy_safe(st.pm, "static", sizeof(st.pm));
	st.workers = calloc(4, sizeof(*st.workers));
	st.nworkers = st.total = st.active = 4;
	for (i = 0; i < 4; i++) {
		struct fpm_worker *w = &st.workers[i];

		w->pid = (pid_t)(1000 + i);
		w->state = FPM_W_RUNNING;
		w->request_duration_us = dur * SEC;
		w->requests = 7;
		w->wait.known = 1;
		strlcpy_safe(w->wait.syscall, "poll", sizeof(w->wait.syscall));
		strlcpy_safe(w->wait.peers[0], "127.0.0.1:5432",
		    sizeof(w->wait.peers[0]));
		strlcpy_safe(w->wait.peer_names[0], "PostgreSQL",
		    sizeof(w->wait.peer_names[0]));
		snprintf(w->wait.locals[0], sizeof(w->wait.locals[0]),
		    "127.0.0.1:%u", 40000 + i);
		w->wait.npeers = 1;
	}
	memset(&o, 0, sizeof(o));
	o.result = PR_OK;
	o.sample = &st;
	policy_record(&status, &o, now);
}

/* What a lookup of the pgsql check found: all 4 behind pid 4711. */
static void
lookup_found(struct db_keep *keep)
{
	struct db_culprit	*cu = &keep->culprit;
	size_t			 i;

	memset(cu, 0, sizeof(*cu));
	strlcpy_safe(cu->product, "PostgreSQL", sizeof(cu->product));
	strlcpy_safe(cu->server, "127.0.0.1:5432", sizeof(cu->server));
	cu->n = 4;
	for (i = 0; i < 4; i++) {
		struct db_worker_session *e = &cu->w[i];

		e->worker = (pid_t)(1000 + i);
		e->requests = 7;
		snprintf(e->local, sizeof(e->local), "127.0.0.1:%zu",
		    40000 + i);
		e->found = 1;
		e->session.id = 5000 + (int64_t)i;
		e->blocked_by[0] = 4711;
		e->nblocked_by = 1;
		e->blocker.id = 4711;
		strlcpy_safe(e->blocker.state, "idle in transaction",
		    sizeof(e->blocker.state));
		e->blocker.xact_age_s = 12;
	}
}

/* The policy's reasons with what a lookup found, and without it. */
static void
test_policy(void)
{
	struct db_keep	*keep;
	struct db_culprit *cu;
	struct outcome	 o;
	uint64_t	 now = 101 * SEC;
	int		 i;

	fixture_pool(&pool, &app, &status);
	pool.max_children = 4;
	memset(&db, 0, sizeof(db));
	db.name = "db";
	db.ops = &check_pgsql_ops;
	db.pool = &pool;
	db.timing = app.timing;
	db.st.healthy = db.st.have_result = 1;
	db.st.done_us = 100 * SEC;
	keep = calloc(1, sizeof(*keep));
	db.keep = keep;
	TAILQ_INSERT_TAIL(&pool.checks, &db, entry);
	for (i = 0; i < 2; i++) {
		memset(&o, 0, sizeof(o));
		o.result = PR_TIMEOUT;
		o.phase = PH_RESPONSE;
		o.detail = "";
		policy_record(&app, &o, now);
	}
	busy_sample(2, now);
	is_str(pool.verdict.reason, "app: timeout after 1000ms in response; "
	    "4/4 workers busy 2s in poll() on 127.0.0.1:5432 (PostgreSQL)",
	    "no lookup yet: where the workers wait");
	lookup_found(keep);
	policy_update(&pool, now);
	is_str(pool.verdict.reason, "app: timeout 1000ms; 4/4 workers wait "
	    "on a PostgreSQL lock at 127.0.0.1:5432 held by pid 4711 (idle in "
	    "transaction 12s)", "the lookup's short form");
	ok(pool.verdict.replylen <= 128, "the answer within 128 bytes (%zu)",
	    pool.verdict.replylen);
	keep->culprit.n = 2;
	keep->culprit.waiting = 4;
	policy_update(&pool, now);
	is_str(pool.verdict.reason, "app: timeout 1000ms; 4/4 workers wait "
	    "on a PostgreSQL lock at 127.0.0.1:5432 held by pid 4711 (idle in "
	    "transaction 12s)", "2 of 4 looked up, both behind pid 4711: "
	    "the other 2 on that server count too");
	keep->culprit.w[1].blocked_by[0] = keep->culprit.w[1].blocker.id = 4712;
	policy_update(&pool, now);
	is_str(pool.verdict.reason, "app: timeout 1000ms; 1/4 workers wait "
	    "on a PostgreSQL lock at 127.0.0.1:5432 held by pid 4711 (idle in "
	    "transaction 12s)", "looked up behind two holders: only those seen");
	lookup_found(keep);
	keep->culprit.waiting = 4;
	policy_update(&pool, now);
	keep->culprit.w[0].requests = 8;
	policy_update(&pool, now);
	is_str(pool.verdict.reason, "app: timeout 1000ms; 3/4 workers wait "
	    "on a PostgreSQL lock at 127.0.0.1:5432 held by pid 4711 (idle in "
	    "transaction 12s)", "a worker in another request no longer counts");
	keep->culprit.w[0].requests = 7;
	busy_sample(12, now);
	is_str(pool.verdict.reason, "4/4 workers stuck >10s on a PostgreSQL "
	    "lock at 127.0.0.1:5432 held by pid 4711 (idle in transaction 12s)",
	    "past stuck_after: the stuck form");
	keep->culprit.w[0].local[10] = '9';
	keep->culprit.w[1].local[10] = '9';
	keep->culprit.w[2].local[10] = '9';
	keep->culprit.w[3].local[10] = '9';
	policy_update(&pool, now);
	is_str(pool.verdict.reason, "4/4 workers stuck >10s, blocked in poll() "
	    "on 127.0.0.1:5432 (PostgreSQL)", "other sockets: not theirs");

	/* When a lookup begins: once a sample, with time left. */
	memset(&keep->culprit, 0, sizeof(keep->culprit));
	ok(culprit_wanted(&db, "127.0.0.1:5432"), "a new sample: wanted");
	ok(!culprit_wanted(&db, "127.0.0.1:3306"), "not for another server");
	ok(culprit_begin(&db, "127.0.0.1:5432", "PostgreSQL", now,
	    now + 10000) == NULL, "10ms left: not begun");
	is_str(keep->culprit.error, "not looked up: 10ms left of the check's "
	    "1000ms deadline", "and the report says why");
	ok(!culprit_wanted(&db, "127.0.0.1:5432"), "once a sample, even so");
	pool.workers.sampled_us++;
	cu = culprit_begin(&db, "127.0.0.1:5432", "PostgreSQL", now,
	    now + 900000);
	ok(cu != NULL && cu->n == 4, "the next sample: 4 workers to look for");
	is_str(cu != NULL ? cu->w[3].local : NULL, "127.0.0.1:40003",
	    "by their sockets' local ends");
	if (cu != NULL)
		culprit_end(&db, cu, NULL, now + 2000);
	is_int(keep->culprit.took_us, 2000, "the check keeps the lookup");
	ok(!culprit_wanted(&db, "127.0.0.1:5432"), "and wants none again");
	fpm_status_free(&pool.workers.status);
	free(keep);
}

int
main(void)
{
	test_reason();
	test_ids();
	test_match();
	test_text();
	test_policy();
	return tap_done();
}
