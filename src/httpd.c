/*
 * The status endpoint (http.listen): GET /metrics in Prometheus text,
 * GET /status with the JSON of --once, both from cached state like the
 * agent.  Read-only.  Headers are capped, idle connections closed after
 * HTTPD_TIMEOUT_S, and a request on a connection beyond the first
 * HTTPD_CLIENTS_MAX open ones gets 503 and a close.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "fpmprobe.h"

static void	httpd_request(struct evhttp_request *, void *);
static void	httpd_reply(struct evhttp_request *, int, const char *,
		    const char *, const struct buf *);
static int	httpd_track(struct evhttp_connection *);
static void	httpd_closed(struct evhttp_connection *, void *);
static void	httpd_accept_error(struct evconnlistener *, void *);
static void	httpd_new(struct event_base *);
static int	httpd_attach(struct listener *);
static void	httpd_detach(struct listener *);

static struct evhttp		*httpd;
static struct config		*httpd_conf;
static struct evhttp_connection	*httpd_conns[HTTPD_CLIENTS_MAX];
static size_t			 httpd_nconns;
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
	evhttp_free(httpd);	/* frees the connections: no close callbacks */
	httpd = NULL;
	httpd_nconns = 0;
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
 * Count a connection the first time it brings a request; 0 when it is
 * over the limit and must be refused.
 */
static int
httpd_track(struct evhttp_connection *evcon)
{
	size_t	 i;

	for (i = 0; i < httpd_nconns; i++)
		if (httpd_conns[i] == evcon)
			return 1;
	if (httpd_nconns == HTTPD_CLIENTS_MAX)
		return 0;
	httpd_conns[httpd_nconns++] = evcon;
	evhttp_connection_set_closecb(evcon, httpd_closed, NULL);
	return 1;
}

/* A counted connection went away. */
static void
httpd_closed(struct evhttp_connection *evcon, void *arg)
{
	size_t	 i;

	for (i = 0; i < httpd_nconns; i++)
		if (httpd_conns[i] == evcon) {
			httpd_conns[i] = httpd_conns[--httpd_nconns];
			break;
		}
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
	size_t			 n = 0;
	uint64_t		 now = now_us();

	if (!httpd_track(evcon)) {
		buf_addstr(&body, "too many connections\n");
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		httpd_reply(req, 503, "Service Unavailable", "text/plain",
		    &body);
		buf_free(&body);
		return;
	}
	if (httpd_conf->nallow > 0 && sa != NULL &&
	    sa->sa_family != AF_UNIX &&
	    !cidr_match(httpd_conf->allow, httpd_conf->nallow, sa)) {
		buf_addstr(&body, "forbidden\n");
		httpd_reply(req, 403, "Forbidden", "text/plain", &body);
		buf_free(&body);
		return;
	}
	if (path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/status") != 0)) {
		buf_addstr(&body, "not found: try /metrics or /status\n");
		httpd_reply(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		    &body);
		buf_free(&body);
		return;
	}
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		buf_addstr(&body, "method not allowed\n");
		httpd_reply(req, HTTP_BADMETHOD, "Method Not Allowed",
		    "text/plain", &body);
		buf_free(&body);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		metrics_format(&body, httpd_conf, httpd_start_time);
		httpd_reply(req, HTTP_OK, "OK",
		    "text/plain; version=0.0.4; charset=utf-8", &body);
	} else {
		pools = xcalloc(httpd_conf->npools + 1, sizeof(*pools));
		TAILQ_FOREACH(pool, &httpd_conf->pools, entry) {
			pool_verdict(pool, now);
			pools[n++] = pool;
		}
		report_json(&body, httpd_conf, pools, n);
		buf_addstr(&body, "\n");
		free(pools);
		httpd_reply(req, HTTP_OK, "OK", "application/json", &body);
	}
	buf_free(&body);
}
