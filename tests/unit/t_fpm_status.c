/*
 * Unit tests of the status page parser: pages captured from php-fpm 8.2,
 * edited pages, every truncation of a page, garbage, a huge page and
 * thousands of random mutations.
 */

#include "config.h"

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

#define WORKERS_CAP	10000

/*
 * Captured from php-fpm 8.2.36 (pm = static, pm.max_children = 4) with
 * GET /status?full, CGI headers removed.  The idle pool: the worker
 * answering is the only one running.
 */
static const char sample_idle[] =
    "pool:                 www\n"
    "process manager:      static\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          1\n"
    "accepted conn:        1\n"
    "listen queue:         0\n"
    "max listen queue:     0\n"
    "listen queue len:     4096\n"
    "idle processes:       3\n"
    "active processes:     1\n"
    "total processes:      4\n"
    "max active processes: 1\n"
    "max children reached: 0\n"
    "slow requests:        0\n"
    "\n"
    "************************\n"
    "pid:                  28907\n"
    "state:                Running\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          1\n"
    "requests:             1\n"
    "request duration:     2272\n"
    "request method:       GET\n"
    "request URI:          /status?full\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28908\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          1\n"
    "requests:             0\n"
    "request duration:     0\n"
    "request method:       -\n"
    "request URI:          -\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28909\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          1\n"
    "requests:             0\n"
    "request duration:     0\n"
    "request method:       -\n"
    "request URI:          -\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28910\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          1\n"
    "requests:             0\n"
    "request duration:     0\n"
    "request method:       -\n"
    "request URI:          -\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n";

/* The same pool with two workers sleeping in /sleep.php for 8 seconds. */
static const char sample_busy[] =
    "pool:                 www\n"
    "process manager:      static\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "accepted conn:        4\n"
    "listen queue:         0\n"
    "max listen queue:     0\n"
    "listen queue len:     4096\n"
    "idle processes:       1\n"
    "active processes:     3\n"
    "total processes:      4\n"
    "max active processes: 3\n"
    "max children reached: 0\n"
    "slow requests:        0\n"
    "\n"
    "************************\n"
    "pid:                  28907\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "requests:             1\n"
    "request duration:     2300\n"
    "request method:       GET\n"
    "request URI:          /status?full\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  2097152\n"
    "\n"
    "************************\n"
    "pid:                  28908\n"
    "state:                Running\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "requests:             1\n"
    "request duration:     2521613\n"
    "request method:       GET\n"
    "request URI:          /sleep.php?s=8&n=1\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               /tmp/fpmcap/sleep.php\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28909\n"
    "state:                Running\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "requests:             1\n"
    "request duration:     2504966\n"
    "request method:       GET\n"
    "request URI:          /sleep.php?s=8&n=2\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               /tmp/fpmcap/sleep.php\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28910\n"
    "state:                Running\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "requests:             1\n"
    "request duration:     2067\n"
    "request method:       GET\n"
    "request URI:          /status?full\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n";

/* A client sent FCGI_BEGIN_REQUEST and nothing else for a second. */
static const char sample_reading[] =
    "pool:                 www\n"
    "process manager:      static\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          24\n"
    "accepted conn:        8\n"
    "listen queue:         0\n"
    "max listen queue:     0\n"
    "listen queue len:     4096\n"
    "idle processes:       2\n"
    "active processes:     2\n"
    "total processes:      4\n"
    "max active processes: 3\n"
    "max children reached: 0\n"
    "slow requests:        0\n"
    "\n"
    "************************\n"
    "pid:                  28907\n"
    "state:                Reading headers\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          24\n"
    "requests:             3\n"
    "request duration:     1208747\n"
    "request method:       -\n"
    "request URI:          -\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n"
    "\n"
    "************************\n"
    "pid:                  28908\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          24\n"
    "requests:             1\n"
    "request duration:     8012126\n"
    "request method:       GET\n"
    "request URI:          /sleep.php?s=8&n=1\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               /tmp/fpmcap/sleep.php\n"
    "last request cpu:     0.00\n"
    "last request memory:  2097152\n"
    "\n"
    "************************\n"
    "pid:                  28909\n"
    "state:                Idle\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          24\n"
    "requests:             1\n"
    "request duration:     8003242\n"
    "request method:       GET\n"
    "request URI:          /sleep.php?s=8&n=2\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               /tmp/fpmcap/sleep.php\n"
    "last request cpu:     0.00\n"
    "last request memory:  2097152\n"
    "\n"
    "************************\n"
    "pid:                  28910\n"
    "state:                Running\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          24\n"
    "requests:             3\n"
    "request duration:     456\n"
    "request method:       GET\n"
    "request URI:          /status?full\n"
    "content length:       0\n"
    "user:                 -\n"
    "script:               -\n"
    "last request cpu:     0.00\n"
    "last request memory:  0\n";

