/*
 * Small pure helpers: clocks, buffers, durations, addresses, networks;
 * and the listening sockets that the agent, the status endpoint and the
 * control socket keep across reloads.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmprobe.h"

static int	sockaddr_same(const struct sockaddr_storage *,
		    const struct sockaddr_storage *);
static int	sockaddr_port(const struct sockaddr_storage *);
static struct listener *listener_bind(struct listener_set *,
		    const struct address *, int *);
static void	listener_close(struct listener *);
static void	listener_accept_error(struct evconnlistener *, void *);
static void	listener_resume(int, short, void *);
static void	listen_error_add(struct listener_set *, const char *,
		    const char *, const struct listener *);
static void	listen_errors_drop(const char *);

static struct listen_error	*listen_errs;	/* of every listener set */
static size_t			 nlisten_errs;
static int			 address_numeric;	/* no name lookups */

/* Microseconds on CLOCK_MONOTONIC: every deadline is measured on it. */
uint64_t
now_us(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Make room for len more bytes plus a NUL. */
static void
buf_grow(struct buf *b, size_t len)
{
	size_t	 need;

	if (len > SIZE_MAX - b->len - 1)
		fatalx("buffer overflow");
	need = b->len + len + 1;
	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 256;
	while (b->cap < need)
		b->cap = b->cap > SIZE_MAX / 2 ? need : b->cap * 2;
	b->data = xreallocarray(b->data, 1, b->cap);
}

/* Append bytes; data stays NUL-terminated. */
void
buf_add(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

/* Append a C string. */
void
buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Append formatted text. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_printf");
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Empty the buffer but keep its memory. */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Release the buffer; idempotent. */
void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/*
 * Parse "250ms", "2s", "1m", "1h" into milliseconds.  A unit is required,
 * so that "5" is never silently five milliseconds or five seconds.
 */
int
duration_parse(const char *s, unsigned int *ms, const char **err)
{
	unsigned long long	 v = 0, mult;
	const char		*p = s;

	if (!isdigit((unsigned char)*p)) {
		*err = "expected a duration with a unit, like 250ms, 2s or 1m";
		return -1;
	}
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long long)(*p - '0');
		if (v > 1000000000ULL) {
			*err = "duration is too long";
			return -1;
		}
		p++;
	}
	if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "m") == 0)
		mult = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mult = 3600 * 1000;
	else {
		*err = *p == '\0' ?
		    "duration needs a unit (ms, s, m or h), like 250ms or 2s" :
		    "unknown duration unit (use ms, s, m or h)";
		return -1;
	}
	if (v * mult > 24ULL * 3600 * 1000) {
		*err = "duration is longer than a day";
		return -1;
	}
	*ms = (unsigned int)(v * mult);
	return 0;
}

/* Parse a port number 1..65535. */
static int
port_parse(const char *s, unsigned int *port)
{
	unsigned long	 v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (unsigned int)v;
	return 0;
}

/*
 * From now on, take only numeric hosts (address_parse() calls no
 * resolver): for the fuzzers, which must not send queries.
 */
void
address_numeric_only(int on)
{
	address_numeric = on;
}

/*
 * Parse HOST:PORT, [V6]:PORT, *:PORT or unix:/path.  Host names are
 * resolved here, once, when the configuration is read.
 */
