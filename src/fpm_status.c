/*
 * PHP-FPM's status page, plain-text `full` flavour (GET /status?full):
 * a block of "key: value" lines about the pool, then one block per
 * worker, each opened by a line of asterisks.
 *
 * The page comes from the network and is treated as hostile: nothing is
 * read past the length given, lines and the worker count are capped,
 * unknown keys are skipped, a number that does not parse leaves its
 * field at zero, and text is copied, truncated and sanitized, into the
 * fixed arrays.  Deciding whether a worker is stuck is the policy's job.
 */

#include "config.h"

#include <sys/types.h>

#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fpmprobe.h"

/* More workers than any real pool has; the rest of the page is ignored. */
#define FPM_WORKERS_MAX		10000
/* A longer line is not one php-fpm writes (its URIs stop well short). */
#define FPM_LINE_MAX		8192
/* No key php-fpm writes is longer. */
#define FPM_KEY_MAX		32

enum field_kind {
	FIELD_U64,
	FIELD_STR,
	FIELD_PID,
	FIELD_STATE
};

/* One "key: value" line the parser keeps, and where its value goes. */
struct field {
	const char	*key;
	enum field_kind	 kind;
	size_t		 off;
	size_t		 size;
};

#define U64(k, m)	{ k, FIELD_U64, offsetof(struct fpm_status, m), 0 }
#define STR(k, m)	{ k, FIELD_STR, offsetof(struct fpm_status, m), \
			    sizeof(((struct fpm_status *)0)->m) }
static const struct field pool_fields[] = {
	STR("pool", pool),
	STR("process manager", pm),
	U64("start since", start_since),
	U64("accepted conn", accepted_conn),
	U64("listen queue", listen_queue),
	U64("max listen queue", max_listen_queue),
	U64("listen queue len", listen_queue_len),
	U64("idle processes", idle),
	U64("active processes", active),
	U64("total processes", total),
	U64("max active processes", max_active),
	U64("max children reached", max_children_reached),
	U64("slow requests", slow_requests),
};
#undef U64
#undef STR

#define U64(k, m)	{ k, FIELD_U64, offsetof(struct fpm_worker, m), 0 }
#define STR(k, m)	{ k, FIELD_STR, offsetof(struct fpm_worker, m), \
			    sizeof(((struct fpm_worker *)0)->m) }
static const struct field worker_fields[] = {
	{ "pid", FIELD_PID, offsetof(struct fpm_worker, pid), 0 },
	{ "state", FIELD_STATE, offsetof(struct fpm_worker, state), 0 },
	U64("requests", requests),
	U64("request duration", request_duration_us),
	STR("request method", method),
	STR("request URI", uri),
	STR("script", script),
};
#undef U64
#undef STR

/* Names as php-fpm prints them; FPM_W_UNKNOWN has none. */
static const char *const wstate_names[FPM_W_MAX] = {
	[FPM_W_UNKNOWN] = "unknown",
	[FPM_W_IDLE] = "Idle",
	[FPM_W_STARTING] = "Starting",
	[FPM_W_READING_HEADERS] = "Reading headers",
	[FPM_W_GETTING_INFO] = "Getting request information",
	[FPM_W_RUNNING] = "Running",
	[FPM_W_FINISHING] = "Finishing",
	[FPM_W_ENDING] = "Ending",
};

/* The parser's position between lines. */
struct status_parse {
	struct fpm_status	*out;
	size_t			 cap;		/* allocated */
	int			 in_workers;	/* past a separator */
	int			 skipping;	/* worker cap reached */
	int			 found;		/* a pool line */
	uint32_t		 pool_seen;	/* pool_fields set */
	uint32_t		 worker_seen;	/* worker_fields set */
};

static void	 seterr(char *, size_t, const char *);
static int	 is_separator(const char *, size_t);
static int	 u64_parse(const char *, size_t, uint64_t *);
static const struct field *field_find(const struct field *, size_t,
		    const char *, size_t, size_t *);
static void	 field_set(void *, const struct field *, const char *,
		    size_t);