/* GET /status without `full`: no worker blocks. */
static const char sample_short[] =
    "pool:                 www\n"
    "process manager:      static\n"
    "start time:           23/Nov/2026:00:38:14 +0000\n"
    "start since:          7\n"
    "accepted conn:        6\n"
    "listen queue:         0\n"
    "max listen queue:     0\n"
    "listen queue len:     4096\n"
    "idle processes:       1\n"
    "active processes:     3\n"
    "total processes:      4\n"
    "max active processes: 3\n"
    "max children reached: 0\n"
    "slow requests:        0\n";

/* The start of what GET /status?json&full returned. */
static const char sample_json[] =
    "{\"pool\":\"www\",\"process manager\":\"static\",\"start time\":"
    "1795394294,\"start since\":7,\"accepted conn\":5,\"listen queue\":0,"
    "\"processes\":[{\"pid\":28907,\"state\":\"Running\"}]}";

static int	 parse(const char *, size_t, struct fpm_status *, char *,
		    size_t);
static char	*replace(const char *, const char *, const char *);
static int	 status_equal(const struct fpm_status *,
		    const struct fpm_status *);
static int	 prefix_consistent(const struct fpm_status *,
		    const struct fpm_status *);
static int	 status_sane(const struct fpm_status *);
static int	 text_sane(const char *, size_t);
static uint64_t	 rnd(void);
static size_t	 mutate(char *, size_t, size_t, const char *, size_t);
static int	 parse_free_twice(void);
static void	 test_samples(void);
static void	 test_states(void);
static void	 test_crlf(void);
static void	 test_prefixes(void);
static void	 test_garbage(void);
static void	 test_fields(void);
static void	 test_strings(void);
static void	 test_huge(void);
static void	 test_random(void);

static uint64_t	 rnd_state = 0x9e3779b97f4a7c15ULL;

/* Parse a private copy of exactly len bytes, so that an over-read shows. */
static int
parse(const char *text, size_t len, struct fpm_status *st, char *err,
    size_t errlen)
{
	char	*copy;
	int	 rc;

	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		abort();
	if (len > 0)
		memcpy(copy, text, len);
	rc = fpm_status_parse(len > 0 ? copy : NULL, len, st, err, errlen);
	free(copy);
	return rc;
}

/* Replace every occurrence of from by to; the result is malloc'd. */
static char *
replace(const char *s, const char *from, const char *to)
{
	size_t		 fl = strlen(from), tl = strlen(to), n = 0, o = 0;
	const char	*p;
	char		*r;

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	r = malloc(strlen(s) + n * tl + 1);
	if (r == NULL)
		abort();
	for (p = s; *p != '\0';) {
		if (strncmp(p, from, fl) == 0) {
			memcpy(r + o, to, tl);
			o += tl;
			p += fl;
		} else
			r[o++] = *p++;
	}
	r[o] = '\0';
	return r;
}

/* Do two parsed pages say the same thing? */
static int
status_equal(const struct fpm_status *a, const struct fpm_status *b)
{
	size_t	 i;

	if (strcmp(a->pool, b->pool) != 0 || strcmp(a->pm, b->pm) != 0 ||
	    a->start_since != b->start_since ||
	    a->accepted_conn != b->accepted_conn ||
	    a->listen_queue != b->listen_queue ||
	    a->max_listen_queue != b->max_listen_queue ||
	    a->listen_queue_len != b->listen_queue_len ||
	    a->idle != b->idle || a->active != b->active ||
	    a->total != b->total || a->max_active != b->max_active ||
	    a->max_children_reached != b->max_children_reached ||
	    a->slow_requests != b->slow_requests ||
	    a->nworkers != b->nworkers)
		return 0;
	for (i = 0; i < a->nworkers; i++) {
		const struct fpm_worker *v = &a->workers[i];
		const struct fpm_worker *w = &b->workers[i];

		if (v->pid != w->pid || v->state != w->state ||
		    v->requests != w->requests ||
		    v->request_duration_us != w->request_duration_us ||
		    strcmp(v->method, w->method) != 0 ||
		    strcmp(v->uri, w->uri) != 0 ||
		    strcmp(v->script, w->script) != 0)
			return 0;
	}
	return 1;
}

#define SAME_OR_ZERO(p, f)	((p)->f == 0 || (p)->f == full->f)
#define SAME_OR_EMPTY(p, f)	((p)->f[0] == '\0' || \
				    strcmp((p)->f, full->f) == 0)