int
address_parse(const char *s, struct address *a, const char **err)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_un	*sun;
	char			 host[256];
	const char		*colon, *hs;
	size_t			 hl;
	unsigned int		 port;
	char			 portstr[8];

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0) {
		sun = (struct sockaddr_un *)&a->ss;
		if (s[5] != '/') {
			*err = "unix: address needs an absolute path";
			return -1;
		}
		if (strlen(s + 5) >= sizeof(sun->sun_path)) {
			*err = "unix socket path is too long";
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strlcpy_safe(sun->sun_path, s + 5, sizeof(sun->sun_path));
		a->sslen = sizeof(*sun);
		a->text = xstrdup(s);
		return 0;
	}
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			*err = "expected [V6]:PORT";
			return -1;
		}
		hs = s + 1;
		hl = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s) {
			*err = "expected HOST:PORT, [V6]:PORT or unix:/path";
			return -1;
		}
		hs = s;
		hl = (size_t)(colon - s);
		if (memchr(hs, ':', hl) != NULL) {
			*err = "an IPv6 address needs brackets: [V6]:PORT";
			return -1;
		}
	}
	if (hl == 0 || hl >= sizeof(host)) {
		*err = "bad host";
		return -1;
	}
	if (port_parse(colon + 1, &port) == -1) {
		*err = "bad port (expected 1 to 65535)";
		return -1;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	snprintf(portstr, sizeof(portstr), "%u", port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (address_numeric)
		hints.ai_flags |= AI_NUMERICHOST;
	if (strcmp(host, "*") == 0) {
		hints.ai_flags |= AI_PASSIVE;
		hints.ai_family = AF_INET;
	}
	if (getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, portstr,
	    &hints, &res) != 0 || res == NULL) {
		*err = "cannot resolve host";
		return -1;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	a->text = xstrdup(s);
	return 0;
}

/* Release an address; idempotent. */
void
address_free(struct address *a)
{
	free(a->text);
	a->text = NULL;
}

/* Release a list of addresses; idempotent. */
void
address_list_free(struct address_list *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		address_free(&l->addr[i]);
	free(l->addr);
	l->addr = NULL;
	l->n = 0;
}

/* Parse "10.0.0.0/8", "::1/128" or a bare address. */
int
cidr_parse(const char *s, struct cidr *c)
{
	char		 addr[INET6_ADDRSTRLEN + 1];
	const char	*slash;
	size_t		 len;
	unsigned long	 bits;
	char		*end;

	memset(c, 0, sizeof(*c));
	slash = strchr(s, '/');
	len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, c->net) == 1) {
		c->family = AF_INET;
		c->bits = 32;
	} else if (inet_pton(AF_INET6, addr, c->net) == 1) {
		c->family = AF_INET6;
		c->bits = 128;
	} else
		return -1;
	if (slash != NULL) {
		if (!isdigit((unsigned char)slash[1]))
			return -1;
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (errno != 0 || *end != '\0' || bits > c->bits)
			return -1;
		c->bits = (unsigned int)bits;
	}
	return 0;
}

