/*
 * The status endpoint (http.listen): GET /metrics in Prometheus text,
 * GET /status with the JSON of --once, and the health endpoints for
 * load balancers that are not HAProxy (/health/POOL, /health, /live),
 * all from cached state like the agent: no request ever runs a probe.
 * Read-only.  /metrics speaks OpenMetrics to a scraper whose Accept
 * header asks for it, the Prometheus text format otherwise.
 *
 * Connections are judged at accept, before they send anything: a source
 * agent.allow does not allow is closed at once, and at most
 * HTTPD_CLIENTS_MAX are open, HTTPD_SOURCE_MAX of them from one source
 * (an IPv4 address, an IPv6 /64).  A connection over either cap takes
 * the place of the one that has waited longest without a request (from
 * its own source, for the source's cap), so that silent or idle clients
 * can hold neither descriptors nor the well-behaved clients' slots: a
 * new client is always heard.  Each connection has one deadline, fixed
 * when it starts to wait for a request or starts to get its answer:
 * HTTPD_TIMEOUT_S later it is closed, however slowly it trickles bytes.
 * evhttp accepts; the hook it calls for each new connection's buffer
 * (evhttp_set_bevcb) queues the connection, and the admission runs
 * right after the accept callback, before any byte is read from it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "fpmprobe.h"

/* What an up pool with a weight below 100 answers (?degraded=). */
enum degraded_answer {
	DEGRADED_200 = 0,	/* 200 with x-envoy-degraded: the default */
	DEGRADED_429,		/* 429, Consul's warning */
	DEGRADED_IGNORE		/* 200 without x-envoy-degraded */
};

static void	httpd_request(struct evhttp_request *, void *);
static int	httpd_allowed(const struct sockaddr *);
static void	httpd_health(struct evhttp_request *, const char *,
		    uint64_t);
static void	httpd_live(struct evhttp_request *);
static int	health_degraded_arg(struct evhttp_request *,
		    enum degraded_answer *);
static int	health_degraded(const struct verdict *);
static int	health_code(int, int, enum degraded_answer);
static const char *health_phrase(int);
static void	health_line(struct buf *, const struct verdict *);
static void	httpd_reply(struct evhttp_request *, int, const char *,
		    const char *, const struct buf *);
static void	httpd_text(struct evhttp_request *, int, const char *,
		    const char *);
static struct bufferevent *httpd_new_conn(struct event_base *, void *);
static void	httpd_admit(int, short, void *);
static void	httpd_admit_one(struct evhttp_connection *, uint64_t);
static int	httpd_source(const struct sockaddr *, uint8_t *);
static struct httpd_conn *httpd_conn_find(struct evhttp_connection *);
static struct httpd_conn *httpd_oldest_waiting(const uint8_t *);
static void	httpd_replied(struct evhttp_request *, void *);
static void	httpd_sweep(int, short, void *);
static void	httpd_sweep_arm(void);
static void	httpd_accept_hold(int);
static void	httpd_closed(struct evhttp_connection *, void *);
static void	httpd_metrics(struct evhttp_request *, struct buf *);
static void	httpd_accept_error(struct evconnlistener *, void *);
static void	httpd_new(struct event_base *);
static int	httpd_attach(struct listener *);
static void	httpd_detach(struct listener *);

#define HTTPD_KEY_LEN	9	/* a source: its family, then the address */

/* An open connection, counted from its accept. */
struct httpd_conn {
	struct evhttp_connection *evcon;
	uint8_t			 src[HTTPD_KEY_LEN];	/* all 0: unix */
	uint64_t		 deadline_us;
	int			 replying;	/* its answer is being sent */
};

static struct evhttp		*httpd;
static struct config		*httpd_conf;
static struct httpd_conn	 httpd_conns[HTTPD_CLIENTS_MAX];
static size_t			 httpd_nconns;
/*
 * Accepted, not admitted yet: their buffers, a reference held on each.
 * Accepting stops at HTTPD_ACCEPT_BURST of them, but a listener resumed
 * after EMFILE, or bound by a reload, may bring more: the array grows.
 */
static struct bufferevent	**httpd_pending;
static size_t			 httpd_npending, httpd_pending_cap;
static struct event		*httpd_admit_ev;
static struct event		*httpd_sweep_ev;
static int			 httpd_held;	/* accepting stopped */
static uint64_t			 httpd_start_time;
/* Sockets handed to evhttp, which accepts on them. */
static struct listener_set	 httpd_listeners = {
	.who = "http",
	.backlog = 128,
	.attach = httpd_attach,
	.detach = httpd_detach
};

