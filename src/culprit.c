/*
 * The database culprit: when busy or stuck workers wait on the server a
 * database check talks to, the check's own connection, after its own
 * query and within its deadline, finds their sessions by the local
 * address of their sockets (what proc_wait read) and the session that
 * blocks them.  This file decides when a lookup is due and for which
 * workers, keeps its result with the check, and says it: the short form
 * in the pool's reason, the whole chain in the reports.  The queries
 * themselves are each check type's (check_pgsql.c, check_mysql.c).
 *
 * Everything the server sends is cut to fixed-size, printable fields:
 * an application_name is the client's to choose.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

static int	waits_on(const struct fpm_worker *, const char *);
static size_t	culprit_collect(const struct check *, const char *,
		    struct db_culprit *);
static int	local_same(const struct fpm_worker *, const char *);
static const char *holder_noun(const char *);
static int64_t	holder_id(const struct db_worker_session *);
static const char *lock_kind(const char *, const struct db_session *);
static void	age_text(char *, size_t, long long);
static void	session_text(struct buf *, const struct db_session *,
		    const char *);
static void	session_details(struct buf *, const struct db_session *);
static const struct db_worker_session *worker_lookup(const struct pool *,
		    const struct fpm_worker *, const struct check **,
		    const struct db_culprit **);
static void	worker_text(struct buf *, const struct db_worker_session *,
		    const struct db_culprit *);
static void	worker_json(struct buf *, const struct check *,
		    const struct db_worker_session *, const struct db_culprit *);
static void	session_json(struct buf *, const struct db_session *);

/*
 * Collect into cu the busy workers of the check's pool that wait on
 * server (a peer as proc_wait names it) over TCP, whose local address is
 * known; returns how many.
 */
static size_t
culprit_collect(const struct check *c, const char *server,
    struct db_culprit *cu)
{
	const struct pool		*pool = c->pool;
	const struct fpm_status		*s = &pool->workers.status;
	struct db_worker_session	*e;
	size_t				 i, n = 0;
	int				 k;

	for (i = 0; i < s->nworkers; i++) {
		const struct fpm_worker *w = &s->workers[i];

		if (!worker_busy(pool, w) || (k = waits_on(w, server)) < 0)
			continue;
		n++;
		/* The first CULPRIT_WORKERS_MAX are looked up, all counted. */
		if (cu == NULL || cu->n >= CULPRIT_WORKERS_MAX)
			continue;
		e = &cu->w[cu->n++];
		e->worker = w->pid;
		e->requests = w->requests;
		strlcpy_safe(e->local, w->wait.locals[k], sizeof(e->local));
		e->session.id = e->blocker.id = -1;
		e->session.xact_age_s = e->blocker.xact_age_s = -1;
	}
	if (cu != NULL)
		cu->waiting = n;
	return n;
}

/*
 * Which of the worker's peers is server, over TCP with its local address
 * known (what a session is matched by); -1 when none is.
 */
static int
waits_on(const struct fpm_worker *w, const char *server)
{
	size_t	 k;

	if (!w->wait.known)
		return -1;
	for (k = 0; k < w->wait.npeers && k < WAIT_PEERS_MAX; k++)
		if (strcmp(w->wait.peers[k], server) == 0 &&
		    w->wait.locals[k][0] != '\0')
			return (int)k;
	return -1;
}

/*
 * Would a lookup by check c, connected to server, have workers to look
 * for in a sample it has not looked at yet?
 */
int
culprit_wanted(const struct check *c, const char *server)
{
	const struct db_keep	*keep = c->keep;
	const struct pool	*pool = c->pool;

	if (keep == NULL || server == NULL || server[0] == '\0' ||
	    !pool->workers.have ||
	    pool->workers.sampled_us == keep->culprit.sample_us)
		return 0;
	return culprit_collect(c, server, NULL) > 0;
}

/*
 * Begin a lookup by check c, whose connection goes to server, of the
 * product ("PostgreSQL"...), now, with the probe's deadline: the
 * workers to look for, or NULL when there is nothing to do (no new
 * sample, no worker waits on that server) or no time left, which the
 * kept result then says.  At most one per worker sample.
 */
