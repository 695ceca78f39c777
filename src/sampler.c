/*
 * The status sampler's side of a worker sample: once the pool's status
 * page is parsed, look at what overdue workers wait on (/proc, on this
 * host only), learn what php-fpm's own configuration says of the pool,
 * and hand the sample, complete, to probe_done().  This is the I/O the
 * policy must not do; it is bounded to STUCK_INSPECT_MAX workers per
 * sample, and php-fpm's files are read once a minute at most.
 *
 * php-fpm's master names its configuration file in its process title,
 * "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)", and it is
 * the parent of every worker the status page lists; the pool's section
 * is found by the page's "pool:" name.  Debian ships those files, and
 * /proc/PID/{status,cmdline}, world-readable, so this works after the
 * drop to user:.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define STUCK_INSPECT_MAX	64	/* overdue workers looked at per sample */
#define FACTS_TTL_US	(60 * 1000000ULL)	/* php-fpm's files read again */
#define MASTER_ASK_MAX	8		/* workers asked for their master */

static void	facts_learn(struct pool *, const struct fpm_status *,
		    uint64_t);
static void	facts_read(struct pool *, const struct fpm_conf_section *);
static void	facts_check(struct pool *, const struct fpm_conf_section *);
static int	listen_same(const char *, const struct address *);

/* Is the pool on this host, so that its pids are ours to inspect? */
int
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

/*
 * How many bytes the pool's status page may take: FPM_STATUS_PER_WORKER
 * for each process the pool can run, never less than any other FastCGI
 * response may take; the hard cap while that number is not known yet.
 */
size_t
sampler_response_max(const struct pool *pool)
{
	unsigned int	 n = pool->max_children;

	if (n == 0)
		n = pool->workers.max_children;
	if (n == 0 || n > FPM_STATUS_RESPONSE_MAX / FPM_STATUS_PER_WORKER)
		return FPM_STATUS_RESPONSE_MAX;
	if ((size_t)n * FPM_STATUS_PER_WORKER < FCGI_RESPONSE_MAX)
		return FCGI_RESPONSE_MAX;
	return (size_t)n * FPM_STATUS_PER_WORKER;
}

/*
 * A status page was read: see what its overdue workers (after a real-path
 * timeout, its busy ones) wait on, learn the pool's php-fpm configuration,
 * and attach the sample to the probe, which hands it to the policy.
 * Takes what *st holds.
 */
void
sampler_take(struct probe *p, struct fpm_status *st)
{
	struct pool	*pool = p->check->pool;
	unsigned int	 inspected = 0;
	size_t		 i;
	int		 busy;

	if (pool_is_local(pool)) {
		/*
		 * Overdue workers, and after a real-path timeout every busy
		 * one, so that the reason says where they wait at once.  One
		 * look at the host's TCP tables serves every worker.
		 */
		busy = real_path_timed_out(pool);
		proc_wait_batch(1);
		for (i = 0; i < st->nworkers &&
		    inspected < STUCK_INSPECT_MAX; i++) {
			struct fpm_worker *w = &st->workers[i];

			if (!(busy ? worker_busy(pool, w) :
			    worker_overdue(pool, w)))
				continue;
			inspected++;
			proc_wait_inspect(w->pid, &w->wait);
		}
		proc_wait_batch(0);
	}
	facts_learn(pool, st, now_us());
	if (p->sample == NULL)
		p->sample = xcalloc(1, sizeof(*p->sample));
	else
		fpm_status_free(p->sample);
	*p->sample = *st;
	memset(st, 0, sizeof(*st));
}

/*
 * Learn the pool's php-fpm configuration through the master of its
 * workers, at most once a minute; a failure says why in the report, and
 * in the log when it is new.
 */
static void
facts_learn(struct pool *pool, const struct fpm_status *st, uint64_t now)
{
	struct fpm_facts		*f = &pool->fpm;
	struct fpm_conf			 conf;
	const struct fpm_conf_section	*sec;
	char				 path[sizeof(f->file)], err[256];
	char				 was[sizeof(f->warning)];
	size_t				 i;

	if (!pool_is_local(pool) || st->nworkers == 0 || st->pool[0] == '\0')
		return;
	if (f->read_us != 0 && now - f->read_us < FACTS_TTL_US)
		return;
	/*
	 * A dynamic or ondemand pool ends workers all the time, so one the
	 * page lists may be gone already: ask a few.  When none answers,
	 * what was learned stays, and the next sample asks again.
	 */
	for (i = 0; i < st->nworkers && i < MASTER_ASK_MAX; i++)
		if (fpm_master_conf_path(st->workers[i].pid, path,
		    sizeof(path)) == 0)
			break;
	if (i == st->nworkers || i == MASTER_ASK_MAX) {
		if (!f->have && f->warning[0] == '\0') {
			snprintf(f->warning, sizeof(f->warning), "php-fpm's "
			    "configuration file not found (the master of pid %d "
			    "does not name it)", (int)st->workers[0].pid);
			log_warnx("pool %s: %s", pool->name, f->warning);
		}
		return;
	}
	strlcpy_safe(was, f->warning, sizeof(was));
	memset(f, 0, sizeof(*f));
	f->read_us = now;
	f->terminate_s = -1;
	strlcpy_safe(f->file, path, sizeof(f->file));
	memset(&conf, 0, sizeof(conf));
	if (fpm_conf_load(path, &conf, err, sizeof(err)) == -1)
		snprintf(f->warning, sizeof(f->warning), "php-fpm's "
		    "configuration not read: %s", err);
	else if ((sec = fpm_conf_pool(&conf, st->pool)) == NULL)
		snprintf(f->warning, sizeof(f->warning), "php-fpm's "
		    "configuration %s has no pool [%s]", path, st->pool);
	else {
		facts_read(pool, sec);
		facts_check(pool, sec);
		audit_fpm_learn(pool, path, sec);
	}
	fpm_conf_free(&conf);
	if (f->warning[0] != '\0' && strcmp(f->warning, was) != 0)
		log_warnx("pool %s: %s", pool->name, f->warning);
}

