/*
 * The HAProxy agent-check server.  Answers come from each pool's cached
 * verdict; nothing here waits on a probe.  A port that serves one pool
 * answers at once; a port that serves several reads the agent-send line
 * under a short deadline first.  After answering it reads what the peer
 * sent before closing, so that the close is a FIN and not a RST.  The
 * answer line's wire format is written here too (agent_reply_format()),
 * for the verdict the policy caches.
 *
 * Under a flood of connections, accepting yields to the event loop every
 * AGENT_ACCEPT_BURST connections, so that the ones already answered get
 * their peer's close read and are released; at the cap of open
 * connections (AGENT_CLIENTS_MAX, less what the descriptor limit does not
 * leave for them), accepting stops until one closes, and new peers wait
 * in the kernel's backlog rather than being turned away.  One source (an
 * IPv4 address, an IPv6 /64) may hold a share of that cap at most, so
 * that a host that opens connections and sends nothing cannot take the
 * load balancers' slots.  Its connections past that are parked: held
 * unread, with no event, and closed unanswered AGENT_PARK_MS later (at
 * once when the parking is full), so that a client that reconnects as
 * soon as it is closed cannot make the daemon spend its time accepting.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "fpmprobe.h"

#define AGENT_SOURCE_BUCKETS	256

/* The connections open from one source: an IPv4 address, an IPv6 /64. */
struct agent_source {
	struct agent_source	*next;		/* in its hash bucket */
	uint8_t			 key[9];	/* family, then the address */
	unsigned int		 n;
};

/*
 * One agent connection.  It holds no pointer to its listener or into the
 * configuration, so that a reload may close or change either under it.
 */
struct agent_conn {
	TAILQ_ENTRY(agent_conn)	 entry;
	int			 fd;
	struct agent_source	*src;		/* NULL: a unix socket peer */
	struct event		*ev;
	char			 line[AGENT_LINE_MAX];
	size_t			 linelen;
	char			 reply[AGENT_REPLY_MAX];
	size_t			 replylen;
	size_t			 sent;
	uint64_t		 deadline_us;	/* of the current phase */
	int			 silent;	/* sent no line in time */
};

/* Every connection open, so that a stop can release those in flight. */
static TAILQ_HEAD(, agent_conn)	conns = TAILQ_HEAD_INITIALIZER(conns);

static void	agent_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	agent_accept_hold(void);
static void	agent_accept_go(int, short, void *);
static void	agent_read_name(int, short, void *);
static void	agent_write(int, short, void *);
static void	agent_linger(int, short, void *);
static void	agent_answer(struct agent_conn *, struct pool *);
static void	agent_arm(struct agent_conn *, short, event_callback_fn);
static void	agent_close(struct agent_conn *);
static int	agent_listen_one(const struct address *, struct pool *);
static void	agent_caps(const struct config *);
static int	source_take(const struct sockaddr *, struct agent_source **);
static void	source_put(struct agent_source *);
static void	agent_park(int);
static void	agent_unpark(int, short, void *);

static struct event_base	*agent_base;
static struct config		*agent_conf;
/* Each listener serves a pool, or every pool (serves is NULL). */
static struct listener_set	 listeners = {
	.who = "agent",
	.backlog = 1024,
	.accept = agent_accept
};
static size_t			 nclients;
static size_t			 clients_max = AGENT_CLIENTS_MAX;
static unsigned int		 source_max = AGENT_SOURCE_MAX;
static struct agent_source	*sources[AGENT_SOURCE_BUCKETS];
/* Parked connections, oldest first: a ring of fds and when they close. */
static struct parked {
	int		 fd;
	uint64_t	 until_us;
}				*parked;
static size_t			 parked_max, parked_head, parked_n;
static struct event		*park_timer;
static uint64_t			 refused_logged_us;
static unsigned long		 refused;	/* since then */
static unsigned int		 accept_burst;
static int			 accept_held;
static struct event		*accept_yield;

/* Answers served, by kind; the status endpoint reports them. */
uint64_t	agent_answers[POOL_DRAIN + 2];

/* Listen on an address for a pool (or for every pool: NULL). */
static int
agent_listen_one(const struct address *a, struct pool *pool)
{
	struct listener	*l;
	int		 rv;

	rv = listeners_want(&listeners, a, &l);
	if (l != NULL) {
		l->serves = pool;
		log_debug("agent: %s answers for %s", l->text,
		    pool != NULL ? pool->name : "every pool");
	}
	return rv;
}

