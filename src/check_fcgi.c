/*
 * FastCGI checks: a real round trip that makes PHP-FPM execute a script,
 * and the pool's status page, read the same way.  The wire format lives
 * in fcgi.c; this file only moves bytes under the probe's deadline.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fastcgi.h>

#include "fpmprobe.h"

#define FCGI_REQUEST_ID		1
#define FCGI_READ_CHUNK		16384
#define CONNECT_RETRY_US	20000

/* Per-probe state of a FastCGI round trip. */
struct fcgi_probe {
	struct fcgi_decoder	 dec;
	struct buf		 out;		/* STDOUT */
	struct buf		 err;		/* STDERR, first bytes only */
	size_t			 total;		/* STDOUT + STDERR bytes */
	size_t			 cap;		/* what total may reach */
	int			 asked_again;	/* a status page, once */
};

static void	fcgi_start(struct probe *);
static void	fcgi_abort(struct probe *);
static void	fcgi_free(struct check *);
static void	fcgi_open(struct probe *);
static void	fpm_status_retry(struct probe *, struct fcgi_probe *);
static void	fcgi_send_early(struct probe *);
static void	fcgi_connect(int, short, void *);
static void	fcgi_connect_error(struct probe *, int);
static void	fcgi_connect_retry(int, short, void *);
static void	fcgi_write(int, short, void *);
static void	fcgi_read(int, short, void *);
static void	fcgi_finish(struct probe *);
static void	fpm_status_finish(struct probe *, struct fcgi_probe *,
		    const struct cgi_response *);
static int	fcgi_sink_out(void *, const uint8_t *, size_t);
static int	fcgi_sink_err(void *, const uint8_t *, size_t);
static const struct buf *fcgi_request(struct check *);
static void	fcgi_conf_finish(struct check *, struct cfg_check *);

#define FC(field)	offsetof(struct fcgi_conf, field)

static const struct cfg_key fcgi_keys[] = {
	{ .name = "script", .kind = CFG_FILE, .offset = FC(script),
	  .flags = CFG_REQUIRED },
	{ .name = "uri", .kind = CFG_URI, .offset = FC(uri) },
	{ .name = "query", .kind = CFG_STRING, .offset = FC(query),
	  .what = "a string" },
	{ .name = "expect_status", .kind = CFG_UINT,
	  .offset = FC(expect_status), .min = 100, .max = 999,
	  .def = DEFAULT_EXPECT_STATUS },
	{ .name = "expect_body", .kind = CFG_STRING, .offset = FC(expect_body),
	  .what = "a string" },
	{ .name = "address", .kind = CFG_ADDRESS, .offset = FC(address) },
	{ .name = NULL }
};

const struct check_ops check_fcgi_ops = {
	.name = "fastcgi",
	.keys = fcgi_keys,
	.conf_size = sizeof(struct fcgi_conf),
	.real_path = 1,
	.finish = fcgi_conf_finish,
	.start = fcgi_start,
	.abort = fcgi_abort,
	.free = fcgi_free,
};

/* The pool's status sampler: not in check_types[], made by the engine. */
const struct check_ops check_fpm_status_ops = {
	.name = "fpm-status",
	.keys = fcgi_keys,
	.conf_size = sizeof(struct fcgi_conf),
	.start = fcgi_start,
	.abort = fcgi_abort,
	.free = fcgi_free,
};

/*
 * A fastcgi check talks to the pool unless it names an address, and
 * asks for / and the script's name unless it gives a uri.
 */
static void
fcgi_conf_finish(struct check *c, struct cfg_check *cc)
{
	struct fcgi_conf	*fc = c->conf;
	const char		*base;

	if (fc->address.text == NULL && c->pool->have_fastcgi) {
		fc->address = c->pool->fastcgi;
		fc->address.text = xstrdup(c->pool->fastcgi.text);
	}
	if (fc->uri == NULL && fc->script != NULL) {
		base = strrchr(fc->script, '/');
		xasprintf(&fc->uri, "/%s", base + 1);
	}
}