/*
 * Bind every http.listen address; -1 if any cannot be bound.  On a
 * reload, an address still asked for keeps its socket, and connections
 * in flight go on (evhttp stays); the others are closed.
 */
int
httpd_start(struct event_base *base, struct config *conf)
{
	size_t	 i;
	int	 rv = 0;

	httpd_conf = conf;
	if (conf->http_listen.n == 0) {
		httpd_stop();
		return 0;
	}
	if (httpd_start_time == 0)
		httpd_start_time = (uint64_t)time(NULL);
	if (httpd == NULL)
		httpd_new(base);
	listeners_begin(&httpd_listeners, base);
	for (i = 0; i < conf->http_listen.n; i++)
		if (listeners_want(&httpd_listeners, &conf->http_listen.addr[i],
		    NULL) == -1)
			rv = -1;
	listeners_end(&httpd_listeners);
	return rv;
}

/* The HTTP server, with its bounds, before it has any socket. */
static void
httpd_new(struct event_base *base)
{
	if ((httpd = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_headers_size(httpd, HTTPD_HEADERS_MAX);
	evhttp_set_max_body_size(httpd, 0);
	evhttp_set_timeout(httpd, HTTPD_TIMEOUT_S);
	evhttp_set_allowed_methods(httpd, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(httpd, httpd_request, NULL);
	evhttp_set_bevcb(httpd, httpd_new_conn, NULL);
	if ((httpd_admit_ev = event_new(base, -1, 0, httpd_admit, NULL)) ==
	    NULL || (httpd_sweep_ev = evtimer_new(base, httpd_sweep, NULL)) ==
	    NULL)
		fatalx("event_new");
}

/* Give a new socket to evhttp, which then accepts on it. */
static int
httpd_attach(struct listener *l)
{
	if ((l->bound = evhttp_bind_listener(httpd, l->lev)) == NULL)
		return -1;
	/* evhttp sets no error callback: without one, EMFILE spins. */
	evconnlistener_set_error_cb(l->lev, httpd_accept_error);
	return 0;
}

/* Take a socket back from evhttp, which closes it. */
static void
httpd_detach(struct listener *l)
{
	evhttp_del_accept_socket(httpd, l->bound);
}

/* Close the listeners and every connection. */
void
httpd_stop(void)
{
	if (httpd == NULL)
		return;
	listeners_close(&httpd_listeners);
	evhttp_free(httpd);	/* frees the connections, which untrack */
	httpd = NULL;
	httpd_nconns = 0;
	while (httpd_npending > 0)
		bufferevent_decref(httpd_pending[--httpd_npending]);
	free(httpd_pending);
	httpd_pending = NULL;
	httpd_pending_cap = 0;
	event_free(httpd_admit_ev);
	event_free(httpd_sweep_ev);
	httpd_admit_ev = httpd_sweep_ev = NULL;
	httpd_held = 0;
}

/* Accepting failed on a status port (its argument is evhttp's). */
static void
httpd_accept_error(struct evconnlistener *lev, void *arg)
{
	struct listener	*l;

	if ((l = listener_find(&httpd_listeners, lev)) != NULL)
		listener_pause(l);
}

/*
 * evhttp accepted a connection and asks for its buffer: make it, keep a
 * reference to it, and have the connection admitted as soon as the
 * accept callback is over.  After HTTPD_ACCEPT_BURST of them, accepting
 * waits for that, so that a flood cannot take descriptors first.
 */
static struct bufferevent *
httpd_new_conn(struct event_base *base, void *arg)
{
	struct bufferevent	*bev;

	/*
	 * Not BEV_OPT_CLOSE_ON_FREE: evhttp then closes the socket itself
	 * when it frees the connection, at once, where the last reference
	 * to the buffer, dropped later, would close the descriptor number
	 * another connection may have been given meanwhile.
	 */
	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		fatalx("bufferevent_socket_new");
	bufferevent_incref(bev);
	if (httpd_npending == httpd_pending_cap) {
		httpd_pending_cap = httpd_pending_cap == 0 ?
		    HTTPD_ACCEPT_BURST : httpd_pending_cap * 2;
		httpd_pending = xreallocarray(httpd_pending, httpd_pending_cap,
		    sizeof(*httpd_pending));
	}
	httpd_pending[httpd_npending++] = bev;
	event_active(httpd_admit_ev, EV_TIMEOUT, 1);
	if (httpd_npending >= HTTPD_ACCEPT_BURST)
		httpd_accept_hold(1);
	return bev;
}

/* Stop accepting (hold), or accept again on every listener not paused. */
static void
httpd_accept_hold(int hold)
{
	struct listener	*l;
	size_t		 i;

	httpd_held = hold;
	for (i = 0; i < httpd_listeners.n; i++) {
		l = httpd_listeners.l[i];
		if (hold)
			evconnlistener_disable(l->lev);
		else if (l->resume == NULL || !evtimer_pending(l->resume, NULL))
			evconnlistener_enable(l->lev);
	}
}

/*
 * Admit the connections just accepted.  evhttp made each one's buffer
 * with the connection as its callbacks' argument; one it has freed
 * already has none left.
 */
static void
httpd_admit(int fd, short ev, void *arg)
{
	struct evhttp_connection	*evcon;
	struct bufferevent		*bev;
	void				*cbarg;
	uint64_t			 now = now_us();
	size_t				 i;

	for (i = 0; i < httpd_npending; i++) {
		bev = httpd_pending[i];
		bufferevent_getcb(bev, NULL, NULL, NULL, &cbarg);
		evcon = cbarg;
		if (evcon != NULL && evhttp_connection_get_bufferevent(evcon) ==
		    bev)
			httpd_admit_one(evcon, now);
		else
			bufferevent_setfd(bev, -1);	/* closed by evhttp */
		bufferevent_decref(bev);
	}
	httpd_npending = 0;
	if (httpd_held)
		httpd_accept_hold(0);
	httpd_sweep_arm();
}

/*
 * Judge one new connection: closed at once when its source is not
 * allowed; over a cap, it takes the place of the connection that has
 * waited longest for a request (of its source, for the source's cap),
 * or is closed when every one is getting an answer.
 */
static void
httpd_admit_one(struct evhttp_connection *evcon, uint64_t now)
{
	const struct sockaddr	*sa = evhttp_connection_get_addr(evcon);
	struct httpd_conn	*hc, *old;
	uint8_t			 src[HTTPD_KEY_LEN];
	size_t			 i, n = 0;

	if (!httpd_allowed(sa)) {
		evhttp_connection_free(evcon);
		return;
	}
	if (httpd_source(sa, src))
		for (i = 0; i < httpd_nconns; i++)
			if (memcmp(httpd_conns[i].src, src, sizeof(src)) == 0)
				n++;
	if (n >= HTTPD_SOURCE_MAX || httpd_nconns >= HTTPD_CLIENTS_MAX) {
		old = httpd_oldest_waiting(n >= HTTPD_SOURCE_MAX ? src : NULL);
		if (old == NULL) {
			evhttp_connection_free(evcon);
			return;
		}
		log_debug("http: a connection over the cap closes one that sent "
		    "no request");
		evhttp_connection_free(old->evcon);	/* untracks it */
	}
	hc = &httpd_conns[httpd_nconns++];
	hc->evcon = evcon;
	memcpy(hc->src, src, sizeof(src));
	hc->deadline_us = now + HTTPD_TIMEOUT_S * 1000000ULL;
	hc->replying = 0;
	evhttp_connection_set_closecb(evcon, httpd_closed, NULL);
}

/*
 * The source a peer counts against, as a key: an IPv4 address (mapped
 * ones too) or an IPv6 /64, which one host has whole.  0, the key all
 * zeros, for a peer of a unix socket, which is not counted.
 */
static int
httpd_source(const struct sockaddr *sa, uint8_t *key)
{
	static const uint8_t	 v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t		*in6;

	memset(key, 0, HTTPD_KEY_LEN);
	if (sa != NULL && sa->sa_family == AF_INET) {
		key[0] = AF_INET;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 1;
	}
	if (sa == NULL || sa->sa_family != AF_INET6)
		return 0;
	in6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	key[0] = memcmp(in6, v4mapped, 12) == 0 ? AF_INET : AF_INET6;
	memcpy(key + 1, key[0] == AF_INET ? in6 + 12 : in6,
	    key[0] == AF_INET ? 4 : 8);
	return 1;
}

/* The connection's entry; NULL for one that is not counted. */
static struct httpd_conn *
httpd_conn_find(struct evhttp_connection *evcon)
{
	size_t	 i;

	for (i = 0; i < httpd_nconns; i++)
		if (httpd_conns[i].evcon == evcon)
			return &httpd_conns[i];
	return NULL;
}

/*
 * The connection that has waited longest for a request (of the source,
 * unless src is NULL); NULL when every one is getting an answer.
 */
static struct httpd_conn *
httpd_oldest_waiting(const uint8_t *src)
{
	struct httpd_conn	*hc, *best = NULL;
	size_t			 i;

	for (i = 0; i < httpd_nconns; i++) {
		hc = &httpd_conns[i];
		if (hc->replying || (src != NULL &&
		    memcmp(hc->src, src, HTTPD_KEY_LEN) != 0))
			continue;
		if (best == NULL || hc->deadline_us < best->deadline_us)
			best = hc;
	}
	return best;
}

/* An answer went out whole: the connection waits for its next request. */
static void
httpd_replied(struct evhttp_request *req, void *arg)
{
	struct httpd_conn	*hc;

	if ((hc = httpd_conn_find(arg)) == NULL)
		return;
	hc->replying = 0;
	hc->deadline_us = now_us() + HTTPD_TIMEOUT_S * 1000000ULL;
	httpd_sweep_arm();
}

/* Close the connections past their deadline, then wait for the next. */
static void
httpd_sweep(int fd, short ev, void *arg)
{
	struct evhttp_connection	*late[HTTPD_CLIENTS_MAX];
	uint64_t			 now = now_us();
	size_t				 i, n = 0;

	for (i = 0; i < httpd_nconns; i++)
		if (httpd_conns[i].deadline_us <= now)
			late[n++] = httpd_conns[i].evcon;
	for (i = 0; i < n; i++)
		evhttp_connection_free(late[i]);	/* untracks it */
	httpd_sweep_arm();
}

/* Arm the sweep for the earliest deadline. */
static void
httpd_sweep_arm(void)
{
	struct timeval	 tv;
	uint64_t	 first = UINT64_MAX, now = now_us(), left;
	size_t		 i;

	for (i = 0; i < httpd_nconns; i++)
		if (httpd_conns[i].deadline_us < first)
			first = httpd_conns[i].deadline_us;
	if (first == UINT64_MAX) {
		evtimer_del(httpd_sweep_ev);
		return;
	}
	left = first > now ? first - now : 0;
	tv.tv_sec = (time_t)(left / 1000000);
	tv.tv_usec = (suseconds_t)(left % 1000000);
	evtimer_add(httpd_sweep_ev, &tv);
}

/* A counted connection went away. */
static void
httpd_closed(struct evhttp_connection *evcon, void *arg)
{
	struct httpd_conn	*hc;

	if ((hc = httpd_conn_find(evcon)) != NULL)
		*hc = httpd_conns[--httpd_nconns];
}

/*
 * Send a complete answer.  evhttp sends a body with HEAD too: send the
 * length GET would have instead, and nothing after the headers.
 */
static void
httpd_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const struct buf *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct evbuffer		*out = evbuffer_new();
	char			 len[24];

	if (out == NULL)
		fatalx("evbuffer_new");
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (code == HTTP_BADMETHOD)
		evhttp_add_header(h, "Allow", "GET, HEAD");
	if (body != NULL && body->len > 0) {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
			snprintf(len, sizeof(len), "%zu", body->len);
			evhttp_add_header(h, "Content-Length", len);
		} else
			evbuffer_add(out, body->data, body->len);
	}
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

/* Send a short text/plain answer. */
static void
httpd_text(struct evhttp_request *req, int code, const char *reason,
    const char *text)
{
	struct buf	 body = { NULL, 0, 0 };

	buf_addstr(&body, text);
	httpd_reply(req, code, reason, "text/plain", &body);
	buf_free(&body);
}

/* May this peer use the endpoint (agent.allow)?  A unix peer always may. */
static int
httpd_allowed(const struct sockaddr *sa)
{
	return httpd_conf->nallow == 0 || sa == NULL ||
	    sa->sa_family == AF_UNIX ||
	    cidr_match(httpd_conf->allow, httpd_conf->nallow, sa);
}

/* Route one request. */
static void
httpd_request(struct evhttp_request *req, void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct sockaddr	*sa = evhttp_connection_get_addr(evcon);
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type	 method = evhttp_request_get_command(req);
	struct buf		 body = { NULL, 0, 0 };
	struct pool		**pools, *pool;
	struct httpd_conn	*hc;
	size_t			 n = 0;
	uint64_t		 now = now_us();
	int			 get = method == EVHTTP_REQ_GET ||
				    method == EVHTTP_REQ_HEAD;

	if (path == NULL || path[0] == '\0')
		path = "/";
	if ((hc = httpd_conn_find(evcon)) != NULL) {
		hc->replying = 1;
		hc->deadline_us = now + HTTPD_TIMEOUT_S * 1000000ULL;
		evhttp_request_set_on_complete_cb(req, httpd_replied, evcon);
	}
	if (!httpd_allowed(sa)) {
		httpd_text(req, 403, "Forbidden", "forbidden\n");
		return;
	}
	if (strcmp(path, "/metrics") != 0 && strcmp(path, "/status") != 0 &&
	    strcmp(path, "/live") != 0 && strcmp(path, "/") != 0 &&
	    strcmp(path, "/health") != 0 && strncmp(path, "/health/", 8) != 0) {
		httpd_text(req, HTTP_NOTFOUND, "Not Found", "not found: try "
		    "/health, /health/POOL, /live, /metrics or /status\n");
		return;
	}
	if (!get) {
		httpd_text(req, HTTP_BADMETHOD, "Method Not Allowed",
		    "method not allowed\n");
		return;
	}
	if (strcmp(path, "/metrics") == 0)
		httpd_metrics(req, &body);
	else if (strcmp(path, "/status") == 0) {
		pools = xcalloc(httpd_conf->npools + 1, sizeof(*pools));
		TAILQ_FOREACH(pool, &httpd_conf->pools, entry) {
			pool_verdict(pool, now);
			pools[n++] = pool;
		}
		report_json(&body, httpd_conf, pools, n);
		buf_addstr(&body, "\n");
		free(pools);
		httpd_reply(req, HTTP_OK, "OK", "application/json", &body);
	} else if (strcmp(path, "/live") == 0)
		httpd_live(req);
	else
		httpd_health(req, path, now);
	buf_free(&body);
}

/*
 * GET /metrics, in the format its Accept header asks for (every Accept
 * line of the request, as one list): 400 for a header that does not
 * parse, 406 when it accepts neither format.
 */
static void
httpd_metrics(struct evhttp_request *req, struct buf *body)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evkeyval		*h;
	struct buf		 accept = { NULL, 0, 0 };
	enum exposition		 expo;
	int			 rv;

	TAILQ_FOREACH(h, in, next)
		if (strcasecmp(h->key, "Accept") == 0) {
			if (accept.len > 0)
				buf_addstr(&accept, ",");
			buf_addstr(&accept, h->value);
		}
	rv = metrics_negotiate(accept.len > 0 ? (const char *)accept.data :
	    NULL, &expo);
	buf_free(&accept);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Vary",
	    "Accept");
	if (rv == -1) {
		httpd_text(req, HTTP_BADREQUEST, "Bad Request",
		    "malformed Accept header\n");
		return;
	}
	if (rv == 1) {
		httpd_text(req, 406, "Not Acceptable", "/metrics serves "
		    "text/plain; version=0.0.4 and application/openmetrics-text; "
		    "version=1.0.0\n");
		return;
	}
	metrics_write(body, httpd_conf, httpd_start_time, expo);
	httpd_reply(req, HTTP_OK, "OK", expo == EXPO_OPENMETRICS ?
	    "application/openmetrics-text; version=1.0.0; charset=utf-8" :
	    "text/plain; version=0.0.4; charset=utf-8", body);
}

