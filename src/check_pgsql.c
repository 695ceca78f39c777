/*
 * PostgreSQL checks: connect, authenticate and run the check's query with
 * libpq's non-blocking API, every wait bounded by the probe's deadline,
 * then, now and then, read the server's connection limit and use for the
 * capacity audit.
 *
 * PQconnectStartParams() resolves a host name synchronously, before the
 * event loop can bound it: give the server as an IP address (host=
 * 127.0.0.1, or hostaddr= next to host=) to keep name resolution out of
 * the probe.  SCRAM's key derivation also runs inside PQconnectPoll()
 * (a few milliseconds of CPU per connection), one more reason to keep
 * the connection between probes, as checks do unless told otherwise.
 *
 * A login that outlasts the probe's deadline fails the probe but is not
 * abandoned: it goes on in the background, for up to
 * PG_BACKGROUND_CONNECT_MS from its start, and the next probe takes it
 * over.  Abandoning it would make a slow server (or one busy with the
 * logins of a hundred checks starting together) fork a backend and
 * derive a SCRAM key every interval for nothing, and never catch up.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_PGSQL
#include <libpq-fe.h>
#endif

#include "fpmprobe.h"

#define PG(field)	offsetof(struct pg_conf, field)


static const struct cfg_key pg_keys[] = {
	{ .name = "conninfo", .kind = CFG_STRING, .offset = PG(conninfo),
	  .min = 1, .flags = CFG_REQUIRED, .what = "a connection string" },
	{ .name = "db_conf", .kind = CFG_INCLUDE, .offset = PG(db),
	  .table = db_keys },
	{ .name = NULL }
};

#ifdef HAVE_PGSQL
#define PG_QUOTE_MAX		32	/* of a value quoted in a reason */
#define PG_MESSAGE_MAX		96	/* of a server message in a reason */
#define PG_BACKGROUND_CONNECT_MS 10000	/* a login may go on that long */

/*
 * The audit reads both numbers in one statement.  Only client backends
 * take max_connections slots; the server's own processes (checkpointer,
 * walwriter...) are left out of the count.
 */
#define PG_AUDIT_SQL \
	"SELECT current_setting('max_connections'), count(*) " \
	"FROM pg_stat_activity WHERE backend_type = 'client backend'; " \
	"SELECT name, setting, unit, source FROM pg_settings WHERE name IN (" \
	PG_AUDIT_SETTINGS ")"
/*
 * Then the timeouts the bounded-blocking audit reads, as the check's role
 * and database get them; pg_settings leaves out what a role may not see.
 */
#define PG_AUDIT_SETTINGS \
	"'statement_timeout', 'lock_timeout', " \
	"'idle_in_transaction_session_timeout', 'idle_session_timeout', " \
	"'tcp_keepalives_idle', 'max_connections', " \
	"'superuser_reserved_connections'"

/*
 * The database culprit's lookup (culprit.c): whether the user may see
 * other users' sessions, then the workers' sessions, found by the local
 * ports of their sockets, and the session that blocks each, the one of
 * its blockers that waits the least itself: the root of a queue.
 */
#define PG_CULPRIT_SQL \
	"SELECT pg_has_role('pg_read_all_stats', 'USAGE'); " \
	"SELECT host(w.client_addr), w.client_port, w.pid, w.usename, " \
	"w.state, w.wait_event_type, w.wait_event, left(w.query, 100), " \
	"pg_blocking_pids(w.pid)::text, (SELECT l.relation::regclass::text " \
	"FROM pg_locks l WHERE l.pid = w.pid AND NOT l.granted LIMIT 1), " \
	"b.pid, b.usename, host(b.client_addr), b.client_port, " \
	"b.application_name, b.state, " \
	"extract(epoch FROM now() - b.xact_start)::bigint, left(b.query, 100) " \
	"FROM pg_stat_activity w LEFT JOIN pg_stat_activity b " \
	"ON b.pid = (SELECT x FROM unnest(pg_blocking_pids(w.pid)) x " \
	"ORDER BY cardinality(pg_blocking_pids(x)), x LIMIT 1) " \
	"WHERE w.client_port IN ("
#define PG_CULPRIT_COLUMNS	18
#define PG_HIDDEN		"<insufficient privilege>"

/* What a check keeps between probes. */
struct pg_keep {
	struct db_keep	 db;		/* first: db.c's */
	PGconn		*conn;		/* idle between probes, or NULL */
	struct event	*ev;		/* a login going on between probes */
	struct event_base *base;
	short		 want;		/* what that login waits for */
	uint64_t	 connect_start_us;
};

enum pg_state {
	PGS_CONNECT = 0,
	PGS_QUERY,			/* the check's query */
	PGS_AUDIT,			/* the capacity audit */
	PGS_CULPRIT			/* the workers' sessions */
};