/*
 * The status-page sampler of a pool with status_path: its page, through
 * status_listen when given (which still answers when every worker is
 * busy), read as a FastCGI round trip.
 */
struct check *
check_fpm_status_new(struct pool *pool)
{
	struct check		*c;
	struct fcgi_conf	*fc;
	const struct address	*a;

	c = check_new(pool, &check_fpm_status_ops);
	c->name = xstrdup("status");
	c->line = pool->line;
	c->col = pool->col;
	c->timing = pool->timing;
	fc = c->conf;
	a = pool->have_status_listen ? &pool->status_listen : &pool->fastcgi;
	fc->address = *a;
	fc->address.text = xstrdup(a->text);
	fc->script = xstrdup(pool->status_path);
	fc->uri = xstrdup(pool->status_path);
	fc->query = xstrdup("full");
	return c;
}

/*
 * Open a non-blocking connection to an address.  Returns 0 when the
 * connection is under way or done, 1 when a unix listener's backlog is
 * full; on any other failure the probe has ended and -1 is returned.
 */
int
sock_connect(struct probe *p, const struct address *a)
{
	int	 fd, saved;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		probe_fail(p, PR_INTERNAL, "socket: %s", strerror(errno));
		return -1;
	}
	p->fd = fd;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->sslen) == 0 ||
	    errno == EINPROGRESS)
		return 0;
	saved = errno;
	if (saved == EAGAIN && a->ss.ss_family == AF_UNIX)
		return 1;	/* a full unix backlog: like a lost SYN */
	if (saved == ECONNREFUSED)
		probe_fail(p, PR_CONNECT_REFUSED, "(%s)", a->text);
	else
		probe_fail(p, PR_CONNECT_ERROR, "%s: %s", a->text,
		    strerror(saved));
	return -1;
}

/* Build (once per check) and return the encoded request. */
static const struct buf *
fcgi_request(struct check *c)
{
	const struct fcgi_conf	*fc = c->conf;
	struct buf		*req = c->keep;
	struct fcgi_param	 params[16];
	char			*uri = NULL, *root, *slash;
	size_t			 n = 0;

	if (req != NULL)
		return req;
	req = xcalloc(1, sizeof(*req));
	if (fc->query != NULL && fc->query[0] != '\0')
		xasprintf(&uri, "%s?%s", fc->uri, fc->query);
	else
		uri = xstrdup(fc->uri);
	root = xstrdup(fc->script != NULL ? fc->script : "/");
	if ((slash = strrchr(root, '/')) != NULL)
		slash[slash == root ? 1 : 0] = '\0';

	params[n++] = (struct fcgi_param){ "GATEWAY_INTERFACE", "CGI/1.1" };
	params[n++] = (struct fcgi_param){ "SERVER_SOFTWARE",
	    "fpmprobe/" PACKAGE_VERSION };
	params[n++] = (struct fcgi_param){ "SERVER_PROTOCOL", "HTTP/1.1" };
	params[n++] = (struct fcgi_param){ "SERVER_NAME", "localhost" };
	params[n++] = (struct fcgi_param){ "SERVER_ADDR", "127.0.0.1" };
	params[n++] = (struct fcgi_param){ "SERVER_PORT", "80" };
	params[n++] = (struct fcgi_param){ "REMOTE_ADDR", "127.0.0.1" };
	params[n++] = (struct fcgi_param){ "REQUEST_METHOD", "GET" };
	params[n++] = (struct fcgi_param){ "SCRIPT_FILENAME",
	    fc->script != NULL ? fc->script : fc->uri };
	params[n++] = (struct fcgi_param){ "SCRIPT_NAME", fc->uri };
	params[n++] = (struct fcgi_param){ "REQUEST_URI", uri };
	params[n++] = (struct fcgi_param){ "DOCUMENT_URI", fc->uri };
	params[n++] = (struct fcgi_param){ "DOCUMENT_ROOT", root };
	params[n++] = (struct fcgi_param){ "QUERY_STRING",
	    fc->query != NULL ? fc->query : "" };
	params[n++] = (struct fcgi_param){ "CONTENT_LENGTH", "0" };
	params[n++] = (struct fcgi_param){ "HTTP_USER_AGENT",
	    "fpmprobe/" PACKAGE_VERSION };

	fcgi_encode_begin(req, FCGI_REQUEST_ID, FCGI_RESPONDER, 0);
	fcgi_encode_params(req, FCGI_REQUEST_ID, params, n);
	fcgi_encode_stream(req, FCGI_STDIN, FCGI_REQUEST_ID, NULL, 0);
	free(uri);
	free(root);
	c->keep = req;
	return req;
}

