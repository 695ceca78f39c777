/*
 * HTTP checks through libcurl's multi socket API, driven by the event
 * loop as curl's hiperfifo example does it: curl says which sockets to
 * watch and when to wake it, libevent tells it what happened.  Every
 * probe also arms its own timer at its deadline, so a probe ends on time
 * whatever curl does; the socket events need no timeout of their own.
 *
 * Each probe opens a fresh connection (no reuse between probes), so that
 * connecting is tested every time, as the other checks do.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_CURL
#include <curl/curl.h>
#endif

#include "fpmprobe.h"

#define HC(field)	offsetof(struct http_conf, field)

static const struct cfg_choice method_words[] = {
	{ "GET", 0 }, { "HEAD", 1 }, { NULL, 0 }
};

static const struct cfg_key http_keys[] = {
	{ .name = "url", .kind = CFG_URL, .offset = HC(url),
	  .flags = CFG_REQUIRED },
	{ .name = "method", .kind = CFG_WORD, .offset = HC(method),
	  .what = "GET or HEAD", .choices = method_words, .defstr = "GET" },
	{ .name = "headers", .kind = CFG_HEADERS, .offset = HC(headers),
	  .count = HC(nheaders) },
	{ .name = "unix_socket", .kind = CFG_PATH, .offset = HC(unix_socket) },
	{ .name = "expect_status", .kind = CFG_UINT,
	  .offset = HC(expect_status), .min = 100, .max = 999,
	  .def = DEFAULT_EXPECT_STATUS },
	{ .name = "expect_body", .kind = CFG_STRING, .offset = HC(expect_body),
	  .what = "a string" },
	{ .name = "tls_verify", .kind = CFG_BOOL, .offset = HC(tls_verify),
	  .def = 1 },
	{ .name = "follow_redirects", .kind = CFG_BOOL,
	  .offset = HC(follow_redirects) },
	{ .name = NULL }
};

#ifdef HAVE_CURL
#define HTTP_MAX_REDIRECTS	5
#define HTTP_BODY_QUOTE		40	/* of a body quoted in a reason */

/* Per-probe state. */
struct http_probe {
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 body;
	size_t			 total;		/* bytes received */
	int			 too_big;
	int			 added;		/* to the multi handle */
	char			 errbuf[CURL_ERROR_SIZE];
};

static void	http_start(struct probe *);
static void	http_abort(struct probe *);
static void	http_deadline(int, short, void *);
static void	http_finish(struct probe *, CURLcode);
static void	http_judge(struct probe *, struct http_probe *);
static void	http_timings(struct probe *, struct http_probe *);
static void	http_drain(void);
static void	http_socket_event(int, short, void *);
static void	http_timer_event(int, short, void *);
static int	http_socket_cb(CURL *, curl_socket_t, int, void *, void *);
static int	http_timer_cb(CURLM *, long, void *);
static size_t	http_write_cb(char *, size_t, size_t, void *);
static int	http_multi_init(struct event_base *);
#endif

const struct check_ops check_http_ops = {
	.name = "http",
	.keys = http_keys,
	.conf_size = sizeof(struct http_conf),
#ifdef HAVE_CURL
	.start = http_start,
	.abort = http_abort,
#endif
};

#ifdef HAVE_CURL

/* One multi handle for every HTTP probe, created when the first starts. */
static CURLM		*http_multi;
static struct event	*http_timer;
static struct event_base *http_base;
static unsigned int	 http_running;	/* easy handles in the multi */

