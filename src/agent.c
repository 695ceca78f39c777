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
 * their peer's close read and are released; at AGENT_CLIENTS_MAX open
 * connections, accepting stops until one closes, and new peers wait in
 * the kernel's backlog rather than being turned away.
 */

#include "config.h"

#include <sys/types.h>
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

enum agent_state {
	AGENT_READ_NAME,
	AGENT_WRITE,
	AGENT_LINGER
};

/*
 * One agent connection.  It holds no pointer to its listener or into the
 * configuration, so that a reload may close or change either under it.
 */
struct agent_conn {
	int			 fd;
	struct event		*ev;
	enum agent_state	 state;
	char			 line[AGENT_LINE_MAX];
	size_t			 linelen;
	char			 reply[AGENT_REPLY_MAX];
	size_t			 replylen;
	size_t			 sent;
	uint64_t		 deadline_us;	/* of the current phase */
};

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

static struct event_base	*agent_base;
static struct config		*agent_conf;
/* Each listener serves a pool, or every pool (serves is NULL). */
static struct listener_set	 listeners = {
	.who = "agent",
	.backlog = 1024,
	.accept = agent_accept
};
static size_t			 nclients;
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

/* Close every listener. */
void
agent_stop(void)
{
	listeners_close(&listeners);
	if (accept_yield != NULL)
		event_free(accept_yield);
	accept_yield = NULL;
	accept_held = 0;
}

/* A new agent connection: check it, then answer or wait for a name. */
static void
agent_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener		*l = arg;
	struct agent_conn	*ac;

	/* Accepted sockets are already non-blocking (libevent's accept4). */
	if (nclients >= AGENT_CLIENTS_MAX ||
	    !cidr_match(agent_conf->allow, agent_conf->nallow, sa)) {
		close(fd);
		return;
	}
	nclients++;
	if (nclients >= AGENT_CLIENTS_MAX || ++accept_burst >=
	    AGENT_ACCEPT_BURST)
		agent_accept_hold();
	ac = xcalloc(1, sizeof(*ac));
	ac->fd = fd;
	if (l->serves != NULL) {
		agent_answer(ac, l->serves);
		return;
	}
	ac->state = AGENT_READ_NAME;
	ac->deadline_us = now_us() + AGENT_READ_TIMEOUT_MS * 1000;
	agent_read_name(fd, EV_READ, ac);
}

/*
 * Stop accepting for now: until the next turn of the event loop, or
 * while AGENT_CLIENTS_MAX connections are open.  A listener paused
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
	if (nclients >= AGENT_CLIENTS_MAX)
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
	if (nclients >= AGENT_CLIENTS_MAX)
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
	ac->state = AGENT_WRITE;
	ac->deadline_us = now_us() + AGENT_LINGER_MS * 1000;
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
	ac->state = AGENT_LINGER;
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
	struct timeval	 tv = { 0, 0 };
	uint64_t	 now = now_us(), left;

	left = now < ac->deadline_us ? ac->deadline_us - now : 0;
	tv.tv_sec = (time_t)(left / 1000000);
	tv.tv_usec = (suseconds_t)(left % 1000000);

	if (ac->ev != NULL)
		event_free(ac->ev);
	if ((ac->ev = event_new(agent_base, ac->fd, what, cb, ac)) == NULL)
		fatalx("event_new");
	event_add(ac->ev, &tv);
}

/* Release a connection. */
static void
agent_close(struct agent_conn *ac)
{
	if (ac->ev != NULL)
		event_free(ac->ev);
	close(ac->fd);
	free(ac);
	nclients--;
	if (accept_held && nclients < AGENT_CLIENTS_MAX &&
	    (accept_yield == NULL || !evtimer_pending(accept_yield, NULL)))
		agent_accept_go(-1, 0, NULL);
}

/*
 * Format one agent-check answer.  Healthy answers carry "ready" so that
 * they also end a drain or maint set earlier (unless admin_state: leave);
 * every answer carries a health word, since HAProxy ignores a bare weight
 * after a down.
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
		n = snprintf(out, outlen, "drain #%s\n", why);
		break;
	case POOL_DOWN:
	default:
		n = snprintf(out, outlen, "down #%s\n", why);
		break;
	}
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
