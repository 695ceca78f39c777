/*
 * The small parsers of configuration values and the text cleaners:
 * durations, addresses (numeric hosts only: the target asks no
 * resolver), CIDRs and matching against them, sanitize_text() and
 * quote_value().
 *
 * Input: 1 byte choosing the function (and an output size), then the text.
 */

#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"

/* Printable ASCII, no doubled or outer blanks, as sanitize_text makes. */
static void
clean_check(const char *s, size_t room)
{
	size_t	 len = strlen(s), i;

	FUZZ_ASSERT(len < room);
	for (i = 0; i < len; i++)
		FUZZ_ASSERT(s[i] >= 0x20 && s[i] < 0x7f);
	FUZZ_ASSERT(len == 0 || (s[0] != ' ' && s[len - 1] != ' '));
	FUZZ_ASSERT(strstr(s, "  ") == NULL);
}

/* Well-formed UTF-8 with no control byte, as sanitize_utf8 makes. */
static void
utf8_check(const char *s, size_t room)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 len = strlen(s), i, n;

	FUZZ_ASSERT(len < room);
	for (i = 0; i < len; i += n) {
		FUZZ_ASSERT(u[i] >= 0x20 && u[i] != 0x7f);
		n = u[i] < 0x80 ? 1 : utf8_len(u + i, len - i);
		FUZZ_ASSERT(n > 0);
	}
	FUZZ_ASSERT(strstr(s, "  ") == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_in	 sin;
	struct address		 a;
	struct cidr		 c;
	const char		*err = NULL;
	unsigned int		 ms;
	char			*text, out[256];
	size_t			 room;
	uint8_t			 which;

	if (size < 1 || size > 4096)
		return 0;
	address_numeric_only(1);
	which = data[0];
	data++;
	size--;
	text = malloc(size + 1);
	FUZZ_ASSERT(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	/* Output room of 4 to 259 bytes, from the selector's high bits. */
	room = 4 + (which >> 3) * 8;
	if (room > sizeof(out))
		room = sizeof(out);
	switch (which % 7) {
	case 0:
		if (duration_parse(text, &ms, &err) == 0)
			FUZZ_ASSERT(ms <= 24U * 3600 * 1000);
		else
			FUZZ_ASSERT(err != NULL);
		break;
	case 1:
		if (address_parse(text, &a, &err) == 0) {
			FUZZ_ASSERT(a.text != NULL && a.sslen > 0 &&
			    a.sslen <= sizeof(a.ss));
			address_free(&a);
		} else
			FUZZ_ASSERT(err != NULL);
		break;
	case 2:
		if (cidr_parse(text, &c) == 0) {
			FUZZ_ASSERT(c.bits <= (c.family == AF_INET ? 32 :
			    128));
			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			memcpy(&sin.sin_addr, c.net, 4);
			memset(&sin6, 0, sizeof(sin6));
			sin6.sin6_family = AF_INET6;
			memcpy(&sin6.sin6_addr, c.net, 16);
			/* A network holds its own address. */
			FUZZ_ASSERT(cidr_match(&c, 1, c.family == AF_INET ?
			    (struct sockaddr *)&sin :
			    (struct sockaddr *)&sin6));
		}
		break;
	case 3:
		sanitize_text(out, room, text, size);
		clean_check(out, room);
		break;
	case 4:
		quote_value(out, room, text, size);
		FUZZ_ASSERT(strlen(out) < room);
		break;
	case 5:
		/* Bytes after a NUL are not text: sanitize stops there. */
		sanitize_text(out, room, (const char *)data, size);
		clean_check(out, room);
		break;
	case 6:
		sanitize_utf8(out, room, text, size);
		utf8_check(out, room);
		break;
	}
	free(text);
	return 0;
}