/*
 * Is a page parsed from a truncated copy a part of the full one: every
 * value either the full page's or not set, the workers a leading run?
 */
static int
prefix_consistent(const struct fpm_status *part, const struct fpm_status *full)
{
	size_t	 i;

	if (!SAME_OR_EMPTY(part, pool) || !SAME_OR_EMPTY(part, pm) ||
	    !SAME_OR_ZERO(part, start_since) ||
	    !SAME_OR_ZERO(part, accepted_conn) ||
	    !SAME_OR_ZERO(part, listen_queue) ||
	    !SAME_OR_ZERO(part, max_listen_queue) ||
	    !SAME_OR_ZERO(part, listen_queue_len) ||
	    !SAME_OR_ZERO(part, idle) || !SAME_OR_ZERO(part, active) ||
	    !SAME_OR_ZERO(part, total) || !SAME_OR_ZERO(part, max_active) ||
	    !SAME_OR_ZERO(part, max_children_reached) ||
	    !SAME_OR_ZERO(part, slow_requests) ||
	    part->nworkers > full->nworkers)
		return 0;
	for (i = 0; i < part->nworkers; i++) {
		const struct fpm_worker *v = &part->workers[i];
		const struct fpm_worker *w = &full->workers[i];

		if (v->pid != w->pid ||
		    (v->state != FPM_W_UNKNOWN && v->state != w->state) ||
		    (v->requests != 0 && v->requests != w->requests) ||
		    (v->request_duration_us != 0 &&
		    v->request_duration_us != w->request_duration_us) ||
		    (v->method[0] != '\0' &&
		    strcmp(v->method, w->method) != 0) ||
		    (v->uri[0] != '\0' && strcmp(v->uri, w->uri) != 0) ||
		    (v->script[0] != '\0' && strcmp(v->script, w->script) != 0))
			return 0;
	}
	return 1;
}

/*
 * Is a fixed text array terminated, well-formed UTF-8 and free of
 * control bytes?
 */
static int
text_sane(const char *s, size_t size)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;

	for (i = 0; i < size; i++) {
		if (u[i] == '\0')
			return 1;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return 0;
		if (u[i] >= 0x80) {
			if ((n = utf8_len(u + i, size - i)) == 0)
				return 0;
			i += n - 1;
		}
	}
	return 0;
}

/* Does a successful parse keep every promise of the contract? */
static int
status_sane(const struct fpm_status *st)
{
	size_t	 i;

	if (st->nworkers > WORKERS_CAP)
		return 0;
	if ((st->nworkers == 0) != (st->workers == NULL))
		return 0;
	if (!text_sane(st->pool, sizeof(st->pool)) ||
	    !text_sane(st->pm, sizeof(st->pm)))
		return 0;
	for (i = 0; i < st->nworkers; i++) {
		const struct fpm_worker *w = &st->workers[i];

		if (w->pid <= 0 || (int)w->state < 0 || w->state >= FPM_W_MAX ||
		    w->stuck != 0 || w->wait.known != 0 ||
		    w->wait.npeers != 0 ||
		    !text_sane(w->method, sizeof(w->method)) ||
		    !text_sane(w->uri, sizeof(w->uri)) ||
		    !text_sane(w->script, sizeof(w->script)))
			return 0;
	}
	return 1;
}

/* xorshift64*: the same sequence on every run. */
static uint64_t
rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

/*
 * Apply a few random edits to buf (len bytes used, cap available):
 * flip, insert, delete or duplicate bytes, or splice in a line that
 * means something to the parser.  Returns the new length.
 */
static size_t
mutate(char *buf, size_t len, size_t cap, const char *src, size_t srclen)
{
	static const char *const lines[] = {
		"\n************************\n", "\npid: ", "\nstate: ",
		"\nrequest duration: 18446744073709551616\n",
		"\nrequest URI: ", "\npool: ", "\naccepted conn: ", "\r\n",
		"\npid: 2147483648\n", "\npid: 0\n", ":", "\n", "\0",
		"\nstate: Getting request informations\n",
		"99999999999999999999999999",
	};
	size_t	 edits = 1 + rnd() % 8, e, at, n;
	const char *ins;

	for (e = 0; e < edits; e++) {
		at = len > 0 ? rnd() % (len + 1) : 0;
		switch (rnd() % 6) {
		case 0:		/* flip a byte */
			if (at < len)
				buf[at] = (char)rnd();
			break;
		case 1:		/* delete a run */
			n = rnd() % 64;
			if (at + n > len)
				n = len - at;
			memmove(buf + at, buf + at + n, len - at - n);
			len -= n;
			break;
		case 2:		/* insert a meaningful line */
			ins = lines[rnd() % (sizeof(lines) / sizeof(lines[0]))];
			n = *ins == '\0' ? 1 : strlen(ins);
			if (len + n > cap)
				break;
			memmove(buf + at + n, buf + at, len - at);
			memcpy(buf + at, ins, n);
			len += n;
			break;
		case 3:		/* insert random bytes */
			n = rnd() % 16;
			if (len + n > cap)
				break;
			memmove(buf + at + n, buf + at, len - at);
			while (n-- > 0) {
				buf[at++] = (char)rnd();
				len++;
			}
			break;
		case 4:		/* copy a piece of the original in */
			n = rnd() % 256;
			if (srclen == 0 || len + n > cap)
				break;
			{
				size_t from = rnd() % srclen;
				if (from + n > srclen)
					n = srclen - from;
				memmove(buf + at + n, buf + at, len - at);
				memcpy(buf + at, src + from, n);
				len += n;
			}
			break;
		default:	/* cut the end */
			len = at;
			break;
		}
	}
	return len;
}

