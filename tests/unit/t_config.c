/*
 * Unit tests of the configuration loader: a full file with every key and
 * the inheritance of defaults, one exact message per kind of mistake,
 * hostile input, and the shipped sample.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmprobe.h"
#include "tap.h"

/* A check's settings, as its type keeps them. */
#define FCGI(c)	((struct fcgi_conf *)(c)->conf)
#define PG(c)	((struct pg_conf *)(c)->conf)
#define MY(c)	((struct my_conf *)(c)->conf)
#define HTTP(c)	((struct http_conf *)(c)->conf)

/* A pool with one good check; most error tests start from it. */
#define GOOD_POOL							\
	"pools:\n"							\
	"  www:\n"							\
	"    fastcgi: 127.0.0.1:9000\n"					\
	"    checks:\n"							\
	"      - name: app\n"						\
	"        type: fastcgi\n"					\
	"        script: /srv/status.php\n"

/* The same pool, open for more checks at column 7. */
#define CHECKS_HEAD							\
	"pools:\n"							\
	"  www:\n"							\
	"    fastcgi: 127.0.0.1:9000\n"					\
	"    checks:\n"

static int	 have_type(const char *);
static struct config *load(const char *, struct errlist *);
static int	 has_error(const struct errlist *, const char *);
static void	 error_is(const char *, const char *, const char *);
static void	 skip(const char *);
static void	 test_full(void);
static int	 refused_then_freed(void);
static void	 test_builtin_defaults(void);
static void	 test_pgsql(void);
static void	 test_mysql(void);
static void	 test_http(void);
static void	 test_syntax(void);
static void	 test_unknown_keys(void);
static void	 test_wrong_types(void);
static void	 test_missing(void);
static void	 test_durations(void);
static void	 test_addresses(void);
static void	 test_duplicates(void);
static void	 test_names(void);
static void	 test_ranges(void);
static void	 test_types(void);
static void	 test_several(void);
static void	 test_hostile(void);
static void	 test_files(void);
static void	 test_sample(void);
static void	 test_warnings(void);
static void	 test_yaml_limits(void);

/* Is this check type compiled in? */
static int
have_type(const char *name)
{
	return check_ops_lookup(name) != NULL;
}

/* Load a document named x.yml. */
static struct config *
load(const char *yaml, struct errlist *errs)
{
	return config_load_buf("x.yml", yaml, strlen(yaml), errs);
}

/* Is this exact message among the errors? */
static int
has_error(const struct errlist *errs, const char *want)
{
	size_t	 i;

	for (i = 0; i < errs->n; i++)
		if (strcmp(errs->msg[i], want) == 0)
			return 1;
	return 0;
}

/* The document is refused with exactly this one message. */
static void
error_is(const char *desc, const char *yaml, const char *want)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	size_t		 i;

	conf = load(yaml, &errs);
	ok(conf == NULL, "%s: refused", desc);
	is_int(errs.n, 1, "%s: one message", desc);
	is_str(errs.n > 0 ? errs.msg[0] : NULL, want, "%s: message", desc);
	for (i = 1; i < errs.n; i++)
		printf("#   also: %s\n", errs.msg[i]);
	config_free(conf);
	errlist_free(&errs);
}

/* A test that this build cannot run. */
static void
skip(const char *why)
{
	ok(1, "# SKIP %s", why);
}

