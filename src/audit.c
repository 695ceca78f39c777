/*
 * The bounded-blocking audit: which layer lets a PHP worker wait forever.
 * In the incident fpmprobe exists for, workers blocked on a hung query
 * still accepted connections, and nothing bounded the wait: no
 * request_terminate_timeout in the pool, no statement or idle-transaction
 * timeout in the database.
 *
 * One list of findings per source: the pool's (php-fpm's configuration
 * and the php.ini it loads, filled by the sampler) and each database
 * check's (the server's settings as its role gets them, filled with the
 * capacity audit).  Here are the decisions, the list and its formatting;
 * report.c and metrics.c only print it.  A finding is never health: it
 * changes no verdict and no agent answer.
 *
 * php.ini is found by a heuristic, Debian's layout: dirname(php-fpm.conf)
 * /php.ini, then conf.d/ *.ini next to it in name order.  php-fpm itself
 * uses its compiled-in path (or -c); where they differ, the audit reads
 * the wrong file or none.
 */

#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define AUDIT_INI_FILES_MAX	64	/* conf.d/ *.ini read */
#define AUDIT_IDLE_MAX_S	600	/* longer idle lives are findings */

static const char *const ini_keys[] = {
	"max_execution_time", "default_socket_timeout",
	"mysqlnd.net_read_timeout", NULL
};

static const char *ini_why(const char *);
static void	safe_below_terminate(char *, size_t, int, const char *);
static int	finding_same(const struct audit_finding *,
		    const struct audit_finding *);
static int	name_cmp(const void *, const void *);

/* Add one finding to a list. */
void
audit_add(struct audit_list *l, int warn, const char *layer,
    const char *setting, const char *value, const char *source,
    const char *why, const char *safe)
{
	struct audit_finding	*f;

	l->f = xreallocarray(l->f, l->n + 1, sizeof(*l->f));
	f = &l->f[l->n++];
	memset(f, 0, sizeof(*f));
	f->warn = warn;
	strlcpy_safe(f->layer, layer, sizeof(f->layer));
	strlcpy_safe(f->setting, setting, sizeof(f->setting));
	strlcpy_safe(f->value, value != NULL ? value : "", sizeof(f->value));
	strlcpy_safe(f->source, source != NULL ? source : "",
	    sizeof(f->source));
	strlcpy_safe(f->why, why != NULL ? why : "", sizeof(f->why));
	strlcpy_safe(f->safe, safe != NULL ? safe : "", sizeof(f->safe));
}

/* Empty a list; idempotent. */
void
audit_clear(struct audit_list *l)
{
	free(l->f);
	l->f = NULL;
	l->n = 0;
}

/* The same finding, whatever its wording: what is logged once. */
static int
finding_same(const struct audit_finding *a, const struct audit_finding *b)
{
	return strcmp(a->layer, b->layer) == 0 &&
	    strcmp(a->setting, b->setting) == 0 &&
	    strcmp(a->value, b->value) == 0;
}

/*
 * A source was audited again: *fresh replaces *l, and what was not
 * there before is logged, once, under the pool's name (not by --once,
 * whose report prints it).
 */
void
audit_replace(struct audit_list *l, struct audit_list *fresh,
    const struct pool *pool)
{
	char	 line[AUDIT_LINE_MAX];
	size_t	 i, j;

	for (i = 0; i < fresh->n; i++) {
		for (j = 0; j < l->n; j++)
			if (finding_same(&fresh->f[i], &l->f[j]))
				break;
		if (j < l->n || pool->once)
			continue;
		audit_line(line, sizeof(line), &fresh->f[i]);
		if (fresh->f[i].warn)
			log_warnx("pool %s: audit: %s", pool->name, line);
		else
			log_info("pool %s: audit: %s", pool->name, line);
	}
	audit_clear(l);
	*l = *fresh;
	memset(fresh, 0, sizeof(*fresh));
}

/* One finding as one line of text. */
void
audit_line(char *out, size_t outlen, const struct audit_finding *f)
{
	snprintf(out, outlen, "%s%s %s = %s (%s): %s%s%s",
	    f->warn ? "WARNING " : "", f->layer, f->setting, f->value,
	    f->source[0] != '\0' ? f->source : "unknown source", f->why,
	    f->safe[0] != '\0' ? "; safe: " : "", f->safe);
}