static void	 worker_open(struct status_parse *);
static void	 worker_close(struct status_parse *);
static void	 line_parse(struct status_parse *, const char *, size_t);

/* Copy an error message for the caller, if it wants one. */
static void
seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		strlcpy_safe(err, msg, errlen);
}

/* Is the line the row of asterisks that opens a worker's block? */
static int
is_separator(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] != '*')
			return 0;
	return 1;
}

/* Parse a whole field as a decimal number; -1 on garbage or overflow. */
static int
u64_parse(const char *s, size_t len, uint64_t *v)
{
	uint64_t	 n = 0;
	size_t		 i;
	unsigned int	 d;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* Find the entry for a key (any case) and its index in the table. */
static const struct field *
field_find(const struct field *table, size_t n, const char *key,
    size_t keylen, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strlen(table[i].key) == keylen &&
		    strncasecmp(table[i].key, key, keylen) == 0) {
			*idx = i;
			return &table[i];
		}
	}
	return NULL;
}

/* Store one value into the structure at base; bad values stay unset. */
static void
field_set(void *base, const struct field *f, const char *val, size_t len)
{
	char		*p = (char *)base + f->off;
	char		 word[64];
	uint64_t	 v;

	switch (f->kind) {
	case FIELD_U64:
		if (u64_parse(val, len, &v) == 0)
			memcpy(p, &v, sizeof(v));
		break;
	case FIELD_STR:
		sanitize_utf8(p, f->size, val, len);
		break;
	case FIELD_PID:
		if (u64_parse(val, len, &v) == 0 && v > 0 && v <= INT_MAX) {
			pid_t pid = (pid_t)v;
			memcpy(p, &pid, sizeof(pid));
		}
		break;
	case FIELD_STATE:
		if (len < sizeof(word)) {
			enum fpm_wstate st;

			memcpy(word, val, len);
			word[len] = '\0';
			st = fpm_wstate_parse(word);
			memcpy(p, &st, sizeof(st));
		}
		break;
	}
}

/* Start a worker's block, unless the cap is reached. */
static void
worker_open(struct status_parse *sp)
{
	struct fpm_status	*out = sp->out;

	worker_close(sp);
	sp->in_workers = 1;
	sp->worker_seen = 0;
	if (out->nworkers >= FPM_WORKERS_MAX) {
		sp->skipping = 1;
		return;
	}
	if (out->nworkers == sp->cap) {
		sp->cap = sp->cap == 0 ? 16 : sp->cap * 2;
		if (sp->cap > FPM_WORKERS_MAX)
			sp->cap = FPM_WORKERS_MAX;
		out->workers = xreallocarray(out->workers, sp->cap,
		    sizeof(*out->workers));
	}
	memset(&out->workers[out->nworkers], 0, sizeof(*out->workers));
	out->nworkers++;
	sp->skipping = 0;
}

/* End the current worker's block: one without a pid is no worker. */
static void
worker_close(struct status_parse *sp)
{
	struct fpm_status	*out = sp->out;

	if (!sp->in_workers || sp->skipping || out->nworkers == 0)
		return;
	if (out->workers[out->nworkers - 1].pid <= 0)
		out->nworkers--;
}

