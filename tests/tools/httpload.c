/*
 * httpload: an HTTP/1.1 load client for fpmprobe's end-to-end tests.
 * CONC clients each keep one persistent connection and send GETs on it
 * one after another, as a browser does (Host header, keep-alive), for a
 * fixed time or a fixed number of requests, each under its own deadline;
 * then it reports what came back.
 *
 *	httpload [-Cv] [-c CONC] [-d SECS] [-n MAX] [-t MS] [-p PATH] HOST:PORT
 *
 *	-c CONC	clients, one connection each at a time (default 1)
 *	-d SECS	start requests for this long (default 10); requests under
 *		way then finish or reach their deadline
 *	-n MAX	start at most MAX requests (default: no limit but time)
 *	-t MS	each request's deadline, from its start (connect included)
 *		to the end of its response (default 5000); a request past
 *		it is a timeout, and its connection is closed
 *	-p PATH	what to GET (default /)
 *	-C	send "Connection: close": a new connection for every
 *		request, as clients of HTTP/1.0 did
 *	-v	print why each failed request failed on stderr
 *
 * A response is framed as HTTP/1.1 says: Content-Length, chunked, or
 * until the server closes.  Its status line and headers must fit in
 * HEAD_MAX bytes; the body is counted and dropped, so memory stays
 * bounded whatever its size.  The connection is kept for the next
 * request unless either side said "Connection: close" (or the server
 * answered HTTP/1.0 without keep-alive).  As browsers do, a request that
 * a kept connection's close cut off before any byte of its response is
 * sent once more on a new connection ("retried").
 *
 * It prints one line:
 *	total=.. ok=.. failed=.. failed_pct=.. timeouts=.. errors=..
 *	status=.. conns=.. retried=.. p50_us=.. p99_us=.. max_us=.. per_s=..
 * ok: a whole response with status 200; status: a whole response with
 * another status; errors: a failed connection or a malformed response;
 * conns: connections opened.  Latencies cover every request that ended
 * (a timed-out one counts with its deadline).  Only 127.0.0.0/8 is
 * accepted: the tool is meant for private test stacks.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "loadlib.h"

#define HEAD_MAX	16384
#define LINE_KEEP	80
#define CONC_MAX	1024
#define COUNT_MAX	100000000L

enum outcome {
	OUT_PENDING,
	OUT_OK,
	OUT_STATUS,
	OUT_TIMEOUT,
	OUT_ERROR,
	OUT_RETRY
};

/* Where a client is in its request. */
enum phase {
	PH_IDLE,	/* no request under way */
	PH_SEND,
	PH_HEAD,	/* status line and headers */
	PH_LENGTH,	/* a body of Content-Length bytes */
	PH_CHUNK_SIZE,
	PH_CHUNK_DATA,
	PH_CHUNK_END,	/* the CRLF after a chunk's data */
	PH_TRAILER,
	PH_UNTIL_CLOSE,
	PH_DONE
};

struct client {
	int		 fd;
	int		 reused;	/* the connection carried a request */
	enum phase	 phase;
	uint64_t	 start;		/* the request's, for its deadline */
	size_t		 sent;
	size_t		 seen;		/* bytes of this response received */
	int		 status;
	int		 close;		/* close once this response is read */
	uint64_t	 left;		/* body or chunk bytes still to come */
	const char	*why;		/* what went wrong, for -v */
	char		 first[LINE_KEEP];	/* the status line, for -v */
	char		 buf[HEAD_MAX];
	size_t		 len;
};

static int	conn_open(struct client *);
static void	conn_close(struct client *);
static int	request_start(struct client *, uint64_t);
static enum outcome request_step(struct client *, short);
static enum outcome request_send(struct client *);
static enum outcome request_recv(struct client *);
static enum outcome response_parse(struct client *);
static int	head_parse(struct client *, size_t);
static int	head_line(struct client *, const char *, size_t, int *);
static int	token_in(const char *, size_t, const char *);
static const char *line_end(const char *, size_t);
static void	consume(struct client *, size_t);
static int	lat_add(uint64_t);
static void	usage(void);