/* Every key of a valid file, and check > pool > defaults > built-in. */
static void
test_full(void)
{
	/* defaults come last: inheritance is resolved after reading. */
	const char *yaml =
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /fpm-status\n"
	    "    status_listen: 127.0.0.1:9101\n"
	    "    stuck_after: 5s\n"
	    "    max_children: 8\n"
	    "    agent_listen: [ \"127.0.0.1:9778\", \"unix:/run/fp.sock\" ]\n"
	    "    interval: 1s\n"
	    "    rise: 3\n"
	    "    checks:\n"
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        script: /srv/health/status.php\n"
	    "        query: \"deep=1\"\n"
	    "        expect_status: 204\n"
	    "        expect_body: \"OK\"\n"
	    "        timeout: 250ms\n"
	    "      - name: other\n"
	    "        type: fastcgi\n"
	    "        script: /srv/x/ping.php\n"
	    "        uri: /ping\n"
	    "        address: unix:/run/php/other.sock\n"
	    "        interval: 1m\n"
	    "        fall: 5\n"
	    "  bare.pool-2:\n"
	    "    fastcgi: \"[::1]:9001\"\n"
	    "    status_path: /status\n"
	    "agent:\n"
	    "  listen: \"*:9777\"\n"
	    "  allow: [ \"10.0.0.0/8\", \"::1\" ]\n"
	    "  admin_state: leave\n"
	    "control:\n"
	    "  socket: /var/run/fpmprobe.sock\n"
	    "  state_dir: /var/db/fpmprobe\n"
	    "user: fpmprobe\n"
	    "group: nogroup\n"
	    "http:\n"
	    "  listen: [ \"127.0.0.1:9779\" ]\n"
	    "defaults:\n"
	    "  interval: 3s\n"
	    "  timeout: 2s\n"
	    "  rise: 4\n"
	    "  fall: 6\n";
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct pool	*www, *bare;
	struct check	*app, *other;

	conf = load(yaml, &errs);
	ok(conf != NULL, "full configuration loads");
	is_int(errs.n, 0, "full configuration: no errors");
	if (conf == NULL) {
		printf("#   %s\n", errs.n > 0 ? errs.msg[0] : "?");
		errlist_free(&errs);
		return;
	}
	is_str(conf->path, "x.yml", "path kept");
	is_int(conf->timing.interval_ms, 3000, "defaults interval");
	is_int(conf->timing.timeout_ms, 2000, "defaults timeout");
	is_int(conf->timing.rise, 4, "defaults rise");
	is_int(conf->timing.fall, 6, "defaults fall");
	is_int(conf->agent_listen.n, 1, "agent.listen as one scalar");
	is_str(conf->agent_listen.addr[0].text, "*:9777", "agent.listen text");
	is_int(conf->nallow, 2, "agent.allow: two networks");
	ok(conf->allow[0].family == AF_INET && conf->allow[0].bits == 8,
	    "agent.allow 10.0.0.0/8");
	ok(conf->allow[1].family == AF_INET6 && conf->allow[1].bits == 128,
	    "agent.allow ::1 is a /128");
	is_int(conf->admin_state, ADMIN_LEAVE, "agent.admin_state leave");
	is_str(conf->control_socket, "/var/run/fpmprobe.sock", "control.socket");
	is_str(conf->state_dir, "/var/db/fpmprobe", "control.state_dir");
	is_str(conf->user, "fpmprobe", "user");
	is_str(conf->group, "nogroup", "group");
	is_int(conf->http_listen.n, 1, "http.listen");
	is_str(conf->http_listen.addr[0].text, "127.0.0.1:9779",
	    "http.listen text");
	is_int(conf->npools, 2, "two pools");

	www = config_find_pool(conf, "www");
	bare = config_find_pool(conf, "bare.pool-2");
	ok(www != NULL && www == TAILQ_FIRST(&conf->pools),
	    "config_find_pool www, in file order");
	ok(bare != NULL && bare == TAILQ_NEXT(www, entry),
	    "config_find_pool bare.pool-2");
	ok(config_find_pool(conf, "nope") == NULL, "unknown pool: NULL");
	ok(config_find_pool(NULL, "www") == NULL, "no configuration: NULL");
	if (www == NULL || bare == NULL)
		goto out;

	is_int(www->line, 2, "pool line");
	is_int(www->col, 3, "pool column");
	ok(www->have_fastcgi, "pool has fastcgi");
	is_str(www->fastcgi.text, "127.0.0.1:9000", "pool fastcgi");
	ok(www->fastcgi.ss.ss_family == AF_INET, "pool fastcgi is IPv4");
	is_str(www->status_path, "/fpm-status", "status_path");
	ok(www->have_status_listen, "have status_listen");
	is_str(www->status_listen.text, "127.0.0.1:9101", "status_listen");
	is_int(www->stuck_after_ms, 5000, "stuck_after");
	is_int(www->max_children, 8, "max_children");
	is_int(www->agent_listen.n, 2, "agent_listen: two addresses");
	is_str(www->agent_listen.addr[1].text, "unix:/run/fp.sock",
	    "agent_listen unix");
	ok(www->agent_listen.addr[1].ss.ss_family == AF_UNIX,
	    "agent_listen unix family");
	is_int(www->timing.interval_ms, 1000, "pool interval: its own");
	is_int(www->timing.timeout_ms, 2000, "pool timeout: from defaults");
	is_int(www->timing.rise, 3, "pool rise: its own");
	is_int(www->timing.fall, 6, "pool fall: from defaults");
	is_int(www->admin_state, ADMIN_LEAVE, "pool admin_state from agent");
	ok(www->sampler == NULL, "no sampler yet: the engine adds it");

	app = TAILQ_FIRST(&www->checks);
	other = app != NULL ? TAILQ_NEXT(app, entry) : NULL;
	ok(app != NULL && other != NULL && TAILQ_NEXT(other, entry) == NULL,
	    "two checks, in file order");
	if (app == NULL || other == NULL)
		goto out;
	is_str(app->name, "app", "check name");
	ok(app->pool == www, "check knows its pool");
	is_int(app->line, 12, "check line");
	is_int(app->col, 9, "check column");
	ok(app->ops != NULL && strcmp(app->ops->name, "fastcgi") == 0,
	    "check ops: fastcgi");
	is_str(FCGI(app)->address.text, "127.0.0.1:9000",
	    "check address: the pool's");
	ok(FCGI(app)->address.text != www->fastcgi.text,
	    "check address: its own copy");
	ok(FCGI(app)->address.ss.ss_family == AF_INET, "check address resolved");
	is_str(FCGI(app)->script, "/srv/health/status.php", "script");
	is_str(FCGI(app)->uri, "/status.php", "uri defaults to / + basename");
	is_str(FCGI(app)->query, "deep=1", "query");
	is_int(FCGI(app)->expect_status, 204, "expect_status");
	is_str(FCGI(app)->expect_body, "OK", "expect_body");
	is_int(app->timing.interval_ms, 1000, "check interval: the pool's");
	is_int(app->timing.timeout_ms, 250, "check timeout: its own");
	is_int(app->timing.rise, 3, "check rise: the pool's");
	is_int(app->timing.fall, 6, "check fall: the defaults'");
	ok(app->ops->conf_size == sizeof(struct fcgi_conf),
	    "settings: the fastcgi type's, no database keys");

	is_str(FCGI(other)->uri, "/ping", "uri set");
	is_str(FCGI(other)->address.text, "unix:/run/php/other.sock",
	    "check address: its own");
	ok(FCGI(other)->query == NULL && FCGI(other)->expect_body == NULL,
	    "unset strings stay NULL");
	is_int(FCGI(other)->expect_status, DEFAULT_EXPECT_STATUS,
	    "expect_status default");
	is_int(other->timing.interval_ms, 60000, "check interval: its own");
	is_int(other->timing.timeout_ms, 2000, "check timeout: the defaults'");
	is_int(other->timing.rise, 3, "check rise: the pool's");
	is_int(other->timing.fall, 5, "check fall: its own");

	ok(TAILQ_EMPTY(&bare->checks), "a pool with status_path only");
	ok(bare->fastcgi.ss.ss_family == AF_INET6, "[::1]:9001 is IPv6");
	is_int(bare->stuck_after_ms, DEFAULT_STUCK_AFTER_MS,
	    "stuck_after default");
	is_int(bare->max_children, 0, "max_children unset");
	is_int(bare->timing.interval_ms, 3000, "pool interval: the defaults'");
	ok(!bare->have_status_listen, "no status_listen");
out:
	config_free(conf);
	errlist_free(&errs);
	is_int(tap_in_child(refused_then_freed), 0,
	    "a refused file: NULL and its messages, and config_free(NULL) "
	    "returns");
}

/*
 * In a child: what a caller does with a refused file.  Exits 0 when the
 * load gave NULL with its messages and freeing both returned.
 */
static int
refused_then_freed(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	int		 rc;

	conf = load("pools:\n  www:\n    checks: []\n", &errs);
	rc = conf == NULL && errs.n > 0 ? 0 : 1;
	config_free(conf);
	errlist_free(&errs);
	return rc;
}

/* Nothing set: the built-in defaults. */
static void
test_builtin_defaults(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct check	*c;

	conf = load(GOOD_POOL, &errs);
	ok(conf != NULL && errs.n == 0, "smallest configuration loads");
	if (conf == NULL)
		return;
	c = TAILQ_FIRST(&TAILQ_FIRST(&conf->pools)->checks);
	is_int(conf->timing.interval_ms, DEFAULT_INTERVAL_MS, "built-in interval");
	is_int(conf->timing.timeout_ms, DEFAULT_TIMEOUT_MS, "built-in timeout");
	is_int(c->timing.interval_ms, DEFAULT_INTERVAL_MS, "check: built-in interval");
	is_int(c->timing.timeout_ms, DEFAULT_TIMEOUT_MS, "check: built-in timeout");
	is_int(c->timing.rise, DEFAULT_RISE, "check: built-in rise");
	is_int(c->timing.fall, DEFAULT_FALL, "check: built-in fall");
	is_int(conf->admin_state, ADMIN_SET, "admin_state: set");
	is_int(conf->agent_listen.n, 0, "no agent port is fine (--once)");
	config_free(conf);
	errlist_free(&errs);
}

