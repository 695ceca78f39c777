/*
 * httpload: a bounded HTTP load client for fpmprobe's end-to-end tests.
 * It keeps CONC HTTP/1.0 GETs in flight against one loopback address for
 * a fixed time (or a fixed count), each under its own timeout, and
 * reports what came back.
 *
 *	httpload [-v] [-c CONC] [-d SECS] [-n MAX] [-t MS] [-p PATH] HOST:PORT
 *
 * prints one line:
 *	total=.. ok=.. failed=.. failed_pct=.. timeouts=.. errors=..
 *	s5xx=.. p50_us=.. p99_us=.. max_us=.. per_s=..
 * A request is ok when the status is 200; latencies cover every request
 * that ended (a timed-out one counts with its timeout).  Only 127.0.0.0/8
 * is accepted: the tool is meant for private test stacks.  -v prints the
 * status line of each failed response on stderr.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadlib.h"

#define HEAD_MAX	64
#define CONC_MAX	1024
#define COUNT_MAX	10000000L

enum outcome {
	OUT_PENDING,
	OUT_OK,
	OUT_STATUS,
	OUT_TIMEOUT,
	OUT_ERROR
};

struct request {
	int		 fd;
	uint64_t	 start;
	size_t		 sent;
	char		 head[HEAD_MAX];
	size_t		 len;
};

static int	request_open(struct request *);
static enum outcome request_step(struct request *, short);
static enum outcome request_status(const struct request *);
static void	usage(void);

static struct sockaddr_in	 peer;
static char			*req_text;
static size_t			 req_len;

/* Begin one request: a non-blocking connect. */
static int
request_open(struct request *r)
{
	memset(r, 0, sizeof(*r));
	r->start = now_us();
	r->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (r->fd == -1)
		return -1;
	if (connect(r->fd, (struct sockaddr *)&peer, sizeof(peer)) == -1 &&
	    errno != EINPROGRESS) {
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	return 0;
}

/* The outcome from the status line kept so far. */
static enum outcome
request_status(const struct request *r)
{
	/* "HTTP/1.x 200 ..." */
	if (r->len < 12 || strncmp(r->head, "HTTP/1.", 7) != 0)
		return OUT_ERROR;
	return strncmp(r->head + 8, " 200", 4) == 0 ? OUT_OK : OUT_STATUS;
}

/* Move a request on: send, then read until the server closes. */
static enum outcome
request_step(struct request *r, short revents)
{
	char	 sink[4096];
	ssize_t	 n;

	if (revents & POLLNVAL)
		return OUT_ERROR;
	if (r->sent < req_len && (revents & (POLLOUT | POLLERR))) {
		n = send(r->fd, req_text + r->sent, req_len - r->sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN)
			return OUT_ERROR;
		if (n > 0)
			r->sent += (size_t)n;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(r->fd, sink, sizeof(sink), 0);
		if (n == -1)
			return errno == EAGAIN ? OUT_PENDING : OUT_ERROR;
		if (n == 0)
			return request_status(r);
		if (r->len < sizeof(r->head) - 1) {
			size_t	 take = (size_t)n;

			if (take > sizeof(r->head) - 1 - r->len)
				take = sizeof(r->head) - 1 - r->len;
			memcpy(r->head + r->len, sink, take);
			r->len += take;
			r->head[r->len] = '\0';
		}
	}
	return OUT_PENDING;
}

/* Say how to call it and exit 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: httpload [-v] [-c conc] [-d secs] [-n max] "
	    "[-t ms] [-p path] host:port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct request	*r;
	struct pollfd	*pfd;
	uint64_t	*lat, t0, end, elapsed, now;
	const char	*path = "/";
	struct lat_summary sum;
	long		 conc = 1, max = 100000, started = 0, ended = 0, i;
	long		 n_ok = 0, n_status = 0, n_timeout = 0, n_error = 0;
	long		 active;
	double		 secs = 10.0;
	int		 ch, timeout_ms = 5000, verbose = 0;
	enum outcome	 o;

	while ((ch = getopt(argc, argv, "c:d:n:p:t:v")) != -1) {
		switch (ch) {
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
	    path[0] != '/')
		usage();
	if (peer_parse(argv[optind], &peer) == -1)
		usage();
	if ((ntohl(peer.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "httpload: loopback addresses only\n");
		return 2;
	}
	if (asprintf(&req_text, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n"
	    "User-Agent: httpload\r\n\r\n", path) == -1)
		return 2;
	req_len = strlen(req_text);
	if (conc > max)
		conc = max;

	r = calloc((size_t)conc, sizeof(*r));
	pfd = calloc((size_t)conc, sizeof(*pfd));
	lat = calloc((size_t)max, sizeof(*lat));
	if (r == NULL || pfd == NULL || lat == NULL)
		return 2;
	t0 = now_us();
	end = t0 + (uint64_t)(secs * 1e6);
	for (i = 0; i < conc; i++) {
		started++;
		if (request_open(&r[i]) == -1) {
			lat[ended++] = 0;
			n_error++;
		}
	}
	for (;;) {
		active = 0;
		for (i = 0; i < conc; i++) {
			pfd[i].fd = r[i].fd;
			pfd[i].events = POLLIN | (r[i].sent < req_len ?
			    POLLOUT : 0);
			pfd[i].revents = 0;
			if (r[i].fd != -1)
				active++;
		}
		if (active == 0)
			break;
		if (poll(pfd, (nfds_t)conc, 10) == -1 && errno != EINTR)
			return 2;
		now = now_us();
		for (i = 0; i < conc; i++) {
			if (r[i].fd == -1)
				continue;
			o = request_step(&r[i], pfd[i].revents);
			if (o == OUT_PENDING && now - r[i].start >
			    (uint64_t)timeout_ms * 1000)
				o = OUT_TIMEOUT;
			if (o == OUT_PENDING)
				continue;
			close(r[i].fd);
			r[i].fd = -1;
			lat[ended++] = now_us() - r[i].start;
			if (verbose && o != OUT_OK)
				fprintf(stderr, "httpload: %.*s\n",
				    (int)strcspn(r[i].head, "\r\n"), r[i].head);
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
			/* A failed connect is counted and not retried. */
			while (started < max && now_us() < end) {
				started++;
				if (request_open(&r[i]) == 0)
					break;
				lat[ended++] = 0;
				n_error++;
			}
		}
	}
	elapsed = now_us() - t0;
	lat_summary(lat, ended, &sum);
	printf("total=%ld ok=%ld failed=%ld failed_pct=%.2f timeouts=%ld "
	    "errors=%ld status=%ld p50_us=%llu p99_us=%llu max_us=%llu "
	    "per_s=%.1f\n", ended, n_ok, ended - n_ok,
	    ended ? 100.0 * (double)(ended - n_ok) / (double)ended : 0.0,
	    n_timeout, n_error, n_status, (unsigned long long)sum.p50_us,
	    (unsigned long long)sum.p99_us, (unsigned long long)sum.max_us,
	    elapsed ? (double)ended * 1e6 / (double)elapsed : 0.0);
	return 0;
}