/*
 * In a child: parse the idle page, then free it twice and free NULL.
 * Exits 0 when the four workers were parsed and the status is still
 * cleared after the second free.
 */
static int
parse_free_twice(void)
{
	struct fpm_status	 st;
	char			 err[128];

	if (parse(sample_idle, strlen(sample_idle), &st, err,
	    sizeof(err)) != 0 || st.nworkers != 4 || st.workers == NULL)
		return 1;
	fpm_status_free(&st);
	fpm_status_free(&st);
	fpm_status_free(NULL);
	return st.workers == NULL && st.nworkers == 0 ? 0 : 2;
}

/* The captured pages parse into what php-fpm showed. */
static void
test_samples(void)
{
	struct fpm_status	 st;
	char			 err[128];
	size_t			 i, running;

	is_int(parse(sample_idle, strlen(sample_idle), &st, err, sizeof(err)),
	    0, "idle: parses");
	is_str(st.pool, "www", "idle: pool");
	is_str(st.pm, "static", "idle: process manager");
	is_int(st.start_since, 1, "idle: start since");
	is_int(st.accepted_conn, 1, "idle: accepted conn");
	is_int(st.listen_queue, 0, "idle: listen queue");
	is_int(st.listen_queue_len, 4096, "idle: listen queue len");
	is_int(st.idle, 3, "idle: idle processes");
	is_int(st.active, 1, "idle: active processes");
	is_int(st.total, 4, "idle: total processes");
	is_int(st.max_active, 1, "idle: max active processes");
	is_int(st.max_children_reached, 0, "idle: max children reached");
	is_int(st.slow_requests, 0, "idle: slow requests");
	is_int(st.nworkers, 4, "idle: 4 workers");
	is_int(st.workers[0].pid, 28907, "idle: first worker's pid");
	is_int(st.workers[0].state, FPM_W_RUNNING,
	    "idle: the worker answering is Running");
	is_str(st.workers[0].uri, "/status?full", "idle: its URI");
	is_str(st.workers[0].method, "GET", "idle: its method");
	is_str(st.workers[0].script, "-", "idle: its script");
	is_int(st.workers[0].request_duration_us, 2272, "idle: its duration");
	is_int(st.workers[0].requests, 1, "idle: its requests");
	for (i = 1; i < st.nworkers; i++)
		if (st.workers[i].state != FPM_W_IDLE ||
		    st.workers[i].requests != 0 ||
		    strcmp(st.workers[i].method, "-") != 0)
			break;
	is_int(i, 4, "idle: the other three are Idle with no requests");
	is_int(st.workers[3].pid, 28910, "idle: last worker's pid");
	ok(status_sane(&st), "idle: sane");
	fpm_status_free(&st);
	ok(st.workers == NULL && st.nworkers == 0, "free clears");
	is_int(tap_in_child(parse_free_twice), 0,
	    "free is idempotent: freed twice, the status stays cleared");

	is_int(parse(sample_busy, strlen(sample_busy), &st, err, sizeof(err)),
	    0, "busy: parses");
	is_int(st.nworkers, 4, "busy: 4 workers");
	is_int(st.active, 3, "busy: active processes");
	is_int(st.idle, 1, "busy: idle processes");
	is_int(st.accepted_conn, 4, "busy: accepted conn");
	is_int(st.workers[0].state, FPM_W_IDLE, "busy: worker 0 Idle");
	is_int(st.workers[0].request_duration_us, 2300,
	    "busy: an idle worker keeps its last duration");
	is_int(st.workers[1].pid, 28908, "busy: worker 1 pid");
	is_int(st.workers[1].state, FPM_W_RUNNING, "busy: worker 1 Running");
	is_int(st.workers[1].request_duration_us, 2521613,
	    "busy: worker 1 duration (us)");
	is_str(st.workers[1].uri, "/sleep.php?s=8&n=1", "busy: worker 1 URI");
	is_str(st.workers[1].script, "/tmp/fpmcap/sleep.php",
	    "busy: worker 1 script");
	is_int(st.workers[2].pid, 28909, "busy: worker 2 pid");
	is_int(st.workers[2].state, FPM_W_RUNNING, "busy: worker 2 Running");
	is_int(st.workers[2].request_duration_us, 2504966,
	    "busy: worker 2 duration (us)");
	is_str(st.workers[2].uri, "/sleep.php?s=8&n=2", "busy: worker 2 URI");
	for (i = running = 0; i < st.nworkers; i++)
		running += st.workers[i].state == FPM_W_RUNNING;
	is_int(running, 3, "busy: 2 sleepers and the status request Running");
	ok(status_sane(&st), "busy: sane");
	fpm_status_free(&st);

	is_int(parse(sample_reading, strlen(sample_reading), &st, err,
	    sizeof(err)), 0, "reading: parses");
	is_int(st.workers[0].state, FPM_W_READING_HEADERS,
	    "reading: Reading headers");
	is_int(st.workers[0].request_duration_us, 1208747,
	    "reading: duration");
	is_str(st.workers[0].method, "-", "reading: no method yet");
	is_str(st.workers[0].uri, "-", "reading: no URI yet");
	is_int(st.workers[1].state, FPM_W_IDLE, "reading: sleeper now Idle");
	is_int(st.workers[1].request_duration_us, 8012126,
	    "reading: sleeper's last duration");
	fpm_status_free(&st);

	is_int(parse(sample_short, strlen(sample_short), &st, err,
	    sizeof(err)), 0, "without full: parses");
	is_int(st.nworkers, 0, "without full: no workers");
	ok(st.workers == NULL, "without full: no array");
	is_int(st.accepted_conn, 6, "without full: accepted conn");
	fpm_status_free(&st);
}