/* pgsql checks: keys, defaults, the required conninfo. */
static void
test_pgsql(void)
{
	const char *yaml = CHECKS_HEAD
	    "      - name: db\n"
	    "        type: pgsql\n"
	    "        conninfo: \"host=127.0.0.1 dbname=app\"\n"
	    "        password_file: /etc/fpmprobe/pg.pw\n"
	    "        expect: \"1\"\n"
	    "        expect_rows: 0\n"
	    "        reconnect: always\n"
	    "      - { name: db2, type: pgsql, conninfo: \"dbname=x\",\n"
	    "          query: \"SELECT now()\", reconnect: keep }\n";
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct check	*db, *db2;

	if (!have_type("pgsql")) {
		skip("pgsql is not in this build");
		error_is("pgsql not built", CHECKS_HEAD
		    "      - { name: db, type: pgsql, conninfo: x }\n",
		    "x.yml:5:27: check type \"pgsql\" is not available in "
		    "this build");
		return;
	}
	conf = load(yaml, &errs);
	ok(conf != NULL && errs.n == 0, "pgsql checks load");
	if (conf == NULL)
		goto out;
	db = TAILQ_FIRST(&TAILQ_FIRST(&conf->pools)->checks);
	db2 = TAILQ_NEXT(db, entry);
	is_str(db->ops->name, "pgsql", "pgsql ops");
	is_str(PG(db)->conninfo, "host=127.0.0.1 dbname=app", "conninfo");
	is_str(PG(db)->db.password_file, "/etc/fpmprobe/pg.pw", "password_file");
	is_str(PG(db)->db.sql, DEFAULT_SQL, "query default");
	is_str(PG(db)->db.expect, "1", "expect");
	is_int(PG(db)->db.expect_rows, 0, "expect_rows 0");
	is_int(PG(db)->db.reconnect_always, 1, "reconnect always");
	ok(db->ops->conf_size == sizeof(struct pg_conf),
	    "no FastCGI address for pgsql: its own settings");
	is_str(PG(db2)->db.sql, "SELECT now()", "query");
	is_int(PG(db2)->db.expect_rows, -1, "expect_rows default: any");
	is_int(PG(db2)->db.reconnect_always, 0, "reconnect keep");
out:
	config_free(conf);
	errlist_free(&errs);

	/* Keys are checked even when the type is not built. */
	conf = load(CHECKS_HEAD
	    "      - name: db\n"
	    "        type: pgsql\n", &errs);
	ok(conf == NULL, "pgsql without conninfo: refused");
	is_int(errs.n, have_type("pgsql") ? 1 : 2,
	    "pgsql without conninfo: messages");
	ok(has_error(&errs, "x.yml:5:9: pool \"www\", check \"db\": missing "
	    "required key \"conninfo\""), "pgsql without conninfo: message");
	config_free(conf);
	errlist_free(&errs);
}

/* mysql checks: keys, defaults, keys that exclude each other. */
static void
test_mysql(void)
{
	const char *yaml = CHECKS_HEAD
	    "      - name: my\n"
	    "        type: mysql\n"
	    "        host: 127.0.0.1\n"
	    "        user: probe\n"
	    "        password: secret\n"
	    "        database: app\n"
	    "        expect: \"1\"\n"
	    "        expect_rows: 1\n"
	    "        reconnect: keep\n"
	    "        tls: verify\n"
	    "        tls_ca: /etc/ssl/ca.pem\n"
	    "      - name: mysock\n"
	    "        type: mysql\n"
	    "        socket: /run/mysqld/mysqld.sock\n"
	    "        user: probe\n"
	    "        password_file: /etc/my.pw\n"
	    "        query: SELECT 2\n"
	    "        tls: on\n"
	    "      - { name: myport, type: mysql, host: db, port: 3307, "
	    "user: u }\n";
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct check	*my, *mysock, *myport;

	if (!have_type("mysql")) {
		skip("mysql is not in this build");
		return;
	}
	conf = load(yaml, &errs);
	ok(conf != NULL && errs.n == 0, "mysql checks load");
	if (conf == NULL)
		goto out;
	my = TAILQ_FIRST(&TAILQ_FIRST(&conf->pools)->checks);
	mysock = TAILQ_NEXT(my, entry);
	myport = TAILQ_NEXT(mysock, entry);
	is_str(my->ops->name, "mysql", "mysql ops");
	is_str(MY(my)->host, "127.0.0.1", "host");
	is_int(MY(my)->port, 3306, "port default");
	is_str(MY(my)->user, "probe", "user");
	is_str(MY(my)->password, "secret", "password");
	is_str(MY(my)->database, "app", "database");
	is_str(MY(my)->db.sql, DEFAULT_SQL, "query default");
	is_int(MY(my)->db.expect_rows, 1, "expect_rows");
	is_int(MY(my)->db.reconnect_always, 0, "reconnect keep");
	is_int(MY(my)->tls, 2, "tls verify");
	is_str(MY(my)->tls_ca, "/etc/ssl/ca.pem", "tls_ca");
	is_str(MY(mysock)->socket, "/run/mysqld/mysqld.sock", "socket");
	is_int(MY(mysock)->port, 0, "no port with a socket");
	is_str(MY(mysock)->db.password_file, "/etc/my.pw", "password_file");
	is_str(MY(mysock)->db.sql, "SELECT 2", "query");
	is_int(MY(mysock)->tls, 1, "tls on");
	is_int(MY(myport)->port, 3307, "port");
	is_int(MY(myport)->tls, 0, "tls off by default");
out:
	config_free(conf);
	errlist_free(&errs);

	error_is("mysql: host and socket", CHECKS_HEAD
	    "      - name: my\n"
	    "        type: mysql\n"
	    "        host: 127.0.0.1\n"
	    "        socket: /run/my.sock\n"
	    "        user: probe\n",
	    "x.yml:8:17: pool \"www\", check \"my\": set host or socket, not "
	    "both");
	error_is("mysql: neither host nor socket", CHECKS_HEAD
	    "      - { name: my, type: mysql, user: probe }\n",
	    "x.yml:5:9: pool \"www\", check \"my\": missing required key "
	    "\"host\" (or \"socket\")");
	error_is("mysql: password and password_file", CHECKS_HEAD
	    "      - name: my\n"
	    "        type: mysql\n"
	    "        host: 127.0.0.1\n"
	    "        user: probe\n"
	    "        password: x\n"
	    "        password_file: /etc/my.pw\n",
	    "x.yml:10:24: pool \"www\", check \"my\": set password or "
	    "password_file, not both");
	error_is("mysql: bad tls", CHECKS_HEAD
	    "      - { name: my, type: mysql, host: h, user: u, tls: maybe }\n",
	    "x.yml:5:57: tls: expected off, on or verify");
}