static struct sockaddr_in	 peer;
static char			*req_text;
static size_t			 req_len;
static int			 conn_close_asked;	/* -C */
static long			 n_conns;
static uint64_t			*lat;
static long			 lat_n, lat_cap;

/* Open the client's connection: a non-blocking connect. */
static int
conn_open(struct client *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd == -1)
		return -1;
	if (connect(c->fd, (struct sockaddr *)&peer, sizeof(peer)) == -1 &&
	    errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	n_conns++;
	c->reused = 0;
	return 0;
}

/* Close the client's connection, if it has one.  Idempotent. */
static void
conn_close(struct client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

/* Begin a request at NOW, on the kept connection or on a new one. */
static int
request_start(struct client *c, uint64_t now)
{
	c->start = now;
	c->why = NULL;
	c->first[0] = '\0';
	if (c->fd == -1 && conn_open(c) == -1) {
		c->why = "connect failed";
		return -1;
	}
	c->phase = PH_SEND;
	c->sent = c->seen = c->len = 0;
	c->status = 0;
	c->close = conn_close_asked;
	c->left = 0;
	return 0;
}

/* Send what is left of the request. */
static enum outcome
request_send(struct client *c)
{
	ssize_t	 n;

	n = send(c->fd, req_text + c->sent, req_len - c->sent, MSG_NOSIGNAL);
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return OUT_PENDING;
		c->why = "send failed";
		return c->reused ? OUT_RETRY : OUT_ERROR;
	}
	c->sent += (size_t)n;
	if (c->sent == req_len)
		c->phase = PH_HEAD;
	return OUT_PENDING;
}

/* Read what the server sent and parse it. */
static enum outcome
request_recv(struct client *c)
{
	ssize_t	 n;

	if (c->len == sizeof(c->buf)) {
		c->why = "headers larger than HEAD_MAX";
		return OUT_ERROR;
	}
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return OUT_PENDING;
	if (n <= 0) {
		if (c->phase == PH_UNTIL_CLOSE && n == 0) {
			c->phase = PH_DONE;
			return c->status == 200 ? OUT_OK : OUT_STATUS;
		}
		c->why = n == 0 ? "connection closed before the response "
		    "ended" : "connection reset";
		/* Cut off before any answer: the kept connection was closed. */
		return c->reused && c->seen == 0 ? OUT_RETRY : OUT_ERROR;
	}
	c->seen += (size_t)n;
	c->len += (size_t)n;
	return response_parse(c);
}

/* Move a request on by what poll() reported. */
static enum outcome
request_step(struct client *c, short revents)
{
	if (revents & POLLNVAL) {
		c->why = "invalid descriptor";
		return OUT_ERROR;
	}
	if (c->phase == PH_SEND) {
		if (revents & (POLLOUT | POLLERR | POLLHUP))
			return request_send(c);
		return OUT_PENDING;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP))
		return request_recv(c);
	return OUT_PENDING;
}

/* Where the line at P (N bytes available) ends: its CRLF, or NULL. */
static const char *
line_end(const char *p, size_t n)
{
	return memmem(p, n, "\r\n", 2);
}

/* Drop N parsed bytes from the front of the buffer. */
static void
consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Is TOKEN one of the comma-separated tokens of V (N bytes)? */
static int
token_in(const char *v, size_t n, const char *token)
{
	size_t	 tl = strlen(token), i = 0, b, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		b = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - b == tl && strncasecmp(v + b, token, tl) == 0)
			return 1;
	}
	return 0;
}

/*
 * One header line (without its CRLF): note how the body is framed and
 * whether the connection stays.  FLAGS gathers what the head said: 1
 * chunked, 2 another transfer coding, 4 keep-alive, 8 a Content-Length
 * (its value in c->left).
 */