/*
 * Bind every agent port: agent.listen (serving one pool directly when
 * only one is configured) and each pool's agent_listen.  On a reload, a
 * port whose address is still asked for stays open and serves what the
 * new configuration says (one pool, another pool, every pool): no poll
 * is refused while the configuration changes.  The others are closed.
 * Connections in flight finish against the new configuration.
 */
int
agent_start(struct event_base *base, struct config *conf)
{
	struct pool	*pool, *only = NULL;
	size_t		 i;
	int		 rv = 0;

	agent_base = base;
	agent_conf = conf;
	agent_caps(conf);
	if (conf->npools == 1)
		only = TAILQ_FIRST(&conf->pools);
	listeners_begin(&listeners, base);
	for (i = 0; i < conf->agent_listen.n; i++)
		if (agent_listen_one(&conf->agent_listen.addr[i], only) == -1)
			rv = -1;
	TAILQ_FOREACH(pool, &conf->pools, entry)
		for (i = 0; i < pool->agent_listen.n; i++)
			if (agent_listen_one(&pool->agent_listen.addr[i],
			    pool) == -1)
				rv = -1;
	listeners_end(&listeners);
	/* A port bound now waits, like the others, while accepting is held. */
	for (i = 0; accept_held && i < listeners.n; i++)
		evconnlistener_disable(listeners.l[i]->lev);
	return rv;
}

/*
 * Size the caps on open connections from the descriptors the daemon may
 * have: room for every check's probe and kept connection, the status
 * endpoint's clients, the listeners and the logs first.
 */
static void
agent_caps(const struct config *conf)
{
	const struct pool	*pool;
	const struct check	*c;
	struct rlimit		 rl;
	size_t			 reserved = AGENT_FDS_RESERVED;
	size_t			 was = clients_max;

	TAILQ_FOREACH(pool, &conf->pools, entry)
		TAILQ_FOREACH(c, &pool->checks, entry)
			reserved += 2;
	clients_max = AGENT_CLIENTS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = RLIM_INFINITY;
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < reserved + AGENT_CLIENTS_MAX)
		clients_max = rl.rlim_cur > reserved + 16 ?
		    (size_t)rl.rlim_cur - reserved : 16;
	source_max = clients_max / 4 < AGENT_SOURCE_MAX ?
	    (unsigned int)(clients_max / 4) : AGENT_SOURCE_MAX;
	if (source_max < 4)
		source_max = 4;
	/* Parking takes what descriptors are left, if any. */
	if (parked == NULL) {
		parked_max = AGENT_PARKED_MAX;
		if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <
		    reserved + clients_max + AGENT_PARKED_MAX)
			parked_max = rl.rlim_cur > reserved + clients_max ?
			    (size_t)rl.rlim_cur - reserved - clients_max : 0;
		parked = xcalloc(parked_max + 1, sizeof(*parked));
	}
	if (clients_max < AGENT_CLIENTS_MAX && clients_max != was)
		log_warnx("agent: %zu connections at most, %u from one source: "
		    "the descriptor limit is %llu (LimitNOFILE=, ulimit -n)",
		    clients_max, source_max, (unsigned long long)rl.rlim_cur);
}

/*
 * Hold a connection over its source's share, unread and with no event of
 * its own, for AGENT_PARK_MS; close it at once when the parking is full.
 */
static void
agent_park(int fd)
{
	struct timeval	 tv = { AGENT_PARK_MS / 1000,
			    (AGENT_PARK_MS % 1000) * 1000 };
	struct parked	*p;

	if (parked_n >= parked_max) {
		close(fd);
		return;
	}
	p = &parked[(parked_head + parked_n++) % parked_max];
	p->fd = fd;
	p->until_us = now_us() + AGENT_PARK_MS * 1000;
	if (park_timer == NULL &&
	    (park_timer = evtimer_new(agent_base, agent_unpark, NULL)) == NULL)
		fatalx("evtimer_new");
	if (!evtimer_pending(park_timer, NULL))
		evtimer_add(park_timer, &tv);
}

/* Close the parked connections whose time is up (all: ev is 0). */
static void
agent_unpark(int fd, short ev, void *arg)
{
	struct timeval	 tv = { 0, 0 };
	uint64_t	 now = now_us(), left;
	struct parked	*p;

	while (parked_n > 0) {
		p = &parked[parked_head];
		if (ev != 0 && p->until_us > now)
			break;
		close(p->fd);
		parked_head = (parked_head + 1) % parked_max;
		parked_n--;
	}
	if (parked_n == 0 || ev == 0)
		return;
	left = parked[parked_head].until_us - now;
	tv.tv_sec = (time_t)(left / 1000000);
	tv.tv_usec = (suseconds_t)(left % 1000000);
	evtimer_add(park_timer, &tv);
}