/* Does the first bits of a and b agree? */
static int
prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int bits)
{
	unsigned int	 bytes = bits / 8, rest = bits % 8;
	uint8_t		 mask;

	if (memcmp(a, b, bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

/*
 * Is the peer inside one of the networks?  No list means everyone;
 * a unix socket peer is always local.  IPv4-mapped IPv6 matches IPv4.
 */
int
cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	const uint8_t	*p;
	int		 family;
	size_t		 i;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (n == 0 || sa->sa_family == AF_UNIX)
		return 1;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		p = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		family = AF_INET6;
		p = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (memcmp(p, mapped, sizeof(mapped)) == 0) {
			family = AF_INET;
			p += 12;
		}
	} else
		return 0;
	for (i = 0; i < n; i++)
		if (list[i].family == family &&
		    prefix_eq(list[i].net, p, list[i].bits))
			return 1;
	return 0;
}

/* Collect one error message. */
void
errlist_add(struct errlist *e, const char *fmt, ...)
{
	va_list	 ap;

	e->msg = xreallocarray(e->msg, e->n + 1, sizeof(*e->msg));
	va_start(ap, fmt);
	if (vasprintf(&e->msg[e->n], fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	e->n++;
}

/* Release collected errors; idempotent. */
void
errlist_free(struct errlist *e)
{
	size_t	 i;

	for (i = 0; i < e->n; i++)
		free(e->msg[i]);
	free(e->msg);
	e->msg = NULL;
	e->n = 0;
}

/* strlcpy: always terminates, returns strlen(src). */
size_t
strlcpy_safe(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t n = len >= size ? size - 1 : len;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

/*
 * The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF), or 0.
 */
size_t
utf8_len(const unsigned char *s, size_t len)
{
	size_t	 n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;		/* past U+10FFFF */
	} else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Copy untrusted text (a peer's STDERR, a DB error, a pool name sent by a
 * client) into a one-line, printable form: control bytes become spaces,
 * runs of blanks fold into one, ends are trimmed.  With utf8, well-formed
 * UTF-8 is kept whole (never cut inside a character) and any other byte
 * past ASCII becomes U+FFFD; without, each such byte becomes '?', for
 * the agent's ASCII line.
 */
static void
sanitize(char *dst, size_t dstlen, const char *src, size_t srclen, int utf8)
{
	const unsigned char	*u = (const unsigned char *)src;
	size_t			 i, n, o = 0;
	int			 space = 1;

	if (dstlen == 0)
		return;
	for (i = 0; i < srclen && u[i] != '\0' && o + 1 < dstlen; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f || u[i] == ' ') {
			if (!space)
				dst[o++] = ' ';
			space = 1;
			continue;
		}
		space = 0;
		if (u[i] < 0x80 || !utf8) {
			dst[o++] = u[i] < 0x80 ? (char)u[i] : '?';
			continue;
		}
		if ((n = utf8_len(u + i, srclen - i)) > 0) {
			if (o + n >= dstlen)
				break;
			memcpy(dst + o, src + i, n);
			i += n - 1;
		} else {
			if (o + 3 >= dstlen)
				break;
			memcpy(dst + o, "\xef\xbf\xbd", 3);	/* U+FFFD */
			n = 3;
		}
		o += n;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

void
sanitize_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	sanitize(dst, dstlen, src, srclen, 0);
}

void
sanitize_utf8(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	sanitize(dst, dstlen, src, srclen, 1);
}

/* A value as a reason quotes it: printable, short, cut visibly. */
void
quote_value(char *out, size_t outlen, const char *v, size_t len)
{
	size_t	 room = outlen - 3;		/* for "..." */

	sanitize_text(out, room, v, len);
	if (len >= room)
		strlcpy_safe(out + strlen(out), "...", outlen - strlen(out));
}

/*
 * Wait for what on fd (-1, what 0: only the time) until deadline_us on
 * the monotonic clock, in place of the event *evp held before (relayd's
 * event_again()): each wait gets only the time left, so that a peer that
 * trickles bytes still runs out of it.  Returns the microseconds left, 0
 * when the deadline has passed: the callback then sees EV_TIMEOUT.
 */
uint64_t
event_again(struct event **evp, struct event_base *base, int fd, short what,
    event_callback_fn cb, void *arg, uint64_t deadline_us)
{
	struct timeval	 tv;
	uint64_t	 now = now_us(), left;

	left = now < deadline_us ? deadline_us - now : 0;
	if (*evp != NULL)
		event_free(*evp);
	if ((*evp = event_new(base, fd, what, cb, arg)) == NULL)
		fatalx("event_new");
	tv.tv_sec = (time_t)(left / 1000000);
	tv.tv_usec = (suseconds_t)(left % 1000000);
	if (event_add(*evp, &tv) == -1)
		fatalx("event_add");
	return left;
}

/* Are two optional strings equal (both absent counts as equal)? */
int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Blank out every occurrence of a secret in a text. */
void
scrub_secret(char *text, const char *secret)
{
	size_t	 len;
	char	*s;

	if (secret == NULL || (len = strlen(secret)) == 0)
		return;
	while ((s = strstr(text, secret)) != NULL)
		memset(s, '*', len);
}

/*
 * Read a password file: its content less one trailing newline.  The
 * caller wipes and frees *out.
 */
int
password_read(const char *path, char **out, char *err, size_t errlen)
{
	char	 buf[PASSWORD_MAX + 2];
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, saved;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			explicit_bzero(buf, sizeof(buf));
			snprintf(err, errlen, "%s", strerror(saved));
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > PASSWORD_MAX) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen, "longer than %d bytes", PASSWORD_MAX);
		return -1;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	*out = xstrndup(buf, len);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* Do two socket addresses name the same place, however they were spelt? */
static int
sockaddr_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	const struct sockaddr_in	*a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6	*a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_un	*au = (const void *)a, *bu = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	switch (a->ss_family) {
	case AF_INET:
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	case AF_INET6:
		return a6->sin6_port == b6->sin6_port &&
		    a6->sin6_scope_id == b6->sin6_scope_id &&
		    memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	case AF_UNIX:
		return strncmp(au->sun_path, bu->sun_path,
		    sizeof(au->sun_path)) == 0;
	}
	return 0;
}

/* The TCP port of an address, or -1 when it has none. */
static int
sockaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return -1;
}

/*
 * Open a new listening socket; NULL with *err set when it cannot be
 * had.  A unix socket's file is replaced, made with the set's mode, and
 * remembered so that closing removes that file and no other.
 */
static struct listener *
listener_bind(struct listener_set *set, const struct address *a, int *err)
{
	const char	*path = ((const struct sockaddr_un *)&a->ss)->sun_path;
	struct listener	*l;
	struct stat	 sb;
	mode_t		 mask = 0;
	int		 unix_sock = a->ss.ss_family == AF_UNIX;

	l = xcalloc(1, sizeof(*l));
	l->set = set;
	if (unix_sock) {
		unlink(path);
		if (set->unix_mode != 0)
			mask = umask(~set->unix_mode & 0777);
	}
	l->lev = evconnlistener_new_bind(set->base, set->accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    set->backlog, (const struct sockaddr *)&a->ss, (int)a->sslen);
	*err = errno;
	if (unix_sock && set->unix_mode != 0)
		umask(mask);
	if (l->lev == NULL) {
		free(l);
		return NULL;
	}
	if (set->attach != NULL && set->attach(l) == -1) {
		*err = ENOMEM;
		evconnlistener_free(l->lev);
		free(l);
		return NULL;
	}
	if (set->attach == NULL)
		evconnlistener_set_error_cb(l->lev, listener_accept_error);
	if (unix_sock) {
		if (set->unix_mode != 0 && chmod(path, set->unix_mode) == -1)
			log_warn("%s: chmod %s", set->who, path);
		if (stat(path, &sb) == 0) {
			l->dev = sb.st_dev;
			l->ino = sb.st_ino;
		}
	}
	memcpy(&l->ss, &a->ss, sizeof(l->ss));
	l->text = xstrdup(a->text);
	log_debug("%s: listening on %s", set->who, a->text);
	return l;
}

/* Close a listening socket for good and release it. */
static void
listener_close(struct listener *l)
{
	const char	*path = ((const struct sockaddr_un *)&l->ss)->sun_path;
	struct stat	 sb;

	if (l->resume != NULL)
		event_free(l->resume);
	if (l->set->detach != NULL)
		l->set->detach(l);
	else
		evconnlistener_free(l->lev);
	/* Another process may have put its own socket there since. */
	if (l->ss.ss_family == AF_UNIX && l->set->unlink_at_close &&
	    lstat(path, &sb) == 0 && sb.st_dev == l->dev &&
	    sb.st_ino == l->ino)
		unlink(path);
	free(l->text);
	free(l);
}

/*
 * A configuration is about to say which addresses the set listens on:
 * until listeners_want() asks for it again, every socket is stale.
 */
void
listeners_begin(struct listener_set *set, struct event_base *base)
{
	size_t	 i;

	set->base = base;
	for (i = 0; i < set->n; i++)
		set->l[i]->stale = 1;
	listen_errors_drop(set->who);
}

/*
 * The configuration asks for an address.  A socket already bound to it
 * stays open as it is (no connection is refused while the configuration
 * changes), whatever the caller now makes it serve; otherwise a new one
 * is bound.  *lp (when not NULL) is the listener that serves the
 * address, or NULL.  Returns 0, or -1 when the address could not be
 * bound (see listeners_fail()).
 */
int
listeners_want(struct listener_set *set, const struct address *a,
    struct listener **lp)
{
	struct listener	*l;
	size_t		 i;
	int		 err;

	if (lp != NULL)
		*lp = NULL;
	for (i = 0; i < set->n; i++) {
		l = set->l[i];
		if (!sockaddr_same(&l->ss, &a->ss))
			continue;
		if (!l->stale) {
			listen_error_add(set, a->text, "asked for twice", NULL);
			return -1;
		}
		l->stale = 0;
		if (strcmp(l->text, a->text) != 0) {
			free(l->text);
			l->text = xstrdup(a->text);
		}
		if (lp != NULL)
			*lp = l;
		return 0;
	}
	if ((l = listener_bind(set, a, &err)) == NULL)
		return listeners_fail(set, a, strerror(err), lp);
	set->l = xreallocarray(set->l, set->n + 1, sizeof(*set->l));
	set->l[set->n++] = l;
	if (lp != NULL)
		*lp = l;
	return 0;
}

/*
 * An address asked for cannot be had: say so in the log and in
 * listen_errors().  A port that cannot be replaced is not closed: the
 * old socket on the same port (of a set of one socket: the old one)
 * stays open in its place and is *lp.  Returns -1.
 */
int
listeners_fail(struct listener_set *set, const struct address *a,
    const char *why, struct listener **lp)
{
	struct listener	*l = NULL;
	size_t		 i;
	int		 port = sockaddr_port(&a->ss);

	for (i = 0; i < set->n && l == NULL; i++)
		if (set->l[i]->stale && (set->single || (port != -1 &&
		    set->l[i]->ss.ss_family == a->ss.ss_family &&
		    sockaddr_port(&set->l[i]->ss) == port)))
			l = set->l[i];
	if (l != NULL)
		l->stale = 0;
	if (lp != NULL)
		*lp = l;
	listen_error_add(set, a->text, why, l);
	return -1;
}

/* Log an address that cannot be had and keep it for listen_errors(). */
static void
listen_error_add(struct listener_set *set, const char *address,
    const char *why, const struct listener *kept)
{
	struct listen_error	*e;

	log_warnx("%s: cannot listen on %s: %s%s%s%s", set->who, address, why,
	    kept != NULL ? "; " : "", kept != NULL ? kept->text : "",
	    kept != NULL ? " stays open in its place" : "");
	listen_errs = xreallocarray(listen_errs, nlisten_errs + 1,
	    sizeof(*listen_errs));
	e = &listen_errs[nlisten_errs++];
	e->who = set->who;
	e->address = xstrdup(address);
	e->error = xstrdup(why);
	e->kept_open = kept != NULL ? xstrdup(kept->text) : NULL;
}

/* Close the sockets that the configuration no longer asks for. */
void
listeners_end(struct listener_set *set)
{
	size_t	 i, n;

	for (i = n = 0; i < set->n; i++) {
		if (set->l[i]->stale) {
			log_info("%s: no longer listening on %s", set->who,
			    set->l[i]->text);
			listener_close(set->l[i]);
		} else
			set->l[n++] = set->l[i];
	}
	set->n = n;
}

/* Close every socket of the set (the daemon stops, or the service goes). */
void
listeners_close(struct listener_set *set)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		listener_close(set->l[i]);
	free(set->l);
	set->l = NULL;
	set->n = 0;
	listen_errors_drop(set->who);
}