/* State names, both spellings of one, and in a page. */
static void
test_states(void)
{
	static const struct {
		const char	*name;
		enum fpm_wstate	 st;
	} names[] = {
		{ "Idle", FPM_W_IDLE },
		{ "Starting", FPM_W_STARTING },
		{ "Reading headers", FPM_W_READING_HEADERS },
		{ "Getting request information", FPM_W_GETTING_INFO },
		{ "Getting request informations", FPM_W_GETTING_INFO },
		{ "Running", FPM_W_RUNNING },
		{ "Finishing", FPM_W_FINISHING },
		{ "Ending", FPM_W_ENDING },
		{ "running", FPM_W_RUNNING },
		{ "Sleeping", FPM_W_UNKNOWN },
		{ "", FPM_W_UNKNOWN },
		{ "Running ", FPM_W_UNKNOWN },
		{ "Getting request", FPM_W_UNKNOWN },
	};
	struct fpm_status	 st;
	char			*page;
	size_t			 i;
	int			 e;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		is_int(fpm_wstate_parse(names[i].name), names[i].st,
		    "state \"%s\"", names[i].name);
	is_int(fpm_wstate_parse(NULL), FPM_W_UNKNOWN, "state NULL");
	for (e = 0; e < FPM_W_MAX; e++) {
		const char *name = fpm_wstate_str((enum fpm_wstate)e);

		if (e != FPM_W_UNKNOWN && (int)fpm_wstate_parse(name) != e)
			break;
	}
	is_int(e, FPM_W_MAX, "every state's name parses back");
	is_str(fpm_wstate_str(FPM_W_GETTING_INFO),
	    "Getting request information", "name php-fpm 8.2 prints");
	is_str(fpm_wstate_str(FPM_W_UNKNOWN), "unknown", "unknown's name");
	is_str(fpm_wstate_str(FPM_W_MAX), "unknown", "out of range");

	page = replace(sample_reading, "Reading headers",
	    "Getting request informations");
	parse(page, strlen(page), &st, NULL, 0);
	is_int(st.workers[0].state, FPM_W_GETTING_INFO,
	    "page: Getting request informations");
	fpm_status_free(&st);
	free(page);
	page = replace(sample_reading, "Reading headers",
	    "Getting request information");
	parse(page, strlen(page), &st, NULL, 0);
	is_int(st.workers[0].state, FPM_W_GETTING_INFO,
	    "page: Getting request information");
	fpm_status_free(&st);
	free(page);
	page = replace(sample_reading, "Reading headers", "Daydreaming");
	parse(page, strlen(page), &st, NULL, 0);
	is_int(st.workers[0].state, FPM_W_UNKNOWN, "page: unknown state");
	is_int(st.nworkers, 4, "page: the worker is still listed");
	fpm_status_free(&st);
	free(page);
}