struct db_culprit *
culprit_begin(struct check *c, const char *server, const char *product,
    uint64_t now, uint64_t deadline_us)
{
	struct db_keep		*keep = c->keep;
	const struct pool	*pool = c->pool;
	struct db_culprit	*cu;

	if (!culprit_wanted(c, server)) {
		/* Nobody waits on it in this sample: forget the last. */
		if (keep != NULL && pool->workers.have &&
		    pool->workers.sampled_us != keep->culprit.sample_us) {
			memset(&keep->culprit, 0, sizeof(keep->culprit));
			keep->culprit.sample_us = pool->workers.sampled_us;
		}
		return NULL;
	}
	cu = xcalloc(1, sizeof(*cu));
	cu->sample_us = pool->workers.sampled_us;
	cu->done_us = now;
	strlcpy_safe(cu->product, product, sizeof(cu->product));
	strlcpy_safe(cu->server, server, sizeof(cu->server));
	culprit_collect(c, server, cu);
	if (deadline_us < now + CULPRIT_MIN_LEFT_US) {
		snprintf(cu->error, sizeof(cu->error), "not looked up: %llums "
		    "left of the check's %ums deadline",
		    (unsigned long long)(deadline_us > now ?
		    (deadline_us - now) / 1000 : 0), c->timing.timeout_ms);
		culprit_end(c, cu, NULL, now);
		return NULL;
	}
	return cu;
}

/*
 * A lookup is over, complete or not (error: why it was cut short): the
 * check keeps what it found.
 */
void
culprit_end(struct check *c, struct db_culprit *cu, const char *error,
    uint64_t now)
{
	struct db_keep	*keep = c->keep;

	if (error != NULL)
		strlcpy_safe(cu->error, error, sizeof(cu->error));
	cu->took_us = now - cu->done_us;
	cu->done_us = now;
	keep->culprit = *cu;
	free(cu);
}

/*
 * The workers' addresses for the lookup's WHERE: their local ports
 * ("40112, 40113") for pg_stat_activity's client_port (quoted 0), or
 * their 'host:port' for PROCESSLIST's HOST (quoted 1).  Only digits,
 * hex, dots, colons and brackets come from proc_wait; anything else is
 * left out.
 */
void
culprit_sql_list(struct buf *b, const struct db_culprit *cu, int quoted)
{
	const char	*port;
	size_t		 i, added = 0;

	for (i = 0; i < cu->n; i++) {
		const char *local = cu->w[i].local;

		if (local[strspn(local, "0123456789abcdefABCDEF.:[]")] != '\0' ||
		    (port = strrchr(local, ':')) == NULL || port[1] == '\0')
			continue;
		buf_addstr(b, added++ > 0 ? ", " : "");
		if (quoted)
			buf_printf(b, "'%s'", local);
		else
			buf_printf(b, "%d", atoi(port + 1));
	}
	if (added == 0)
		buf_addstr(b, quoted ? "''" : "0");
}

/*
 * The entry of the worker whose socket is the session's client: host and
 * port as the server shows them (port -1: host is "host:port" already).
 */
struct db_worker_session *
culprit_worker(struct db_culprit *cu, const char *host, long long port)
{
	char	 text[80];
	size_t	 i;

	if (host == NULL)
		return NULL;
	if (port < 0)
		strlcpy_safe(text, host, sizeof(text));
	else if (strchr(host, ':') != NULL)
		snprintf(text, sizeof(text), "[%s]:%lld", host, port);
	else
		snprintf(text, sizeof(text), "%s:%lld", host, port);
	for (i = 0; i < cu->n; i++)
		if (strcmp(cu->w[i].local, text) == 0)
			return &cu->w[i];
	return NULL;
}

/*
 * The peer of a connected socket as proc_wait names a worker's peer:
 * "127.0.0.1:5432", "[::1]:5432", "unix:/path"; "" when not known.
 */
void
culprit_peer_text(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	const struct sockaddr_in	*sin = (const void *)&ss;
	const struct sockaddr_in6	*sin6 = (const void *)&ss;
	const struct sockaddr_un	*sun = (const void *)&ss;
	char			 host[INET6_ADDRSTRLEN];

	out[0] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return;
	if (ss.ss_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) != NULL)
		snprintf(out, outlen, "%s:%u", host, ntohs(sin->sin_port));
	else if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host,
	    sizeof(host)) != NULL)
		snprintf(out, outlen, "%s:%u", host, ntohs(sin6->sin6_port));
	else if (ss.ss_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) != NULL)
		snprintf(out, outlen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	else if (ss.ss_family == AF_UNIX && len > offsetof(struct sockaddr_un,
	    sun_path) && sun->sun_path[0] != '\0')
		snprintf(out, outlen, "unix:%.*s", (int)(len -
		    offsetof(struct sockaddr_un, sun_path)), sun->sun_path);
}