/* "below request_terminate_timeout (30s), e.g. 15s", or what to do first. */
static void
safe_below_terminate(char *out, size_t outlen, int terminate_s,
    const char *what)
{
	if (terminate_s > 0)
		snprintf(out, outlen, "%s below the pool's "
		    "request_terminate_timeout (%ds), e.g. %ds", what,
		    terminate_s, terminate_s > 1 ? terminate_s / 2 : 1);
	else
		snprintf(out, outlen, "%s of a few seconds, below the pool's "
		    "request_terminate_timeout once that is set", what);
}

/* Why a php.ini value found is worth knowing. */
static const char *
ini_why(const char *key)
{
	if (strcmp(key, "max_execution_time") == 0)
		return "on Linux (a non-ZTS build) it counts CPU time, not "
		    "time waiting on a socket: it does not bound a DB wait";
	if (strcmp(key, "default_socket_timeout") == 0)
		return "bounds stream connects and reads; mysqlnd uses it to "
		    "connect, not to wait for a query's result";
	return "bounds each read of a mysqlnd result: a hung query ends "
	    "the request after it";
}

/*
 * The php-fpm side of a pool: its own section sec, where terminate_s is
 * what facts_read() made of request_terminate_timeout (-1: unreadable),
 * server_ms HAProxy's timeout server if told (else 0), and the php.ini it
 * loads (ini NULL: none read; ini_err: why not).
 */
void
audit_fpm(struct audit_list *l, const struct fpm_conf_section *sec,
    int terminate_s, unsigned int server_ms, const struct fpm_conf *ini,
    const char *ini_path, const char *ini_err)
{
	const struct fpm_conf_entry	*e;
	char				 src[AUDIT_SOURCE_MAX], key[96];
	char				 safe[160];
	unsigned int			 secs;
	size_t				 i, k;

	e = fpm_conf_get(sec, "request_terminate_timeout");
	if (e != NULL)
		snprintf(src, sizeof(src), "%s:%d", e->file, e->line);
	if (server_ms > 0)
		snprintf(safe, sizeof(safe), "above the slowest legitimate "
		    "request, below HAProxy's timeout server (%ums)",
		    server_ms);
	else
		strlcpy_safe(safe, "e.g. 30s: above the slowest legitimate "
		    "request, below HAProxy's timeout server", sizeof(safe));
	if (terminate_s == 0)
		audit_add(l, 1, "php-fpm", "request_terminate_timeout",
		    e != NULL ? e->value : "0", e != NULL ? src : "default",
		    "a worker can be held forever: nothing ends a request "
		    "blocked on a hung query", safe);
	else if (terminate_s > 0 && server_ms > 0 &&
	    (unsigned long long)terminate_s * 1000 >= server_ms)
		audit_add(l, 1, "php-fpm", "request_terminate_timeout",
		    e != NULL ? e->value : "?", e != NULL ? src : "default",
		    "not below HAProxy's timeout server: a worker stays busy "
		    "on a request nobody waits for any more", safe);
	e = fpm_conf_get(sec, "request_slowlog_timeout");
	if (e != NULL)
		snprintf(src, sizeof(src), "%s:%d", e->file, e->line);
	if (e == NULL || (fpm_conf_seconds(e->value, &secs) == 0 &&
	    secs == 0)) {
		if (terminate_s > 0)
			snprintf(safe, sizeof(safe), "below "
			    "request_terminate_timeout (%ds), e.g. %ds",
			    terminate_s, terminate_s > 1 ? terminate_s / 2 : 1);
		else
			strlcpy_safe(safe, "a few seconds, below "
			    "request_terminate_timeout", sizeof(safe));
		audit_add(l, 0, "php-fpm", "request_slowlog_timeout",
		    e != NULL ? e->value : "0", e != NULL ? src : "default",
		    "no slow log: a blocked worker's stack is never written "
		    "down", safe);
	}
	/* The pool's overrides first, then php.ini's value. */
	for (k = 0; ini_keys[k] != NULL; k++) {
		snprintf(key, sizeof(key), "php_admin_value[%s]", ini_keys[k]);
		if ((e = fpm_conf_get(sec, key)) == NULL) {
			snprintf(key, sizeof(key), "php_value[%s]",
			    ini_keys[k]);
			e = fpm_conf_get(sec, key);
		}
		for (i = 0; e == NULL && ini != NULL && i < ini->n; i++)
			e = fpm_conf_get(&ini->section[i], ini_keys[k]);
		if (e == NULL)
			continue;
		snprintf(src, sizeof(src), "%s:%d", e->file, e->line);
		audit_add(l, 0, strchr(e->key, '[') != NULL ? "php-fpm" :
		    "php", e->key, e->value, src, ini_why(ini_keys[k]), NULL);
	}
	if ((e = fpm_conf_get(sec, "env[PGCONNECT_TIMEOUT]")) != NULL) {
		snprintf(src, sizeof(src), "%s:%d", e->file, e->line);
		audit_add(l, 0, "php-fpm", e->key, e->value, src, "libpq's "
		    "connect timeout: it bounds the connect, not a query",
		    NULL);
	}
	if (ini_err != NULL && ini_err[0] != '\0')
		audit_add(l, 0, "php", "php.ini", "unreadable",
		    ini_path != NULL ? ini_path : "", ini_err,
		    "a file php can parse");
}