/* CRLF line endings parse the same as LF. */
static void
test_crlf(void)
{
	struct fpm_status	 a, b;
	char			*page;

	page = replace(sample_busy, "\n", "\r\n");
	is_int(parse(page, strlen(page), &a, NULL, 0), 0, "CRLF: parses");
	parse(sample_busy, strlen(sample_busy), &b, NULL, 0);
	ok(status_equal(&a, &b), "CRLF: same as LF");
	is_str(a.workers[1].uri, "/sleep.php?s=8&n=1", "CRLF: no CR kept");
	fpm_status_free(&a);
	fpm_status_free(&b);
	free(page);
}

/* Every prefix of a page: an error, or a consistent part of it. */
static void
test_prefixes(void)
{
	struct fpm_status	 full, part;
	char			 err[128];
	size_t			 len = strlen(sample_busy), first, i;
	size_t			 bad_rc = 0, bad = 0, last_n = 0;
	size_t			 shrink = 0;
	int			 rc;

	parse(sample_busy, len, &full, NULL, 0);
	first = (size_t)(strchr(sample_busy, '\n') - sample_busy) + 1;
	for (i = 0; i <= len; i++) {
		err[0] = '\0';
		rc = parse(sample_busy, i, &part, err, sizeof(err));
		if (rc != (i < first ? -1 : 0) || (rc == -1 && err[0] == '\0'))
			bad_rc++;
		if (rc == 0 && (!prefix_consistent(&part, &full) ||
		    !status_sane(&part)))
			bad++;
		if (rc == 0) {
			if (part.nworkers < last_n)
				shrink++;
			last_n = part.nworkers;
		}
		if (i == len && !status_equal(&part, &full))
			bad++;
		fpm_status_free(&part);
	}
	is_int(bad_rc, 0, "prefixes: error until the first line is whole");
	is_int(bad, 0, "prefixes: all %zu results are part of the page",
	    len + 1);
	is_int(shrink, 0, "prefixes: workers only ever added");

	/* Cut inside a number: the cut line is not taken. */
	i = (size_t)(strstr(sample_busy, "2521613") - sample_busy) + 3;
	parse(sample_busy, i, &part, NULL, 0);
	is_int(part.nworkers, 2, "cut in a duration: 2 workers so far");
	is_int(part.workers[1].request_duration_us, 0,
	    "cut in a duration: not a smaller number");
	fpm_status_free(&part);
	fpm_status_free(&full);
}

/* Things that are not a status page. */
static void
test_garbage(void)
{
	struct fpm_status	 st;
	char			 err[128], bin[4096];
	size_t			 i;

	is_int(parse("", 0, &st, err, sizeof(err)), -1, "empty: error");
	ok(st.workers == NULL && st.nworkers == 0, "empty: nothing kept");
	is_int(fpm_status_parse(NULL, 0, &st, err, sizeof(err)), -1,
	    "NULL: error");
	is_int(parse("hello world\n", 12, &st, err, sizeof(err)), -1,
	    "prose: error");
	ok(strstr(err, "not a PHP-FPM status page") != NULL,
	    "prose: says why (%s)", err);
	is_int(parse(sample_json, strlen(sample_json), &st, err, sizeof(err)),
	    -1, "JSON: error");
	ok(strstr(err, "JSON") != NULL, "JSON: says so (%s)", err);
	is_int(parse("<html><body>pool: www</body></html>\n", 37, &st, err,
	    sizeof(err)), -1, "HTML: error");
	ok(strstr(err, "HTML") != NULL, "HTML: says so (%s)", err);
	is_int(parse("pid: 5\nstate: Idle\n", 19, &st, NULL, 0), -1,
	    "a worker block alone: error, no err buffer");
	is_int(parse("x", 1, &st, err, 1), -1, "err of one byte");
	is_str(err, "", "err of one byte: terminated");
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (char)rnd();
	is_int(parse(bin, sizeof(bin), &st, err, sizeof(err)), -1,
	    "random bytes: error");
	fpm_status_free(&st);
	is_int(parse("pool: www", 9, &st, err, sizeof(err)), -1,
	    "one line without its newline: not taken");
	is_int(parse("pool: www\naccepted conn: 5", 26, &st, err,
	    sizeof(err)), 0, "unterminated last line: parses");
	is_int(st.accepted_conn, 0, "unterminated last line: ignored");
	fpm_status_free(&st);
}

