/*
 * Unit tests of the small pure helpers: durations, addresses, networks,
 * text sanitizing, buffers.
 */

#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

/* A sockaddr for an IPv4 or IPv6 literal. */
static struct sockaddr_storage
sa_of(const char *ip)
{
	struct sockaddr_storage	 ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr))
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr))
		ss.ss_family = AF_INET6;
	return ss;
}

static void
test_durations(void)
{
	unsigned int	 ms = 0;
	const char	*err = NULL;

	ok(duration_parse("250ms", &ms, &err) == 0 && ms == 250, "250ms");
	ok(duration_parse("2s", &ms, &err) == 0 && ms == 2000, "2s");
	ok(duration_parse("1m", &ms, &err) == 0 && ms == 60000, "1m");
	ok(duration_parse("1h", &ms, &err) == 0 && ms == 3600000, "1h");
	ok(duration_parse("5", &ms, &err) == -1 && strstr(err, "unit") != NULL,
	    "a bare number needs a unit");
	ok(duration_parse("5x", &ms, &err) == -1, "unknown unit");
	ok(duration_parse("-1s", &ms, &err) == -1, "negative");
	ok(duration_parse("", &ms, &err) == -1, "empty");
	ok(duration_parse("2d", &ms, &err) == -1, "days are not a unit");
	ok(duration_parse("25h", &ms, &err) == -1, "more than a day");
	ok(duration_parse("99999999999999999999s", &ms, &err) == -1,
	    "overflow is refused");
}

static void
test_addresses(void)
{
	struct address	 a;
	const char	*err = NULL;

	ok(address_parse("127.0.0.1:9000", &a, &err) == 0 &&
	    a.ss.ss_family == AF_INET &&
	    ntohs(((struct sockaddr_in *)&a.ss)->sin_port) == 9000, "ipv4");
	address_free(&a);
	ok(address_parse("[::1]:9000", &a, &err) == 0 &&
	    a.ss.ss_family == AF_INET6, "ipv6");
	address_free(&a);
	ok(address_parse("unix:/run/php/fpm.sock", &a, &err) == 0 &&
	    a.ss.ss_family == AF_UNIX && strcmp(((struct sockaddr_un *)
	    &a.ss)->sun_path, "/run/php/fpm.sock") == 0, "unix");
	address_free(&a);
	ok(address_parse("localhost:80", &a, &err) == 0, "host name");
	address_free(&a);
	ok(address_parse("127.0.0.1", &a, &err) == -1, "no port");
	ok(address_parse("127.0.0.1:0", &a, &err) == -1, "port 0");
	ok(address_parse("127.0.0.1:65536", &a, &err) == -1, "port too big");
	ok(address_parse("127.0.0.1:9x", &a, &err) == -1, "port not a number");
	ok(address_parse("::1:9000", &a, &err) == -1, "ipv6 without brackets");
	ok(address_parse("unix:relative", &a, &err) == -1, "relative unix");
	ok(address_parse(":9000", &a, &err) == -1, "empty host");
}

static void
test_cidr(void)
{
	struct cidr		 c[2];
	struct sockaddr_storage	 ss;
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };

	ok(cidr_parse("127.0.0.0/8", &c[0]) == 0, "parse 127.0.0.0/8");
	ok(cidr_parse("2001:db8::/32", &c[1]) == 0, "parse v6 net");
	ok(cidr_parse("10.0.0.0/33", &c[0]) == -1, "prefix too long");
	ok(cidr_parse("nonsense", &c[0]) == -1, "garbage");
	ok(cidr_parse("10.0.0.0/", &c[0]) == -1, "empty prefix");
	cidr_parse("127.0.0.0/8", &c[0]);
	ss = sa_of("127.1.2.3");
	ok(cidr_match(c, 2, (struct sockaddr *)&ss), "inside v4");
	ss = sa_of("10.1.2.3");
	ok(!cidr_match(c, 2, (struct sockaddr *)&ss), "outside v4");
	ss = sa_of("::ffff:127.0.0.9");
	ok(cidr_match(c, 2, (struct sockaddr *)&ss), "v4-mapped v6");
	ss = sa_of("2001:db8:1::1");
	ok(cidr_match(c, 2, (struct sockaddr *)&ss), "inside v6");
	ss = sa_of("2001:db9::1");
	ok(!cidr_match(c, 2, (struct sockaddr *)&ss), "outside v6");
	ok(cidr_match(NULL, 0, (struct sockaddr *)&ss), "no list: everyone");
	ok(cidr_match(c, 2, (struct sockaddr *)&sun), "unix peers are local");
}

static void
test_text(void)
{
	char		 out[16];
	struct buf	 b = { NULL, 0, 0 };

	sanitize_text(out, sizeof(out), "  a\r\nb\t\x01" "c  ", 12);
	is_str(out, "a b c", "control bytes fold into single spaces");
	sanitize_text(out, sizeof(out), "caf\xc3\xa9", 5);
	is_str(out, "caf??", "non-ASCII becomes ?");
	sanitize_text(out, 4, "abcdef", 6);
	is_str(out, "abc", "cut to the buffer");
	sanitize_text(out, sizeof(out), "ab\0cd", 5);
	is_str(out, "ab", "stops at NUL");

	buf_printf(&b, "%d-%s", 42, "x");
	buf_add(&b, "yz", 2);
	is_str((char *)b.data, "42-xyz", "buffer append");
	buf_reset(&b);
	is_int(b.len, 0, "reset");
	buf_free(&b);
	buf_free(&b);
	ok(b.data == NULL, "free is idempotent");
}

/* json_strn of len bytes, as a C string. */
static const char *
json_of(const char *s, size_t len)
{
	static char	 out[128];
	struct buf	 b = { NULL, 0, 0 };

	json_strn(&b, s, len);
	snprintf(out, sizeof(out), "%.*s", (int)b.len, (const char *)b.data);
	buf_free(&b);
	return out;
}

static void
test_utf8(void)
{
	char	 out[16];

	is_str(json_of("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14),
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	    "JSON: well-formed UTF-8 passes through");
	is_str(json_of("a\xff" "b", 3), "\"a\xef\xbf\xbd" "b\"",
	    "JSON: an invalid byte becomes U+FFFD");
	is_str(json_of("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"",
	    "JSON: an overlong form is two invalid bytes");
	is_str(json_of("\xed\xa0\x80", 3),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
	    "JSON: a surrogate is invalid");
	is_str(json_of("\xf4\x90\x80\x80", 4),
	    "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"",
	    "JSON: past U+10FFFF is invalid");
	is_str(json_of("\xe2\x82", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\"",
	    "JSON: a sequence cut at the end is invalid");
	is_str(json_of("\"\\\x01", 3), "\"\\\"\\\\\\u0001\"",
	    "JSON: quotes, backslashes and controls are escaped");

	sanitize_utf8(out, sizeof(out), "/caf\xc3\xa9?q=\x01x", 12);
	is_str(out, "/caf\xc3\xa9?q= x", "UTF-8 kept, control bytes folded");
	sanitize_utf8(out, sizeof(out), "a\xff", 2);
	is_str(out, "a\xef\xbf\xbd", "an invalid byte becomes U+FFFD");
	sanitize_utf8(out, 6, "abcd\xc3\xa9", 6);
	is_str(out, "abcd", "never cut inside a character");
	sanitize_utf8(out, 6, "abc\xff", 4);
	is_str(out, "abc", "nor inside U+FFFD");
}

int
main(void)
{
	test_durations();
	test_addresses();
	test_cidr();
	test_text();
	test_utf8();
	return tap_done();
}