/* The set's listener of a libevent listener (whose arg is not ours). */
struct listener *
listener_find(struct listener_set *set, struct evconnlistener *lev)
{
	size_t	 i;

	for (i = 0; i < set->n; i++)
		if (set->l[i]->lev == lev)
			return set->l[i];
	return NULL;
}

/* Accepting failed on a socket whose callback argument is its listener. */
static void
listener_accept_error(struct evconnlistener *lev, void *arg)
{
	listener_pause(arg);
}

/*
 * Accepting failed: out of descriptors, pause the listener for a moment
 * instead of spinning on a socket that stays readable.
 */
void
listener_pause(struct listener *l)
{
	static uint64_t		 logged_us;
	static unsigned long	 pauses;	/* since then */
	struct timeval		 tv = { 0, AGENT_ACCEPT_PAUSE_MS * 1000 };
	int			 err = EVUTIL_SOCKET_ERROR();
	uint64_t		 now = now_us();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_warnx("%s: accept on %s: %s", l->set->who, l->text,
		    strerror(err));
		return;
	}
	/* Out of descriptors, a pause every 100 ms: say it once in a while. */
	pauses++;
	if (logged_us == 0 || now - logged_us >= LOG_REPEAT_S * 1000000ULL) {
		log_warnx("%s: accept on %s: %s; pausing (%lu pauses in %d s at "
		    "most)", l->set->who, l->text, strerror(err), pauses,
		    LOG_REPEAT_S);
		logged_us = now;
		pauses = 0;
	}
	evconnlistener_disable(l->lev);
	if (l->resume == NULL &&
	    (l->resume = evtimer_new(l->set->base, listener_resume, l)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(l->resume, &tv);
}

/* Accept again after a pause. */
static void
listener_resume(int fd, short ev, void *arg)
{
	struct listener	*l = arg;

	evconnlistener_enable(l->lev);
}

/* Forget what a set could not bind: it is about to try again, or gone. */
static void
listen_errors_drop(const char *who)
{
	size_t	 i, n;

	for (i = n = 0; i < nlisten_errs; i++) {
		if (strcmp(listen_errs[i].who, who) == 0) {
			free(listen_errs[i].address);
			free(listen_errs[i].error);
			free(listen_errs[i].kept_open);
		} else
			listen_errs[n++] = listen_errs[i];
	}
	nlisten_errs = n;
	if (n == 0) {
		free(listen_errs);
		listen_errs = NULL;
	}
}

/* The addresses the running configuration asks for and does not have. */
const struct listen_error *
listen_errors(size_t *n)
{
	*n = nlisten_errs;
	return listen_errs;
}