/* http checks: keys, both header forms, bad values. */
static void
test_http(void)
{
	const char *yaml = CHECKS_HEAD
	    "      - name: front\n"
	    "        type: http\n"
	    "        url: \"https://127.0.0.1/health\"\n"
	    "        expect_body: \"OK\"\n"
	    "        method: HEAD\n"
	    "        headers: [ \"Host: www.example.com\", \"X-Probe:  1 \" ]\n"
	    "        unix_socket: /run/nginx.sock\n"
	    "        tls_verify: no\n"
	    "        follow_redirects: yes\n"
	    "      - name: front2\n"
	    "        type: http\n"
	    "        url: \"http://127.0.0.1/\"\n"
	    "        headers: { Host: example.org }\n";
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct check	*front, *front2;

	conf = load(yaml, &errs);
	if (!have_type("http")) {
		/* Every other key was read and found right. */
		ok(conf == NULL, "http not built: refused");
		is_int(errs.n, 2, "http not built: one message per check");
		ok(has_error(&errs, "x.yml:6:15: check type \"http\" is not "
		    "available in this build"), "http not built: message");
		goto out;
	}
	ok(conf != NULL && errs.n == 0, "http checks load");
	if (conf == NULL)
		goto out;
	front = TAILQ_FIRST(&TAILQ_FIRST(&conf->pools)->checks);
	front2 = TAILQ_NEXT(front, entry);
	is_str(HTTP(front)->url, "https://127.0.0.1/health", "url");
	is_int(HTTP(front)->expect_status, 200, "expect_status default");
	is_str(HTTP(front)->method, "HEAD", "method");
	is_int(HTTP(front)->nheaders, 2, "two headers");
	is_str(HTTP(front)->headers[1], "X-Probe: 1", "header trimmed");
	is_str(HTTP(front)->unix_socket, "/run/nginx.sock", "unix_socket");
	is_int(HTTP(front)->tls_verify, 0, "tls_verify no");
	is_int(HTTP(front)->follow_redirects, 1, "follow_redirects yes");
	is_str(HTTP(front2)->method, "GET", "method default");
	is_int(HTTP(front2)->tls_verify, 1, "tls_verify default");
	is_int(HTTP(front2)->nheaders, 1, "headers as a mapping");
	is_str(HTTP(front2)->headers[0], "Host: example.org", "mapping header");
out:
	config_free(conf);
	errlist_free(&errs);

	/* Value errors are found whether or not http is built. */
	conf = load(CHECKS_HEAD
	    "      - name: front\n"
	    "        type: http\n"
	    "        url: \"ftp://x/\"\n"
	    "        method: POST\n"
	    "        headers: [ \"Bad Name: x\", \"X: a\\r\\nInjected: 1\" ]\n"
	    "        tls_verify: maybe\n", &errs);
	ok(conf == NULL, "bad http values: refused");
	ok(has_error(&errs, "x.yml:7:14: url: expected an http:// or "
	    "https:// URL"), "http: bad url");
	ok(has_error(&errs, "x.yml:8:17: method: expected GET or HEAD"),
	    "http: bad method");
	ok(has_error(&errs, "x.yml:9:20: headers: bad header name in "
	    "\"Bad Name: x\" (expected \"Name: value\")"),
	    "http: bad header name");
	ok(has_error(&errs, "x.yml:9:35: headers: a header value must not "
	    "contain control characters"), "http: CR LF in a header");
	ok(has_error(&errs, "x.yml:10:21: tls_verify: expected true or "
	    "false"), "http: bad boolean");
	is_int(errs.n, have_type("http") ? 5 : 6, "bad http values: count");
	config_free(conf);
	errlist_free(&errs);
}

/* What libyaml refuses, and documents that are not a mapping. */
static void
test_syntax(void)
{
	error_is("YAML syntax error",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "   bad: 2\n",
	    "x.yml:4:4: YAML syntax error: did not find expected key "
	    "(while parsing a block mapping at line 2, column 3)");
	error_is("unclosed flow sequence",
	    "pools: [ a, b\n",
	    "x.yml:2:1: YAML syntax error: did not find expected ',' or ']' "
	    "(while parsing a flow sequence at line 1, column 8)");
	error_is("a tab for indentation",
	    "pools:\n"
	    "\twww: {}\n",
	    "x.yml:2:1: YAML syntax error: found character that cannot start "
	    "any token (while scanning for the next token at line 2, "
	    "column 1)");
	error_is("empty file", "",
	    "x.yml:1:1: missing required key \"pools\"");
	error_is("comments only", "# nothing\n",
	    "x.yml:1:1: missing required key \"pools\"");
	error_is("top level is not a mapping", "- pools\n",
	    "x.yml:1:1: expected a mapping at the top level");
	error_is("two documents", GOOD_POOL "---\n" GOOD_POOL,
	    "x.yml:8:1: only one YAML document is allowed");
}

/* Unknown keys in each section, and keys of another check type. */
static void
test_unknown_keys(void)
{
	error_is("unknown top-level key", GOOD_POOL "pool:\n  x: 1\n",
	    "x.yml:8:1: unknown key \"pool\" at the top level");
	error_is("unknown key in defaults",
	    "defaults:\n"
	    "  intervall: 2s\n" GOOD_POOL,
	    "x.yml:2:3: unknown key \"intervall\" in defaults");
	error_is("unknown key in agent",
	    "agent:\n  listen: 127.0.0.1:9777\n  port: 9777\n" GOOD_POOL,
	    "x.yml:3:3: unknown key \"port\" in agent");
	error_is("unknown key in control",
	    "control: { sock: /run/x.sock }\n" GOOD_POOL,
	    "x.yml:1:12: unknown key \"sock\" in control");
	error_is("allow in http",
	    "http: { listen: \"127.0.0.1:9779\", allow: [ 127.0.0.1 ] }\n"
	    GOOD_POOL,
	    "x.yml:1:35: key \"allow\" in http is not supported: listen on a "
	    "loopback address instead");
	error_is("unknown pool key",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_paht: /fpm-status\n"
	    "    status_path: /fpm-status\n",
	    "x.yml:4:5: unknown key \"status_paht\" in pool \"www\"");
	error_is("unknown check key", GOOD_POOL
	    "        scirpt: /srv/other.php\n",
	    "x.yml:8:9: unknown key \"scirpt\" in pool \"www\", check \"app\"");
	error_is("key of another check type", GOOD_POOL
	    "        conninfo: \"dbname=app\"\n",
	    "x.yml:8:9: key \"conninfo\" does not apply to a fastcgi check");
	error_is("http key in a fastcgi check", GOOD_POOL
	    "        url: \"http://127.0.0.1/\"\n",
	    "x.yml:8:9: key \"url\" does not apply to a fastcgi check");
}

