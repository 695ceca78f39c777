/*
 * MariaDB and MySQL checks: connect, authenticate and run the check's
 * query with mariadb-connector-c's non-blocking API, every wait bounded
 * by the probe's deadline, then, now and then, read the server's
 * connection limit and use for the capacity audit.
 *
 * mysql_real_connect_start() resolves a host name synchronously, before
 * the event loop can bound it: give the server as an IP address or a
 * socket to keep name resolution out of the probe.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_MYSQL
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#endif

#include "fpmprobe.h"

#define MYSQL_DEFAULT_PORT	3306

#define MY(field)	offsetof(struct my_conf, field)

static const struct cfg_choice tls_words[] = {
	{ "off", 0 }, { "on", 1 }, { "verify", 2 }, { "false", 0 },
	{ "true", 1 }, { "no", 0 }, { "yes", 1 }, { NULL, 0 }
};

static const struct cfg_key my_keys[] = {
	{ .name = "host", .kind = CFG_STRING, .offset = MY(host), .min = 1,
	  .what = "a host name or address" },
	{ .name = "port", .kind = CFG_UINT, .offset = MY(port), .min = 1,
	  .max = 65535 },
	{ .name = "socket", .kind = CFG_PATH, .offset = MY(socket) },
	{ .name = "user", .kind = CFG_STRING, .offset = MY(user), .min = 1,
	  .flags = CFG_REQUIRED, .what = "a user name" },
	{ .name = "password", .kind = CFG_STRING, .offset = MY(password),
	  .flags = CFG_SECRET, .what = "a string" },
	{ .name = "database", .kind = CFG_STRING, .offset = MY(database),
	  .min = 1, .what = "a database name" },
	{ .name = "tls", .kind = CFG_CHOICE, .offset = MY(tls),
	  .what = "off, on or verify", .choices = tls_words },
	{ .name = "tls_ca", .kind = CFG_PATH, .offset = MY(tls_ca) },
	{ .name = "db_conf", .kind = CFG_INCLUDE, .offset = MY(db),
	  .table = db_keys },
	{ .name = NULL }
};

static void	my_conf_finish(struct check *, struct cfg_check *);

#ifdef HAVE_MYSQL
#define MY_QUOTE_MAX		32	/* of a value quoted in a reason */
#define MY_MESSAGE_MAX		96	/* of a server message in a reason */
#define MY_AUDIT_MAX_SQL	"SELECT @@max_connections"
#define MY_AUDIT_USE_SQL	"SHOW GLOBAL STATUS LIKE 'Threads_connected'"
/* The bounded-blocking audit's variables, as the check's session has them. */
#define MY_AUDIT_VARS_SQL	"SHOW VARIABLES WHERE Variable_name IN (" \
	"'wait_timeout', 'interactive_timeout', 'max_statement_time', " \
	"'max_execution_time', 'lock_wait_timeout', " \
	"'innodb_lock_wait_timeout', 'max_connections')"

/*
 * The database culprit's lookup (culprit.c): the workers' threads in
 * PROCESSLIST by their sockets' host:port, the InnoDB transaction each
 * waits behind (MariaDB's information_schema.INNODB_LOCK_WAITS, MySQL
 * 8's performance_schema.data_lock_waits) and its thread.  Both need
 * PROCESS; without it, PROCESSLIST alone shows the user's own threads.
 */
#define MY_CULPRIT_SQL \
	"SELECT p.ID, p.HOST, p.USER, p.COMMAND, p.STATE, LEFT(p.INFO, 100), " \
	"r.trx_state, b.trx_mysql_thread_id, " \
	"TIMESTAMPDIFF(SECOND, b.trx_started, NOW()), bp.HOST, bp.USER, " \
	"bp.COMMAND, LEFT(COALESCE(bp.INFO, b.trx_query), 100), " \
	"TIMESTAMPDIFF(SECOND, r.trx_started, NOW()), b.trx_state " \
	"FROM information_schema.PROCESSLIST p " \
	"LEFT JOIN information_schema.INNODB_TRX r " \
	"ON r.trx_mysql_thread_id = p.ID " \
	"LEFT JOIN %s w ON w.%s = r.trx_id " \
	"LEFT JOIN information_schema.INNODB_TRX b ON b.trx_id = w.%s " \
	"LEFT JOIN information_schema.PROCESSLIST bp " \
	"ON bp.ID = b.trx_mysql_thread_id WHERE p.HOST IN ("
#define MY_CULPRIT_LIST_SQL \
	"SELECT ID, HOST, USER, COMMAND, STATE, LEFT(INFO, 100) " \
	"FROM information_schema.PROCESSLIST WHERE HOST IN ("
/*
 * Workers waiting for a metadata lock (LOCK TABLES, ALTER TABLE): who
 * holds one granted on the same object, where performance_schema has
 * them (the outer join gives a row, and @@performance_schema, even when
 * it has none).
 */
#define MY_CULPRIT_MDL_SQL \
	"SELECT @@performance_schema, x.* FROM (SELECT 1) one LEFT JOIN (" \
	"SELECT wt.PROCESSLIST_ID AS waiter, gt.PROCESSLIST_ID AS holder, " \
	"CONCAT_WS('.', g.OBJECT_SCHEMA, g.OBJECT_NAME) AS object, " \
	"bp.HOST, bp.USER, bp.COMMAND, LEFT(bp.INFO, 100) AS info, " \
	"TIMESTAMPDIFF(SECOND, b.trx_started, NOW()) AS age " \
	"FROM performance_schema.metadata_locks w " \
	"JOIN performance_schema.threads wt ON wt.THREAD_ID = w.OWNER_THREAD_ID " \
	"JOIN performance_schema.metadata_locks g " \
	"ON g.OBJECT_TYPE = w.OBJECT_TYPE " \
	"AND g.OBJECT_SCHEMA <=> w.OBJECT_SCHEMA " \
	"AND g.OBJECT_NAME <=> w.OBJECT_NAME AND g.LOCK_STATUS = 'GRANTED' " \
	"AND g.OWNER_THREAD_ID <> w.OWNER_THREAD_ID " \
	"JOIN performance_schema.threads gt ON gt.THREAD_ID = g.OWNER_THREAD_ID " \
	"LEFT JOIN information_schema.PROCESSLIST bp ON bp.ID = gt.PROCESSLIST_ID " \
	"LEFT JOIN information_schema.INNODB_TRX b " \
	"ON b.trx_mysql_thread_id = gt.PROCESSLIST_ID " \
	"WHERE w.LOCK_STATUS = 'PENDING' AND wt.PROCESSLIST_ID IN ("