static int
head_line(struct client *c, const char *p, size_t n, int *flags)
{
	const char	*colon, *v;
	size_t		 name, vn, i;
	uint64_t	 cl;

	if ((colon = memchr(p, ':', n)) == NULL)
		return -1;
	name = (size_t)(colon - p);
	v = colon + 1;
	vn = n - name - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t'))
		v++, vn--;
	while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
		vn--;
	if (name == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
		if (vn == 0 || vn > 18)
			return -1;
		cl = 0;
		for (i = 0; i < vn; i++) {
			if (!isdigit((unsigned char)v[i]))
				return -1;
			cl = cl * 10 + (uint64_t)(v[i] - '0');
		}
		/* Two different lengths: nobody can tell where it ends. */
		if ((*flags & 8) && c->left != cl)
			return -1;
		c->left = cl;
		*flags |= 8;
	} else if (name == 17 &&
	    strncasecmp(p, "Transfer-Encoding", 17) == 0) {
		/* chunked must be the last coding. */
		if (vn >= 7 && strncasecmp(v + vn - 7, "chunked", 7) == 0 &&
		    (vn == 7 || v[vn - 8] == ' ' || v[vn - 8] == ','))
			*flags |= 1;
		else
			*flags |= 2;
	} else if (name == 10 && strncasecmp(p, "Connection", 10) == 0) {
		if (token_in(v, vn, "close"))
			c->close = 1;
		if (token_in(v, vn, "keep-alive"))
			*flags |= 4;
	}
	return 0;
}

/*
 * The status line and headers, HLEN bytes ending in the empty line: set
 * the status, how the body is framed and whether the connection stays.
 */
static int
head_parse(struct client *c, size_t hlen)
{
	const char	*p = c->buf, *end = c->buf + hlen, *eol;
	int		 flags = 0, http10;

	eol = line_end(p, (size_t)(end - p));
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    (p[7] != '0' && p[7] != '1') || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]))
		return -1;
	http10 = p[7] == '0';
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	snprintf(c->first, sizeof(c->first), "%.*s", (int)(eol - p), p);
	p = eol + 2;
	while ((eol = line_end(p, (size_t)(end - p))) != NULL && eol != p) {
		if (head_line(c, p, (size_t)(eol - p), &flags) == -1)
			return -1;
		p = eol + 2;
	}
	if (http10 && !(flags & 4))
		c->close = 1;
	if (c->status >= 100 && c->status < 200) {
		/* An interim answer: the real one follows. */
		if (c->status == 101)
			return -1;
		c->phase = PH_HEAD;
		c->left = 0;
	} else if (c->status == 204 || c->status == 304)
		c->phase = PH_DONE;
	else if (flags & 1)
		c->phase = PH_CHUNK_SIZE;
	else if (flags & 2) {
		c->phase = PH_UNTIL_CLOSE;
		c->close = 1;
	} else if (flags & 8)
		c->phase = c->left > 0 ? PH_LENGTH : PH_DONE;
	else {
		c->phase = PH_UNTIL_CLOSE;
		c->close = 1;
	}
	return 0;
}