/* A value of the wrong kind, or a string of the wrong form. */
static void
test_wrong_types(void)
{
	error_is("sequence where a string is expected", GOOD_POOL
	    "        query: [ a, b ]\n",
	    "x.yml:8:16: query: expected a string");
	error_is("sequence where a path is expected", CHECKS_HEAD
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        script: [ /srv/status.php ]\n",
	    "x.yml:7:17: script: expected an absolute path");
	error_is("mapping where a duration is expected", GOOD_POOL
	    "        timeout: { s: 1 }\n",
	    "x.yml:8:18: timeout: expected a duration with a unit, like "
	    "250ms, 2s or 1m");
	error_is("checks is a mapping",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /fpm-status\n"
	    "    checks: { name: app }\n",
	    "x.yml:5:13: checks: expected a sequence");
	error_is("a check is a string", CHECKS_HEAD
	    "      - app\n"
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        script: /srv/status.php\n",
	    "x.yml:5:9: checks: expected a mapping for each check");
	error_is("agent is a sequence", "agent: [ 127.0.0.1:9777 ]\n"
	    GOOD_POOL, "x.yml:1:8: agent: expected a mapping");
	error_is("pool is a string", "pools:\n  www: unix:/run/php.sock\n",
	    "x.yml:2:8: pool \"www\": expected a mapping");
	error_is("pools is a sequence", "pools: [ www ]\n",
	    "x.yml:1:8: pools: expected a mapping of pool names to pools");
	error_is("key is a sequence", GOOD_POOL "? [ a ]\n: 1\n",
	    "x.yml:8:3: expected a string as key, not (a sequence)");
	error_is("user is empty", "user:\n" GOOD_POOL,
	    "x.yml:1:6: user: expected a user name");
	error_is("bad boolean word", "agent: { admin_state: maybe }\n"
	    GOOD_POOL, "x.yml:1:23: admin_state: expected set or leave");
	error_is("relative status_path",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: fpm-status\n",
	    "x.yml:4:18: status_path: expected a path starting with /");
	error_is("relative script", CHECKS_HEAD
	    "      - { name: app, type: fastcgi, script: status.php }\n",
	    "x.yml:5:45: script: expected an absolute path");
	error_is("allow is not a network", "agent: { allow: [ 10.0.0.0/33 ] }\n"
	    GOOD_POOL,
	    "x.yml:1:19: allow: expected a network like 10.0.0.0/8 or "
	    "::1/128");
}

/* Required keys, each missing on its own. */
static void
test_missing(void)
{
	error_is("missing pools", "defaults: { interval: 2s }\n",
	    "x.yml:1:1: missing required key \"pools\"");
	error_is("no pool", "pools: {}\n",
	    "x.yml:1:8: pools: expected at least one pool");
	error_is("missing fastcgi",
	    "pools:\n"
	    "  www:\n"
	    "    status_path: /fpm-status\n",
	    "x.yml:2:3: pool \"www\": missing required key \"fastcgi\"");
	error_is("missing script", CHECKS_HEAD
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        query: x=1\n",
	    "x.yml:5:9: pool \"www\", check \"app\": missing required key "
	    "\"script\"");
	error_is("missing name", CHECKS_HEAD
	    "      - type: fastcgi\n"
	    "        script: /srv/status.php\n",
	    "x.yml:5:9: pool \"www\", check #1: missing required key \"name\"");
	error_is("missing type", CHECKS_HEAD
	    "      - name: app\n"
	    "        script: /srv/status.php\n",
	    "x.yml:5:9: pool \"www\", check \"app\": missing required key "
	    "\"type\"");
	error_is("nothing to check",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    checks: []\n",
	    "x.yml:2:3: pool \"www\": nothing to check (add checks or "
	    "status_path)");
	if (have_type("http"))
		error_is("missing url", CHECKS_HEAD
		    "      - { name: front, type: http }\n",
		    "x.yml:5:9: pool \"www\", check \"front\": missing "
		    "required key \"url\"");
	else
		error_is("http not built", CHECKS_HEAD
		    "      - { name: front, type: http, url: \"http://h/\" }\n",
		    "x.yml:5:30: check type \"http\" is not available in this "
		    "build");
	if (have_type("mysql"))
		error_is("missing user", CHECKS_HEAD
		    "      - { name: web, type: mysql, host: h }\n",
		    "x.yml:5:9: pool \"www\", check \"web\": missing required "
		    "key \"user\"");
	else
		skip("mysql is not in this build");
}

/* Durations without a unit, with a wrong one, out of range. */
static void
test_durations(void)
{
	error_is("duration without a unit", GOOD_POOL "        timeout: 5\n",
	    "x.yml:8:18: timeout: duration needs a unit (ms, s, m or h), like "
	    "250ms or 2s");
	error_is("unknown duration unit", GOOD_POOL "        timeout: 5x\n",
	    "x.yml:8:18: timeout: unknown duration unit (use ms, s, m or h)");
	error_is("not a duration", GOOD_POOL "        timeout: fast\n",
	    "x.yml:8:18: timeout: expected a duration with a unit, like "
	    "250ms, 2s or 1m");
	error_is("interval too short", "defaults:\n  interval: 50ms\n"
	    GOOD_POOL,
	    "x.yml:2:13: interval: expected a duration from 100ms to 1h");
	error_is("timeout too long", "defaults:\n  timeout: 2h\n" GOOD_POOL,
	    "x.yml:2:12: timeout: expected a duration from 10ms to 1h");
	error_is("timeout of zero", "defaults:\n  timeout: 0ms\n" GOOD_POOL,
	    "x.yml:2:12: timeout: expected a duration from 10ms to 1h");
	error_is("stuck_after too short",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n"
	    "    stuck_after: 10ms\n",
	    "x.yml:5:18: stuck_after: expected a duration from 100ms to 24h");
}