/* Sort file names as php's scanner does conf.d. */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Read the php.ini next to php-fpm's main file fpm_path, and conf.d/
 * *.ini beside it, into ini.  Returns 0 when there is none, 1 when read,
 * -1 with err and path (the file that failed) when a file did not parse.
 */
int
audit_php_ini_load(const char *fpm_path, struct fpm_conf *ini, char *path,
    size_t pathlen, char *err, size_t errlen)
{
	char		 dir[512], *names[AUDIT_INI_FILES_MAX], *text = NULL;
	const char	*slash;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	size_t		 n = 0, i, len;
	int		 rc = 0, found = 0;

	err[0] = '\0';
	if ((slash = strrchr(fpm_path, '/')) == NULL)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - fpm_path), fpm_path);
	snprintf(path, pathlen, "%s/conf.d", dir);
	if ((d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL && n < AUDIT_INI_FILES_MAX) {
			len = strlen(de->d_name);
			if (len > 4 && strcmp(de->d_name + len - 4, ".ini") == 0)
				names[n++] = xstrdup(de->d_name);
		}
		closedir(d);
		qsort(names, n, sizeof(names[0]), name_cmp);
	}
	for (i = 0; i <= n && rc == 0; i++) {
		if (i == 0)
			snprintf(path, pathlen, "%s/php.ini", dir);
		else
			snprintf(path, pathlen, "%s/conf.d/%s", dir,
			    names[i - 1]);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		text = xcalloc(1, AUDIT_INI_BYTES_MAX + 1);
		len = fread(text, 1, AUDIT_INI_BYTES_MAX, f);
		if (ferror(f)) {
			snprintf(err, errlen, "not read");
			rc = -1;
		} else if (fpm_conf_parse(ini, path, text, len, err,
		    errlen) == -1)
			rc = -1;
		else
			found = 1;
		fclose(f);
		free(text);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return rc == -1 ? -1 : found;
}

/*
 * The sampler read the pool's section sec of php-fpm's main file
 * fpm_path: audit it with the php.ini next to it, and keep the findings.
 */
void
audit_fpm_learn(struct pool *pool, const char *fpm_path,
    const struct fpm_conf_section *sec)
{
	struct audit_list	 fresh = { NULL, 0 };
	struct fpm_conf		 ini;
	char			 path[768], err[256];
	int			 rc;

	memset(&ini, 0, sizeof(ini));
	rc = audit_php_ini_load(fpm_path, &ini, path, sizeof(path), err,
	    sizeof(err));
	/* What came before a file that does not parse still counts. */
	audit_fpm(&fresh, sec, pool->fpm.terminate_s, pool->timeout_server_ms,
	    rc != 0 ? &ini : NULL, path, rc == -1 ? err : NULL);
	fpm_conf_free(&ini);
	audit_replace(&pool->audit, &fresh, pool);
}

/*
 * One PostgreSQL setting as pg_settings gives it (setting NULL: the role
 * cannot read it), on the server target, for a pool whose
 * request_terminate_timeout is terminate_s (-1: not known).
 */