/* Parse what the buffer holds; the outcome once the response is whole. */
static enum outcome
response_parse(struct client *c)
{
	const char	*eol, *hend;
	size_t		 take, digits;
	int		 d;

	for (;;) {
		switch (c->phase) {
		case PH_HEAD:
			hend = memmem(c->buf, c->len, "\r\n\r\n", 4);
			if (hend == NULL)
				return OUT_PENDING;
			take = (size_t)(hend - c->buf) + 4;
			if (head_parse(c, take) == -1) {
				c->why = "malformed status line or headers";
				return OUT_ERROR;
			}
			consume(c, take);
			break;
		case PH_LENGTH:
		case PH_CHUNK_DATA:
			take = c->len < c->left ? c->len : (size_t)c->left;
			consume(c, take);
			c->left -= take;
			if (c->left > 0)
				return OUT_PENDING;
			c->phase = c->phase == PH_LENGTH ? PH_DONE :
			    PH_CHUNK_END;
			break;
		case PH_CHUNK_SIZE:
			if ((eol = line_end(c->buf, c->len)) == NULL)
				return OUT_PENDING;
			/* The size in hex, then perhaps ";extensions". */
			take = (size_t)(eol - c->buf);
			c->left = 0;
			for (digits = 0; digits < take; digits++) {
				d = (unsigned char)c->buf[digits];
				if (!isxdigit(d))
					break;
				c->left = c->left * 16 + (uint64_t)(isdigit(d) ?
				    d - '0' : tolower(d) - 'a' + 10);
			}
			if (digits == 0 || digits > 15 || (digits < take &&
			    c->buf[digits] != ';' && c->buf[digits] != ' ')) {
				c->why = "malformed chunk size";
				return OUT_ERROR;
			}
			consume(c, (size_t)(eol - c->buf) + 2);
			c->phase = c->left > 0 ? PH_CHUNK_DATA : PH_TRAILER;
			break;
		case PH_CHUNK_END:
			if (c->len < 2)
				return OUT_PENDING;
			if (c->buf[0] != '\r' || c->buf[1] != '\n') {
				c->why = "no CRLF after a chunk";
				return OUT_ERROR;
			}
			consume(c, 2);
			c->phase = PH_CHUNK_SIZE;
			break;
		case PH_TRAILER:
			if ((eol = line_end(c->buf, c->len)) == NULL)
				return OUT_PENDING;
			if (eol == c->buf)
				c->phase = PH_DONE;
			consume(c, (size_t)(eol - c->buf) + 2);
			break;
		case PH_UNTIL_CLOSE:
			consume(c, c->len);
			return OUT_PENDING;
		case PH_DONE:
			/* Nothing was asked for beyond this response. */
			if (c->len > 0) {
				c->why = "bytes after the response";
				return OUT_ERROR;
			}
			return c->status == 200 ? OUT_OK : OUT_STATUS;
		default:
			c->why = "data while no request is under way";
			return OUT_ERROR;
		}
	}
}

/* Record one latency, growing the array as needed. */
static int
lat_add(uint64_t us)
{
	uint64_t	*grown;
	long		 cap;

	if (lat_n == lat_cap) {
		cap = lat_cap ? lat_cap * 2 : 4096;
		if ((grown = realloc(lat, (size_t)cap * sizeof(*lat))) == NULL)
			return -1;
		lat = grown;
		lat_cap = cap;
	}
	lat[lat_n++] = us;
	return 0;
}