/* Addresses the helpers refuse, wherever they appear. */
static void
test_addresses(void)
{
	error_is("bad port",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:99999\n"
	    "    status_path: /s\n",
	    "x.yml:3:14: fastcgi: bad port (expected 1 to 65535)");
	error_is("no port",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1\n"
	    "    status_path: /s\n",
	    "x.yml:3:14: fastcgi: expected HOST:PORT, [V6]:PORT or "
	    "unix:/path");
	error_is("relative unix path",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: unix:php.sock\n"
	    "    status_path: /s\n",
	    "x.yml:3:14: fastcgi: unix: address needs an absolute path");
	error_is("IPv6 without brackets",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: ::1:9000\n"
	    "    status_path: /s\n",
	    "x.yml:3:14: fastcgi: an IPv6 address needs brackets: "
	    "[V6]:PORT");
	error_is("bad listen port in a sequence",
	    "agent:\n"
	    "  listen: [ \"127.0.0.1:9777\", \"127.0.0.1:0\" ]\n" GOOD_POOL,
	    "x.yml:2:31: listen: bad port (expected 1 to 65535)");
	error_is("bad check address", GOOD_POOL
	    "        address: \"unix:\"\n",
	    "x.yml:8:18: address: unix: address needs an absolute path");
	error_is("listen is a mapping", "agent:\n  listen: { a: 1 }\n"
	    GOOD_POOL,
	    "x.yml:2:11: listen: expected an address or a sequence of "
	    "addresses");
}

/* Names and keys given twice. */
static void
test_duplicates(void)
{
	error_is("duplicate pool name",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9001\n"
	    "    status_path: /s\n",
	    "x.yml:5:3: duplicate pool name \"www\"");
	error_is("duplicate check name", GOOD_POOL
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        script: /srv/other.php\n",
	    "x.yml:8:15: duplicate check name \"app\" in pool \"www\"");
	error_is("duplicate key", GOOD_POOL
	    "        timeout: 1s\n"
	    "        timeout: 2s\n",
	    "x.yml:9:9: duplicate key \"timeout\"");
	error_is("duplicate top-level key", GOOD_POOL
	    "pools:\n  other: {}\n",
	    "x.yml:8:1: duplicate key \"pools\"");
	error_is("duplicate key, quoted", "defaults: { rise: 2, \"rise\": 3 }\n"
	    GOOD_POOL, "x.yml:1:22: duplicate key \"rise\"");
}

/* Pool and check names outside [A-Za-z0-9_.-]{1,64}. */
static void
test_names(void)
{
	error_is("bad pool name characters",
	    "pools:\n"
	    "  \"w w\":\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n",
	    "x.yml:2:3: pool name \"w w\": expected 1 to 64 letters, digits, "
	    "'_', '.' or '-'");
	error_is("pool name too long",
	    "pools:\n"
	    "  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    ":\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n",
	    "x.yml:2:3: pool name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaa...\": expected 1 to 64 letters, digits, '_', "
	    "'.' or '-'");
	error_is("control bytes in a pool name are not echoed",
	    "pools:\n"
	    "  \"a\\nb\\e[31m\":\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n",
	    "x.yml:2:3: pool name \"a b [31m\": expected 1 to 64 letters, "
	    "digits, '_', '.' or '-'");
	error_is("bad check name", CHECKS_HEAD
	    "      - { name: \"my check\", type: fastcgi, script: /s.php }\n",
	    "x.yml:5:17: name: \"my check\": expected 1 to 64 letters, digits, "
	    "'_', '.' or '-'");
}

/* Integers out of range or not plain decimal. */
static void
test_ranges(void)
{
	error_is("rise 0", "defaults:\n  rise: 0\n" GOOD_POOL,
	    "x.yml:2:9: rise: expected an integer from 1 to 100");
	error_is("rise 101", GOOD_POOL "        rise: 101\n",
	    "x.yml:8:15: rise: expected an integer from 1 to 100");
	error_is("fall negative",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n"
	    "    fall: -1\n",
	    "x.yml:5:11: fall: expected an integer from 1 to 100");
	error_is("rise not decimal", GOOD_POOL "        rise: 0x2\n",
	    "x.yml:8:15: rise: expected an integer from 1 to 100");
	error_is("expect_status out of range", GOOD_POOL
	    "        expect_status: 99\n",
	    "x.yml:8:24: expect_status: expected an integer from 100 to 999");
	error_is("max_children 0",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    status_path: /s\n"
	    "    max_children: 0\n",
	    "x.yml:5:19: max_children: expected an integer from 1 to 100000");
	error_is("huge integer", GOOD_POOL
	    "        rise: 99999999999999999999999\n",
	    "x.yml:8:15: rise: expected an integer from 1 to 100");
}

/* Check types that do not exist. */
static void
test_types(void)
{
	error_is("unknown check type", CHECKS_HEAD
	    "      - { name: app, type: fcgi, script: /s.php }\n",
	    "x.yml:5:28: unknown check type \"fcgi\" (expected fastcgi, pgsql, "
	    "mysql or http)");
	error_is("check type is a sequence", CHECKS_HEAD
	    "      - { name: app, type: [ fastcgi ], script: /s.php }\n",
	    "x.yml:5:28: type: expected a check type");
}

/* Many mistakes in one file: all reported, in file order. */
static void
test_several(void)
{
	const char *yaml =
	    "agent:\n"
	    "  listen: [ \"127.0.0.1:70000\" ]\n"		/* 1 */
	    "defaults:\n"
	    "  interval: 2\n"				/* 2 */
	    "  rise: 0\n"				/* 3 */
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: 127.0.0.1:9000\n"
	    "    checks:\n"
	    "      - name: app\n"
	    "        type: fastcgi\n"
	    "        scirpt: /srv/status.php\n"		/* 4, 5 missing */
	    "      - name: app\n"				/* 6 duplicate */
	    "        type: pgsql\n"
	    "        script: /x.php\n"			/* 7 */
	    "        conninfo: x\n"
	    "  \"bad name\":\n"				/* 8 */
	    "    status_path: /s\n"				/* 9 no fastcgi */
	    "bogus: 1\n";				/* 10 */
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	size_t		 i;

	conf = load(yaml, &errs);
	ok(conf == NULL, "several errors: refused");
	is_int(errs.n, have_type("pgsql") ? 10 : 11,
	    "several errors: all reported at once");
	for (i = 0; i < errs.n; i++)
		printf("#   %s\n", errs.msg[i]);
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml:2:13: listen: bad port (expected 1 to 65535)",
	    "several errors: first in file order");
	is_str(errs.n > 0 ? errs.msg[errs.n - 1] : NULL,
	    "x.yml:19:1: unknown key \"bogus\" at the top level",
	    "several errors: last in file order");
	ok(has_error(&errs, "x.yml:10:9: pool \"www\", check \"app\": "
	    "missing required key \"script\""), "several errors: missing");
	ok(has_error(&errs, "x.yml:13:15: duplicate check name \"app\" in "
	    "pool \"www\""), "several errors: duplicate check");
	ok(has_error(&errs, "x.yml:15:9: key \"script\" does not apply to "
	    "a pgsql check"), "several errors: wrong type's key");
	config_free(conf);
	errlist_free(&errs);
}