/* Numbers with garbage, huge numbers, bad pids, unknown keys. */
static void
test_fields(void)
{
	static const char page[] =
	    "pool: www\n"
	    "something new: 1\n"
	    "no colon on this line\n"
	    ":\n"
	    "accepted conn: 12abc\n"
	    "listen queue: 99999999999999999999999\n"
	    "idle processes: 18446744073709551615\n"
	    "active processes: 18446744073709551616\n"
	    "total processes: -1\n"
	    "max active processes:  7  \n"
	    "max children reached: \n"
	    "slow requests: 0x10\n"
	    "Max Listen Queue: 3\n"
	    "listen queue len: 1 2\n"
	    "\n***\n"
	    "pid: abc\nstate: Running\n"
	    "\n***\n"
	    "pid: 0\nstate: Running\n"
	    "\n***\n"
	    "pid: 2147483648\nstate: Running\n"
	    "\n***\n"
	    "state: Running\nrequest URI: /no-pid\n"
	    "\n***\n"
	    "pid: 2147483647\n"
	    "state: Running\n"
	    "request duration: 30000000\n"
	    "request URI: /x\n"
	    "state: Idle\n"
	    "request duration: 0\n"
	    "pid: 4\n"
	    "requests: 5x\n"
	    "start since: 9\n"
	    "weird key: yes\n"
	    "\n***\n"
	    "pid: 77\n"
	    "pool: not-a-pool-key-here\n"
	    "\n";
	struct fpm_status	 st;

	is_int(parse(page, strlen(page), &st, NULL, 0), 0, "edited: parses");
	is_int(st.accepted_conn, 0, "number with garbage: unset");
	is_int(st.listen_queue, 0, "number too big: unset");
	ok(st.idle == UINT64_MAX, "UINT64_MAX: kept");
	is_int(st.active, 0, "UINT64_MAX + 1: unset");
	is_int(st.total, 0, "negative: unset");
	is_int(st.max_active, 7, "spaces around a number: fine");
	is_int(st.max_children_reached, 0, "empty number: unset");
	is_int(st.slow_requests, 0, "hex: unset");
	is_int(st.max_listen_queue, 3, "keys in any case");
	is_int(st.listen_queue_len, 0, "two numbers: unset");
	is_int(st.start_since, 0, "a worker's start since is not the pool's");
	is_str(st.pool, "www", "pool: the header's");
	is_int(st.nworkers, 2, "blocks without a valid pid are dropped");
	is_int(st.workers[0].pid, 2147483647, "largest pid");
	is_int(st.workers[0].state, FPM_W_RUNNING,
	    "a repeated state does not override");
	is_int(st.workers[0].request_duration_us, 30000000,
	    "a repeated duration does not override");
	is_str(st.workers[0].uri, "/x", "URI");
	is_int(st.workers[0].requests, 0, "requests with garbage: unset");
	is_int(st.workers[1].pid, 77, "last worker");
	is_int(st.workers[1].state, FPM_W_UNKNOWN, "missing state: unknown");
	ok(status_sane(&st), "edited: sane");
	fpm_status_free(&st);
}

/* Long and hostile text is truncated and cleaned. */
static void
test_strings(void)
{
	struct fpm_status	 st;
	char			*page, *p;
	size_t			 n;

	page = malloc(20000);
	if (page == NULL)
		abort();
	p = page;
	p += sprintf(p, "pool: ");
	memset(p, 'p', 200);
	p += 200;
	p += sprintf(p, "\nprocess manager: dynamic\n***\npid: 10\n"
	    "request method: ");
	memset(p, 'M', 100);
	p += 100;
	p += sprintf(p, "\nrequest URI: ");
	memset(p, 'u', 5000);
	p += 5000;
	p += sprintf(p, "\nscript: /a\x01\x1b[31m\tb\xff\xfe.php\n"
	    "***\npid: 11\nrequest URI: ");
	memset(p, 'v', 9000);
	p += 9000;
	p += sprintf(p, "\nscript: /ok.php\n");
	n = (size_t)(p - page);

	is_int(parse(page, n, &st, NULL, 0), 0, "long strings: parses");
	is_int(strlen(st.pool), sizeof(st.pool) - 1, "pool name truncated");
	is_str(st.pm, "dynamic", "process manager");
	is_int(st.nworkers, 2, "two workers");
	is_int(strlen(st.workers[0].method), sizeof(st.workers[0].method) - 1,
	    "method truncated");
	is_int(strlen(st.workers[0].uri), sizeof(st.workers[0].uri) - 1,
	    "URI truncated");
	is_str(st.workers[0].script, "/a [31m b\xef\xbf\xbd\xef\xbf\xbd.php",
	    "control bytes folded, bytes that are not UTF-8 made U+FFFD");
	is_str(st.workers[1].uri, "", "a line over 8 KiB is skipped");
	is_str(st.workers[1].script, "/ok.php", "the next line is read");
	ok(status_sane(&st), "long strings: sane");
	fpm_status_free(&st);

	memcpy(page, "pool: w\0w\n\0\0\0\naccepted conn: 5\n", 31);
	is_int(parse(page, 31, &st, NULL, 0), 0, "NUL bytes: parses");
	is_str(st.pool, "w", "NUL ends a value");
	is_int(st.accepted_conn, 5, "lines after NUL bytes are read");
	fpm_status_free(&st);
	free(page);
}