/*
 * Liveness: the event loop runs, since it answers.  Whatever the pools
 * say: restarting fpmprobe never fixes a pool.
 */
static void
httpd_live(struct evhttp_request *req)
{
	httpd_text(req, HTTP_OK, "OK", "alive\n");
}

/*
 * Read ?degraded=200|429|ignore; -1 for another value, so that a typo in
 * a probe's definition shows at once rather than being read as the
 * default.
 */
static int
health_degraded_arg(struct evhttp_request *req, enum degraded_answer *da)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*query = evhttp_uri_get_query(uri), *v;
	struct evkeyvalq	 args;
	int			 rv = 0;

	*da = DEGRADED_200;
	if (query == NULL || query[0] == '\0')
		return 0;
	TAILQ_INIT(&args);
	if (evhttp_parse_query_str(query, &args) == -1)
		return -1;
	if ((v = evhttp_find_header(&args, "degraded")) == NULL)
		;
	else if (strcmp(v, "429") == 0)
		*da = DEGRADED_429;
	else if (strcmp(v, "ignore") == 0)
		*da = DEGRADED_IGNORE;
	else if (strcmp(v, "200") != 0)
		rv = -1;
	evhttp_clear_headers(&args);
	return rv;
}

/* Is the pool up with a weight below 100 (stuck or held workers)? */
static int
health_degraded(const struct verdict *v)
{
	return v->state == POOL_UP && v->weight < 100;
}