/* Input meant to hurt: nesting, aliases, NULs, sizes, floods. */
static void
test_hostile(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct buf	 b;
	size_t		 i;

	memset(&b, 0, sizeof(b));
	buf_addstr(&b, "pools: ");
	for (i = 0; i < 100000; i++)
		buf_addstr(&b, "[");
	conf = config_load_buf("x.yml", (char *)b.data, b.len, &errs);
	ok(conf == NULL && errs.n == 1, "deep nesting: one error");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml:1:39: nested deeper than 32 levels", "deep nesting");
	errlist_free(&errs);

	error_is("alias",
	    "defaults: &d\n"
	    "  interval: 2s\n"
	    "pools:\n"
	    "  www: *d\n",
	    "x.yml:4:8: alias \"*d\" is not supported: write the value out");
	error_is("billion laughs",
	    "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
	    "x.yml:2:8: alias \"*a\" is not supported: write the value out");
	error_is("alias loop", "pools: &p\n  www: *p\n",
	    "x.yml:2:8: alias \"*p\" is not supported: write the value out");

	conf = config_load_buf("x.yml", "pools:\n  w\0w: {}\n", 16, &errs);
	ok(conf == NULL && errs.n == 1, "raw NUL byte: one error");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml:2:4: YAML syntax error: control characters are not "
	    "allowed (#0)", "raw NUL byte");
	errlist_free(&errs);
	error_is("escaped NUL in a value",
	    "pools:\n"
	    "  www:\n"
	    "    fastcgi: \"127.0.0.1:9000\\0evil\"\n"
	    "    status_path: /s\n",
	    "x.yml:3:14: fastcgi: must not contain a NUL byte");
	error_is("escaped NUL in a key", GOOD_POOL "\"pools\\0\": 1\n",
	    "x.yml:8:1: unknown key \"pools\" at the top level");
	error_is("invalid UTF-8", "pools:\n  w\xff: {}\n",
	    "x.yml:2:4: YAML syntax error: invalid leading UTF-8 octet (#FF)");

	/* A huge scalar within the size limit is just a bad value. */
	buf_reset(&b);
	buf_addstr(&b, GOOD_POOL "        query: \"");
	for (i = 0; i < 900000; i++)
		buf_addstr(&b, "x");
	buf_addstr(&b, "\"\n        bogus: 1\n");
	conf = config_load_buf("x.yml", (char *)b.data, b.len, &errs);
	ok(conf == NULL && errs.n == 1, "huge scalar: read");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml:9:9: unknown key \"bogus\" in pool \"www\", check \"app\"",
	    "huge scalar: the next key is still checked");
	errlist_free(&errs);

	/* Bigger than the limit: refused before parsing. */
	buf_reset(&b);
	while (b.len <= 1024 * 1024)
		buf_addstr(&b, "# padding padding padding padding padding\n");
	conf = config_load_buf("x.yml", (char *)b.data, b.len, &errs);
	ok(conf == NULL && errs.n == 1, "too big: one error");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml: larger than 1 MiB, the most a configuration may be",
	    "too big: message");
	errlist_free(&errs);

	/* Thousands of mistakes: a bounded report, quickly. */
	buf_reset(&b);
	buf_addstr(&b, GOOD_POOL);
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "k%zu: 1\n", i);
	conf = config_load_buf("x.yml", (char *)b.data, b.len, &errs);
	ok(conf == NULL, "many errors: refused");
	is_int(errs.n, 101, "many errors: 100 shown, then a count");
	is_str(errs.n > 0 ? errs.msg[errs.n - 1] : NULL,
	    "x.yml: 19900 more errors not shown", "many errors: the count");
	errlist_free(&errs);

	/* Thousands of pools with one name: sorted, not n * n. */
	buf_reset(&b);
	buf_addstr(&b, "pools:\n");
	for (i = 0; i < 20000; i++)
		buf_addstr(&b, "  p: { fastcgi: \"unix:/x\", status_path: /s }\n");
	conf = config_load_buf("x.yml", (char *)b.data, b.len, &errs);
	ok(conf == NULL && errs.n == 101, "20000 duplicate pools: refused");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "x.yml:3:3: duplicate pool name \"p\"",
	    "20000 duplicate pools: first message");
	errlist_free(&errs);

	conf = config_load_buf("x.yml", NULL, 0, &errs);
	ok(conf == NULL && errs.n == 1, "no data at all");
	errlist_free(&errs);
	buf_free(&b);
}

/* Reading from disk: missing, unreadable, too big, named in messages. */
static void
test_files(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	char		 path[] = "/tmp/t_config.XXXXXX";
	FILE		*f;
	int		 fd;

	conf = config_load("/nonexistent/fpmprobe.yml", &errs);
	ok(conf == NULL && errs.n == 1, "missing file: one error");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "/nonexistent/fpmprobe.yml: cannot open: No such file or "
	    "directory", "missing file: message");
	errlist_free(&errs);

	conf = config_load("/", &errs);
	ok(conf == NULL && errs.n == 1, "a directory: one error");
	is_str(errs.n > 0 ? errs.msg[0] : NULL,
	    "/: cannot read: Is a directory", "a directory: message");
	errlist_free(&errs);

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL) {
		ok(0, "mkstemp");
		return;
	}
	fputs(GOOD_POOL "        timeout: 3\n", f);
	fclose(f);
	conf = config_load(path, &errs);
	ok(conf == NULL && errs.n == 1, "file: errors name the file");
	ok(errs.n > 0 && strncmp(errs.msg[0], path, strlen(path)) == 0 &&
	    strcmp(errs.msg[0] + strlen(path), ":8:18: timeout: duration "
	    "needs a unit (ms, s, m or h), like 250ms or 2s") == 0,
	    "file: FILE:LINE:COL");
	errlist_free(&errs);

	if ((f = fopen(path, "w")) == NULL) {
		ok(0, "fopen");
		unlink(path);
		return;
	}
	while (ftell(f) <= 1024 * 1024)
		fputs("# padding padding padding padding padding padding\n", f);
	fclose(f);
	conf = config_load(path, &errs);
	ok(conf == NULL && errs.n == 1 &&
	    strstr(errs.msg[0], ": larger than 1 MiB") != NULL,
	    "file over 1 MiB refused");
	errlist_free(&errs);
	unlink(path);
}

