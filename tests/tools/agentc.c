/*
 * agentc: an HAProxy agent-check client for fpmprobe's tests and
 * benchmark.  It connects, optionally sends an agent-send line, reads
 * the answer until the server closes, and measures each exchange.
 *
 *	agentc [-s LINE] [-t MS] HOST:PORT
 *		print the answer (without its newline); exit 0, or 1 on
 *		error or timeout
 *	agentc -n COUNT -c CONC [-s LINE] [-t MS] [-l] HOST:PORT
 *		COUNT exchanges, CONC at a time; print
 *		"n=.. errors=.. p50_us=.. p99_us=.. max_us=.. per_s=.."
 *	-l	also print the latency of a single exchange, "us=N"
 *	-r RATE	start RATE exchanges a second, evenly spaced, CONC at
 *		most in flight (an open loop, like HAProxy's pollers); a
 *		latency counts from when its exchange was due, so that a
 *		slow answer also charges the exchanges it delayed
 *	-a	bind each connection to the next source address of
 *		127.0.0.0/24 (2 to 254): the server closes first, so its
 *		side waits in TIME_WAIT, and a long run from one address
 *		would reuse ports still waiting there
 *	agentc -H COUNT -d SECS [-w MS] HOST:PORT
 *		a slow client: hold COUNT connections from 127.0.0.1 for
 *		SECS seconds, each sending one byte and never a whole line;
 *		one the server closes is opened again MS (default 100)
 *		later.  Prints "held=.. opened=.. closed_by_server=.."
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loadlib.h"

#define REPLY_MAX	512

struct exchange {
	int		 fd;
	uint64_t	 start;
	size_t		 sent;
	char		 reply[REPLY_MAX];
	size_t		 len;
};

static struct sockaddr_in	 peer;
static const char		*line = "";
static size_t			 linelen;
static int			 timeout_ms = 2000;
static int			 spread;	/* -a */
static unsigned int		 nopened;

/* Begin one exchange, due at DUE: a non-blocking connect. */
static int
exchange_open(struct exchange *x, uint64_t due)
{
	memset(x, 0, sizeof(*x));
	x->start = due;
	x->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (x->fd == -1)
		return -1;
	if (spread) {
		struct sockaddr_in	 src;

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002 + nopened++ % 253);
		if (bind(x->fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			close(x->fd);
			x->fd = -1;
			return -1;
		}
	}
	if (connect(x->fd, (struct sockaddr *)&peer, sizeof(peer)) == -1 &&
	    errno != EINPROGRESS) {
		close(x->fd);
		x->fd = -1;
		return -1;
	}
	return 0;
}

/* Move an exchange on; 1 when done, -1 on error, 0 to wait. */
static int
exchange_step(struct exchange *x, short revents)
{
	ssize_t	 n;

	if (revents & (POLLERR | POLLNVAL))
		return -1;
	if (x->sent < linelen && (revents & POLLOUT)) {
		n = send(x->fd, line + x->sent, linelen - x->sent,
		    MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN)
			return -1;
		if (n > 0)
			x->sent += (size_t)n;
	}
	if (revents & (POLLIN | POLLHUP)) {
		n = recv(x->fd, x->reply + x->len, sizeof(x->reply) - 1 -
		    x->len, 0);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		if (n == 0)
			return x->len > 0 ? 1 : -1;
		x->len += (size_t)n;
		x->reply[x->len] = '\0';
		if (x->len == sizeof(x->reply) - 1)
			return 1;
	}
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: agentc [-al] [-n count -c conc [-r rate]] "
	    "[-s line] [-t ms] host:port\n"
	    "       agentc -H count -d secs [-w ms] host:port\n");
	exit(2);
}

/*
 * -H: hold COUNT silent connections for SECS seconds, each sending one
 * byte; reopen one the server closes after REOPEN_MS.  Returns 0, or 1
 * when none could be opened.
 */
static int
hold(long count, int secs, int reopen_ms)
{
	struct pollfd	*pfd;
	uint64_t	*closed_at, end, now;
	long		 i, opened = 0, by_server = 0, held;
	char		 sink[512];
	ssize_t		 n;
	int		 rv = 0;

	pfd = calloc((size_t)count, sizeof(*pfd));
	closed_at = calloc((size_t)count, sizeof(*closed_at));
	if (pfd == NULL || closed_at == NULL) {
		free(pfd);
		free(closed_at);
		return 2;
	}
	for (i = 0; i < count; i++)
		pfd[i].fd = -1;
	end = now_us() + (uint64_t)secs * 1000000;
	while ((now = now_us()) < end) {
		for (i = 0; i < count; i++) {
			if (pfd[i].fd != -1 || now < closed_at[i] +
			    (uint64_t)reopen_ms * 1000)
				continue;
			pfd[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK,
			    0);
			if (pfd[i].fd == -1)
				break;
			if (connect(pfd[i].fd, (struct sockaddr *)&peer,
			    sizeof(peer)) == -1 && errno != EINPROGRESS) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				closed_at[i] = now;
				continue;
			}
			pfd[i].events = POLLOUT;
			opened++;
		}
		if (poll(pfd, (nfds_t)count, 10) == -1 && errno != EINTR)
			break;
		for (i = 0; i < count; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if (pfd[i].revents & POLLOUT) {
				/* One byte of a name that never ends. */
				n = send(pfd[i].fd, "w", 1, MSG_NOSIGNAL);
				pfd[i].events = POLLIN;
				if (n == 1)
					continue;
			} else if ((n = recv(pfd[i].fd, sink, sizeof(sink),
			    0)) > 0 || (n == -1 && errno == EAGAIN))
				continue;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			closed_at[i] = now_us();
			by_server++;
		}
	}
	for (i = held = 0; i < count; i++)
		if (pfd[i].fd != -1) {
			close(pfd[i].fd);
			held++;
		}
	printf("held=%ld opened=%ld closed_by_server=%ld\n", held, opened,
	    by_server);
	if (opened == 0)
		rv = 1;
	free(pfd);
	free(closed_at);
	return rv;
}