/* The status code for pools that are all up (or not) and degraded. */
static int
health_code(int up, int degraded, enum degraded_answer da)
{
	if (!up)
		return 503;
	if (degraded && da == DEGRADED_429)
		return 429;
	return HTTP_OK;
}

/* The reason phrase of a status code health_code() returns. */
static const char *
health_phrase(int code)
{
	return code == 503 ? "Service Unavailable" :
	    code == 429 ? "Too Many Requests" : "OK";
}

/*
 * One pool's line: the answer the agent gives (with admin_state: set),
 * and for an up pool the reason it carries no room for ("#2/4 workers
 * stuck >10s ...").
 */
static void
health_line(struct buf *b, const struct verdict *v)
{
	char	 reply[AGENT_REPLY_MAX], why[REASON_MAX + 1];
	size_t	 n;

	n = agent_reply_format(reply, sizeof(reply), v->state, v->weight,
	    v->reason, ADMIN_SET);
	while (n > 0 && reply[n - 1] == '\n')
		n--;
	buf_add(b, reply, n);
	if (v->state == POOL_UP && v->reason[0] != '\0') {
		sanitize_text(why, sizeof(why), v->reason, strlen(v->reason));
		buf_printf(b, " #%s", why);
	}
	buf_addstr(b, "\n");
}