/* The shipped sample configuration loads. */
static void
test_sample(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	const char	*top;
	char		*path;
	size_t		 i;

	/* configure substitutes its paths: it is in the build tree. */
	if ((top = getenv("top_builddir")) == NULL)
		top = ".";
	xasprintf(&path, "%s/etc/fpmprobe.yml.sample", top);
	conf = config_load(path, &errs);
	ok(conf != NULL, "the sample configuration loads");
	for (i = 0; i < errs.n; i++)
		printf("#   %s\n", errs.msg[i]);
	ok(conf != NULL && config_find_pool(conf, "www") != NULL &&
	    !TAILQ_EMPTY(&config_find_pool(conf, "www")->checks),
	    "the sample has pool www with checks");
	config_free(conf);
	errlist_free(&errs);
	free(path);
}

/* Run every group; the exit status says whether all passed. */
/* Files whose permissions would let others steer or read secrets. */
static void
test_permissions(void)
{
	char		 conf[] = "/tmp/t_config.XXXXXX", pw[] = "/tmp/t_pw.XXXXXX";
	struct errlist	 errs = { NULL, 0 };
	struct config	*c;
	FILE		*f;
	int		 fd;

	if ((fd = mkstemp(pw)) == -1 || write(fd, "secret\n", 7) != 7)
		return;
	close(fd);
	if ((fd = mkstemp(conf)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return;
	fprintf(f, "pools:\n  p:\n    fastcgi: 127.0.0.1:9000\n    checks:\n"
	    "      - { name: db, type: pgsql, conninfo: \"host=127.0.0.1\", "
	    "password_file: %s }\n", pw);
	fclose(f);

	chmod(pw, 0600);
	c = config_load(conf, &errs);
	ok(c != NULL && errs.n == 0, "mode 0600 files are accepted");
	config_free(c);
	errlist_free(&errs);

	chmod(pw, 0644);
	c = config_load(conf, &errs);
	ok(c == NULL && errs.n == 1 && strstr(errs.msg[0],
	    "is readable by others; refusing it") != NULL &&
	    strstr(errs.msg[0], ":5:") != NULL,
	    "a password_file readable by others is refused, with its line "
	    "(%s)", errs.n > 0 ? errs.msg[0] : "no error");
	config_free(c);
	errlist_free(&errs);

	chmod(pw, 0600);
	chmod(conf, 0646);
	c = config_load(conf, &errs);
	ok(c == NULL && errs.n == 1 && strstr(errs.msg[0],
	    "writable by others; refusing it") != NULL,
	    "a configuration writable by others is refused (%s)",
	    errs.n > 0 ? errs.msg[0] : "no error");
	config_free(c);
	errlist_free(&errs);
	unlink(conf);
	unlink(pw);
}

/* YAML tags and keys past libyaml's limit get errors that say so. */
static void
test_yaml_limits(void)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	struct buf	 b = { NULL, 0, 0 };
	size_t		 i;

	conf = load("pools:\n"
	    "  www:\n"
	    "    fastcgi: !!binary 127.0.0.1:9000\n"
	    "    checks:\n"
	    "      - { name: app, type: fastcgi, script: /s.php }\n", &errs);
	ok(conf == NULL, "a YAML tag is refused, not ignored");
	ok(has_error(&errs, "x.yml:3:14: YAML tag \"tag:yaml.org,2002:binary\" "
	    "is not supported: write the value without it"),
	    "and the error names it (%s)", errs.n > 0 ? errs.msg[0] : "none");
	errlist_free(&errs);
	config_free(conf);

	buf_addstr(&b, "pools:\n  ");
	for (i = 0; i < 10000; i++)
		buf_addstr(&b, "x");
	buf_addstr(&b, ":\n    fastcgi: 127.0.0.1:9000\n");
	conf = config_load_buf("x.yml", (const char *)b.data, b.len, &errs);
	ok(conf == NULL && has_error(&errs, "x.yml:2:1: a key longer than "
	    "1024 characters (names have at most 64)"),
	    "a 10,000-character pool name: an error that says why (%s)",
	    errs.n > 0 ? errs.msg[0] : "none");
	errlist_free(&errs);
	config_free(conf);
	buf_free(&b);
}

/* Warnings: valid configurations that still deserve a word. */
static void
test_warnings(void)
{
	struct errlist	 errs = { NULL, 0 }, warns = { NULL, 0 };
	struct config	*conf;

	conf = load("pools:\n"
	    "  far:\n"
	    "    fastcgi: 10.0.0.1:9000\n"
	    "    status_path: /fpm-status\n"
	    "    checks:\n"
	    "      - { name: app, type: fastcgi, script: /s.php,\n"
	    "          interval: 300ms, timeout: 800ms }\n"
	    "  near:\n"
	    "    fastcgi: unix:/run/php/php8.2-fpm.sock\n"
	    "    status_path: /fpm-status\n"
	    "    checks:\n"
	    "      - { name: app, type: fastcgi, script: /s.php }\n", &errs);
	ok(conf != NULL && errs.n == 0, "warnings do not make it invalid");
	if (conf != NULL)
		config_warnings(conf, &warns);
	is_int(warns.n, 2, "two warnings");
	ok(warns.n > 0 && strncmp(warns.msg[0], "x.yml:2:3: warning: pool far "
	    "is not on this host and sets no max_children", 66) == 0,
	    "a remote pool without max_children (%s)",
	    warns.n > 0 ? warns.msg[0] : "none");
	ok(warns.n > 1 && strstr(warns.msg[1], "x.yml:6:9: warning: check app: "
	    "timeout 800ms is longer than interval 300ms") != NULL,
	    "a timeout longer than its interval (%s)",
	    warns.n > 1 ? warns.msg[1] : "none");
	errlist_free(&warns);
	errlist_free(&errs);
	config_free(conf);
}

int
main(void)
{
	test_full();
	test_builtin_defaults();
	test_pgsql();
	test_mysql();
	test_http();
	test_syntax();
	test_unknown_keys();
	test_wrong_types();
	test_missing();
	test_durations();
	test_addresses();
	test_duplicates();
	test_names();
	test_ranges();
	test_types();
	test_several();
	test_hostile();
	test_files();
	test_permissions();
	test_sample();
	test_warnings();
	test_yaml_limits();
	return tap_done();
}