void
audit_pg_setting(struct audit_list *l, const char *target, const char *name,
    const char *setting, const char *unit, const char *pgsource,
    int terminate_s)
{
	char		 value[64], src[AUDIT_SOURCE_MAX], safe[160];
	long long	 v;
	char		*end;

	snprintf(src, sizeof(src), "%s, pg_settings source %s", target,
	    pgsource != NULL ? pgsource : "unknown");
	if (setting == NULL) {
		audit_add(l, 0, "postgresql", name, "unreadable", target,
		    "the check's role cannot read this setting", NULL);
		return;
	}
	v = strtoll(setting, &end, 10);
	if (*end != '\0')
		return;
	snprintf(value, sizeof(value), "%s%s", setting,
	    v != 0 && unit != NULL ? unit : "");
	if (strcmp(name, "statement_timeout") == 0) {
		safe_below_terminate(safe, sizeof(safe), terminate_s,
		    "statement_timeout");
		if (v == 0)
			audit_add(l, 1, "postgresql", name, value, src,
			    "unbounded: a hung query holds its worker for "
			    "ever", safe);
		else if (terminate_s > 0 && v >= terminate_s * 1000LL)
			audit_add(l, 1, "postgresql", name, value, src,
			    "longer than request_terminate_timeout: php-fpm "
			    "kills the worker, the query goes on", safe);
	} else if (strcmp(name, "idle_in_transaction_session_timeout") == 0) {
		if (v == 0)
			audit_add(l, 1, "postgresql", name, value, src,
			    "unbounded: a worker killed or hung inside a "
			    "transaction keeps its locks for ever",
			    "a few seconds to a minute");
	} else if (strcmp(name, "lock_timeout") == 0) {
		if (v == 0)
			audit_add(l, 0, "postgresql", name, value, src,
			    "a lock wait is bounded only by statement_timeout",
			    "below statement_timeout");
	} else if (strcmp(name, "idle_session_timeout") == 0) {
		if (v == 0)
			audit_add(l, 0, "postgresql", name, value, src,
			    "the server never closes an idle connection "
			    "(a dead worker's persistent one)",
			    "longer than the pool's idle reuse, e.g. 10min");
	} else if (strcmp(name, "tcp_keepalives_idle") == 0) {
		if (v == 0)
			audit_add(l, 0, "postgresql", name, value, src,
			    "a vanished client is noticed after the OS's "
			    "tcp_keepalive_time (2h by default)", "e.g. 60s");
	}
}

/*
 * What max_connections less superuser_reserved_connections leaves the
 * pools' roles (either -1: not read).
 */
void
audit_pg_slots(struct audit_list *l, const char *target, long long max,
    long long reserved)
{
	char	 value[64];

	if (max < 0 || reserved < 0)
		return;
	snprintf(value, sizeof(value), "%lld", max - reserved);
	audit_add(l, 0, "postgresql",
	    "max_connections - superuser_reserved_connections", value, target,
	    "what the pools' roles may open; the capacity audit compares it "
	    "with their pm.max_children", NULL);
}

/*
 * One MariaDB/MySQL variable as SHOW VARIABLES gives it to the check's
 * user (value NULL: not reported), for a pool whose
 * request_terminate_timeout is terminate_s (-1: not known).
 */
void
audit_my_setting(struct audit_list *l, const char *layer, const char *target,
    const char *name, const char *value, int terminate_s)
{
	char	 safe[160], shown[64];
	double	 v;
	char	*end;

	if (value == NULL) {
		audit_add(l, 0, layer, name, "unreadable", target,
		    "not reported to the check's user", NULL);
		return;
	}
	v = strtod(value, &end);
	if (end == value)
		return;
	strlcpy_safe(shown, value, sizeof(shown));
	if (strcmp(name, "wait_timeout") == 0) {
		if (v > AUDIT_IDLE_MAX_S)
			audit_add(l, 1, layer, name, shown, target,
			    "an idle connection, one a dead worker left inside "
			    "a transaction with its locks, lives that long "
			    "(seconds)", "a few minutes, e.g. 300");
	} else if (strcmp(name, "interactive_timeout") == 0) {
		if (v > AUDIT_IDLE_MAX_S)
			audit_add(l, 0, layer, name, shown, target,
			    "interactive clients only (not PHP): their idle "
			    "connections live that long (seconds)",
			    "a few minutes, e.g. 300");
	} else if (strcmp(name, "max_statement_time") == 0 ||
	    strcmp(name, "max_execution_time") == 0) {
		/* MariaDB's is in seconds, MySQL's (SELECT only) in ms. */
		if (name[4] == 'e')
			v /= 1000;
		safe_below_terminate(safe, sizeof(safe), terminate_s, name);
		if (v == 0)
			audit_add(l, 1, layer, name, shown, target,
			    "unbounded: a hung statement holds its worker for "
			    "ever", safe);
		else if (terminate_s > 0 && v >= terminate_s)
			audit_add(l, 1, layer, name, shown, target,
			    "longer than request_terminate_timeout: php-fpm "
			    "kills the worker, the statement goes on", safe);
	} else if (strcmp(name, "lock_wait_timeout") == 0) {
		if (v > AUDIT_IDLE_MAX_S)
			audit_add(l, 0, layer, name, shown, target,
			    "a metadata-lock wait (DDL, LOCK TABLES) lasts up "
			    "to that (seconds)", "below request_terminate_"
			    "timeout");
	} else if (strcmp(name, "innodb_lock_wait_timeout") == 0) {
		if (terminate_s > 0 && v >= terminate_s)
			audit_add(l, 1, layer, name, shown, target,
			    "a row-lock wait outlives request_terminate_timeout "
			    "(seconds)", "below request_terminate_timeout");
	} else if (strcmp(name, "max_connections") == 0)
		audit_add(l, 0, layer, name, shown, target, "what the pools' "
		    "users may open; the capacity audit compares it with "
		    "their pm.max_children", NULL);
}