/* Say how to call it and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: httpload [-Cv] [-c conc] [-d secs] [-n max] "
	    "[-t ms] [-p path] host:port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct client	*cl;
	struct pollfd	*pfd;
	struct lat_summary sum;
	uint64_t	 t0, end, elapsed, now, deadline_us;
	const char	*path = "/";
	char		*host;
	long		 conc = 1, max = COUNT_MAX, started = 0, i;
	long		 n_ok = 0, n_status = 0, n_timeout = 0, n_error = 0;
	long		 n_retried = 0, active, ended;
	double		 secs = 10.0;
	int		 ch, timeout_ms = 5000, verbose = 0, rc = 0;
	enum outcome	 o;

	while ((ch = getopt(argc, argv, "Cc:d:n:p:t:v")) != -1) {
		switch (ch) {
		case 'C':
			conn_close_asked = 1;
			break;
		case 'c':
			conc = atol(optarg);
			break;
		case 'd':
			secs = atof(optarg);
			break;
		case 'n':
			max = atol(optarg);
			break;
		case 'p':
			path = optarg;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || conc < 1 || conc > CONC_MAX || max < 1 ||
	    max > COUNT_MAX || secs <= 0 || secs > 600 || timeout_ms < 1 ||
	    path[0] != '/' || strpbrk(path, " \r\n") != NULL)
		usage();
	/* Host: the address as given, as a browser sends what it was told. */
	if ((host = strdup(argv[optind])) == NULL)
		return 2;
	if (peer_parse(argv[optind], &peer) == -1) {
		free(host);
		usage();
	}
	if ((ntohl(peer.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "httpload: loopback addresses only\n");
		free(host);
		return 2;
	}
	if (asprintf(&req_text, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: httpload\r\nAccept: */*\r\nConnection: %s\r\n\r\n",
	    path, host, conn_close_asked ? "close" : "keep-alive") == -1) {
		free(host);
		return 2;
	}
	free(host);
	req_len = strlen(req_text);
	if (conc > max)
		conc = max;
	deadline_us = (uint64_t)timeout_ms * 1000;

	cl = calloc((size_t)conc, sizeof(*cl));
	pfd = calloc((size_t)conc, sizeof(*pfd));
	if (cl == NULL || pfd == NULL) {
		rc = 2;
		goto out;
	}
	for (i = 0; i < conc; i++)
		cl[i].fd = -1;
	t0 = now_us();
	end = t0 + (uint64_t)(secs * 1e6);
	for (;;) {
		now = now_us();
		active = 0;
		for (i = 0; i < conc; i++) {
			struct client	*c = &cl[i];

			if (c->phase == PH_IDLE && started < max && now < end) {
				started++;
				if (request_start(c, now) == -1) {
					/* Counted; tried again after the poll. */
					if (lat_add(0) == -1) {
						rc = 2;
						goto out;
					}
					n_error++;
					if (verbose)
						fprintf(stderr, "httpload: "
						    "%s\n", c->why);
				}
			}
			if (c->phase == PH_IDLE && !(started < max && now < end))
				conn_close(c);
			pfd[i].fd = c->phase == PH_IDLE ? -1 : c->fd;
			pfd[i].events = c->phase == PH_SEND ? POLLOUT : POLLIN;
			pfd[i].revents = 0;
			if (c->phase != PH_IDLE)
				active++;
		}
		if (active == 0 && !(started < max && now < end))
			break;
		if (poll(pfd, (nfds_t)conc, 10) == -1 && errno != EINTR) {
			rc = 2;
			goto out;
		}
		now = now_us();
		for (i = 0; i < conc; i++) {
			struct client	*c = &cl[i];

			if (c->phase == PH_IDLE)
				continue;
			o = request_step(c, pfd[i].revents);
			if (o == OUT_RETRY) {
				/* Once, on a new connection, same deadline. */
				n_retried++;
				conn_close(c);
				if (conn_open(c) == -1) {
					c->why = "connect failed";
					o = OUT_ERROR;
				} else {
					c->phase = PH_SEND;
					c->sent = c->seen = 0;
					o = OUT_PENDING;
				}
			}
			if (o == OUT_PENDING && now - c->start > deadline_us) {
				o = OUT_TIMEOUT;
				c->why = "timeout";
			}
			if (o == OUT_PENDING)
				continue;
			if (lat_add(now_us() - c->start) == -1) {
				rc = 2;
				goto out;
			}
			switch (o) {
			case OUT_OK:
				n_ok++;
				break;
			case OUT_STATUS:
				n_status++;
				break;
			case OUT_TIMEOUT:
				n_timeout++;
				break;
			default:
				n_error++;
				break;
			}
			if (verbose && o != OUT_OK)
				fprintf(stderr, "httpload: %s%s%s\n",
				    c->first[0] ? c->first : "",
				    c->first[0] && c->why ? ": " : "",
				    c->why ? c->why : "");
			/* A kept connection carries the client's next request. */
			if (o != OUT_OK && o != OUT_STATUS)
				c->close = 1;
			if (c->close)
				conn_close(c);
			else
				c->reused = 1;
			c->phase = PH_IDLE;
		}
	}
	elapsed = now_us() - t0;
	ended = lat_n;
	lat_summary(lat, ended, &sum);
	printf("total=%ld ok=%ld failed=%ld failed_pct=%.2f timeouts=%ld "
	    "errors=%ld status=%ld conns=%ld retried=%ld p50_us=%llu "
	    "p99_us=%llu max_us=%llu per_s=%.1f\n", ended, n_ok, ended - n_ok,
	    ended ? 100.0 * (double)(ended - n_ok) / (double)ended : 0.0,
	    n_timeout, n_error, n_status, n_conns, n_retried,
	    (unsigned long long)sum.p50_us, (unsigned long long)sum.p99_us,
	    (unsigned long long)sum.max_us,
	    elapsed ? (double)ended * 1e6 / (double)elapsed : 0.0);
out:
	if (cl != NULL)
		for (i = 0; i < conc; i++)
			conn_close(&cl[i]);
	free(cl);
	free(pfd);
	free(lat);
	free(req_text);
	return rc;
}
