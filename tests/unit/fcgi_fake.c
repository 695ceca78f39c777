/*
 * A misbehaving FastCGI application for the process tests: the faults a
 * real php-fpm cannot produce on demand.
 *
 *	fcgi_fake MODE ADDRESS
 *
 * ADDRESS is HOST:PORT or unix:/path.  Well-formed answers go through
 * libfcgi; broken ones are written to the socket by hand.  A few worker
 * processes accept in turn, so that a held connection does not block the
 * next one.  It prints "ready" once listening, and exits by itself after
 * LIFETIME_S seconds so that a broken test never leaves it behind.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#define WORKERS		8
#ifndef LIFETIME_S
#define LIFETIME_S	120
#endif
#define BACKLOG		16
#define TRICKLE_MS	200
#define HUGE_BYTES	(10 * 1024 * 1024)
#define BIG_POOL	1000	/* processes on bigstatus' page */
#define WIRE_MAX	512

#define OK_RESPONSE \
	"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nOK\n"

/* What a mode does with one request or one connection. */
struct mode {
	const char	*name;
	void		(*answer)(FCGX_Request *);	/* through libfcgi */
	void		(*conn)(int);			/* by hand */
};

/* A response being put together by hand. */
struct wire {
	uint8_t		 data[WIRE_MAX];
	size_t		 len;
};

static void	usage(void) __attribute__((noreturn));
static void	on_signal(int);
static void	worker(const struct mode *, int) __attribute__((noreturn));
static int	read_full(int, void *, size_t);
static int	write_all(int, const void *, size_t);
static int	read_request(int);
static void	wire_record(struct wire *, int, int, int, const void *,
		    size_t);
static void	wire_end(struct wire *, int, int);
static void	answer_ok(FCGX_Request *);
static void	answer_huge(FCGX_Request *);
static void	answer_stderr(FCGX_Request *);
static void	answer_bigstatus(FCGX_Request *);
static void	answer_busystatus(FCGX_Request *);
static void	conn_hang(int);
static void	conn_garbage(int);
static void	conn_trickle(int);
static void	conn_overloaded(int);
static void	conn_close(int);
static void	conn_badversion(int);
static void	conn_noout(int);
static void	conn_otherid(int);

static const struct mode modes[] = {
	{ "ok",		answer_ok,	NULL },
	{ "huge",	answer_huge,	NULL },
	{ "stderr",	answer_stderr,	NULL },
	{ "bigstatus",	answer_bigstatus, NULL },
	{ "busystatus",	answer_busystatus, NULL },
	{ "hang",	NULL,		conn_hang },
	{ "garbage",	NULL,		conn_garbage },
	{ "trickle",	NULL,		conn_trickle },
	{ "overloaded",	NULL,		conn_overloaded },
	{ "close",	NULL,		conn_close },
	{ "badversion",	NULL,		conn_badversion },
	{ "noout",	NULL,		conn_noout },
	{ "otherid",	NULL,		conn_otherid },
	{ "noaccept",	NULL,		NULL },
};

static pid_t	workers[WORKERS];
static size_t	nworkers;
static unsigned int *status_asked;	/* shared by the workers */