#define MY_CULPRIT_COLUMNS	15
#define MY_CULPRIT_MDL_COLUMNS	9
#define MY_CULPRIT_LIST_COLUMNS	6

/* What a check keeps between probes. */
struct my_keep {
	struct db_keep	 db;		/* first: db.c's */
	MYSQL		*mysql;		/* idle between probes, or NULL */
};

/* The statement a probe runs. */
enum my_step {
	MYS_QUERY = 0,			/* the check's query */
	MYS_AUDIT_MAX,			/* @@max_connections */
	MYS_AUDIT_USE,			/* Threads_connected */
	MYS_AUDIT_VARS,			/* the timeouts */
	MYS_CULPRIT,			/* the workers' threads, lock waits */
	MYS_CULPRIT_LIST,		/* the threads alone, without PROCESS */
	MYS_CULPRIT_MDL			/* the holders of metadata locks */
};

/* The library call under way, resumed by its _cont(). */
enum my_call {
	MYC_CONNECT = 0,
	MYC_QUERY,
	MYC_STORE
};

/* Per-probe state. */
struct my_probe {
	struct my_keep	*keep;
	enum my_step	 step;
	enum my_call	 call;
	int		 want;		/* MYSQL_WAIT_* the call waits for */
	int		 lib_timeout;	/* the timer is the library's own */
	int		 reused;	/* runs on the kept connection */
	int		 keep_ok;	/* the connection is idle: keep it */
	int		 busy;		/* a command is under way */
	char		*password;	/* read from password_file */
	uint64_t	 query_start;
	MYSQL		*ret;		/* mysql_real_connect()'s result */
	int		 err;		/* mysql_real_query()'s result */
	MYSQL_RES	*res;
	int64_t		 max_connections;	/* the audit's numbers */
	int64_t		 connections;
	struct audit_list audit;	/* what the variables say */
	struct db_culprit *culprit;	/* the lookup under way */
	struct buf	 culprit_sql;
};