/*
 * Parse PostgreSQL's text of an integer array, "{4711,4712}", into at
 * most max ids; returns how many.  Anything else gives none.
 */
size_t
culprit_ids_parse(const char *text, int64_t *ids, size_t max)
{
	const char	*p = text;
	char		*end;
	long long	 v;
	size_t		 n = 0;

	if (p == NULL || *p++ != '{')
		return 0;
	while (*p != '}' && *p != '\0') {
		if (*p < '0' || *p > '9')
			return n;
		v = strtoll(p, &end, 10);
		if (end == p || v < 0)
			return n;
		if (n < max)
			ids[n++] = v;
		p = end;
		if (*p == ',')
			p++;
	}
	return n;
}

/*
 * A value from the server, NULL or not, cut visibly and made printable;
 * its UTF-8 (a user or application name in any script) is kept.
 */
void
culprit_text(char *out, size_t outlen, const char *v, size_t len)
{
	if (outlen > 0)
		out[0] = '\0';
	if (v == NULL || outlen < 4)
		return;
	sanitize_utf8(out, outlen - 3, v, len);
	if (len >= outlen - 3)
		strlcpy_safe(out + strlen(out), "...", outlen - strlen(out));
}

/* "12s", "7m", "3h": a transaction's age, short. */
static void
age_text(char *out, size_t outlen, long long s)
{
	if (s < 0)
		out[0] = '\0';
	else if (s < 600)
		snprintf(out, outlen, "%llds", s);
	else if (s < 36000)
		snprintf(out, outlen, "%lldm", s / 60);
	else
		snprintf(out, outlen, "%lldh", s / 3600);
}

/*
 * The short form of a lock wait, for a reason of at most outlen - 1
 * bytes: "LEAD a PRODUCT LOCK at SERVER held by NOUN ID (STATE AGE)",
 * e.g. "4/4 workers wait on a PostgreSQL lock at 127.0.0.1:5432 held by
 * pid 4711 (idle in transaction 12s)".  What does not fit goes, in this
 * order: the host (":5432" stays), the age, the state, the port.  id -1:
 * the holder is not known.  Returns 1 when the whole of it fits.
 */
int
culprit_reason_format(char *out, size_t outlen, const char *lead,
    const char *product, const char *lock, const char *server,
    const char *noun, long long id, const char *state, long long age_s)
{
	static const int	 where_of[] = { 0, 1, 1, 1, 2 };
	static const int	 detail_of[] = { 0, 0, 1, 2, 2 };
	const char		*port, *where;
	char			 holder[48], age[24], detail[CULPRIT_TEXT_MAX + 40];
	size_t			 t;
	int			 n = 0;

	if (outlen == 0)
		return 0;
	port = strrchr(server, ':');
	if (port == NULL || strncmp(server, "unix:", 5) == 0)
		port = server;
	if (id >= 0)
		snprintf(holder, sizeof(holder), "%s %lld", noun, id);
	else
		strlcpy_safe(holder, "a session not visible", sizeof(holder));
	age_text(age, sizeof(age), age_s);
	for (t = 0; t < sizeof(where_of) / sizeof(where_of[0]); t++) {
		where = where_of[t] == 0 ? server : where_of[t] == 1 ? port : "";
		if (detail_of[t] == 0 && state[0] != '\0' && age[0] != '\0')
			snprintf(detail, sizeof(detail), " (%s %s)", state, age);
		else if (detail_of[t] <= 1 && state[0] != '\0')
			snprintf(detail, sizeof(detail), " (%s)", state);
		else if (detail_of[t] <= 1 && age[0] != '\0')
			snprintf(detail, sizeof(detail), " (transaction %s)",
			    age);
		else
			detail[0] = '\0';
		n = snprintf(out, outlen, "%s a %s %s%s%s held by %s%s", lead,
		    product, lock, where[0] != '\0' ? " at " : "", where,
		    holder, detail);
		if (n >= 0 && (size_t)n < outlen)
			return t == 0;
	}
	return 0;
}