/* Keep pm, pm.max_children and request_terminate_timeout, with where. */
static void
facts_read(struct pool *pool, const struct fpm_conf_section *sec)
{
	struct fpm_facts		*f = &pool->fpm;
	const struct fpm_conf_entry	*e;
	unsigned int			 secs;
	char				*end;
	unsigned long			 n;

	f->have = 1;
	if ((e = fpm_conf_get(sec, "pm")) != NULL)
		strlcpy_safe(f->pm, e->value, sizeof(f->pm));
	if ((e = fpm_conf_get(sec, "pm.max_children")) != NULL) {
		n = strtoul(e->value, &end, 10);
		if (*end == '\0' && end != e->value && n > 0 && n <= 1000000) {
			f->max_children = (unsigned int)n;
			snprintf(f->source, sizeof(f->source), "%s:%d", e->file,
			    e->line);
		}
	}
	if ((e = fpm_conf_get(sec, "request_terminate_timeout")) == NULL)
		f->terminate_s = 0;	/* php-fpm's default: never */
	else if (fpm_conf_seconds(e->value, &secs) == 0)
		f->terminate_s = (int)secs;
}

/*
 * Say where php-fpm's pool and fpmprobe's view of it disagree: a status
 * page fpmprobe does not use, or one it expects where php-fpm has none.
 */
static void
facts_check(struct pool *pool, const struct fpm_conf_section *sec)
{
	struct fpm_facts		*f = &pool->fpm;
	const struct fpm_conf_entry	*e;

	e = fpm_conf_get(sec, "listen");
	if (e != NULL && !listen_same(e->value, &pool->fastcgi))
		snprintf(f->warning, sizeof(f->warning), "php-fpm's listen is "
		    "%s (%s:%d), fastcgi is %s", e->value, e->file, e->line,
		    pool->fastcgi.text);
	else if ((e = fpm_conf_get(sec, "pm.status_listen")) != NULL &&
	    e->value[0] != '\0' && !pool->have_status_listen)
		snprintf(f->warning, sizeof(f->warning), "php-fpm's "
		    "pm.status_listen is %s (%s:%d): set status_listen, so that "
		    "a saturated pool can still be sampled", e->value, e->file,
		    e->line);
	else if (e != NULL && e->value[0] != '\0' &&
	    !listen_same(e->value, &pool->status_listen))
		snprintf(f->warning, sizeof(f->warning), "php-fpm's "
		    "pm.status_listen is %s (%s:%d), status_listen is %s",
		    e->value, e->file, e->line, pool->status_listen.text);
	else if ((e == NULL || e->value[0] == '\0') &&
	    pool->have_status_listen)
		snprintf(f->warning, sizeof(f->warning), "php-fpm's pool [%s] "
		    "has no pm.status_listen, but status_listen is %s",
		    sec->name, pool->status_listen.text);
	else if ((e = fpm_conf_get(sec, "pm.status_path")) != NULL &&
	    pool->status_path != NULL &&
	    strcmp(e->value, pool->status_path) != 0)
		snprintf(f->warning, sizeof(f->warning), "php-fpm's "
		    "pm.status_path is %s (%s:%d), status_path is %s", e->value,
		    e->file, e->line, pool->status_path);
}

/*
 * Could php-fpm's listen value ("/run/php/fpm.sock", "127.0.0.1:9000",
 * "9000", "[::]:9000", "localhost:9000") be the address fpmprobe
 * connects to?  Only a clear difference counts: another path, another
 * port, another literal address that is no wildcard.  A host name is
 * not resolved, and so not held against it.
 */
static int
listen_same(const char *value, const struct address *a)
{
	const struct sockaddr_in	*sin = (const void *)&a->ss;
	const struct sockaddr_in6	*sin6 = (const void *)&a->ss;
	const char			*colon;
	char				*end;
	char				 host[64];
	struct in_addr			 in4;
	struct in6_addr			 in6;
	unsigned long			 port;
	size_t				 len;

	if (a->text == NULL)
		return 0;
	if (a->ss.ss_family == AF_UNIX)
		return value[0] == '/' && strcmp(value,
		    ((const struct sockaddr_un *)&a->ss)->sun_path) == 0;
	if (value[0] == '/')
		return 0;
	colon = strrchr(value, ':');
	port = strtoul(colon != NULL ? colon + 1 : value, &end, 10);
	if (*end != '\0' || port != ntohs(a->ss.ss_family == AF_INET ?
	    sin->sin_port : sin6->sin6_port))
		return 0;
	len = colon != NULL ? (size_t)(colon - value) : 0;
	if (len >= 2 && value[0] == '[' && value[len - 1] == ']') {
		value++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(host))
		return 1;
	memcpy(host, value, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &in4) == 1)
		return in4.s_addr == htonl(INADDR_ANY) ||
		    (a->ss.ss_family == AF_INET &&
		    in4.s_addr == sin->sin_addr.s_addr);
	if (inet_pton(AF_INET6, host, &in6) == 1)
		return IN6_IS_ADDR_UNSPECIFIED(&in6) ||
		    (a->ss.ss_family == AF_INET6 &&
		    memcmp(&in6, &sin6->sin6_addr, sizeof(in6)) == 0);
	return 1;
}