static void	my_start(struct probe *);
static void	my_abort(struct probe *);
static void	my_free(struct check *);
static void	my_connect(struct probe *);
static void	my_query(struct probe *, enum my_step);
static void	my_continue(struct probe *, int);
static void	my_wait(struct probe *, int);
static void	my_io(int, short, void *);
static void	my_connected(struct probe *);
static void	my_connect_failed(struct probe *);
static void	my_queried(struct probe *);
static void	my_stored(struct probe *);
static void	my_query_done(struct probe *);
static void	my_query_failed(struct probe *);
static void	my_audit_done(struct probe *);
static void	my_audit_end(struct probe *, int);
static void	my_vars_take(struct probe *);
static void	my_timeout(struct probe *);
static void	my_ok(struct probe *, int);
static void	my_fail(struct probe *, enum probe_result, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	my_close_conn(struct probe *, int);
static int64_t	my_number(const char *, unsigned long);
static int	my_os_error(const char *);
static void	my_where(const struct check *, char *, size_t);
static void	my_target(const struct check *, char *, size_t);
static void	my_culprit(struct probe *);
static void	my_culprit_query(struct probe *, enum my_step);
static void	my_culprit_take(struct probe *);
static int	my_culprit_mdl_wanted(const struct db_culprit *);
static void	my_culprit_failed(struct probe *, unsigned int, const char *);
static void	my_culprit_mdl_take(struct probe *);
static void	my_culprit_done(struct probe *, const char *, int);
static void	my_value(char *, size_t, MYSQL_ROW, unsigned long *, int);
#endif

const struct check_ops check_mysql_ops = {
	.name = "mysql",
	.keys = my_keys,
	.conf_size = sizeof(struct my_conf),
	.finish = my_conf_finish,
#ifdef HAVE_MYSQL
	.start = my_start,
	.abort = my_abort,
	.free = my_free,
	.report = db_report,
	.target = my_target,
#endif
};

/*
 * What the keys cannot say alone: a host or a socket, not both; no port
 * with a socket; a password or a password file.
 */
static void
my_conf_finish(struct check *c, struct cfg_check *cc)
{
	struct my_conf	*mc = c->conf;
	int		 host = cfg_seen(cc, "host");
	int		 sock = cfg_seen(cc, "socket");

	if (!host && !sock)
		cfg_check_error(cc, NULL, "missing required key \"host\" (or "
		    "\"socket\")");
	if (host && sock)
		cfg_check_error(cc, "socket", "set host or socket, not both");
	if (cfg_seen(cc, "port") && sock)
		cfg_check_error(cc, "port", "port is not used with socket");
	if (cfg_seen(cc, "password") && cfg_seen(cc, "password_file"))
		cfg_check_error(cc, "password_file", "set password or "
		    "password_file, not both");
	if (mc->port == 0 && !sock)
		mc->port = MYSQL_DEFAULT_PORT;
}

#ifdef HAVE_MYSQL

/* Begin a probe: on the kept connection when there is one, else connect. */
static void
my_start(struct probe *p)
{
	struct check		*c = p->check;
	const struct my_conf	*mc = c->conf;
	struct my_keep		*keep = db_keep(c, sizeof(*keep));
	struct my_probe		*ps;

	ps = xcalloc(1, sizeof(*ps));
	ps->keep = keep;
	ps->max_connections = -1;
	ps->connections = -1;
	p->ctx = ps;

	if (keep->mysql != NULL && db_reuse(&mc->db, 1)) {
		ps->reused = 1;
		my_query(p, MYS_QUERY);
		return;
	}
	if (keep->mysql != NULL)
		my_close_conn(p, 1);
	my_connect(p);
}

/*
 * Start a connection.  The password file is read now, so that a new
 * password is used without a reload; the library reads the password
 * while it connects, so it lives as long as the probe.
 */
static void
my_connect(struct probe *p)
{
	const struct my_conf *mc = p->check->conf;
	struct my_probe	*ps = p->ctx;
	const char	*password = mc->password;
	char		 err[128];
	unsigned int	 off = 0, protocol;
	my_bool		 on = 1, verify;
	MYSQL		*mysql;

	ps->call = MYC_CONNECT;
	p->phase = PH_CONNECT;
	if (mc->db.password_file != NULL) {
		if (password_read(mc->db.password_file, &ps->password, err,
		    sizeof(err)) == -1) {
			my_fail(p, PR_DB_ERROR, "password_file %s: %s",
			    mc->db.password_file, err);
			return;
		}
		password = ps->password;
	}
	if ((mysql = mysql_init(NULL)) == NULL)
		fatalx("mysql_init: out of memory");
	ps->keep->mysql = mysql;
	ps->busy = 1;
	if (mysql_options(mysql, MYSQL_OPT_NONBLOCK, 0) != 0)
		fatalx("mysql_options: out of memory");
	/* A server must not be able to make us send it a local file. */
	mysql_options(mysql, MYSQL_OPT_LOCAL_INFILE, &off);
	/* "localhost" would otherwise mean the default socket. */
	protocol = mc->socket != NULL ? MYSQL_PROTOCOL_SOCKET :
	    MYSQL_PROTOCOL_TCP;
	mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
	if (mc->tls > 0) {
		verify = mc->tls == 2;
		mysql_options(mysql, MYSQL_OPT_SSL_ENFORCE, &on);
		mysql_options(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
		if (mc->tls_ca != NULL)
			mysql_options(mysql, MYSQL_OPT_SSL_CA, mc->tls_ca);
	}
	my_continue(p, mysql_real_connect_start(&ps->ret, mysql,
	    mc->socket != NULL ? NULL : mc->host, mc->user, password,
	    mc->database, mc->socket != NULL ? 0 : mc->port, mc->socket, 0));
}

/* Run one statement: the check's query or a step of the audit. */
static void
my_query(struct probe *p, enum my_step step)
{
	struct my_probe	*ps = p->ctx;
	const char	*sql;

	ps->step = step;
	ps->call = MYC_QUERY;
	ps->busy = 1;
	p->phase = PH_QUERY;
	switch (step) {
	case MYS_QUERY:
		sql = ((const struct my_conf *)p->check->conf)->db.sql;
		ps->query_start = now_us();
		break;
	case MYS_AUDIT_MAX:
		sql = MY_AUDIT_MAX_SQL;
		break;
	case MYS_AUDIT_USE:
		sql = MY_AUDIT_USE_SQL;
		break;
	case MYS_AUDIT_VARS:
		sql = MY_AUDIT_VARS_SQL;
		break;
	default:
		sql = (const char *)ps->culprit_sql.data;
		break;
	}
	my_continue(p, mysql_real_query_start(&ps->err, ps->keep->mysql, sql,
	    strlen(sql)));
}

/* A library call returned: wait for what it wants, or take its result. */
static void
my_continue(struct probe *p, int status)
{
	struct my_probe	*ps = p->ctx;

	if (status != 0) {
		my_wait(p, status);
		return;
	}
	switch (ps->call) {
	case MYC_CONNECT:
		my_connected(p);
		break;
	case MYC_QUERY:
		my_queried(p);
		break;
	case MYC_STORE:
		my_stored(p);
		break;
	}
}

/*
 * Wait for what the library asked, never past the deadline.  Its own
 * timeout, when it asks for one, counts only when it comes sooner.
 */
static void
my_wait(struct probe *p, int status)
{
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	uint64_t	 now = now_us(), until = p->deadline_us, lib;
	short		 what = 0;
	int		 fd = -1;

	ps->want = status;
	ps->lib_timeout = 0;
	if (status & MYSQL_WAIT_TIMEOUT) {
		lib = (uint64_t)mysql_get_timeout_value_ms(mysql) * 1000;
		if (now + lib < until) {
			until = now + lib;
			ps->lib_timeout = 1;
		}
	}
	if (status & (MYSQL_WAIT_READ | MYSQL_WAIT_EXCEPT))
		what |= EV_READ;
	if (status & MYSQL_WAIT_WRITE)
		what |= EV_WRITE;
	/* Connected, the client waits for the server's greeting. */
	if (ps->call == MYC_CONNECT && (status & MYSQL_WAIT_READ))
		p->phase = PH_AUTH;
	if (what != 0)
		fd = (int)mysql_get_socket(mysql);
	/* The loop's cached time may be late: the timer counts from now. */
	event_base_update_cache_time(p->base);
	event_again(&p->ev, p->base, fd, what, my_io, p, until);
}

/* The socket is ready or a timer fired: resume the library call. */
static void
my_io(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	int		 ready = 0, status = 0;

	if (ev & EV_TIMEOUT) {
		if (!ps->lib_timeout || probe_expired(p)) {
			my_timeout(p);
			return;
		}
		ready |= MYSQL_WAIT_TIMEOUT;
	}
	if (ev & EV_READ)
		ready |= (ps->want & MYSQL_WAIT_READ) ? MYSQL_WAIT_READ :
		    MYSQL_WAIT_EXCEPT;
	if (ev & EV_WRITE)
		ready |= MYSQL_WAIT_WRITE;
	switch (ps->call) {
	case MYC_CONNECT:
		status = mysql_real_connect_cont(&ps->ret, mysql, ready);
		break;
	case MYC_QUERY:
		status = mysql_real_query_cont(&ps->err, mysql, ready);
		break;
	case MYC_STORE:
		status = mysql_store_result_cont(&ps->res, mysql, ready);
		break;
	}
	my_continue(p, status);
}

/* The connection is made, or it failed. */
static void
my_connected(struct probe *p)
{
	struct my_probe	*ps = p->ctx;

	if (ps->ret == NULL) {
		my_connect_failed(p);
		return;
	}
	p->connect_us = now_us() - p->start_us;
	ps->busy = 0;
	culprit_peer_text((int)mysql_get_socket(ps->keep->mysql),
	    ps->keep->db.server, sizeof(ps->keep->db.server));
	if (ps->password != NULL) {
		explicit_bzero(ps->password, strlen(ps->password));
		free(ps->password);
		ps->password = NULL;
	}
	/* Without verification, the library falls back to plain text. */
	if (((const struct my_conf *)p->check->conf)->tls > 0 &&
	    mysql_get_ssl_cipher(ps->keep->mysql) == NULL) {
		my_fail(p, PR_TLS, "(the server does not offer TLS)");
		return;
	}
	my_query(p, MYS_QUERY);
}

/* Tell why a connection failed, from the error number. */
static void
my_connect_failed(struct probe *p)
{
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	unsigned int	 n = mysql_errno(mysql);
	char		 msg[MY_MESSAGE_MAX], target[128];
	int		 os;

	sanitize_text(msg, sizeof(msg), mysql_error(mysql),
	    strlen(mysql_error(mysql)));
	switch (n) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
		/* Refused, or no socket file: nothing listens there. */
		os = my_os_error(msg);
		if (os == ECONNREFUSED || os == ENOENT || os == -1) {
			my_where(p->check, target, sizeof(target));
			my_fail(p, PR_CONNECT_REFUSED, "(%s)", target);
		} else
			my_fail(p, PR_CONNECT_ERROR, "(errno %u: %s)", n, msg);
		return;
	case ER_ACCESS_DENIED_ERROR:
		my_fail(p, PR_DB_AUTH, "errno %u: %s", n, msg);
		return;
	case ER_BAD_DB_ERROR:
	case ER_DBACCESS_DENIED_ERROR:
		/* A user without rights on a database cannot tell it exists. */
		my_fail(p, PR_DB_UNKNOWN_DB, "errno %u: %s", n, msg);
		return;
	case ER_CON_COUNT_ERROR:
	case ER_TOO_MANY_USER_CONNECTIONS:
	case ER_USER_LIMIT_REACHED:
		my_fail(p, PR_DB_TOO_MANY, "errno %u: %s", n, msg);
		return;
	case CR_UNKNOWN_HOST:
		my_fail(p, PR_DNS, "(errno %u: %s)", n, msg);
		return;
	case CR_SSL_CONNECTION_ERROR:
		my_fail(p, PR_TLS, "(errno %u: %s)", n, msg);
		return;
	}
	if (n >= CR_MIN_ERROR)
		my_fail(p, PR_CONNECT_ERROR, "(errno %u: %s)", n, msg);
	else
		my_fail(p, PR_DB_ERROR, "errno %u: %s", n, msg);
}

/* The statement was sent and answered: fetch its rows. */
static void
my_queried(struct probe *p)
{
	struct my_probe	*ps = p->ctx;

	if (ps->err != 0) {
		/* The server's own errors end the command. */
		ps->busy = mysql_errno(ps->keep->mysql) >= CR_MIN_ERROR;
		my_query_failed(p);
		return;
	}
	ps->call = MYC_STORE;
	my_continue(p, mysql_store_result_start(&ps->res, ps->keep->mysql));
}

/* The rows are in. */
static void
my_stored(struct probe *p)
{
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	MYSQL_ROW	 row;
	unsigned long	*len;

	if (ps->res == NULL && mysql_errno(mysql) != 0) {
		ps->busy = mysql_errno(mysql) >= CR_MIN_ERROR;
		my_query_failed(p);
		return;
	}
	/* A procedure's further results would be read by the next query. */
	ps->busy = mysql_more_results(mysql);
	if (ps->step == MYS_CULPRIT_MDL) {
		my_culprit_mdl_take(p);
		my_culprit_done(p, NULL, !ps->busy);
		return;
	}
	if (ps->step == MYS_CULPRIT || ps->step == MYS_CULPRIT_LIST) {
		my_culprit_take(p);
		if (ps->res != NULL) {
			mysql_free_result(ps->res);
			ps->res = NULL;
		}
		if (!ps->busy && ps->step == MYS_CULPRIT &&
		    my_culprit_mdl_wanted(ps->culprit))
			my_culprit_query(p, MYS_CULPRIT_MDL);
		else
			my_culprit_done(p, NULL, !ps->busy);
		return;
	}
	switch (ps->step) {
	case MYS_QUERY:
		my_query_done(p);
		return;
	case MYS_AUDIT_MAX:
		if (ps->res != NULL && mysql_num_fields(ps->res) >= 1 &&
		    (row = mysql_fetch_row(ps->res)) != NULL &&
		    (len = mysql_fetch_lengths(ps->res)) != NULL)
			ps->max_connections = my_number(row[0], len[0]);
		break;
	case MYS_AUDIT_USE:
		/* Variable_name, Value */
		if (ps->res != NULL && mysql_num_fields(ps->res) >= 2 &&
		    (row = mysql_fetch_row(ps->res)) != NULL &&
		    (len = mysql_fetch_lengths(ps->res)) != NULL)
			ps->connections = my_number(row[1], len[1]);
		break;
	case MYS_AUDIT_VARS:
		my_vars_take(p);
		break;
	default:
		break;
	}
	if (ps->res != NULL) {
		mysql_free_result(ps->res);
		ps->res = NULL;
	}
	if (ps->step == MYS_AUDIT_MAX)
		my_query(p, MYS_AUDIT_USE);
	else if (ps->step == MYS_AUDIT_USE)
		my_query(p, MYS_AUDIT_VARS);
	else
		my_audit_done(p);
}

/* The check's query answered: judge it, then maybe audit. */
static void
my_query_done(struct probe *p)
{
	const struct db_conf *dc = &((const struct my_conf *)p->check->conf)->db;
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	MYSQL_ROW	 row = NULL;
	unsigned long	*len = NULL;
	uint64_t	 now = now_us();
	my_ulonglong	 rows;
	char		 got[MY_QUOTE_MAX + 4], want[MY_QUOTE_MAX + 4];

	ps->keep->db.query_us = now - ps->query_start;
	if (ps->res != NULL) {
		rows = mysql_num_rows(ps->res);
		if (mysql_num_fields(ps->res) > 0 &&
		    (row = mysql_fetch_row(ps->res)) != NULL)
			len = mysql_fetch_lengths(ps->res);
	} else
		rows = mysql_affected_rows(mysql);	/* INSERT, UPDATE... */
	if (rows == (my_ulonglong)-1)
		rows = 0;
	if (dc->expect_rows >= 0 && rows != (my_ulonglong)dc->expect_rows) {
		my_fail(p, PR_DB_EXPECT, "(got %llu rows, want %d)",
		    (unsigned long long)rows, dc->expect_rows);
		return;
	}
	if (dc->expect != NULL && (row == NULL || len == NULL ||
	    row[0] == NULL || len[0] != strlen(dc->expect) ||
	    memcmp(row[0], dc->expect, len[0]) != 0)) {
		quote_value(want, sizeof(want), dc->expect,
		    strlen(dc->expect));
		if (row == NULL || len == NULL)
			my_fail(p, PR_DB_EXPECT, "(no value, want \"%s\")",
			    want);
		else if (row[0] == NULL)
			my_fail(p, PR_DB_EXPECT, "(got NULL, want \"%s\")",
			    want);
		else {
			quote_value(got, sizeof(got), row[0], len[0]);
			my_fail(p, PR_DB_EXPECT, "(got \"%s\", want \"%s\")",
			    got, want);
		}
		return;
	}
	if (ps->res != NULL) {
		mysql_free_result(ps->res);
		ps->res = NULL;
	}
	if (ps->busy) {
		my_ok(p, 0);
		return;
	}
	if (!db_audit_due(&ps->keep->db, now)) {
		my_culprit(p);
		return;
	}
	my_query(p, MYS_AUDIT_MAX);
}

/* The audit is over; what it could not read stays unknown. */
static void
my_audit_done(struct probe *p)
{
	my_audit_end(p, 1);
}

/*
 * Keep what the audit read, the variables' findings too; keep says
 * whether the connection is idle and reusable.
 */
static void
my_audit_end(struct probe *p, int keep)
{
	struct my_probe	*ps = p->ctx;

	db_audit_done(&ps->keep->db, ps->max_connections, ps->connections);
	audit_replace(&ps->keep->db.audit, &ps->audit, p->check->pool);
	if (keep)
		my_culprit(p);
	else
		my_ok(p, 0);
}

/* The variables' rows (Variable_name, Value), for the audit. */
static void
my_vars_take(struct probe *p)
{
	static const char *const names[] = { "wait_timeout",
	    "interactive_timeout", "lock_wait_timeout",
	    "innodb_lock_wait_timeout", "max_connections", NULL };
	struct my_probe		*ps = p->ctx;
	const struct pool	*pool = p->check->pool;
	const char		*layer, *val[8], *stmt;
	char			 target[DETAIL_MAX + 8], v[8][64];
	MYSQL_ROW		 row;
	unsigned long		*len;
	int			 k, terminate, maria;

	maria = strstr(mysql_get_server_info(ps->keep->mysql), "MariaDB") !=
	    NULL;
	layer = maria ? "mariadb" : "mysql";
	stmt = maria ? "max_statement_time" : "max_execution_time";
	my_target(p->check, target, sizeof(target));
	terminate = pool->fpm.have ? pool->fpm.terminate_s : -1;
	memset(val, 0, sizeof(val));
	if (ps->res == NULL || mysql_num_fields(ps->res) < 2)
		return;
	while ((row = mysql_fetch_row(ps->res)) != NULL &&
	    (len = mysql_fetch_lengths(ps->res)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		for (k = 0; names[k] != NULL; k++)
			if (strcmp(row[0], names[k]) == 0)
				break;
		if (names[k] == NULL && strcmp(row[0], stmt) != 0)
			continue;
		sanitize_text(v[k], sizeof(v[k]), row[1], len[1]);
		val[k] = v[k];
	}
	for (k = 0; names[k] != NULL; k++)
		audit_my_setting(&ps->audit, layer, target, names[k], val[k],
		    terminate);
	audit_my_setting(&ps->audit, layer, target, stmt, val[k], terminate);
}

/*
 * A statement failed.  A kept connection may have been closed by the
 * server since the last probe (a restart, wait_timeout): connect again
 * once, within the same deadline.  An audit never fails a probe.
 */
static void
my_query_failed(struct probe *p)
{
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	unsigned int	 n = mysql_errno(mysql);
	char		 msg[MY_MESSAGE_MAX], target[DETAIL_MAX + 8];

	if (ps->step == MYS_CULPRIT || ps->step == MYS_CULPRIT_LIST ||
	    ps->step == MYS_CULPRIT_MDL) {
		sanitize_text(msg, sizeof(msg), mysql_error(mysql),
		    strlen(mysql_error(mysql)));
		my_culprit_failed(p, n, msg);
		return;
	}
	if (ps->step == MYS_AUDIT_VARS) {
		sanitize_text(msg, sizeof(msg), mysql_error(mysql),
		    strlen(mysql_error(mysql)));
		my_target(p->check, target, sizeof(target));
		audit_add(&ps->audit, 0, strstr(mysql_get_server_info(mysql), "MariaDB") != NULL ?
		    "mariadb" : "mysql", "SHOW VARIABLES", "unreadable",
		    target, msg, NULL);
		my_audit_end(p, n < CR_MIN_ERROR);
		return;
	}
	if (ps->step != MYS_QUERY) {
		db_audit_done(&ps->keep->db, -1, -1);
		my_ok(p, n < CR_MIN_ERROR);
		return;
	}
	ps->keep->db.query_us = now_us() - ps->query_start;
	if (ps->reused && (n == CR_SERVER_GONE_ERROR || n == CR_SERVER_LOST)) {
		my_close_conn(p, 0);
		ps->reused = 0;
		my_connect(p);
		return;
	}
	sanitize_text(msg, sizeof(msg), mysql_error(mysql),
	    strlen(mysql_error(mysql)));
	if (n < CR_MIN_ERROR)
		my_fail(p, PR_DB_QUERY, "errno %u: %s", n, msg);
	else if (n == CR_SERVER_GONE_ERROR || n == CR_SERVER_LOST)
		my_fail(p, PR_CLOSED, "(errno %u: %s)", n, msg);
	else
		my_fail(p, PR_DB_ERROR, "errno %u: %s", n, msg);
}

/* The deadline passed: the connection is closed without a goodbye. */
static void
my_timeout(struct probe *p)
{
	struct my_probe	*ps = p->ctx;

	if (ps->culprit != NULL) {
		my_culprit_done(p, "the check's deadline passed during the "
		    "lookup", 0);
		return;
	}
	if (ps->call != MYC_CONNECT && ps->step != MYS_QUERY) {
		/* The query passed; only the audit ran out of time. */
		db_audit_done(&ps->keep->db, -1, -1);
		my_ok(p, 0);
		return;
	}
	probe_done(p, PR_TIMEOUT);
}

/* A success; keep says whether the connection is idle and reusable. */
static void
my_ok(struct probe *p, int keep)
{
	struct my_probe	*ps = p->ctx;

	ps->keep_ok = keep;
	probe_done(p, PR_OK);
}

/*
 * End the probe with a failure.  Whatever the text, the password never
 * reaches a reason.
 */
static void
my_fail(struct probe *p, enum probe_result r, const char *fmt, ...)
{
	struct my_probe	*ps = p->ctx;
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
	scrub_secret(p->detail, ps->password);
	scrub_secret(p->detail,
	    ((const struct my_conf *)p->check->conf)->password);
	probe_done(p, r);
}

/*
 * Close the connection.  An idle one says goodbye (COM_QUIT), so that
 * the server does not count an aborted connection; one in the middle of
 * an exchange is shut down first, so that mysql_close() cannot block
 * writing to a server that does not read.
 */
static void
my_close_conn(struct probe *p, int idle)
{
	struct my_probe	*ps = p->ctx;
	MYSQL		*mysql = ps->keep->mysql;
	int		 fd;

	if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (ps->res != NULL) {
		mysql_free_result(ps->res);
		ps->res = NULL;
	}
	if (mysql == NULL)
		return;
	if (!idle && (fd = (int)mysql_get_socket(mysql)) != -1)
		shutdown(fd, SHUT_RDWR);
	mysql_close(mysql);
	ps->keep->mysql = NULL;
}

/*
 * Release the probe's state.  The connection is kept only when it is
 * idle after a success, and the check keeps connections.
 */
static void
my_abort(struct probe *p)
{
	struct my_probe	*ps = p->ctx;

	if (ps == NULL)
		return;
	if (!db_reuse(&((const struct my_conf *)p->check->conf)->db,
	    ps->keep_ok))
		my_close_conn(p, !ps->busy);
	else if (p->ev != NULL) {
		event_free(p->ev);
		p->ev = NULL;
	}
	if (ps->res != NULL)
		mysql_free_result(ps->res);
	audit_clear(&ps->audit);
	free(ps->culprit);
	buf_free(&ps->culprit_sql);
	if (ps->password != NULL) {
		explicit_bzero(ps->password, strlen(ps->password));
		free(ps->password);
	}
	free(ps);
	p->ctx = NULL;
}

/*
 * The query passed on an idle connection: look up the threads of the
 * workers that wait on this server when the worker sample asks for it,
 * else end the probe.
 */
static void
my_culprit(struct probe *p)
{
	struct my_probe	*ps = p->ctx;

	ps->culprit = culprit_begin(p->check, ps->keep->db.server,
	    strstr(mysql_get_server_info(ps->keep->mysql), "MariaDB") != NULL ?
	    "MariaDB" : "MySQL", now_us(), p->deadline_us);
	if (ps->culprit == NULL) {
		my_ok(p, 1);
		return;
	}
	my_culprit_query(p, MYS_CULPRIT);
}

/* Send one statement of the lookup, with the workers' host:port. */
static void
my_culprit_query(struct probe *p, enum my_step step)
{
	struct my_probe	*ps = p->ctx;
	int		 maria = strcmp(ps->culprit->product, "MariaDB") == 0;
	size_t		 i, n;

	buf_reset(&ps->culprit_sql);
	if (step == MYS_CULPRIT_MDL) {
		buf_addstr(&ps->culprit_sql, MY_CULPRIT_MDL_SQL);
		for (i = 0, n = 0; i < ps->culprit->n; i++)
			if (ps->culprit->w[i].found)
				buf_printf(&ps->culprit_sql, "%s%lld", n++ > 0 ?
				    ", " : "", (long long)
				    ps->culprit->w[i].session.id);
		buf_printf(&ps->culprit_sql, ") LIMIT %d) x ON 1 LIMIT %d",
		    CULPRIT_WORKERS_MAX, CULPRIT_WORKERS_MAX);
		my_query(p, step);
		return;
	}
	if (step == MYS_CULPRIT)
		buf_printf(&ps->culprit_sql, MY_CULPRIT_SQL, maria ?
		    "information_schema.INNODB_LOCK_WAITS" :
		    "performance_schema.data_lock_waits", maria ?
		    "requesting_trx_id" : "REQUESTING_ENGINE_TRANSACTION_ID",
		    maria ? "blocking_trx_id" :
		    "BLOCKING_ENGINE_TRANSACTION_ID");
	else
		buf_addstr(&ps->culprit_sql, MY_CULPRIT_LIST_SQL);
	culprit_sql_list(&ps->culprit_sql, ps->culprit, 1);
	buf_printf(&ps->culprit_sql, ") LIMIT %d", CULPRIT_WORKERS_MAX);
	my_query(p, step);
}

/* A value of a row, cut and printable; "" for NULL. */
static void
my_value(char *out, size_t outlen, MYSQL_ROW row, unsigned long *len, int i)
{
	culprit_text(out, outlen, row[i], row[i] != NULL ? len[i] : 0);
}

/*
 * The lookup's rows: a worker's thread, and, with PROCESS, the InnoDB
 * transaction it waits behind and that transaction's thread.  A thread
 * waiting on several gets a row for each.
 */
static void
my_culprit_take(struct probe *p)
{
	struct my_probe			*ps = p->ctx;
	struct db_worker_session	*e;
	struct db_session		*s, *b;
	MYSQL_ROW			 row;
	unsigned long			*len;
	unsigned int			 nf;
	char				 host[64], v[32];
	int64_t				 id;
	size_t				 i, k;
	int				 root[CULPRIT_WORKERS_MAX] = { 0 };

	if (ps->res == NULL)
		return;
	nf = mysql_num_fields(ps->res);
	if (nf != MY_CULPRIT_COLUMNS && nf != MY_CULPRIT_LIST_COLUMNS)
		return;
	while ((row = mysql_fetch_row(ps->res)) != NULL &&
	    (len = mysql_fetch_lengths(ps->res)) != NULL) {
		my_value(host, sizeof(host), row, len, 1);
		if ((e = culprit_worker(ps->culprit, host, -1)) == NULL)
			continue;
		s = &e->session;
		e->found = 1;
		s->id = my_number(row[0], len[0]);
		strlcpy_safe(s->client, e->local, sizeof(s->client));
		my_value(s->user, sizeof(s->user), row, len, 2);
		my_value(s->state, sizeof(s->state), row, len, 3);
		/* "Waiting for table metadata lock": what it waits for. */
		my_value(s->wait, sizeof(s->wait), row, len, 4);
		if (strncmp(s->wait, "Waiting for ", 12) == 0)
			memmove(s->wait, s->wait + 12, strlen(s->wait + 12) + 1);
		my_value(s->query, sizeof(s->query), row, len, 5);
		if (nf != MY_CULPRIT_COLUMNS)
			continue;
		my_value(v, sizeof(v), row, len, 6);
		if (strcmp(v, "LOCK WAIT") == 0)
			strlcpy_safe(s->wait, "an InnoDB row lock",
			    sizeof(s->wait));
		s->xact_age_s = my_number(row[13], len[13]);
		if ((id = my_number(row[7], len[7])) < 0)
			continue;
		for (i = 0; i < e->nblocked_by; i++)
			if (e->blocked_by[i] == id)
				break;
		if (i == e->nblocked_by && i < CULPRIT_BLOCKED_BY_MAX)
			e->blocked_by[e->nblocked_by++] = id;
		/*
		 * Waiters queue behind each other: the blocker named is the
		 * one that does not wait itself, the root of the queue.
		 */
		b = &e->blocker;
		my_value(v, sizeof(v), row, len, 14);
		k = (size_t)(e - ps->culprit->w);
		if (b->id >= 0 && (root[k] || strcmp(v, "LOCK WAIT") == 0))
			continue;
		memset(b, 0, sizeof(*b));
		root[k] = strcmp(v, "LOCK WAIT") != 0;
		b->id = id;
		b->xact_age_s = my_number(row[8], len[8]);
		my_value(b->client, sizeof(b->client), row, len, 9);
		my_value(b->user, sizeof(b->user), row, len, 10);
		my_value(b->state, sizeof(b->state), row, len, 11);
		/* An idle thread with an open transaction. */
		if (strcmp(b->state, "Sleep") == 0)
			strlcpy_safe(b->state, "idle in transaction",
			    sizeof(b->state));
		my_value(b->query, sizeof(b->query), row, len, 12);
	}
}

/*
 * A statement of the lookup failed: a refusal names the privilege the
 * user lacks, and the threads the server shows anyone are still looked
 * up; the probe passes.
 */
static void
my_culprit_failed(struct probe *p, unsigned int n, const char *msg)
{
	struct my_probe	*ps = p->ctx;
	struct db_culprit *cu = ps->culprit;
	int		 mdl = ps->step == MYS_CULPRIT_MDL;

	if (n == (mdl ? ER_TABLEACCESS_DENIED_ERROR :
	    ER_SPECIFIC_ACCESS_DENIED_ERROR))
		snprintf(cu->missing, sizeof(cu->missing), "%s (GRANT %s TO "
		    "'%s'@'...'): %s", mdl ? "SELECT ON performance_schema.*" :
		    "PROCESS", mdl ? "SELECT ON performance_schema.*" :
		    "PROCESS ON *.*",
		    ((const struct my_conf *)p->check->conf)->user, mdl ?
		    "the holders of metadata locks are hidden" :
		    "other users' threads and InnoDB lock waits are hidden");
	else
		snprintf(cu->error, sizeof(cu->error), "%serrno %u: %s", mdl ?
		    "metadata lock holders: " : "", n, msg);
	if (ps->step == MYS_CULPRIT && n < CR_MIN_ERROR)
		my_culprit_query(p, MYS_CULPRIT_LIST);
	else
		my_culprit_done(p, NULL, n < CR_MIN_ERROR);
}

/* Does a worker found wait for a metadata lock whose holder is unknown? */
static int
my_culprit_mdl_wanted(const struct db_culprit *cu)
{
	size_t	 i;

	for (i = 0; i < cu->n; i++)
		if (cu->w[i].found && cu->w[i].session.id >= 0 &&
		    cu->w[i].nblocked_by == 0 &&
		    strstr(cu->w[i].session.wait, "metadata lock") != NULL)
			return 1;
	return 0;
}

/*
 * The holders of the metadata locks the workers wait for, or why they
 * are not known: performance_schema off, or the instrument not on.
 */
static void
my_culprit_mdl_take(struct probe *p)
{
	struct my_probe			*ps = p->ctx;
	struct db_culprit		*cu = ps->culprit;
	struct db_worker_session	*e;
	struct db_session		*b;
	MYSQL_ROW			 row;
	unsigned long			*len;
	int64_t				 waiter, holder;
	size_t				 i, rows = 0;
	int				 ps_on = -1;

	if (ps->res == NULL || mysql_num_fields(ps->res) !=
	    MY_CULPRIT_MDL_COLUMNS)
		return;
	while ((row = mysql_fetch_row(ps->res)) != NULL &&
	    (len = mysql_fetch_lengths(ps->res)) != NULL) {
		ps_on = my_number(row[0], len[0]) > 0;
		waiter = my_number(row[1], len[1]);
		holder = my_number(row[2], len[2]);
		if (waiter < 0 || holder < 0)
			continue;
		rows++;
		for (i = 0, e = NULL; i < cu->n && e == NULL; i++)
			if (cu->w[i].found && cu->w[i].session.id == waiter)
				e = &cu->w[i];
		if (e == NULL || e->nblocked_by >= CULPRIT_BLOCKED_BY_MAX)
			continue;
		e->blocked_by[e->nblocked_by++] = holder;
		my_value(e->session.object, sizeof(e->session.object), row, len,
		    3);
		b = &e->blocker;
		if (b->id >= 0)
			continue;
		b->id = holder;
		strlcpy_safe(b->object, e->session.object, sizeof(b->object));
		my_value(b->client, sizeof(b->client), row, len, 4);
		my_value(b->user, sizeof(b->user), row, len, 5);
		my_value(b->state, sizeof(b->state), row, len, 6);
		my_value(b->query, sizeof(b->query), row, len, 7);
		b->xact_age_s = my_number(row[8], len[8]);
		if (strcmp(b->state, "Sleep") == 0)
			strlcpy_safe(b->state, b->xact_age_s >= 0 ?
			    "idle in transaction" : "idle", sizeof(b->state));
	}
	if (ps_on == 0)
		strlcpy_safe(cu->error, "metadata lock holders not known: "
		    "performance_schema is off", sizeof(cu->error));
	else if (rows == 0)
		strlcpy_safe(cu->error, "metadata lock holders not known: "
		    "performance_schema.metadata_locks has none (is the "
		    "wait/lock/metadata/sql/mdl instrument on?)",
		    sizeof(cu->error));
}

/*
 * The lookup is over (error: why it was cut short): the check keeps
 * what it found, and the probe passes; idle says whether the connection
 * may be kept.
 */
static void
my_culprit_done(struct probe *p, const char *error, int idle)
{
	struct my_probe	*ps = p->ctx;

	culprit_end(p->check, ps->culprit, error, now_us());
	ps->culprit = NULL;
	my_ok(p, idle);
}

/* Release the kept connection, idle between probes. */
static void
my_free(struct check *c)
{
	struct my_keep	*keep = c->keep;

	if (keep == NULL)
		return;
	if (keep->mysql != NULL)
		mysql_close(keep->mysql);
	audit_clear(&keep->db.audit);
	free(keep);
	c->keep = NULL;
}

/* A non-negative number from a row, or -1. */
static int64_t
my_number(const char *v, unsigned long len)
{
	char		 buf[32], *end;
	long long	 n;

	if (v == NULL || len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = '\0';
	n = strtoll(buf, &end, 10);
	return *end != '\0' || n < 0 ? -1 : n;
}

/*
 * The system error a connection message ends with, "... (111)", or -1
 * when it names none.
 */
static int
my_os_error(const char *msg)
{
	const char	*s = strrchr(msg, '(');
	char		*end;
	long		 n;

	if (s == NULL)
		return -1;
	n = strtol(s + 1, &end, 10);
	if (end == s + 1 || *end != ')' || n < 0 || n > 4095)
		return -1;
	return (int)n;
}

/* Where the check connects, as a reason names it. */
static void
my_where(const struct check *c, char *out, size_t outlen)
{
	const struct my_conf	*mc = c->conf;

	if (mc->socket != NULL)
		snprintf(out, outlen, "unix:%s", mc->socket);
	else
		snprintf(out, outlen, "%s:%u", mc->host, mc->port);
}

/* The server, "mysql ADDRESS", to match checks of several pools. */
static void
my_target(const struct check *c, char *out, size_t outlen)
{
	char	 where[DETAIL_MAX];

	my_where(c, where, sizeof(where));
	snprintf(out, outlen, "mysql %s", where);
}
#endif /* HAVE_MYSQL */