/* Who holds what the worker waits for: its blocker, else the first. */
static int64_t
holder_id(const struct db_worker_session *e)
{
	return e->blocker.id >= 0 ? e->blocker.id : e->blocked_by[0];
}

/* What the holder of a session is called: a process or a thread. */
static const char *
holder_noun(const char *product)
{
	return strcmp(product, "PostgreSQL") == 0 ? "pid" : "thread";
}

/* The kind of lock a worker's session waits for, in words. */
static const char *
lock_kind(const char *product, const struct db_session *s)
{
	if (strstr(s->wait, "metadata") != NULL)
		return "metadata lock";
	return strcmp(product, "PostgreSQL") == 0 ? "lock" : "row lock";
}

/* Is addr one of the worker's sockets' local ends in this sample? */
static int
local_same(const struct fpm_worker *w, const char *addr)
{
	size_t	 k;

	for (k = 0; k < w->wait.npeers && k < WAIT_PEERS_MAX; k++)
		if (strcmp(w->wait.locals[k], addr) == 0)
			return 1;
	return 0;
}

/*
 * The session a database check of the pool found for the worker, in
 * its current request and on the same socket, or NULL; *check is the
 * check that found it.
 */
const struct db_worker_session *
culprit_find(const struct pool *pool, const struct fpm_worker *w,
    const struct check **check)
{
	const struct check	*c;
	const struct db_keep	*keep;
	size_t			 i;

	TAILQ_FOREACH(c, &pool->checks, entry) {
		if (c->ops->report != db_report || (keep = c->keep) == NULL)
			continue;
		for (i = 0; i < keep->culprit.n; i++) {
			const struct db_worker_session *e = &keep->culprit.w[i];

			if (e->worker == w->pid && e->requests == w->requests &&
			    local_same(w, e->local)) {
				if (check != NULL)
					*check = c;
				return e;
			}
		}
	}
	return NULL;
}

/* The worker's session as culprit_find() has it, with the lookup's. */
static const struct db_worker_session *
worker_lookup(const struct pool *pool, const struct fpm_worker *w,
    const struct check **c, const struct db_culprit **cu)
{
	const struct db_worker_session	*e;

	if ((e = culprit_find(pool, w, c)) != NULL)
		*cu = &((const struct db_keep *)(*c)->keep)->culprit;
	return e;
}

/*
 * The reason's short form for the workers PICK selects that wait behind
 * one session, the one most of them wait behind: "4/4 workers VERB a
 * PostgreSQL lock at ... held by pid 4711 (idle in transaction 12s)".
 * Returns 0, out untouched, when no lock wait of theirs is known.
 */
int
culprit_reason(const struct pool *pool, int (*pick)(const struct pool *,
    const struct fpm_worker *), const char *verb, char *out, size_t outlen)
{
	const struct pool_workers	*pw = &pool->workers;
	const struct db_worker_session	*e, *best = NULL, *o;
	const struct check		*c, *bestc = NULL, *oc;
	const struct db_culprit		*cu;
	unsigned int			 bestn = 0, n, nfound, nserver;
	char				 lead[64], of[24] = "";
	size_t				 i, j;

	for (i = 0; i < pw->status.nworkers; i++) {
		const struct fpm_worker *w = &pw->status.workers[i];

		if (!pick(pool, w) || (e = culprit_find(pool, w, &c)) == NULL ||
		    e->nblocked_by == 0)
			continue;
		for (n = 0, j = i; j < pw->status.nworkers; j++) {
			const struct fpm_worker *v = &pw->status.workers[j];

			if (pick(pool, v) && (o = culprit_find(pool, v,
			    &oc)) != NULL && oc == c && o->nblocked_by > 0 &&
			    holder_id(o) == holder_id(e))
				n++;
		}
		if (n > bestn) {
			bestn = n;
			best = e;
			bestc = c;
		}
	}
	if (best == NULL)
		return 0;
	cu = &((const struct db_keep *)bestc->keep)->culprit;
	/*
	 * Only CULPRIT_WORKERS_MAX sessions are looked up.  When every one
	 * found waits behind that holder, so do the workers past them that
	 * wait on the same server: count them.
	 */
	if (cu->waiting > cu->n) {
		for (nfound = 0, nserver = 0, i = 0;
		    i < pw->status.nworkers; i++) {
			const struct fpm_worker *w = &pw->status.workers[i];

			if (!pick(pool, w))
				continue;
			if ((o = culprit_find(pool, w, &oc)) != NULL &&
			    oc == bestc && o->found)
				nfound++;
			else if (waits_on(w, cu->server) >= 0)
				nserver++;
		}
		if (nfound == bestn)
			bestn += nserver;
	}
	if (pw->max_children > 0)
		snprintf(of, sizeof(of), "/%u", pw->max_children);
	snprintf(lead, sizeof(lead), "%u%s workers %s", bestn, of, verb);
	culprit_reason_format(out, outlen, lead, cu->product,
	    lock_kind(cu->product, &best->session), cu->server,
	    holder_noun(cu->product), (long long)holder_id(best),
	    best->blocker.id >= 0 ? best->blocker.state : "",
	    best->blocker.id >= 0 ? best->blocker.xact_age_s : -1);
	return 1;
}