/* A source's hash bucket. */
static struct agent_source **
source_bucket(const uint8_t *key)
{
	uint32_t	 h = 2166136261u;
	size_t		 i;

	for (i = 0; i < sizeof(((struct agent_source *)0)->key); i++)
		h = (h ^ key[i]) * 16777619u;
	return &sources[h % AGENT_SOURCE_BUCKETS];
}

/*
 * Count a new connection against its source: an IPv4 address (mapped
 * ones included) or an IPv6 /64, which one host has whole.  -1 when the
 * source already holds source_max; *srcp is NULL for a unix peer, which
 * is not counted.
 */
static int
source_take(const struct sockaddr *sa, struct agent_source **srcp)
{
	static const uint8_t	 mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t		*a6;
	struct agent_source	**b, *s;
	uint8_t			 key[9];

	*srcp = NULL;
	memset(key, 0, sizeof(key));
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		a6 = (const uint8_t *)
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;
		key[0] = 6;
		if (memcmp(a6, mapped, sizeof(mapped)) == 0) {
			key[0] = 4;
			memcpy(key + 1, a6 + 12, 4);
		} else
			memcpy(key + 1, a6, 8);
	} else
		return 0;
	b = source_bucket(key);
	for (s = *b; s != NULL; s = s->next)
		if (memcmp(s->key, key, sizeof(key)) == 0)
			break;
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		memcpy(s->key, key, sizeof(key));
		s->next = *b;
		*b = s;
	}
	if (s->n >= source_max)
		return -1;
	s->n++;
	*srcp = s;
	return 0;
}

/* A connection of a source closed; forget a source with none left. */
static void
source_put(struct agent_source *src)
{
	struct agent_source	**b;

	if (src == NULL || --src->n > 0)
		return;
	for (b = source_bucket(src->key); *b != src; b = &(*b)->next)
		;
	*b = src->next;
	free(src);
}

/* Close every listener. */
void
agent_stop(void)
{
	listeners_close(&listeners);
	if (accept_yield != NULL)
		event_free(accept_yield);
	accept_yield = NULL;
	accept_held = 0;
	while (!TAILQ_EMPTY(&conns))
		agent_close(TAILQ_FIRST(&conns));
	agent_unpark(-1, 0, NULL);
	if (park_timer != NULL)
		event_free(park_timer);
	park_timer = NULL;
	free(parked);
	parked = NULL;
	parked_n = parked_head = 0;
}

/* A new agent connection: check it, then answer or wait for a name. */
static void
agent_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener		*l = arg;
	struct agent_conn	*ac;
	struct agent_source	*src;
	char			 who[INET6_ADDRSTRLEN];
	uint64_t		 now;

	/*
	 * Accepted sockets are already non-blocking (libevent's accept4).
	 * At the cap (a listener resumed after EMFILE, a reload that lowered
	 * it) stop accepting again, so that the next peers wait in the
	 * backlog; a refused source counts toward the burst, so that a flood
	 * of them still yields to the event loop.
	 */
	if (nclients >= clients_max) {
		close(fd);
		agent_accept_hold();
		return;
	}
	if (!cidr_match(agent_conf->allow, agent_conf->nallow, sa)) {
		close(fd);
		if (++accept_burst >= AGENT_ACCEPT_BURST)
			agent_accept_hold();
		return;
	}
	if (source_take(sa, &src) == -1) {
		agent_park(fd);
		refused++;
		now = now_us();
		if (now - refused_logged_us >= LOG_REPEAT_S * 1000000ULL) {
			if (evutil_inet_ntop(sa->sa_family, sa->sa_family ==
			    AF_INET ? (const void *)
			    &((const struct sockaddr_in *)sa)->sin_addr :
			    (const void *)
			    &((const struct sockaddr_in6 *)sa)->sin6_addr,
			    who, sizeof(who)) == NULL)
				strlcpy_safe(who, "?", sizeof(who));
			log_warnx("agent: %s holds %u connections, the most "
			    "one source may: %lu more closed unanswered (in %d "
			    "s at most)", who, source_max, refused,
			    LOG_REPEAT_S);
			refused_logged_us = now;
			refused = 0;
		}
		if (++accept_burst >= AGENT_ACCEPT_BURST)
			agent_accept_hold();
		return;
	}
	nclients++;
	if (nclients >= clients_max || ++accept_burst >= AGENT_ACCEPT_BURST)
		agent_accept_hold();
	ac = xcalloc(1, sizeof(*ac));
	ac->fd = fd;
	ac->src = src;
	TAILQ_INSERT_TAIL(&conns, ac, entry);
	if (l->serves != NULL) {
		agent_answer(ac, l->serves);
		return;
	}
	ac->deadline_us = now_us() + AGENT_READ_TIMEOUT_MS * 1000;
	agent_read_name(fd, EV_READ, ac);
}