/* 5 MiB of worker blocks: the cap holds. */
static void
test_huge(void)
{
	struct fpm_status	 st;
	const char		*block;
	char			*page, *p;
	size_t			 cap = 5 * 1024 * 1024, blen, n = 0;
	int			 pid = 1;

	/* The first worker's block (Idle) after its pid line. */
	block = strstr(sample_busy, "\npid:");
	block = strchr(block + 1, '\n') + 1;
	blen = (size_t)(strstr(block, "\n\n*") - block) + 1;
	page = malloc(cap);
	if (page == NULL)
		abort();
	p = page + sprintf(page, "pool: big\naccepted conn: 1\n");
	while ((size_t)(p - page) + blen + 64 < cap) {
		p += sprintf(p, "\n************************\npid: %d\n", pid++);
		memcpy(p, block, blen);
		p += blen;
		n++;
	}
	ok(n > WORKERS_CAP, "huge: %zu worker blocks in %zu bytes", n,
	    (size_t)(p - page));
	is_int(parse(page, (size_t)(p - page), &st, NULL, 0), 0,
	    "huge: parses");
	is_int(st.nworkers, WORKERS_CAP, "huge: capped at %d workers",
	    WORKERS_CAP);
	is_int(st.workers[WORKERS_CAP - 1].pid, WORKERS_CAP,
	    "huge: the first ones are kept");
	is_int(st.workers[WORKERS_CAP - 1].state, FPM_W_IDLE,
	    "huge: fields of the last one kept");
	ok(status_sane(&st), "huge: sane");
	fpm_status_free(&st);
	free(page);
}

/* Thousands of mutated and random inputs, fixed seed. */
static void
test_random(void)
{
	static const char *const seeds[] = {
	    sample_idle, sample_busy, sample_reading, sample_short,
	};
	struct fpm_status	 st;
	char			 err[128], *buf;
	size_t			 cap = 64 * 1024, len, i, j;
	size_t			 runs = 0, parsed = 0, insane = 0;
	size_t			 badfail = 0;
	int			 rc;

	buf = malloc(cap);
	if (buf == NULL)
		abort();
	for (i = 0; i < 6000; i++) {
		const char *src = seeds[i % 4];
		size_t srclen = strlen(src);

		memcpy(buf, src, srclen);
		len = mutate(buf, srclen, cap, src, srclen);
		if (i % 3 == 0)
			len = mutate(buf, len, cap, src, srclen);
		err[0] = '\0';
		rc = parse(buf, len, &st, err, sizeof(err));
		runs++;
		if (rc == 0) {
			parsed++;
			if (!status_sane(&st))
				insane++;
		} else if (rc != -1 || err[0] == '\0' || st.workers != NULL ||
		    st.nworkers != 0)
			badfail++;
		fpm_status_free(&st);
	}
	for (i = 0; i < 2000; i++) {
		static const char alphabet[] = "pid:state* \n\r0123456789"
		    "Running\tpool accepted conn";

		len = rnd() % 4096;
		for (j = 0; j < len; j++)
			buf[j] = i % 2 ? (char)rnd() :
			    alphabet[rnd() % (sizeof(alphabet) - 1)];
		rc = parse(buf, len, &st, err, sizeof(err));
		runs++;
		if (rc == 0) {
			parsed++;
			if (!status_sane(&st))
				insane++;
		} else if (rc != -1 || st.workers != NULL)
			badfail++;
		fpm_status_free(&st);
	}
	ok(runs == 8000, "random: %zu inputs, %zu parsed", runs, parsed);
	ok(parsed > 1000, "random: many mutations still parse");
	is_int(insane, 0, "random: every parse is sane");
	is_int(badfail, 0, "random: every failure is clean");
	free(buf);
}

int
main(void)
{
	test_samples();
	test_states();
	test_crlf();
	test_prefixes();
	test_garbage();
	test_fields();
	test_strings();
	test_huge();
	test_random();
	return tap_done();
}