/*
 * GET /health/POOL: one pool, its state and weight in headers.  GET
 * /health (and /): every pool, those that are not up first, so that a
 * checker keeping only the start of the output (Consul keeps 4 KB) still
 * shows them; 2xx only when every pool is up.
 */
static void
httpd_health(struct evhttp_request *req, const char *path, uint64_t now)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct buf		 body = { NULL, 0, 0 };
	const struct verdict	*v;
	struct pool		*pool;
	enum degraded_answer	 da;
	char			 weight[16];
	char			 reply[AGENT_REPLY_MAX];
	const char		*name = NULL;
	int			 code, up = 1, degraded = 0, pass;

	if (health_degraded_arg(req, &da) == -1) {
		httpd_text(req, HTTP_BADREQUEST, "Bad Request",
		    "bad query: degraded= takes 200, 429 or ignore\n");
		return;
	}
	if (strncmp(path, "/health/", 8) == 0 && path[8] != '\0')
		name = path + 8;
	if (name != NULL) {
		if ((pool = config_find_pool(httpd_conf, name)) == NULL) {
			agent_reply_unknown(reply, sizeof(reply), name);
			httpd_text(req, HTTP_NOTFOUND, "Not Found", reply);
			return;
		}
		v = pool_verdict(pool, now);
		up = v->state == POOL_UP;
		degraded = health_degraded(v);
		health_line(&body, v);
		evhttp_add_header(h, "X-Fpmprobe-State",
		    pool_state_str(v->state));
		snprintf(weight, sizeof(weight), "%u", v->weight);
		evhttp_add_header(h, "X-Fpmprobe-Weight", weight);
	} else
		for (pass = 0; pass < 2; pass++)
			TAILQ_FOREACH(pool, &httpd_conf->pools, entry) {
				v = pool_verdict(pool, now);
				if ((v->state == POOL_UP) != pass)
					continue;
				if (v->state != POOL_UP)
					up = 0;
				if (health_degraded(v))
					degraded = 1;
				buf_printf(&body, "%s ", pool->name);
				health_line(&body, v);
			}
	if (up && degraded && da != DEGRADED_IGNORE)
		evhttp_add_header(h, "x-envoy-degraded", "true");
	code = health_code(up, degraded, da);
	httpd_reply(req, code, health_phrase(code), "text/plain", &body);
	buf_free(&body);
}