/* What the query's results said. */
struct pg_answer {
	int		 answered;	/* a result other than an error */
	int		 error;
	char		 errmsg[PG_MESSAGE_MAX];	/* of the first error */
	int		 have_rows;	/* a result counted rows */
	long		 rows;
	int		 have_first;	/* first column of the first row */
	int		 first_null;
	int		 first_match;
	char		 first[PG_QUOTE_MAX + 4];
	int		 copy;		/* the query started a COPY */
};

/* Per-probe state. */
struct pg_probe {
	struct pg_keep	*keep;
	enum pg_state	 state;
	int		 reused;	/* runs on the kept connection */
	int		 keep_ok;	/* the connection is idle: keep it */
	uint64_t	 query_start;

	struct pg_answer ans;

	/* The audit's numbers. */
	int64_t		 max_connections;
	int64_t		 connections;
	int		 audit_results;	/* results of the audit seen */
	int		 settings_read;	/* pg_settings answered */
	struct audit_list audit;	/* what the settings say */

	struct db_culprit *culprit;	/* the lookup under way */
	int		 culprit_results;
};

static void	pg_start(struct probe *);
static void	pg_abort(struct probe *);
static void	pg_free(struct check *);
static void	pg_connect_begin(struct probe *);
static void	pg_connect_poll(int, short, void *);
static void	pg_connect_wait(struct probe *, short);
static void	pg_connect_detach(struct probe *);
static void	pg_background_poll(int, short, void *);
static void	pg_background_arm(struct check *, struct pg_keep *);
static void	pg_connect_failed(struct probe *);
static void	pg_send(struct probe *, const char *);
static void	pg_flush(int, short, void *);
static void	pg_read(int, short, void *);
static void	pg_result(struct probe *, PGresult *);
static void	pg_query_done(struct probe *);
static void	pg_audit_done(struct probe *);
static void	pg_lost(struct probe *, const char *);
static void	pg_timeout(struct probe *);
static void	pg_ok(struct probe *);
static void	pg_fail(struct probe *, enum probe_result, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	pg_close_conn(struct probe *);
static enum probe_phase pg_phase(PGconn *);
static void	pg_notice(void *, const char *);
static const char *pg_sqlstate_find(const char *, char *);
static void	pg_first_line(char *, size_t, const char *);
static void	pg_target(const struct check *, char *, size_t);
static void	pg_settings_take(struct probe *, PGresult *);
static void	pg_culprit(struct probe *);
static void	pg_culprit_take(struct probe *, PGresult *);
static void	pg_culprit_row(struct db_culprit *, PGresult *, int);
static void	pg_culprit_done(struct probe *, const char *);
static void	pg_value(char *, size_t, PGresult *, int, int);
#endif

const struct check_ops check_pgsql_ops = {
	.name = "pgsql",
	.keys = pg_keys,
	.conf_size = sizeof(struct pg_conf),
#ifdef HAVE_PGSQL
	.start = pg_start,
	.abort = pg_abort,
	.free = pg_free,
	.report = db_report,
	.target = pg_target,
#endif
};

#ifdef HAVE_PGSQL

/* Begin a probe: on the kept connection when there is one, else connect. */
static void
pg_start(struct probe *p)
{
	struct check		*c = p->check;
	const struct pg_conf	*pc = c->conf;
	struct pg_keep		*keep = db_keep(c, sizeof(*keep));
	struct pg_probe		*ps;

	keep->base = p->base;
	ps = xcalloc(1, sizeof(*ps));
	ps->keep = keep;
	ps->max_connections = -1;
	ps->connections = -1;
	p->ctx = ps;

	if (keep->ev != NULL) {
		/* A login went on in the background: take it over. */
		event_free(keep->ev);
		keep->ev = NULL;
		ps->state = PGS_CONNECT;
		pg_connect_wait(p, keep->want);
		return;
	}
	if (keep->conn != NULL && db_reuse(&pc->db, 1) &&
	    PQstatus(keep->conn) == CONNECTION_OK &&
	    PQtransactionStatus(keep->conn) == PQTRANS_IDLE) {
		ps->reused = 1;
		pg_send(p, pc->db.sql);
		return;
	}
	if (keep->conn != NULL)
		pg_close_conn(p);
	pg_connect_begin(p);
}

/*
 * Start a connection.  The password file is read now, so that a new
 * password is used without a reload; libpq keeps its own copy.
 */
static void
pg_connect_begin(struct probe *p)
{
	const struct pg_conf	*pc = p->check->conf;
	struct pg_probe		*ps = p->ctx;
	const char		*keys[4], *values[4];
	char			*password = NULL, err[128];
	size_t			 n = 0;
	PGconn			*conn;

	ps->state = PGS_CONNECT;
	p->phase = PH_CONNECT;
	if (pc->db.password_file != NULL &&
	    password_read(pc->db.password_file, &password, err,
	    sizeof(err)) == -1) {
		pg_fail(p, PR_DB_ERROR, "password_file %s: %s",
		    pc->db.password_file, err);
		return;
	}
	/* Later entries override what the conninfo says. */
	keys[n] = "dbname";
	values[n++] = pc->conninfo;
	keys[n] = "fallback_application_name";
	values[n++] = "fpmprobe";
	if (password != NULL) {
		keys[n] = "password";
		values[n++] = password;
	}
	keys[n] = NULL;
	values[n] = NULL;
	conn = PQconnectStartParams(keys, values, 1);
	if (password != NULL) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (conn == NULL)
		fatalx("PQconnectStartParams: out of memory");
	ps->keep->conn = conn;
	ps->keep->connect_start_us = now_us();
	/* Server errors then carry their SQLSTATE, which is parsed. */
	PQsetErrorVerbosity(conn, PQERRORS_VERBOSE);
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	if (PQstatus(conn) == CONNECTION_BAD) {
		pg_connect_failed(p);
		return;
	}
	/* Never block, not even in PQfinish()'s goodbye. */
	if (PQsetnonblocking(conn, 1) == -1) {
		pg_connect_failed(p);
		return;
	}
	/* libpq's protocol: start as if PQconnectPoll() wanted to write. */
	pg_connect_wait(p, EV_WRITE);
}

/* Wait until the login's socket is ready for WHAT. */
static void
pg_connect_wait(struct probe *p, short what)
{
	struct pg_probe	*ps = p->ctx;

	ps->keep->want = what;
	p->phase = pg_phase(ps->keep->conn);
	p->fd = PQsocket(ps->keep->conn);
	probe_again(p, what, pg_connect_poll);
}

/* Drive the connection (TCP, TLS, startup, authentication) a step. */
static void
pg_connect_poll(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	struct pg_probe	*ps = p->ctx;
	PGconn		*conn = ps->keep->conn;

	if (ev & EV_TIMEOUT) {
		p->phase = pg_phase(conn);
		pg_timeout(p);
		return;
	}
	switch (PQconnectPoll(conn)) {
	case PGRES_POLLING_READING:
		pg_connect_wait(p, EV_READ);
		return;
	case PGRES_POLLING_WRITING:
		pg_connect_wait(p, EV_WRITE);
		return;
	case PGRES_POLLING_OK:
		p->connect_us = now_us() - p->start_us;
		culprit_peer_text(PQsocket(conn), ps->keep->db.server,
		    sizeof(ps->keep->db.server));
		pg_send(p, ((const struct pg_conf *)p->check->conf)->db.sql);
		return;
	default:
		p->phase = pg_phase(conn);
		pg_connect_failed(p);
		return;
	}
}

/*
 * The probe ends while its login is under way: let the login go on in
 * the background, for the next probe.
 */
static void
pg_connect_detach(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;

	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	p->fd = -1;		/* libpq's socket */
	pg_background_arm(p->check, ps->keep);
}

/* Wait, between probes, for what the login wants, until its limit. */
static void
pg_background_arm(struct check *c, struct pg_keep *keep)
{
	event_again(&keep->ev, keep->base, PQsocket(keep->conn), keep->want,
	    pg_background_poll, c, keep->connect_start_us +
	    PG_BACKGROUND_CONNECT_MS * 1000ULL);
}

/* Drive a login between probes; give it up at its limit or on error. */
static void
pg_background_poll(int fd, short ev, void *arg)
{
	struct check	*c = arg;
	struct pg_keep	*keep = c->keep;

	if (!(ev & EV_TIMEOUT)) {
		switch (PQconnectPoll(keep->conn)) {
		case PGRES_POLLING_READING:
			keep->want = EV_READ;
			pg_background_arm(c, keep);
			return;
		case PGRES_POLLING_WRITING:
			keep->want = EV_WRITE;
			pg_background_arm(c, keep);
			return;
		case PGRES_POLLING_OK:
			/* Idle and ready: the next probe reuses it. */
			culprit_peer_text(PQsocket(keep->conn), keep->db.server,
			    sizeof(keep->db.server));
			event_free(keep->ev);
			keep->ev = NULL;
			return;
		default:
			break;
		}
	}
	event_free(keep->ev);
	keep->ev = NULL;
	PQfinish(keep->conn);
	keep->conn = NULL;
}

/* Where a connection in progress is: TCP connect, or the rest. */
static enum probe_phase
pg_phase(PGconn *conn)
{
	switch (PQstatus(conn)) {
	case CONNECTION_STARTED:
	case CONNECTION_NEEDED:
		return PH_CONNECT;
	default:
		return PH_AUTH;
	}
}

/*
 * A connection failed.  libpq keeps no result for it, but with verbose
 * errors the server's message reads "FATAL:  28P01: password ...", so
 * the SQLSTATE is found in the text; failures on our side have none.
 */
static void
pg_connect_failed(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;
	PGconn		*conn = ps->keep->conn;
	const char	*msg = PQerrorMessage(conn), *text, *host, *port;
	char		 state[6], line[PG_MESSAGE_MAX];

	if ((text = pg_sqlstate_find(msg, state)) != NULL) {
		pg_first_line(line, sizeof(line), text);
		if (strcmp(state, "28P01") == 0 || strcmp(state, "28000") == 0)
			pg_fail(p, PR_DB_AUTH, "SQLSTATE %s: %s", state, line);
		else if (strcmp(state, "3D000") == 0)
			pg_fail(p, PR_DB_UNKNOWN_DB, "SQLSTATE %s: %s", state,
			    line);
		else if (strcmp(state, "53300") == 0)
			pg_fail(p, PR_DB_TOO_MANY, "SQLSTATE %s: %s", state,
			    line);
		else
			pg_fail(p, PR_DB_ERROR, "SQLSTATE %s: %s", state, line);
		return;
	}
	/* "connection to server at ... failed: " says nothing new. */
	if ((text = strstr(msg, " failed: ")) != NULL)
		text += strlen(" failed: ");
	else
		text = msg;
	pg_first_line(line, sizeof(line), text);
	host = PQhost(conn);
	port = PQport(conn);
	if (strstr(msg, "Connection refused") != NULL ||
	    (strstr(msg, "No such file or directory") != NULL &&
	    strstr(msg, "socket") != NULL))
		pg_fail(p, PR_CONNECT_REFUSED, "(%s:%s)",
		    host != NULL && host[0] != '\0' ? host : "?",
		    port != NULL && port[0] != '\0' ? port : "?");
	else if (PQconnectionNeedsPassword(conn))
		pg_fail(p, PR_DB_AUTH, "(%s)", line);
	else if (strstr(msg, "could not translate host name") != NULL)
		pg_fail(p, PR_DNS, "(%s)", line);
	else if (strstr(msg, "SSL") != NULL)
		pg_fail(p, PR_TLS, "(%s)", line);
	else
		pg_fail(p, PR_CONNECT_ERROR, "(%s)", line);
}

/* Send a query, then flush it and read its results. */
static void
pg_send(struct probe *p, const char *sql)
{
	struct pg_probe	*ps = p->ctx;
	PGconn		*conn = ps->keep->conn;

	if (ps->state != PGS_AUDIT && ps->state != PGS_CULPRIT) {
		ps->state = PGS_QUERY;
		ps->query_start = now_us();
	}
	p->phase = PH_QUERY;
	if (PQsendQuery(conn, sql) == 0) {
		pg_lost(p, PQerrorMessage(conn));
		return;
	}
	pg_flush(PQsocket(conn), EV_WRITE, p);
}

/*
 * Send what libpq could not write yet.  While the socket is full, the
 * server's answers are read too, so that neither side waits for ever.
 */
static void
pg_flush(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	struct pg_probe	*ps = p->ctx;
	PGconn		*conn = ps->keep->conn;

	if (ev & EV_TIMEOUT) {
		pg_timeout(p);
		return;
	}
	if ((ev & EV_READ) && PQconsumeInput(conn) == 0) {
		pg_lost(p, PQerrorMessage(conn));
		return;
	}
	switch (PQflush(conn)) {
	case 0:
		/* What the flush read may already hold the answer. */
		pg_read(fd, EV_READ, p);
		return;
	case 1:
		p->fd = PQsocket(conn);
		probe_again(p, EV_READ | EV_WRITE, pg_flush);
		return;
	default:
		pg_lost(p, PQerrorMessage(conn));
		return;
	}
}

/* Read results until the last one, or wait for more of them. */
static void
pg_read(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	struct pg_probe	*ps = p->ctx;
	PGconn		*conn = ps->keep->conn;
	PGresult	*res;

	if (ev & EV_TIMEOUT) {
		pg_timeout(p);
		return;
	}
	if (PQconsumeInput(conn) == 0) {
		pg_lost(p, PQerrorMessage(conn));
		return;
	}
	while (!PQisBusy(conn)) {
		if ((res = PQgetResult(conn)) == NULL) {
			if (ps->state == PGS_AUDIT)
				pg_audit_done(p);
			else if (ps->state == PGS_CULPRIT)
				pg_culprit_done(p, NULL);
			else
				pg_query_done(p);
			return;
		}
		pg_result(p, res);
		PQclear(res);
		if (PQstatus(conn) == CONNECTION_BAD) {
			/* The server went away (a restart, a terminate). */
			pg_lost(p, ps->ans.errmsg);
			return;
		}
		if (ps->ans.copy) {
			pg_fail(p, PR_DB_QUERY, "(COPY is not supported)");
			return;
		}
	}
	p->fd = PQsocket(conn);
	probe_again(p, EV_READ, pg_read);
}

/* Take in one result of the query or of the audit. */
static void
pg_result(struct probe *p, PGresult *res)
{
	const struct pg_conf *pc = p->check->conf;
	struct pg_probe	*ps = p->ctx;
	const char	*v, *state, *msg;
	char		*end, line[PG_MESSAGE_MAX];
	long long	 n;

	if (ps->state == PGS_CULPRIT) {
		pg_culprit_take(p, res);
		return;
	}
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		ps->ans.answered = 1;
		if (ps->state == PGS_AUDIT && ps->audit_results++ > 0) {
			pg_settings_take(p, res);
			break;
		}
		if (ps->state == PGS_AUDIT) {
			if (PQntuples(res) != 1 || PQnfields(res) != 2 ||
			    PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
				break;
			n = strtoll(PQgetvalue(res, 0, 0), &end, 10);
			if (*end == '\0' && n >= 0)
				ps->max_connections = n;
			n = strtoll(PQgetvalue(res, 0, 1), &end, 10);
			if (*end == '\0' && n >= 0)
				ps->connections = n;
			break;
		}
		/* The last statement that returns rows is the one judged. */
		ps->ans.have_rows = 1;
		ps->ans.rows = PQntuples(res);
		ps->ans.have_first = ps->ans.rows > 0 && PQnfields(res) > 0;
		ps->ans.first_null = ps->ans.first_match = 0;
		if (!ps->ans.have_first)
			break;
		ps->ans.first_null = PQgetisnull(res, 0, 0);
		v = PQgetvalue(res, 0, 0);
		ps->ans.first_match = !ps->ans.first_null &&
		    pc->db.expect != NULL && strcmp(v, pc->db.expect) == 0;
		quote_value(ps->ans.first, sizeof(ps->ans.first), v,
		    (size_t)PQgetlength(res, 0, 0));
		break;
	case PGRES_COMMAND_OK:
		ps->ans.answered = 1;
		/* INSERT, UPDATE...: the rows it touched. */
		v = PQcmdTuples(res);
		if (ps->state != PGS_AUDIT && v[0] != '\0') {
			ps->ans.have_rows = 1;
			ps->ans.rows = strtol(v, NULL, 10);
			ps->ans.have_first = 0;
		}
		break;
	case PGRES_EMPTY_QUERY:
		break;
	case PGRES_COPY_IN:
	case PGRES_COPY_OUT:
	case PGRES_COPY_BOTH:
		ps->ans.copy = 1;
		break;
	default:
		if (ps->state == PGS_AUDIT)
			ps->audit_results++;
		if (ps->ans.error)
			break;		/* the first error tells why */
		ps->ans.error = 1;
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (msg == NULL)
			msg = PQresultErrorMessage(res);
		if (state != NULL)
			snprintf(line, sizeof(line), "SQLSTATE %s: %s", state,
			    msg);
		else
			strlcpy_safe(line, msg, sizeof(line));
		pg_first_line(ps->ans.errmsg, sizeof(ps->ans.errmsg), line);
		break;
	}
}

/* The query's last result is in: judge it, then maybe audit. */
static void
pg_query_done(struct probe *p)
{
	const struct db_conf *dc = &((const struct pg_conf *)p->check->conf)->db;
	struct pg_probe	*ps = p->ctx;
	char		 want[PG_QUOTE_MAX + 4];
	uint64_t	 now = now_us();

	ps->keep->db.query_us = now - ps->query_start;
	if (ps->ans.error) {
		pg_fail(p, PR_DB_QUERY, "%s", ps->ans.errmsg);
		return;
	}
	if (dc->expect_rows >= 0 && (ps->ans.have_rows ? ps->ans.rows : 0) !=
	    dc->expect_rows) {
		pg_fail(p, PR_DB_EXPECT, "(got %ld rows, want %d)",
		    ps->ans.have_rows ? ps->ans.rows : 0, dc->expect_rows);
		return;
	}
	if (dc->expect != NULL && !(ps->ans.have_first &&
	    ps->ans.first_match)) {
		quote_value(want, sizeof(want), dc->expect,
		    strlen(dc->expect));
		if (!ps->ans.have_first)
			pg_fail(p, PR_DB_EXPECT, "(no value, want \"%s\")",
			    want);
		else if (ps->ans.first_null)
			pg_fail(p, PR_DB_EXPECT, "(got NULL, want \"%s\")",
			    want);
		else
			pg_fail(p, PR_DB_EXPECT, "(got \"%s\", want \"%s\")",
			    ps->ans.first, want);
		return;
	}
	if (!db_audit_due(&ps->keep->db, now)) {
		pg_culprit(p);
		return;
	}
	ps->state = PGS_AUDIT;
	ps->ans.error = 0;
	pg_send(p, PG_AUDIT_SQL);
}

/* The audit is over: what it could read is known, the rest is not. */
static void
pg_audit_done(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;
	char		 target[128];

	db_audit_done(&ps->keep->db, ps->max_connections, ps->connections);
	if (!ps->settings_read) {
		pg_target(p->check, target, sizeof(target));
		audit_add(&ps->audit, 0, "postgresql", "pg_settings",
		    "unreadable", target, ps->ans.error ? ps->ans.errmsg :
		    "no answer", NULL);
	}
	audit_replace(&ps->keep->db.audit, &ps->audit, p->check->pool);
	pg_culprit(p);
}

/*
 * The connection broke during the query.  A kept connection may simply
 * have been closed by the server since the last probe (a restart, an
 * idle timeout): connect again once, within the same deadline.
 */
static void
pg_lost(struct probe *p, const char *msg)
{
	struct pg_probe	*ps = p->ctx;
	char		 line[PG_MESSAGE_MAX];

	if (ps->reused && !ps->ans.answered && ps->state == PGS_QUERY) {
		pg_close_conn(p);
		memset(&ps->ans, 0, sizeof(ps->ans));
		ps->reused = 0;
		pg_connect_begin(p);
		return;
	}
	if (ps->state == PGS_AUDIT) {
		/* The query passed: an audit never fails a probe. */
		db_audit_done(&ps->keep->db, -1, -1);
		probe_done(p, PR_OK);
		return;
	}
	if (ps->state == PGS_CULPRIT) {
		pg_culprit_done(p, "the connection was lost during the lookup");
		return;
	}
	if (msg[0] == '\0' && ps->keep->conn != NULL)
		msg = PQerrorMessage(ps->keep->conn);
	pg_first_line(line, sizeof(line), msg);
	pg_fail(p, PR_CLOSED, "(%s)", line);
}

/* The deadline passed: the connection is closed (no cancel request). */
static void
pg_timeout(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;

	if (ps->state == PGS_AUDIT) {
		db_audit_done(&ps->keep->db, -1, -1);
		probe_done(p, PR_OK);
		return;
	}
	if (ps->state == PGS_CULPRIT) {
		pg_culprit_done(p, "the check's deadline passed during the "
		    "lookup");
		return;
	}
	probe_done(p, PR_TIMEOUT);
}

/* A success: the connection is idle and may be kept. */
static void
pg_ok(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;

	ps->keep_ok = 1;
	probe_done(p, PR_OK);
}

/*
 * End the probe with a failure.  Whatever the text, the password never
 * reaches a reason.
 */
static void
pg_fail(struct probe *p, enum probe_result r, const char *fmt, ...)
{
	struct pg_probe	*ps = p->ctx;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	if (ps->keep->conn != NULL)
		scrub_secret(p->detail, PQpass(ps->keep->conn));
	probe_done(p, r);
}

/* Close the connection; the event on its socket goes first. */
static void
pg_close_conn(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;

	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	p->fd = -1;		/* libpq's socket: PQfinish() closes it */
	if (ps->keep->conn != NULL) {
		PQfinish(ps->keep->conn);
		ps->keep->conn = NULL;
	}
}

/*
 * Release the probe's state.  The connection is kept only when it is
 * idle after a success, and the check keeps connections.
 */
static void
pg_abort(struct probe *p)
{
	const struct pg_conf *pc = p->check->conf;
	struct pg_probe	*ps = p->ctx;

	if (ps == NULL)
		return;
	if (ps->state == PGS_CONNECT && ps->keep->conn != NULL &&
	    db_reuse(&pc->db, 1) &&
	    PQstatus(ps->keep->conn) != CONNECTION_BAD)
		pg_connect_detach(p);
	else if (!db_reuse(&pc->db, ps->keep_ok))
		pg_close_conn(p);
	else {
		if (p->ev != NULL) {
			event_free(p->ev);
			p->ev = NULL;
		}
		p->fd = -1;
	}
	audit_clear(&ps->audit);
	free(ps->culprit);
	free(ps);
	p->ctx = NULL;
}

/*
 * The audit's pg_settings rows: each timeout the role can see, and each
 * it cannot, for the bounded-blocking audit.
 */
static void
pg_settings_take(struct probe *p, PGresult *res)
{
	static const char *const names[] = { "statement_timeout",
	    "lock_timeout", "idle_in_transaction_session_timeout",
	    "idle_session_timeout", "tcp_keepalives_idle", NULL };
	struct pg_probe		*ps = p->ctx;
	const struct pool	*pool = p->check->pool;
	char			 target[128];
	long long		 max = -1, reserved = -1;
	int			 i, k, terminate;

	if (PQnfields(res) != 4)
		return;
	ps->settings_read = 1;
	pg_target(p->check, target, sizeof(target));
	terminate = pool->fpm.have ? pool->fpm.terminate_s : -1;
	for (k = 0; names[k] != NULL; k++) {
		for (i = 0; i < PQntuples(res); i++)
			if (strcmp(PQgetvalue(res, i, 0), names[k]) == 0)
				break;
		if (i == PQntuples(res))
			audit_add(&ps->audit, 0, "postgresql", names[k],
			    "unreadable", target, "pg_settings does not show "
			    "it to the check's role", NULL);
		else
			audit_pg_setting(&ps->audit, target, names[k],
			    PQgetvalue(res, i, 1), PQgetisnull(res, i, 2) ?
			    NULL : PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			    terminate);
	}
	for (i = 0; i < PQntuples(res); i++) {
		if (strcmp(PQgetvalue(res, i, 0), "max_connections") == 0)
			max = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		else if (strcmp(PQgetvalue(res, i, 0),
		    "superuser_reserved_connections") == 0)
			reserved = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	audit_pg_slots(&ps->audit, target, max, reserved);
}

/*
 * The query passed: look up the sessions of the workers that wait on
 * this server when the worker sample asks for it, else end the probe.
 */
static void
pg_culprit(struct probe *p)
{
	struct pg_probe	*ps = p->ctx;
	struct buf	 sql = { NULL, 0, 0 };

	ps->culprit = culprit_begin(p->check, ps->keep->db.server,
	    "PostgreSQL", now_us(), p->deadline_us);
	if (ps->culprit == NULL) {
		pg_ok(p);
		return;
	}
	buf_addstr(&sql, PG_CULPRIT_SQL);
	culprit_sql_list(&sql, ps->culprit, 0);
	buf_printf(&sql, ") LIMIT %d", CULPRIT_WORKERS_MAX);
	ps->state = PGS_CULPRIT;
	ps->ans.error = 0;
	pg_send(p, (const char *)sql.data);
	buf_free(&sql);
}

/*
 * One result of the lookup: the privilege, then the sessions' rows; an
 * error says why the lookup is incomplete, never fails the probe.
 */
static void
pg_culprit_take(struct probe *p, PGresult *res)
{
	struct pg_probe		*ps = p->ctx;
	struct db_culprit	*cu = ps->culprit;
	const char		*msg, *user;
	int			 i;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (cu->error[0] != '\0')
			return;
		if ((msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) ==
		    NULL)
			msg = PQresultErrorMessage(res);
		pg_first_line(cu->error, sizeof(cu->error), msg);
		return;
	}
	if (ps->culprit_results++ == 0) {
		if (PQntuples(res) == 1 && PQnfields(res) == 1 &&
		    strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			user = PQuser(ps->keep->conn);
			snprintf(cu->missing, sizeof(cu->missing),
			    "pg_read_all_stats (GRANT pg_read_all_stats TO %s): "
			    "other users' sessions show no client, state or "
			    "transaction", user != NULL ? user : "?");
		}
		return;
	}
	if (PQnfields(res) != PG_CULPRIT_COLUMNS)
		return;
	for (i = 0; i < PQntuples(res) && i < CULPRIT_WORKERS_MAX; i++)
		pg_culprit_row(cu, res, i);
}

/* A value of a row, cut and printable; "" for NULL. */
static void
pg_value(char *out, size_t outlen, PGresult *res, int row, int col)
{
	culprit_text(out, outlen, PQgetisnull(res, row, col) ? NULL :
	    PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

/* A worker's session and its first blocker, from one row. */
static void
pg_culprit_row(struct db_culprit *cu, PGresult *res, int i)
{
	struct db_worker_session	*e;
	struct db_session		*s, *b;
	char				 host[64], type[32], event[32];
	char				 port[16];

	pg_value(host, sizeof(host), res, i, 0);
	pg_value(port, sizeof(port), res, i, 1);
	if ((e = culprit_worker(cu, host, strtoll(port, NULL, 10))) == NULL)
		return;
	e->found = 1;
	s = &e->session;
	s->id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
	snprintf(s->client, sizeof(s->client), "%s", e->local);
	pg_value(s->user, sizeof(s->user), res, i, 3);
	pg_value(s->state, sizeof(s->state), res, i, 4);
	pg_value(type, sizeof(type), res, i, 5);
	pg_value(event, sizeof(event), res, i, 6);
	if (type[0] != '\0')
		snprintf(s->wait, sizeof(s->wait), "%s/%s", type, event);
	pg_value(s->query, sizeof(s->query), res, i, 7);
	e->nblocked_by = culprit_ids_parse(PQgetisnull(res, i, 8) ? NULL :
	    PQgetvalue(res, i, 8), e->blocked_by, CULPRIT_BLOCKED_BY_MAX);
	pg_value(s->object, sizeof(s->object), res, i, 9);
	if (PQgetisnull(res, i, 10))
		return;
	b = &e->blocker;
	b->id = strtoll(PQgetvalue(res, i, 10), NULL, 10);
	pg_value(b->user, sizeof(b->user), res, i, 11);
	pg_value(host, sizeof(host), res, i, 12);
	pg_value(port, sizeof(port), res, i, 13);
	if (host[0] != '\0' && strchr(host, ':') != NULL)
		snprintf(b->client, sizeof(b->client), "[%.46s]:%.8s", host,
		    port);
	else if (host[0] != '\0')
		snprintf(b->client, sizeof(b->client), "%.46s:%.8s", host,
		    port);
	else if (strcmp(port, "-1") == 0)
		strlcpy_safe(b->client, "local socket", sizeof(b->client));
	pg_value(b->application, sizeof(b->application), res, i, 14);
	pg_value(b->state, sizeof(b->state), res, i, 15);
	if (!PQgetisnull(res, i, 16))
		b->xact_age_s = strtoll(PQgetvalue(res, i, 16), NULL, 10);
	pg_value(b->query, sizeof(b->query), res, i, 17);
	if (strcmp(b->query, PG_HIDDEN) == 0) {
		b->hidden = 1;
		b->query[0] = '\0';
	}
}

/*
 * The lookup is over (error: why it was cut short, the connection then
 * closed): the check keeps what it found, and the probe passes.
 */
static void
pg_culprit_done(struct probe *p, const char *error)
{
	struct pg_probe	*ps = p->ctx;

	culprit_end(p->check, ps->culprit, error, now_us());
	ps->culprit = NULL;
	if (error != NULL)
		probe_done(p, PR_OK);
	else
		pg_ok(p);
}

/* Release the kept connection. */
static void
pg_free(struct check *c)
{
	struct pg_keep	*keep = c->keep;

	if (keep == NULL)
		return;
	if (keep->ev != NULL)
		event_free(keep->ev);
	if (keep->conn != NULL)
		PQfinish(keep->conn);
	audit_clear(&keep->db.audit);
	free(keep);
	c->keep = NULL;
}

/* Server notices (WARNING, NOTICE) are not ours to print. */
static void
pg_notice(void *arg, const char *message)
{
}


/*
 * Find "SEVERITY:  XXXXX: " in a verbose libpq message.  Returns the
 * text after it and copies the SQLSTATE, or returns NULL.
 */
static const char *
pg_sqlstate_find(const char *msg, char *state)
{
	const char	*s;
	size_t		 i;

	for (s = strstr(msg, ":  "); s != NULL; s = strstr(s + 1, ":  ")) {
		for (i = 0; i < 5; i++)
			if (!((s[3 + i] >= '0' && s[3 + i] <= '9') ||
			    (s[3 + i] >= 'A' && s[3 + i] <= 'Z')))
				break;
		if (i == 5 && s[8] == ':' && s[9] == ' ') {
			memcpy(state, s + 3, 5);
			state[5] = '\0';
			return s + 10;
		}
	}
	return NULL;
}

/* The first line of a message, printable and short. */
static void
pg_first_line(char *out, size_t outlen, const char *msg)
{
	sanitize_text(out, outlen, msg, strcspn(msg, "\n"));
}

/*
 * The server a check talks to, "pgsql host:port", as libpq reads the
 * conninfo (key=value words or a URI): so that checks of several pools
 * can be matched up.
 */
static void
pg_target(const struct check *c, char *out, size_t outlen)
{
	const struct pg_conf	*pc = c->conf;
	PQconninfoOption	*opts, *o;
	const char		*host = NULL, *hostaddr = NULL, *port = NULL;

	opts = PQconninfoParse(pc->conninfo, NULL);
	for (o = opts; o != NULL && o->keyword != NULL; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
	}
	snprintf(out, outlen, "pgsql %s:%s", hostaddr != NULL ? hostaddr :
	    host != NULL ? host : "localhost", port != NULL ? port : "5432");
	PQconninfoFree(opts);
}
#endif /* HAVE_PGSQL */
