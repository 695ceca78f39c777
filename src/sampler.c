/*
 * The status sampler's side of a worker sample: once the pool's status
 * page is parsed, look at what overdue workers wait on (/proc, on this
 * host only) and hand the sample, complete, to probe_done().  This is
 * the I/O the policy must not do on the loop that answers agents; it is
 * bounded to STUCK_INSPECT_MAX workers per sample.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define STUCK_INSPECT_MAX	64	/* overdue workers looked at per sample */

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
 * A status page was read: see what its overdue workers wait on, and
 * attach the sample to the probe, which hands it to the policy.  Takes
 * what *st holds.
 */
void
sampler_take(struct probe *p, struct fpm_status *st)
{
	struct pool	*pool = p->check->pool;
	unsigned int	 inspected = 0;
	size_t		 i;

	if (pool_is_local(pool))
		for (i = 0; i < st->nworkers &&
		    inspected < STUCK_INSPECT_MAX; i++) {
			struct fpm_worker *w = &st->workers[i];

			if (!worker_overdue(pool, w))
				continue;
			inspected++;
			proc_wait_inspect(w->pid, &w->wait);
		}
	if (p->sample == NULL)
		p->sample = xcalloc(1, sizeof(*p->sample));
	else
		fpm_status_free(p->sample);
	*p->sample = *st;
	memset(st, 0, sizeof(*st));
}