int
main(int argc, char *argv[])
{
	struct exchange	*x;
	struct pollfd	*pfd;
	uint64_t	*lat, t0, elapsed, due, now;
	struct lat_summary sum;
	char		*sendline = NULL;
	long		 count = 1, conc = 1, started = 0, done = 0, errors = 0;
	long		 i, active, holders = 0;
	double		 rate = 0;
	struct timespec	 wait;
	int		 ch, show_lat = 0, rv, code = 2, secs = 0, reopen_ms = 100;

	while ((ch = getopt(argc, argv, "ac:d:H:ln:r:s:t:w:")) != -1) {
		switch (ch) {
		case 'a':
			spread = 1;
			break;
		case 'c':
			conc = atol(optarg);
			break;
		case 'd':
			secs = atoi(optarg);
			break;
		case 'H':
			holders = atol(optarg);
			break;
		case 'w':
			reopen_ms = atoi(optarg);
			break;
		case 'l':
			show_lat = 1;
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 's':
			if (asprintf(&sendline, "%s\n", optarg) == -1)
				return 2;
			line = sendline;
			break;
		case 't':
			timeout_ms = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind + 1 != argc || count < 1 || conc < 1 || conc > 4096 ||
	    rate < 0 || holders < 0 || holders > 65536 ||
	    (holders > 0 && secs < 1) || reopen_ms < 0)
		usage();
	linelen = strlen(line);
	if (peer_parse(argv[optind], &peer) == -1)
		usage();
	if (holders > 0) {
		free(sendline);
		return hold(holders, secs, reopen_ms);
	}
	if (conc > count)
		conc = count;

	x = calloc((size_t)conc, sizeof(*x));
	for (i = 0; x != NULL && i < conc; i++)
		x[i].fd = -1;
	pfd = calloc((size_t)conc, sizeof(*pfd));
	lat = calloc((size_t)count, sizeof(*lat));
	if (x == NULL || pfd == NULL || lat == NULL)
		goto out;
	t0 = now_us();
	for (;;) {
		/* Start what is due, in free slots. */
		now = now_us();
		for (i = 0; i < conc && started < count; i++) {
			if (x[i].fd != -1)
				continue;
			due = rate > 0 ? t0 + (uint64_t)((double)started *
			    1e6 / rate) : now;
			if (due > now)
				break;
			started++;
			if (exchange_open(&x[i], due) == -1)
				errors++;
		}
		active = 0;
		for (i = 0; i < conc; i++) {
			pfd[i].fd = x[i].fd;
			pfd[i].events = POLLIN | (x[i].sent < linelen ?
			    POLLOUT : 0);
			pfd[i].revents = 0;
			if (x[i].fd != -1)
				active++;
		}
		if (active == 0 && started >= count)
			break;
		/* Up to 10 ms, or until the next exchange is due. */
		wait.tv_sec = 0;
		wait.tv_nsec = 10 * 1000000;
		if (rate > 0 && started < count && active < conc) {
			due = t0 + (uint64_t)((double)started * 1e6 / rate);
			now = now_us();
			if (due <= now)
				wait.tv_nsec = 0;
			else if (due - now < 10000)
				wait.tv_nsec = (long)(due - now) * 1000;
		}
		if (ppoll(pfd, (nfds_t)conc, &wait, NULL) == -1 &&
		    errno != EINTR)
			goto out;
		for (i = 0; i < conc; i++) {
			if (x[i].fd == -1)
				continue;
			rv = exchange_step(&x[i], pfd[i].revents);
			if (rv == 0 && now_us() - x[i].start >
			    (uint64_t)timeout_ms * 1000)
				rv = -1;
			if (rv == 0)
				continue;
			close(x[i].fd);
			x[i].fd = -1;
			if (rv == 1)
				lat[done++] = now_us() - x[i].start;
			else
				errors++;
			if (count == 1) {
				if (rv == 1) {
					x[i].reply[strcspn(x[i].reply, "\n")] =
					    '\0';
					printf("%s\n", x[i].reply);
					if (show_lat)
						printf("us=%llu\n",
						    (unsigned long long)lat[0]);
				}
				code = rv == 1 ? 0 : 1;
				goto out;
			}
		}
	}
	elapsed = now_us() - t0;
	code = 1;
	if (count == 1)
		goto out;
	lat_summary(lat, done, &sum);
	printf("n=%ld errors=%ld p50_us=%llu p99_us=%llu max_us=%llu "
	    "per_s=%.0f\n", done, errors, (unsigned long long)sum.p50_us,
	    (unsigned long long)sum.p99_us, (unsigned long long)sum.max_us,
	    elapsed ? (double)done * 1e6 / (double)elapsed : 0.0);
	code = errors ? 1 : 0;
out:
	for (i = 0; x != NULL && i < conc; i++)
		if (x[i].fd != -1)
			close(x[i].fd);
	free(x);
	free(pfd);
	free(lat);
	free(sendline);
	return code;
}