/* One session in a line of the text report: "pid 4711 active, ...". */
static void
session_text(struct buf *b, const struct db_session *s, const char *noun)
{
	buf_printf(b, "%s %lld", noun, (long long)s->id);
	session_details(b, s);
}

/* What is known of a session, after its id. */
static void
session_details(struct buf *b, const struct db_session *s)
{
	char	 age[24];

	if (s->hidden) {
		buf_addstr(b, " (its details are hidden from the check's user)");
		return;
	}
	if (s->state[0] != '\0')
		buf_printf(b, " %s", s->state);
	age_text(age, sizeof(age), s->xact_age_s);
	if (age[0] != '\0')
		buf_printf(b, ", transaction %s", age);
	if (s->wait[0] != '\0')
		buf_printf(b, ", waiting for %s%s%s", s->wait,
		    s->object[0] != '\0' ? " on " : "", s->object);
	if (s->client[0] != '\0')
		buf_printf(b, ", client %s", s->client);
	if (s->application[0] != '\0')
		buf_printf(b, ", application_name \"%s\"", s->application);
	if (s->user[0] != '\0')
		buf_printf(b, ", user %s", s->user);
	if (s->query[0] != '\0')
		buf_printf(b, ": %s", s->query);
}

/*
 * What a lookup found for a worker, when one looked for it: the text
 * report's lines under the worker, or the JSON's "db_session" member
 * (with a leading comma).
 */
void
culprit_worker_report(struct buf *b, const struct pool *pool,
    const struct fpm_worker *w, int json)
{
	const struct db_worker_session	*e;
	const struct db_culprit		*cu;
	const struct check		*c;

	if ((e = worker_lookup(pool, w, &c, &cu)) == NULL)
		return;
	if (json)
		worker_json(b, c, e, cu);
	else
		worker_text(b, e, cu);
}

/* A worker's session and its blocker, in lines of the text report. */
static void
worker_text(struct buf *b, const struct db_worker_session *e,
    const struct db_culprit *cu)
{
	const char	*noun, *cut;
	size_t		 i;

	noun = holder_noun(cu->product);
	if (!e->found) {
		/* The privilege's name; its GRANT is under the check. */
		cut = strstr(cu->missing, " (");
		buf_printf(b, "      %s session from %s: not found%s%.*s%s\n",
		    cu->product, e->local, cu->missing[0] != '\0' ?
		    " (missing privilege " : "", cut != NULL ?
		    (int)(cut - cu->missing) : (int)strlen(cu->missing),
		    cu->missing, cu->missing[0] != '\0' ? ")" : "");
		return;
	}
	buf_printf(b, "      %s session ", cu->product);
	session_text(b, &e->session, noun);
	buf_addstr(b, "\n");
	if (e->nblocked_by == 0)
		return;
	buf_printf(b, "      blocked by %s", noun);
	for (i = 0; i < e->nblocked_by; i++)
		buf_printf(b, "%s%lld", i > 0 ? ", " : " ",
		    (long long)e->blocked_by[i]);
	if (e->blocker.id >= 0) {
		if (!e->blocker.hidden)
			buf_addstr(b, ":");
		session_details(b, &e->blocker);
	}
	buf_addstr(b, "\n");
}