/* Begin a round trip: the whole request goes out once connected. */
static void
fcgi_start(struct probe *p)
{
	const struct buf	*req = fcgi_request(p->check);
	struct fcgi_probe	*fp;

	fp = xcalloc(1, sizeof(*fp));
	fcgi_decoder_init(&fp->dec, FCGI_REQUEST_ID);
	/* A large pool's status page is larger than any script's answer. */
	fp->cap = p->check == p->check->pool->sampler ?
	    sampler_response_max(p->check->pool) : FCGI_RESPONSE_MAX;
	p->ctx = fp;
	buf_add(&p->out, req->data, req->len);
	fcgi_open(p);
}

/* Connect, or wait a moment when a unix listener's backlog is full. */
static void
fcgi_open(struct probe *p)
{
	const struct fcgi_conf	*fc = p->check->conf;
	struct timeval		 tv = { 0, CONNECT_RETRY_US };
	int			 rv;

	p->phase = PH_CONNECT;
	if ((rv = sock_connect(p, &fc->address)) == -1)
		return;
	if (rv == 0) {
		fcgi_send_early(p);
		return;
	}
	close(p->fd);
	p->fd = -1;
	if (p->ev != NULL)
		event_free(p->ev);
	if ((p->ev = evtimer_new(p->base, fcgi_connect_retry, p)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(p->ev, &tv);
}

/* Try a full unix listener, or a busy status page, again in the deadline. */
static void
fcgi_connect_retry(int fd, short ev, void *arg)
{
	struct probe		*p = arg;
	struct fcgi_probe	*fp = p->ctx;

	if (probe_expired(p)) {
		probe_fail(p, PR_TIMEOUT, "%s", fp->asked_again ?
		    "status page busy, asked again" : "listen queue full");
		return;
	}
	fcgi_open(p);
}

/*
 * A connection to a local listener (loopback TCP, or a unix socket) is
 * usually up by the time connect() returns: send the request at once,
 * and wait for the connection only when it is not.  This spares a turn
 * of the event loop and three system calls per probe.
 */
static void
fcgi_send_early(struct probe *p)
{
	ssize_t	 n;

	n = send(p->fd, p->out.data, p->out.len, MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR ||
	    errno == ENOTCONN)) {
		probe_again(p, EV_WRITE, fcgi_connect);
		return;
	}
	if (n == -1) {
		fcgi_connect_error(p, errno);
		return;
	}
	p->connect_us = now_us() - p->start_us;
	p->phase = PH_REQUEST;
	p->out_off = (size_t)n;
	fcgi_write(p->fd, EV_WRITE, p);
}

/* The connection is up, failed, or the deadline passed. */
static void
fcgi_connect(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (ev & EV_TIMEOUT) {
		probe_done(p, PR_TIMEOUT);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		fcgi_connect_error(p, err);
		return;
	}
	p->connect_us = now_us() - p->start_us;
	p->phase = PH_REQUEST;
	fcgi_write(fd, EV_WRITE, p);
}

/* The connection failed with errno ERR. */
static void
fcgi_connect_error(struct probe *p, int err)
{
	const struct fcgi_conf	*fc = p->check->conf;

	if (err == ECONNREFUSED)
		probe_fail(p, PR_CONNECT_REFUSED, "(%s)", fc->address.text);
	else
		probe_fail(p, PR_CONNECT_ERROR, "%s: %s", fc->address.text,
		    strerror(err));
}

/* Send what is left of the request. */
static void
fcgi_write(int fd, short ev, void *arg)
{
	struct probe	*p = arg;
	ssize_t		 n;

	if (ev & EV_TIMEOUT) {
		probe_done(p, PR_TIMEOUT);
		return;
	}
	while (p->out_off < p->out.len) {
		n = send(fd, p->out.data + p->out_off, p->out.len - p->out_off,
		    MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			probe_again(p, EV_WRITE, fcgi_write);
			return;
		}
		if (n == -1) {
			probe_fail(p, PR_IO_ERROR, "sending the request: %s",
			    strerror(errno));
			return;
		}
		p->out_off += (size_t)n;
	}
	p->phase = PH_RESPONSE;
	probe_again(p, EV_READ, fcgi_read);
}

/* Keep STDOUT up to the response cap. */
static int
fcgi_sink_out(void *arg, const uint8_t *data, size_t len)
{
	struct fcgi_probe	*fp = arg;

	if (len > fp->cap - fp->total)
		return -1;
	fp->total += len;
	buf_add(&fp->out, data, len);
	return 0;
}

/* Keep the first bytes of STDERR for the reason; count all of it. */
static int
fcgi_sink_err(void *arg, const uint8_t *data, size_t len)
{
	struct fcgi_probe	*fp = arg;

	if (len > fp->cap - fp->total)
		return -1;
	fp->total += len;
	if (fp->err.len < FCGI_STDERR_KEEP)
		buf_add(&fp->err, data, len < FCGI_STDERR_KEEP - fp->err.len ?
		    len : FCGI_STDERR_KEEP - fp->err.len);
	return 0;
}

/* Read records until END_REQUEST, the cap, an error or the deadline. */
static void
fcgi_read(int fd, short ev, void *arg)
{
	struct probe		*p = arg;
	struct fcgi_probe	*fp = p->ctx;
	struct fcgi_sink	 sink = { fcgi_sink_out, fcgi_sink_err, fp };
	uint8_t			 chunk[FCGI_READ_CHUNK];
	char			 err[128];
	size_t			 used;
	ssize_t			 n;

	if (ev & EV_TIMEOUT) {
		if (fp->total > 0)
			probe_fail(p, PR_TIMEOUT, "%zu bytes received",
			    fp->total);
		else
			probe_done(p, PR_TIMEOUT);
		return;
	}
	for (;;) {
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			probe_again(p, EV_READ, fcgi_read);
			return;
		}
		if (n == -1) {
			probe_fail(p, PR_IO_ERROR, "reading the response: %s",
			    strerror(errno));
			return;
		}
		if (n == 0) {
			probe_fail(p, PR_CLOSED, "before the end of the "
			    "response (%zu bytes)", fp->total);
			return;
		}
		if (p->first_byte_us == 0)
			p->first_byte_us = now_us() - p->start_us;
		err[0] = '\0';
		switch (fcgi_decode(&fp->dec, chunk, (size_t)n, &used, &sink,
		    err, sizeof(err))) {
		case FCGI_DEC_MORE:
			break;
		case FCGI_DEC_END:
			fcgi_finish(p);
			return;
		case FCGI_DEC_STOP:
			probe_fail(p, PR_TOO_BIG, "(over %zu bytes)",
			    fp->cap);
			return;
		case FCGI_DEC_ERROR:
			probe_fail(p, PR_PROTOCOL, "%s", err);
			return;
		}
	}
}