/* Create the multi handle and its timer; 0 on success. */
static int
http_multi_init(struct event_base *base)
{
	static int	 global_done;

	if (http_multi != NULL)
		return 0;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
			return -1;
		global_done = 1;
	}
	if ((http_multi = curl_multi_init()) == NULL)
		return -1;
	http_base = base;
	if ((http_timer = evtimer_new(base, http_timer_event, NULL)) == NULL)
		fatalx("evtimer_new");
	curl_multi_setopt(http_multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(http_multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	return 0;
}

/* Set up one request and hand it to the multi handle. */
static void
http_start(struct probe *p)
{
	struct check		*c = p->check;
	const struct http_conf	*hc = c->conf;
	struct http_probe	*hp;
	long			 ms = (long)c->timing.timeout_ms;
	size_t			 i;

	if (http_multi_init(p->base) == -1) {
		probe_fail(p, PR_INTERNAL, "cannot set up libcurl");
		return;
	}
	hp = xcalloc(1, sizeof(*hp));
	p->ctx = hp;
	p->phase = PH_CONNECT;
	if ((hp->easy = curl_easy_init()) == NULL) {
		probe_fail(p, PR_INTERNAL, "curl_easy_init");
		return;
	}
	curl_easy_setopt(hp->easy, CURLOPT_URL, hc->url);
	curl_easy_setopt(hp->easy, CURLOPT_PRIVATE, p);
	curl_easy_setopt(hp->easy, CURLOPT_ERRORBUFFER, hp->errbuf);
	curl_easy_setopt(hp->easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(hp->easy, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(hp->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(hp->easy, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(hp->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(hp->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(hp->easy, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(hp->easy, CURLOPT_USERAGENT,
	    "fpmprobe/" PACKAGE_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075700
	/*
	 * Abandoning a probe whose name is still resolving must not wait for
	 * the resolver thread: that would stall the event loop, agent included.
	 */
	curl_easy_setopt(hp->easy, CURLOPT_QUICK_EXIT, 1L);
#endif
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(hp->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(hp->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(hp->easy, CURLOPT_FOLLOWLOCATION,
	    hc->follow_redirects ? 1L : 0L);
	curl_easy_setopt(hp->easy, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
	if (strcmp(hc->method, "HEAD") == 0)
		curl_easy_setopt(hp->easy, CURLOPT_NOBODY, 1L);
	if (hc->unix_socket != NULL)
		curl_easy_setopt(hp->easy, CURLOPT_UNIX_SOCKET_PATH,
		    hc->unix_socket);
	curl_easy_setopt(hp->easy, CURLOPT_SSL_VERIFYPEER,
	    hc->tls_verify ? 1L : 0L);
	curl_easy_setopt(hp->easy, CURLOPT_SSL_VERIFYHOST,
	    hc->tls_verify ? 2L : 0L);
	for (i = 0; i < hc->nheaders; i++)
		hp->headers = curl_slist_append(hp->headers, hc->headers[i]);
	if (hp->headers != NULL)
		curl_easy_setopt(hp->easy, CURLOPT_HTTPHEADER, hp->headers);

	probe_again(p, 0, http_deadline);
	if (curl_multi_add_handle(http_multi, hp->easy) != CURLM_OK) {
		probe_fail(p, PR_INTERNAL, "curl_multi_add_handle");
		return;
	}
	hp->added = 1;
	http_running++;
}

/* Keep the body up to the response cap; stop the transfer past it. */
static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct probe		*p = arg;
	struct http_probe	*hp = p->ctx;
	size_t			 len = size * nmemb;

	if (len > FCGI_RESPONSE_MAX - hp->total) {
		hp->too_big = 1;
		return 0;
	}
	hp->total += len;
	buf_add(&hp->body, data, len);
	return len;
}

/* The probe's deadline passed before curl finished. */
static void
http_deadline(int fd, short ev, void *arg)
{
	struct probe	*p = arg;

	http_finish(p, CURLE_OPERATION_TIMEDOUT);
}

/* Copy curl's timings into the probe, in microseconds from its start. */
static void
http_timings(struct probe *p, struct http_probe *hp)
{
	curl_off_t	 t;

	if (curl_easy_getinfo(hp->easy, CURLINFO_CONNECT_TIME_T, &t) ==
	    CURLE_OK && t > 0)
		p->connect_us = (uint64_t)t;
	if (curl_easy_getinfo(hp->easy, CURLINFO_STARTTRANSFER_TIME_T, &t) ==
	    CURLE_OK && t > 0)
		p->first_byte_us = (uint64_t)t;
	if (p->connect_us > 0)
		p->phase = p->first_byte_us > 0 ? PH_RESPONSE : PH_REQUEST;
}

/* Turn curl's outcome into a probe result. */
static void
http_finish(struct probe *p, CURLcode rc)
{
	const struct http_conf	*hc = p->check->conf;
	struct http_probe	*hp = p->ctx;
	long			 oserr = 0;
	const char		*why;

	http_timings(p, hp);
	why = hp->errbuf[0] != '\0' ? hp->errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_OK:
		http_judge(p, hp);
		return;
	case CURLE_OPERATION_TIMEDOUT:
		if (hp->total > 0)
			probe_fail(p, PR_TIMEOUT, "%zu bytes received",
			    hp->total);
		else
			probe_done(p, PR_TIMEOUT);
		return;
	case CURLE_COULDNT_CONNECT:
		curl_easy_getinfo(hp->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			probe_fail(p, PR_CONNECT_REFUSED, "(%s)",
			    hc->unix_socket != NULL ? hc->unix_socket :
			    hc->url);
		else
			probe_fail(p, PR_CONNECT_ERROR, "(%s)", why);
		return;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		probe_fail(p, PR_DNS, "(%s)", why);
		return;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		probe_fail(p, PR_TLS, "(%s)", why);
		return;
	case CURLE_WRITE_ERROR:
		if (hp->too_big) {
			probe_fail(p, PR_TOO_BIG, "(over %d bytes)",
			    FCGI_RESPONSE_MAX);
			return;
		}
		break;
	case CURLE_GOT_NOTHING:
		probe_fail(p, PR_CLOSED, "without an answer");
		return;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		probe_fail(p, PR_IO_ERROR, "(%s)", why);
		return;
	default:
		break;
	}
	probe_fail(p, PR_PROTOCOL, "(%s)", why);
}

/* A complete answer: judge its status and body. */
static void
http_judge(struct probe *p, struct http_probe *hp)
{
	const struct http_conf	*hc = p->check->conf;
	long			 status = 0;
	char			 quote[HTTP_BODY_QUOTE * 4 + 1];

	curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != hc->expect_status) {
		sanitize_text(quote, sizeof(quote), (const char *)hp->body.data,
		    hp->body.len < HTTP_BODY_QUOTE ? hp->body.len :
		    HTTP_BODY_QUOTE);
		probe_fail(p, PR_STATUS, "%ld%s%s", status,
		    quote[0] != '\0' ? ": " : "", quote);
		return;
	}
	if (hc->expect_body != NULL && (hp->body.len == 0 ||
	    memmem(hp->body.data, hp->body.len, hc->expect_body,
	    strlen(hc->expect_body)) == NULL)) {
		sanitize_text(quote, sizeof(quote), (const char *)hp->body.data,
		    hp->body.len < HTTP_BODY_QUOTE ? hp->body.len :
		    HTTP_BODY_QUOTE);
		probe_fail(p, PR_BODY, "(no \"%.40s\" in \"%s\")",
		    hc->expect_body, quote);
		return;
	}
	probe_done(p, PR_OK);
}

/* Hand finished transfers to their probes. */
static void
http_drain(void)
{
	CURLMsg		*msg;
	struct probe	*p;
	int		 left;

	while (http_multi != NULL &&
	    (msg = curl_multi_info_read(http_multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		p = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
		if (p != NULL)
			http_finish(p, msg->data.result);
	}
}

/* A socket curl watches is ready. */
static void
http_socket_event(int fd, short ev, void *arg)
{
	int	 action = 0, running;

	if (ev & EV_READ)
		action |= CURL_CSELECT_IN;
	if (ev & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(http_multi, fd, action, &running);
	http_drain();
}

/* curl's own timer is due. */
static void
http_timer_event(int fd, short ev, void *arg)
{
	int	 running;

	curl_multi_socket_action(http_multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_drain();
}

/* curl asks to watch a socket for reading, writing, both, or no more. */
static int
http_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp,
    void *sockp)
{
	struct event	*ev = sockp;
	short		 kind = EV_PERSIST;

	if (ev != NULL) {
		event_free(ev);
		ev = NULL;
	}
	if (what == CURL_POLL_REMOVE) {
		curl_multi_assign(http_multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if ((ev = event_new(http_base, s, kind, http_socket_event, NULL)) ==
	    NULL)
		fatalx("event_new");
	event_add(ev, NULL);
	curl_multi_assign(http_multi, s, ev);
	return 0;
}

/* curl asks to be woken after ms milliseconds (-1: not at all). */
static int
http_timer_cb(CURLM *multi, long ms, void *userp)
{
	struct timeval	 tv;

	if (ms < 0) {
		evtimer_del(http_timer);
		return 0;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(http_timer, &tv);
	return 0;
}

/* Release a probe's transfer; the multi handle goes with the last one. */
static void
http_abort(struct probe *p)
{
	struct http_probe	*hp = p->ctx;

	if (hp == NULL)
		return;
	if (hp->easy != NULL) {
		if (hp->added) {
			curl_multi_remove_handle(http_multi, hp->easy);
			http_running--;
		}
		curl_easy_cleanup(hp->easy);
	}
	curl_slist_free_all(hp->headers);
	buf_free(&hp->body);
	free(hp);
	p->ctx = NULL;
	if (http_running == 0 && http_multi != NULL) {
		curl_multi_cleanup(http_multi);
		http_multi = NULL;
		event_free(http_timer);
		http_timer = NULL;
	}
}
#endif /* HAVE_CURL */
