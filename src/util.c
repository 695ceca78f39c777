/*
 * Small pure helpers: clocks, buffers, durations, addresses, networks.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
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
 * Copy untrusted text (a peer's STDERR, a DB error, a pool name sent by a
 * client) into a one-line, printable form: control bytes and non-ASCII
 * become spaces or '?', runs of blanks fold into one, ends are trimmed.
 */
void
sanitize_text(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t	 i, o = 0;
	int	 space = 1;

	if (dstlen == 0)
		return;
	for (i = 0; i < srclen && src[i] != '\0' && o + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		if (c < 0x20 || c == 0x7f || c == ' ') {
			if (!space)
				dst[o++] = ' ';
			space = 1;
			continue;
		}
		dst[o++] = c >= 0x80 ? '?' : (char)c;
		space = 0;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
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