/*
 * A pool's findings, its own then its database checks', as pointers
 * into their lists; returns how many there are (max at most kept).
 */
size_t
audit_collect(const struct pool *pool, const struct audit_finding **out,
    size_t max)
{
	const struct check	*c;
	const struct audit_list	*l;
	size_t			 n = 0, i;

	for (i = 0; i < pool->audit.n; i++, n++)
		if (n < max)
			out[n] = &pool->audit.f[i];
	TAILQ_FOREACH(c, &pool->checks, entry) {
		if ((l = db_audit_list(c)) == NULL)
			continue;
		for (i = 0; i < l->n; i++, n++)
			if (n < max)
				out[n] = &l->f[i];
	}
	return n;
}

/* How many of a pool's findings are warnings (--once --audit). */
size_t
audit_warnings(const struct pool *pool)
{
	const struct audit_finding	*f[AUDIT_FINDINGS_MAX];
	size_t				 n, i, w = 0;

	n = audit_collect(pool, f, AUDIT_FINDINGS_MAX);
	for (i = 0; i < n && i < AUDIT_FINDINGS_MAX; i++)
		w += f[i]->warn != 0;
	return w;
}

/* The text report's audit section: "audit:", then a line a finding. */
void
audit_text(struct buf *b, struct pool **pools, size_t npools)
{
	const struct audit_finding	*f[AUDIT_FINDINGS_MAX];
	char				 line[AUDIT_LINE_MAX];
	size_t				 p, n, i, head = 0;

	for (p = 0; p < npools; p++) {
		n = audit_collect(pools[p], f, AUDIT_FINDINGS_MAX);
		for (i = 0; i < n && i < AUDIT_FINDINGS_MAX; i++) {
			if (!head++)
				buf_addstr(b, "audit:\n");
			audit_line(line, sizeof(line), f[i]);
			buf_printf(b, "  pool %s: %s\n", pools[p]->name, line);
		}
	}
}

/* The JSON report's "audit" array, after a comma. */
void
audit_json(struct buf *b, struct pool **pools, size_t npools)
{
	const struct audit_finding	*f[AUDIT_FINDINGS_MAX];
	size_t				 p, n, i, k = 0;

	buf_addstr(b, ", \"audit\": [");
	for (p = 0; p < npools; p++) {
		n = audit_collect(pools[p], f, AUDIT_FINDINGS_MAX);
		for (i = 0; i < n && i < AUDIT_FINDINGS_MAX; i++) {
			buf_addstr(b, k++ ? ", {\"pool\": " : "{\"pool\": ");
			json_str(b, pools[p]->name);
			buf_addstr(b, ", \"layer\": ");
			json_str(b, f[i]->layer);
			buf_addstr(b, ", \"setting\": ");
			json_str(b, f[i]->setting);
			buf_addstr(b, ", \"value\": ");
			json_str(b, f[i]->value);
			buf_addstr(b, ", \"source\": ");
			json_str(b, f[i]->source);
			buf_addstr(b, ", \"why\": ");
			json_str(b, f[i]->why);
			buf_addstr(b, ", \"safe\": ");
			json_str(b, f[i]->safe[0] != '\0' ? f[i]->safe : NULL);
			buf_printf(b, ", \"severity\": \"%s\"}",
			    f[i]->warn ? "warning" : "info");
		}
	}
	buf_addstr(b, "]");
}