/* One session as a JSON object. */
static void
session_json(struct buf *b, const struct db_session *s)
{
	const struct {
		const char	*name;
		const char	*value;
	} text[] = {
		{ "user", s->user }, { "client", s->client },
		{ "application_name", s->application }, { "state", s->state },
		{ "wait", s->wait }, { "waits_on", s->object }
	};
	size_t	 i;

	buf_printf(b, "{\"session_id\": %lld, \"hidden\": %s",
	    (long long)s->id, s->hidden ? "true" : "false");
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		buf_printf(b, ", \"%s\": ", text[i].name);
		json_str(b, text[i].value[0] != '\0' ? text[i].value : NULL);
	}
	buf_addstr(b, ", \"transaction_age_s\": ");
	if (s->xact_age_s >= 0)
		buf_printf(b, "%lld", (long long)s->xact_age_s);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"query\": ");
	json_str(b, s->query[0] != '\0' ? s->query : NULL);
	buf_addstr(b, "}");
}

/* A worker's "db_session" member in the JSON, with a leading comma. */
static void
worker_json(struct buf *b, const struct check *c,
    const struct db_worker_session *e, const struct db_culprit *cu)
{
	size_t	 i;

	buf_addstr(b, ", \"db_session\": {\"check\": ");
	json_str(b, c->name);
	buf_addstr(b, ", \"product\": ");
	json_str(b, cu->product);
	buf_addstr(b, ", \"server\": ");
	json_str(b, cu->server);
	buf_addstr(b, ", \"local\": ");
	json_str(b, e->local);
	buf_printf(b, ", \"found\": %s, \"session\": ", e->found ? "true" :
	    "false");
	if (e->found)
		session_json(b, &e->session);
	else
		buf_addstr(b, "null");
	buf_addstr(b, ", \"blocked_by\": [");
	for (i = 0; i < e->nblocked_by; i++)
		buf_printf(b, "%s%lld", i > 0 ? ", " : "",
		    (long long)e->blocked_by[i]);
	buf_addstr(b, "], \"blocker\": ");
	if (e->blocker.id >= 0)
		session_json(b, &e->blocker);
	else
		buf_addstr(b, "null");
	buf_addstr(b, "}");
}

/*
 * The check's line about its last lookup in the text report: how many
 * sessions it found, what privilege the user lacks, why it stopped.
 */
void
culprit_check_text(struct buf *b, const struct db_culprit *cu)
{
	size_t	 i, found = 0;

	if (cu->n == 0 && cu->error[0] == '\0')
		return;
	for (i = 0; i < cu->n; i++)
		found += cu->w[i].found;
	buf_printf(b, "    database sessions: %zu of %zu waiting workers' "
	    "sessions found on %s in %.1f ms", found, cu->n, cu->server,
	    (double)cu->took_us / 1000);
	if (cu->waiting > cu->n)
		buf_printf(b, " (%zu wait on it; the first %d are looked up)",
		    cu->waiting, CULPRIT_WORKERS_MAX);
	buf_addstr(b, "\n");
	if (cu->missing[0] != '\0')
		buf_printf(b, "    MISSING privilege: %s\n", cu->missing);
	if (cu->error[0] != '\0')
		buf_printf(b, "    sessions lookup: %s\n", cu->error);
}

/* The check's "culprit" member in the JSON, with a leading comma. */
void
culprit_check_json(struct buf *b, const struct db_culprit *cu)
{
	size_t	 i, found = 0;

	buf_addstr(b, ", \"culprit\": ");
	if (cu->n == 0 && cu->error[0] == '\0') {
		buf_addstr(b, "null");
		return;
	}
	for (i = 0; i < cu->n; i++)
		found += cu->w[i].found;
	buf_addstr(b, "{\"product\": ");
	json_str(b, cu->product);
	buf_addstr(b, ", \"server\": ");
	json_str(b, cu->server);
	buf_printf(b, ", \"workers\": %zu, \"workers_waiting\": %zu, "
	    "\"sessions_found\": %zu, \"took_us\": %llu, "
	    "\"missing_privilege\": ", cu->n, cu->waiting, found,
	    (unsigned long long)cu->took_us);
	json_str(b, cu->missing[0] != '\0' ? cu->missing : NULL);
	buf_addstr(b, ", \"error\": ");
	json_str(b, cu->error[0] != '\0' ? cu->error : NULL);
	buf_addstr(b, "}");
}