/* Handle one complete line, without its line ending. */
static void
line_parse(struct status_parse *sp, const char *s, size_t len)
{
	const struct field	*f;
	const char		*colon, *val;
	size_t			 keylen, vallen, idx;
	uint32_t		*seen;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (is_separator(s, len)) {
		worker_open(sp);
		return;
	}
	if ((colon = memchr(s, ':', len)) == NULL)
		return;
	keylen = (size_t)(colon - s);
	while (keylen > 0 && (s[keylen - 1] == ' ' || s[keylen - 1] == '\t'))
		keylen--;
	if (keylen == 0 || keylen > FPM_KEY_MAX)
		return;
	val = colon + 1;
	vallen = len - (size_t)(val - s);
	while (vallen > 0 && (*val == ' ' || *val == '\t')) {
		val++;
		vallen--;
	}

	if (!sp->in_workers) {
		f = field_find(pool_fields, sizeof(pool_fields) /
		    sizeof(pool_fields[0]), s, keylen, &idx);
		if (f == NULL)
			return;
		if (strcmp(f->key, "pool") == 0 ||
		    strcmp(f->key, "accepted conn") == 0)
			sp->found = 1;
		seen = &sp->pool_seen;
		if (*seen & (1U << idx))
			return;
		*seen |= 1U << idx;
		field_set(sp->out, f, val, vallen);
		return;
	}
	if (sp->skipping)
		return;
	f = field_find(worker_fields, sizeof(worker_fields) /
	    sizeof(worker_fields[0]), s, keylen, &idx);
	if (f == NULL)
		return;
	/*
	 * The first value wins: a request URI carrying a line break cannot
	 * overwrite the pid, state or duration written above it.
	 */
	seen = &sp->worker_seen;
	if (*seen & (1U << idx))
		return;
	*seen |= 1U << idx;
	field_set(&sp->out->workers[sp->out->nworkers - 1], f, val, vallen);
}

/*
 * Parse a status page of len bytes (not NUL-terminated).  *out is
 * overwritten, not freed.  A last line without its newline may have been
 * cut short and is ignored: php-fpm ends every line with one.
 */
int
fpm_status_parse(const char *text, size_t len, struct fpm_status *out,
    char *err, size_t errlen)
{
	struct status_parse	 sp;
	const char		*p, *end, *nl;
	size_t			 linelen, i;

	memset(out, 0, sizeof(*out));
	memset(&sp, 0, sizeof(sp));
	sp.out = out;
	if (text == NULL || len == 0) {
		seterr(err, errlen, "empty status page");
		return -1;
	}

	p = text;
	end = text + len;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		linelen = (size_t)(nl - p);
		if (linelen > 0 && p[linelen - 1] == '\r')
			linelen--;
		if (linelen <= FPM_LINE_MAX)
			line_parse(&sp, p, linelen);
		p = nl + 1;
	}
	worker_close(&sp);

	if (!sp.found) {
		for (i = 0; i < len && isspace((unsigned char)text[i]); i++)
			;
		if (i < len && text[i] == '{')
			seterr(err, errlen, "status page is JSON, expected "
			    "the plain-text format (?full)");
		else if (i < len && text[i] == '<')
			seterr(err, errlen, "status page is HTML or XML, "
			    "expected the plain-text format (?full)");
		else
			seterr(err, errlen, "not a PHP-FPM status page (no "
			    "\"pool:\" or \"accepted conn:\" line)");
		fpm_status_free(out);
		return -1;
	}
	if (out->nworkers == 0) {
		free(out->workers);
		out->workers = NULL;
	}
	return 0;
}

/* Release the worker array; idempotent. */
void
fpm_status_free(struct fpm_status *st)
{
	if (st == NULL)
		return;
	free(st->workers);
	st->workers = NULL;
	st->nworkers = 0;
}

/* A worker state's name as php-fpm prints it. */
const char *
fpm_wstate_str(enum fpm_wstate st)
{
	if ((int)st < 0 || st >= FPM_W_MAX)
		return wstate_names[FPM_W_UNKNOWN];
	return wstate_names[st];
}

/*
 * A worker state from its name.  php-fpm 8.2 prints Idle, Reading
 * headers, Getting request information, Running, Finishing and Ending;
 * older releases spelled the third "Getting request informations".
 * "Starting" is accepted for completeness.
 */
enum fpm_wstate
fpm_wstate_parse(const char *s)
{
	int	 i;

	if (s == NULL)
		return FPM_W_UNKNOWN;
	if (strcasecmp(s, "Getting request informations") == 0)
		return FPM_W_GETTING_INFO;
	for (i = FPM_W_UNKNOWN + 1; i < FPM_W_MAX; i++)
		if (strcasecmp(s, wstate_names[i]) == 0)
			return (enum fpm_wstate)i;
	return FPM_W_UNKNOWN;
}