/*
 * Stop accepting for now: until the next turn of the event loop, or
 * while the cap of connections is open.  A listener paused
 * after EMFILE keeps its own timer.
 */
static void
agent_accept_hold(void)
{
	struct timeval	 now = { 0, 0 };
	size_t		 i;

	for (i = 0; i < listeners.n; i++)
		evconnlistener_disable(listeners.l[i]->lev);
	accept_held = 1;
	if (nclients >= clients_max)
		return;
	if (accept_yield == NULL &&
	    (accept_yield = evtimer_new(agent_base, agent_accept_go,
	    NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(accept_yield, &now);
}

/*
 * Accept again, on every listener not paused after EMFILE, unless the
 * cap was reached since the yield began: agent_close() resumes then.
 */
static void
agent_accept_go(int fd, short ev, void *arg)
{
	size_t	 i;

	accept_burst = 0;
	if (nclients >= clients_max)
		return;
	accept_held = 0;
	for (i = 0; i < listeners.n; i++)
		if (listeners.l[i]->resume == NULL ||
		    !evtimer_pending(listeners.l[i]->resume, NULL))
			evconnlistener_enable(listeners.l[i]->lev);
}

/* Read the agent-send line naming a pool. */
static void
agent_read_name(int fd, short ev, void *arg)
{
	struct agent_conn	*ac = arg;
	ssize_t			 n;

	if (ev & EV_TIMEOUT) {
		ac->silent = 1;
		agent_answer(ac, NULL);
		return;
	}
	for (;;) {
		n = recv(fd, ac->line + ac->linelen,
		    sizeof(ac->line) - 1 - ac->linelen, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			agent_arm(ac, EV_READ, agent_read_name);
			return;
		}
		if (n == -1) {
			agent_close(ac);
			return;
		}
		ac->linelen += (size_t)n;
		if (memchr(ac->line, '\n', ac->linelen) != NULL || n == 0 ||
		    ac->linelen == sizeof(ac->line) - 1)
			break;
	}
	agent_answer(ac, NULL);
}

/*
 * The pool name an agent-send line carries: its text up to the first
 * CR, LF or NUL, without the blanks agent-send strings may carry around
 * it.  Copies what fits of it into out (outlen > 0) and returns its whole
 * length: a name as long as outlen or longer names no pool.  Pure.
 */
size_t
agent_line_name(const char *line, size_t len, char *out, size_t outlen)
{
	size_t	 i, end;

	for (end = 0; end < len && line[end] != '\n' && line[end] != '\r' &&
	    line[end] != '\0'; end++)
		;
	for (i = 0; i < end && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	len = end - i;
	if (outlen > 0) {
		end = len < outlen - 1 ? len : outlen - 1;
		memcpy(out, line + i, end);
		out[end] = '\0';
	}
	return len;
}

/*
 * Look the pool the line names up (unless the port serves one), format
 * the answer and send it.
 */
static void
agent_answer(struct agent_conn *ac, struct pool *pool)
{
	const struct verdict	*v;
	char			 name[AGENT_LINE_MAX];

	name[0] = '\0';
	if (pool == NULL && agent_line_name(ac->line, ac->linelen, name,
	    sizeof(name)) < sizeof(name))
		pool = config_find_pool(agent_conf, name);
	if (pool != NULL) {
		v = pool_verdict(pool, now_us());
		memcpy(ac->reply, v->reply, v->replylen);
		ac->replylen = v->replylen;
		agent_answers[pool->admin_state == ADMIN_LEAVE &&
		    v->state >= POOL_MAINT ? POOL_UP : v->state]++;
	} else {
		ac->replylen = agent_reply_unknown(ac->reply, sizeof(ac->reply),
		    name);
		agent_answers[POOL_DRAIN + 1]++;
	}
	/* A peer silent so far gets its answer and no time to linger. */
	ac->deadline_us = now_us() + (ac->silent ? 0 : AGENT_LINGER_MS * 1000);
	agent_write(ac->fd, EV_WRITE, ac);
}

/* Send the answer (one short line: nearly always in one go). */
static void
agent_write(int fd, short ev, void *arg)
{
	struct agent_conn	*ac = arg;
	ssize_t			 n;

	if (ev & EV_TIMEOUT) {
		agent_close(ac);
		return;
	}
	while (ac->sent < ac->replylen) {
		n = send(fd, ac->reply + ac->sent, ac->replylen - ac->sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			agent_arm(ac, EV_WRITE, agent_write);
			return;
		}
		if (n == -1) {
			agent_close(ac);
			return;
		}
		ac->sent += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	agent_linger(fd, EV_READ, ac);
}

/*
 * Read and drop what the peer sent until it closes, so that our close
 * does not reset the connection; give up after a short while.
 */
static void
agent_linger(int fd, short ev, void *arg)
{
	struct agent_conn	*ac = arg;
	char			 sink[512];
	ssize_t			 n;

	if (ev & EV_TIMEOUT) {
		agent_close(ac);
		return;
	}
	for (;;) {
		n = recv(fd, sink, sizeof(sink), 0);
		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == -1 && errno == EAGAIN) {
			agent_arm(ac, EV_READ, agent_linger);
			return;
		}
		break;
	}
	agent_close(ac);
}

/* Wait for fd readiness until the phase's deadline, fixed at its start. */
static void
agent_arm(struct agent_conn *ac, short what, event_callback_fn cb)
{
	event_again(&ac->ev, agent_base, ac->fd, what, cb, ac,
	    ac->deadline_us);
}

/* Release a connection. */
static void
agent_close(struct agent_conn *ac)
{
	TAILQ_REMOVE(&conns, ac, entry);
	if (ac->ev != NULL)
		event_free(ac->ev);
	close(ac->fd);
	source_put(ac->src);
	free(ac);
	nclients--;
	if (accept_held && nclients < clients_max &&
	    (accept_yield == NULL || !evtimer_pending(accept_yield, NULL)))
		agent_accept_go(-1, 0, NULL);
}

/*
 * Format one agent-check answer.  Healthy answers carry "ready" so that
 * they also end a drain or maint set earlier (unless admin_state: leave).
 * Answers carry a health word, since HAProxy ignores a bare weight after
 * a down; a drain too ("drain up 50%", "drain down"), for weight 0 means
 * down there: HAProxy 2.6 keeps a server DOWN under DRAIN until it reads
 * "up", and UP, still serving its sticky sessions, until it reads "down".
 * A maint needs none: HAProxy leaves health alone in MAINT.
 */
size_t
agent_reply_format(char *out, size_t outlen, enum pool_state state,
    unsigned int weight, const char *reason, enum admin_state admin)
{
	char	 why[REASON_MAX + 1];
	int	 n;

	sanitize_text(why, sizeof(why), reason != NULL ? reason : "",
	    reason != NULL ? strlen(reason) : 0);
	if (why[0] == '\0')
		strlcpy_safe(why, "unknown", sizeof(why));
	if (state == POOL_DRAIN && weight == 0) {
		n = snprintf(out, outlen, "drain down #%s\n", why);
		goto done;
	}
	if (weight < 1)
		weight = 1;
	if (weight > 100)
		weight = 100;
	switch (state) {
	case POOL_UP:
		n = snprintf(out, outlen, "%sup %u%%\n",
		    admin == ADMIN_SET ? "ready " : "", weight);
		break;
	case POOL_MAINT:
		n = snprintf(out, outlen, "maint #%s\n", why);
		break;
	case POOL_DRAIN:
		n = snprintf(out, outlen, "drain up %u%% #%s\n", weight, why);
		break;
	case POOL_DOWN:
	default:
		n = snprintf(out, outlen, "down #%s\n", why);
		break;
	}
done:
	if (n < 0 || outlen == 0)
		return 0;
	if ((size_t)n >= outlen) {
		/* Cut, but keep the line ending. */
		out[outlen - 2] = '\n';
		return outlen - 1;
	}
	return (size_t)n;
}

/* The answer for a name that is no configured pool: down, saying so. */
size_t
agent_reply_unknown(char *out, size_t outlen, const char *name)
{
	char	 clean[40], why[REASON_MAX + 1];

	sanitize_text(clean, sizeof(clean), name, strlen(name));
	snprintf(why, sizeof(why), "unknown pool \"%s\"", clean);
	return agent_reply_format(out, outlen, POOL_DOWN, 0, why, ADMIN_SET);
}
