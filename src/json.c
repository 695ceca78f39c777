/*
 * JSON string output: every string from a peer (URIs, reasons, names)
 * is escaped here, so the report is valid JSON whatever a pool sends.
 */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fpmprobe.h"

/* Append s as a JSON string, or null for NULL. */
void
json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		buf_addstr(b, "null");
	else
		json_strn(b, s, strlen(s));
}

/*
 * Append len bytes as a JSON string.  Well-formed UTF-8 passes through
 * unchanged; each byte that is not part of it becomes U+FFFD.
 */
void
json_strn(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;
	char			 esc[8];

	buf_add(b, "\"", 1);
	for (i = 0; i < len; i++) {
		switch (u[i]) {
		case '"':
			buf_add(b, "\\\"", 2);
			break;
		case '\\':
			buf_add(b, "\\\\", 2);
			break;
		case '\n':
			buf_add(b, "\\n", 2);
			break;
		case '\r':
			buf_add(b, "\\r", 2);
			break;
		case '\t':
			buf_add(b, "\\t", 2);
			break;
		default:
			if (u[i] < 0x20 || u[i] == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
				buf_addstr(b, esc);
			} else if (u[i] < 0x80)
				buf_add(b, &s[i], 1);
			else if ((n = utf8_len(u + i, len - i)) > 0) {
				buf_add(b, &s[i], n);
				i += n - 1;
			} else
				buf_add(b, "\xef\xbf\xbd", 3);	/* U+FFFD */
		}
	}
	buf_add(b, "\"", 1);
}