/* Say how to call it. */
static void
usage(void)
{
	size_t	 i;

	fprintf(stderr, "usage: fcgi_fake MODE HOST:PORT|unix:/path\nmodes:");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, " %s", modes[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

/*
 * Stopped or out of time: take the workers along, and wait until they
 * are gone so that the address is free when we are.
 */
static void
on_signal(int sig)
{
	size_t	 i;

	for (i = 0; i < nworkers; i++)
		kill(workers[i], SIGKILL);
	while (wait(NULL) != -1 || errno == EINTR)
		continue;
	_exit(sig == SIGALRM ? 1 : 0);
}

/* Read exactly len bytes; -1 on EOF or error. */
static int
read_full(int fd, void *p, size_t len)
{
	uint8_t	*q = p;
	ssize_t	 n;

	while (len > 0) {
		n = read(fd, q, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		q += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write all of it; -1 once the peer has gone. */
static int
write_all(int fd, const void *p, size_t len)
{
	const uint8_t	*q = p;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, q, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		q += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read a request up to its empty STDIN record; its id, or -1. */
static int
read_request(int fd)
{
	static uint8_t	 skip[FCGI_MAX_LENGTH + 255];
	FCGI_Header	 h;
	size_t		 clen;
	int		 id = -1;

	for (;;) {
		if (read_full(fd, &h, FCGI_HEADER_LEN) == -1)
			return -1;
		clen = (size_t)h.contentLengthB1 << 8 | h.contentLengthB0;
		if (read_full(fd, skip, clen + h.paddingLength) == -1)
			return -1;
		if (h.type == FCGI_BEGIN_REQUEST)
			id = h.requestIdB1 << 8 | h.requestIdB0;
		if (h.type == FCGI_STDIN && clen == 0)
			return id;
	}
}

/* Append a record without padding, of any version. */
static void
wire_record(struct wire *w, int version, int type, int id, const void *data,
    size_t len)
{
	FCGI_Header	 h;

	if (len > sizeof(w->data) - w->len - FCGI_HEADER_LEN)
		errx(1, "response too long for the wire buffer");
	memset(&h, 0, sizeof(h));
	h.version = (unsigned char)version;
	h.type = (unsigned char)type;
	h.requestIdB1 = (unsigned char)(id >> 8);
	h.requestIdB0 = (unsigned char)id;
	h.contentLengthB1 = (unsigned char)(len >> 8);
	h.contentLengthB0 = (unsigned char)len;
	memcpy(w->data + w->len, &h, FCGI_HEADER_LEN);
	w->len += FCGI_HEADER_LEN;
	if (len > 0)
		memcpy(w->data + w->len, data, len);
	w->len += len;
}

/* Append END_REQUEST with an appStatus of 0. */
static void
wire_end(struct wire *w, int id, int protocol_status)
{
	FCGI_EndRequestBody	 body;

	memset(&body, 0, sizeof(body));
	body.protocolStatus = (unsigned char)protocol_status;
	wire_record(w, FCGI_VERSION_1, FCGI_END_REQUEST, id, &body,
	    sizeof(body));
}

/* ok: the plainest valid answer. */
static void
answer_ok(FCGX_Request *req)
{
	FCGX_PutS(OK_RESPONSE, req->out);
}

/* huge: 10 MiB of body, until the client stops reading. */
static void
answer_huge(FCGX_Request *req)
{
	static char	 chunk[65536];
	size_t		 sent;

	memset(chunk, 'x', sizeof(chunk));
	FCGX_PutS("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n",
	    req->out);
	for (sent = 0; sent < HUGE_BYTES; sent += sizeof(chunk))
		if (FCGX_PutStr(chunk, sizeof(chunk), req->out) < 0)
			break;
}

/* stderr: PHP's complaint first, then a 500. */
static void
answer_stderr(FCGX_Request *req)
{
	FCGX_PutS("PHP Fatal error: boom", req->err);
	FCGX_FFlush(req->err);
	FCGX_PutS("Status: 500 Internal Server Error\r\n"
	    "Content-Type: text/plain\r\n\r\nboom\n", req->out);
}

/*
 * busystatus: php-fpm's answer while its scoreboard is locked, 503
 * "Server busy", to every other status request of all the workers (the
 * first, the third...), and a page of 2 idle processes to the others;
 * "OK" to any other script.
 */
static void
answer_busystatus(FCGX_Request *req)
{
	const char	*script = FCGX_GetParam("SCRIPT_NAME", req->envp);

	if (script == NULL || strcmp(script, "/fpm-status") != 0) {
		FCGX_PutS(OK_RESPONSE, req->out);
		return;
	}
	if (__atomic_fetch_add(status_asked, 1, __ATOMIC_SEQ_CST) % 2 == 0) {
		FCGX_PutS("Status: 503 Service Unavailable\r\n"
		    "Content-Type: text/plain\r\n\r\n"
		    "Server busy. Please try again later.", req->out);
		return;
	}
	FCGX_PutS("Content-Type: text/plain\r\n\r\n"
	    "pool:                 busy\n"
	    "process manager:      static\n"
	    "start since:          600\n"
	    "accepted conn:        10\n"
	    "listen queue:         0\n"
	    "max listen queue:     0\n"
	    "listen queue len:     4096\n"
	    "idle processes:       2\n"
	    "active processes:     0\n"
	    "total processes:      2\n"
	    "max active processes: 1\n"
	    "max children reached: 0\n"
	    "slow requests:        0\n", req->out);
}

/*
 * bigstatus: the status page (SCRIPT_NAME /fpm-status) of a static pool
 * of BIG_POOL processes, every one running one request for 60 s, in the
 * `full` flavour (about 480 KiB); "OK" to any other script.
 */
static void
answer_bigstatus(FCGX_Request *req)
{
	const char	*script = FCGX_GetParam("SCRIPT_NAME", req->envp);
	int		 i;

	if (script == NULL || strcmp(script, "/fpm-status") != 0) {
		FCGX_PutS(OK_RESPONSE, req->out);
		return;
	}
	FCGX_FPrintF(req->out, "Content-Type: text/plain\r\n\r\n"
	    "pool:                 big\n"
	    "process manager:      static\n"
	    "start since:          600\n"
	    "accepted conn:        %d\n"
	    "listen queue:         0\n"
	    "max listen queue:     0\n"
	    "listen queue len:     4096\n"
	    "idle processes:       0\n"
	    "active processes:     %d\n"
	    "total processes:      %d\n"
	    "max active processes: %d\n"
	    "max children reached: 1\n"
	    "slow requests:        0\n", BIG_POOL, BIG_POOL, BIG_POOL,
	    BIG_POOL);
	for (i = 0; i < BIG_POOL; i++)
		FCGX_FPrintF(req->out, "\n************************\n"
		    "pid:                  %d\n"
		    "state:                Running\n"
		    "start time:           01/Dec/2026:09:00:00 +0000\n"
		    "start since:          600\n"
		    "requests:             1\n"
		    "request duration:     60000000\n"
		    "request method:       GET\n"
		    "request URI:          /report.php?month=2026-11\n"
		    "content length:       0\n"
		    "user:                 -\n"
		    "script:               /srv/www/report.php\n"
		    "last request cpu:     0.00\n"
		    "last request memory:  0\n", 4000000 + i);
}

/* hang: read the request, never answer, hold on until the peer leaves. */
static void
conn_hang(int fd)
{
	uint8_t	 scratch[4096];
	ssize_t	 n;

	if (read_request(fd) == -1)
		return;
	do
		n = read(fd, scratch, sizeof(scratch));
	while (n > 0 || (n == -1 && errno == EINTR));
}

/* garbage: an HTTP answer where records belong. */
static void
conn_garbage(int fd)
{
	static const char	*http = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\nOK\n";

	if (read_request(fd) != -1)
		write_all(fd, http, strlen(http));
}

/* trickle: a valid answer, one byte every TRICKLE_MS. */
static void
conn_trickle(int fd)
{
	const struct timespec	 gap = { 0, TRICKLE_MS * 1000000L };
	struct wire		 w = { .len = 0 };
	size_t			 i;
	int			 id;

	if ((id = read_request(fd)) == -1)
		return;
	wire_record(&w, FCGI_VERSION_1, FCGI_STDOUT, id, OK_RESPONSE,
	    strlen(OK_RESPONSE));
	wire_record(&w, FCGI_VERSION_1, FCGI_STDOUT, id, NULL, 0);
	wire_end(&w, id, FCGI_REQUEST_COMPLETE);
	for (i = 0; i < w.len; i++) {
		if (write_all(fd, w.data + i, 1) == -1)
			return;
		nanosleep(&gap, NULL);
	}
}

/* overloaded: END_REQUEST saying the application is overloaded. */
static void
conn_overloaded(int fd)
{
	struct wire	 w = { .len = 0 };
	int		 id;

	if ((id = read_request(fd)) == -1)
		return;
	wire_end(&w, id, FCGI_OVERLOADED);
	write_all(fd, w.data, w.len);
}

/* close: a STDOUT record that promises 100 bytes and brings 10. */
static void
conn_close(int fd)
{
	struct wire	 w = { .len = 0 };
	uint8_t		 promise[100];
	int		 id;

	if ((id = read_request(fd)) == -1)
		return;
	memset(promise, 'x', sizeof(promise));
	wire_record(&w, FCGI_VERSION_1, FCGI_STDOUT, id, promise,
	    sizeof(promise));
	write_all(fd, w.data, w.len - sizeof(promise) + 10);
}

/* badversion: a well-formed answer in records of version 2. */
static void
conn_badversion(int fd)
{
	struct wire	 w = { .len = 0 };
	int		 id;

	if ((id = read_request(fd)) == -1)
		return;
	wire_record(&w, 2, FCGI_STDOUT, id, OK_RESPONSE, strlen(OK_RESPONSE));
	wire_record(&w, 2, FCGI_STDOUT, id, NULL, 0);
	write_all(fd, w.data, w.len);
}

/* noout: END_REQUEST, complete, and no STDOUT record at all. */
static void
conn_noout(int fd)
{
	struct wire	 w = { .len = 0 };
	int		 id;

	if ((id = read_request(fd)) == -1)
		return;
	wire_end(&w, id, FCGI_REQUEST_COMPLETE);
	write_all(fd, w.data, w.len);
}

/* otherid: a well-formed answer, for a request id we were not sent. */
static void
conn_otherid(int fd)
{
	struct wire	 w = { .len = 0 };
	int		 id;

	if ((id = read_request(fd)) == -1)
		return;
	id = id == 7 ? 8 : 7;
	wire_record(&w, FCGI_VERSION_1, FCGI_STDOUT, id, OK_RESPONSE,
	    strlen(OK_RESPONSE));
	wire_record(&w, FCGI_VERSION_1, FCGI_STDOUT, id, NULL, 0);
	wire_end(&w, id, FCGI_REQUEST_COMPLETE);
	write_all(fd, w.data, w.len);
}

/* One worker: answer requests or connections until killed. */
static void
worker(const struct mode *m, int lfd)
{
	FCGX_Request	 req;
	int		 fd;

	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	alarm(LIFETIME_S);
	if (m->answer != NULL) {
		if (FCGX_InitRequest(&req, lfd, 0) != 0)
			errx(1, "FCGX_InitRequest failed");
		while (FCGX_Accept_r(&req) == 0) {
			m->answer(&req);
			FCGX_Finish_r(&req);
		}
		errx(1, "FCGX_Accept_r failed");
	}
	for (;;) {
		if ((fd = accept(lfd, NULL, NULL)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			err(1, "accept");
		}
		m->conn(fd);
		close(fd);
	}
}

int
main(int argc, char *argv[])
{
	const struct mode	*m = NULL;
	const char		*path;
	size_t			 i;
	pid_t			 pid;
	int			 lfd;

	if (argc != 3)
		usage();
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			m = &modes[i];
	if (m == NULL)
		usage();
	alarm(LIFETIME_S);
	signal(SIGCHLD, SIG_IGN);
	if (FCGX_Init() != 0)
		errx(1, "FCGX_Init failed");

	path = argv[2];
	if (strncmp(path, "unix:", 5) == 0) {
		path += 5;
		if (unlink(path) == -1 && errno != ENOENT)
			err(1, "unlink %s", path);
	}
	if ((lfd = FCGX_OpenSocket(path, BACKLOG)) == -1)
		err(1, "cannot listen on %s", argv[2]);

	status_asked = mmap(NULL, sizeof(*status_asked), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (status_asked == MAP_FAILED)
		err(1, "mmap");
	if (m->answer != NULL || m->conn != NULL) {
		for (nworkers = 0; nworkers < WORKERS; nworkers++) {
			if ((pid = fork()) == -1)
				err(1, "fork");
			if (pid == 0)
				worker(m, lfd);
			workers[nworkers] = pid;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGALRM, on_signal);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