/* The response is complete: judge it against what the check expects. */
static void
fcgi_finish(struct probe *p)
{
	struct check		*c = p->check;
	const struct fcgi_conf	*fc = c->conf;
	struct fcgi_probe	*fp = p->ctx;
	struct cgi_response	 resp;
	char			 err[128], why[160];

	if (fp->dec.protocol_status != FCGI_REQUEST_COMPLETE) {
		probe_fail(p, PR_FCGI_STATUS, "(%s)",
		    fcgi_protocol_status_str(fp->dec.protocol_status));
		return;
	}
	if (cgi_parse_response((const char *)fp->out.data, fp->out.len, &resp,
	    err, sizeof(err)) == -1) {
		if (fp->err.len > 0) {
			sanitize_text(why, sizeof(why),
			    (const char *)fp->err.data, fp->err.len);
			probe_fail(p, PR_PROTOCOL, "%s: %s", err, why);
		} else
			probe_fail(p, PR_PROTOCOL, "%s", err);
		return;
	}
	if (c == c->pool->sampler) {
		fpm_status_finish(p, fp, &resp);
		return;
	}
	if (resp.status != fc->expect_status) {
		/* php-fpm says why on STDERR ("Primary script unknown"). */
		if (fp->err.len > 0)
			sanitize_text(why, sizeof(why),
			    (const char *)fp->err.data, fp->err.len);
		else
			sanitize_text(why, sizeof(why), resp.body,
			    resp.bodylen < 80 ? resp.bodylen : 80);
		probe_fail(p, PR_STATUS, "%d%s%s", resp.status,
		    why[0] != '\0' ? ": " : "", why);
		return;
	}
	if (fc->expect_body != NULL && memmem(resp.body, resp.bodylen,
	    fc->expect_body, strlen(fc->expect_body)) == NULL) {
		sanitize_text(why, sizeof(why), resp.body,
		    resp.bodylen < 40 ? resp.bodylen : 40);
		probe_fail(p, PR_BODY, "(no \"%.40s\" in \"%s\")",
		    fc->expect_body, why);
		return;
	}
	probe_done(p, PR_OK);
}

/* A status page: parsed here, completed and handed on by the sampler. */
static void
fpm_status_finish(struct probe *p, struct fcgi_probe *fp,
    const struct cgi_response *resp)
{
	const struct fcgi_conf	*fc = p->check->conf;
	struct fpm_status	 st;
	char			 err[128];

	/*
	 * php-fpm answers 503 while another process holds its scoreboard's
	 * lock, and 500 while the counters it copied are being updated: both
	 * pass in a moment, so ask once more within the deadline.
	 */
	if ((resp->status == 500 || resp->status == 503) &&
	    !fp->asked_again && now_us() + 2 * CONNECT_RETRY_US <
	    p->deadline_us) {
		fp->asked_again = 1;
		fpm_status_retry(p, fp);
		return;
	}
	if (resp->status != fc->expect_status) {
		probe_fail(p, PR_STATUS, "%d (is pm.status_path %s?)",
		    resp->status, fc->uri);
		return;
	}
	memset(&st, 0, sizeof(st));
	if (fpm_status_parse(resp->body, resp->bodylen, &st, err,
	    sizeof(err)) == -1) {
		fpm_status_free(&st);
		probe_fail(p, PR_PROTOCOL, "status page: %s", err);
		return;
	}
	sampler_take(p, &st);
	probe_done(p, PR_OK);
}

/* Ask for the status page again in CONNECT_RETRY_US, from the start. */
static void
fpm_status_retry(struct probe *p, struct fcgi_probe *fp)
{
	const struct buf	*req = fcgi_request(p->check);
	struct timeval		 tv = { 0, CONNECT_RETRY_US };

	probe_close(p);
	buf_reset(&fp->out);
	buf_reset(&fp->err);
	fp->total = 0;
	fcgi_decoder_init(&fp->dec, FCGI_REQUEST_ID);
	buf_add(&p->out, req->data, req->len);
	p->out_off = 0;
	if ((p->ev = evtimer_new(p->base, fcgi_connect_retry, p)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(p->ev, &tv);
}

/* Release the round trip's state; idempotent. */
static void
fcgi_abort(struct probe *p)
{
	struct fcgi_probe	*fp = p->ctx;

	if (fp == NULL)
		return;
	buf_free(&fp->out);
	buf_free(&fp->err);
	free(fp);
	p->ctx = NULL;
}

/* Release the cached request. */
static void
fcgi_free(struct check *c)
{
	struct buf	*req = c->keep;

	if (req == NULL)
		return;
	buf_free(req);
	free(req);
	c->keep = NULL;
}
