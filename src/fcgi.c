/*
 * The FastCGI client codec: records, name-value pairs and the CGI response
 * php-fpm writes on STDOUT.  Pure code, no sockets: what the unit tests
 * and fuzzers call.
 *
 * Records we send are split at FCGI_MAX_LENGTH bytes of content and padded
 * to a multiple of 8 bytes, as the specification recommends.
 *
 * The decoder accepts STDOUT, STDERR and END_REQUEST on the request id it
 * was started with; any other type there (GET_VALUES_RESULT and
 * UNKNOWN_TYPE included) is an error, and so is a record for any other
 * request id but 0: we send one request per connection, so such a record
 * can only come from a confused or hostile peer.  Records on request id 0
 * are management records: their content is skipped whatever their type.
 */

#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fastcgi.h>

#include "fpmprobe.h"

/* The longest length a name-value pair can carry: 31 bits. */
#define FCGI_NV_LEN_MAX		0x7fffffffUL

static void	seterr(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	record_add(struct buf *, int, uint16_t, const void *, size_t);
static size_t	nv_len_size(size_t);
static size_t	nv_len_put(uint8_t *, size_t);
static int	record_begin(struct fcgi_decoder *, char *, size_t);
static int	record_content(struct fcgi_decoder *, const uint8_t *, size_t,
		    const struct fcgi_sink *);
static int	cgi_status_parse(const char *, size_t, int *);

/* Write an error message if the caller gave room for one. */
static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Append one record: header, content, zero padding to a multiple of 8. */
static void
record_add(struct buf *b, int type, uint16_t reqid, const void *data,
    size_t len)
{
	static const uint8_t	 zero[8];
	FCGI_Header		 h;
	size_t			 pad = (8 - len % 8) % 8;

	if (len > FCGI_MAX_LENGTH)
		fatalx("FastCGI record of %zu bytes", len);
	memset(&h, 0, sizeof(h));
	h.version = FCGI_VERSION_1;
	h.type = (unsigned char)type;
	h.requestIdB1 = (unsigned char)(reqid >> 8);
	h.requestIdB0 = (unsigned char)reqid;
	h.contentLengthB1 = (unsigned char)(len >> 8);
	h.contentLengthB0 = (unsigned char)len;
	h.paddingLength = (unsigned char)pad;
	buf_add(b, &h, FCGI_HEADER_LEN);
	buf_add(b, data, len);
	buf_add(b, zero, pad);
}

/* Append a BEGIN_REQUEST record. */
void
fcgi_encode_begin(struct buf *b, uint16_t reqid, uint16_t role, uint8_t flags)
{
	FCGI_BeginRequestBody	 body;

	memset(&body, 0, sizeof(body));
	body.roleB1 = (unsigned char)(role >> 8);
	body.roleB0 = (unsigned char)role;
	body.flags = flags;
	record_add(b, FCGI_BEGIN_REQUEST, reqid, &body, sizeof(body));
}

/*
 * Append the pairs as one PARAMS stream: records of at most
 * FCGI_MAX_LENGTH bytes (a pair may span records), then the empty record
 * that ends the stream.
 */
void
fcgi_encode_params(struct buf *b, uint16_t reqid, const struct fcgi_param *p,
    size_t n)
{
	struct buf	 pairs;
	uint8_t		*pair;
	size_t		 i, nl, vl, need;

	memset(&pairs, 0, sizeof(pairs));
	for (i = 0; i < n; i++) {
		nl = strlen(p[i].name);
		vl = strlen(p[i].value);
		need = fcgi_nv_encode(NULL, 0, p[i].name, nl, p[i].value, vl);
		pair = xcalloc(1, need);
		fcgi_nv_encode(pair, need, p[i].name, nl, p[i].value, vl);
		buf_add(&pairs, pair, need);
		free(pair);
	}
	if (pairs.len > 0)
		fcgi_encode_stream(b, FCGI_PARAMS, reqid, pairs.data,
		    pairs.len);
	fcgi_encode_stream(b, FCGI_PARAMS, reqid, NULL, 0);
	buf_free(&pairs);
}

/*
 * Append data as records of one stream type; with no data, the empty
 * record that ends the stream.
 */
void
fcgi_encode_stream(struct buf *b, int type, uint16_t reqid, const void *data,
    size_t len)
{
	const uint8_t	*p = data;
	size_t		 n;

	if (len == 0) {
		record_add(b, type, reqid, NULL, 0);
		return;
	}
	while (len > 0) {
		n = len > FCGI_MAX_LENGTH ? FCGI_MAX_LENGTH : len;
		record_add(b, type, reqid, p, n);
		p += n;
		len -= n;
	}
}

/* How many bytes a pair length takes on the wire. */
static size_t
nv_len_size(size_t len)
{
	return len < 128 ? 1 : 4;
}

/* Write a pair length: one byte below 128, else four with the top bit. */
static size_t
nv_len_put(uint8_t *out, size_t len)
{
	if (len < 128) {
		out[0] = (uint8_t)len;
		return 1;
	}
	out[0] = (uint8_t)((len >> 24) | 0x80);
	out[1] = (uint8_t)(len >> 16);
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	return 4;
}

/*
 * Encode one pair into out.  Returns the bytes it takes; when outlen is
 * too small nothing is written, so a first call with no room sizes it.
 */
size_t
fcgi_nv_encode(uint8_t *out, size_t outlen, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	size_t	 need, k;

	if (namelen > FCGI_NV_LEN_MAX || valuelen > FCGI_NV_LEN_MAX ||
	    namelen + valuelen > SIZE_MAX - 8)
		fatalx("FastCGI name-value pair too long");
	need = nv_len_size(namelen) + nv_len_size(valuelen) + namelen +
	    valuelen;
	if (out == NULL || outlen < need)
		return need;
	k = nv_len_put(out, namelen);
	k += nv_len_put(out + k, valuelen);
	if (namelen > 0)
		memcpy(out + k, name, namelen);
	if (valuelen > 0)
		memcpy(out + k + namelen, value, valuelen);
	return need;
}

/* Start a decoder before the first byte of the response to request id. */
void
fcgi_decoder_init(struct fcgi_decoder *d, uint16_t id)
{
	memset(d, 0, sizeof(*d));
	d->expect_id = id;
}

/*
 * A complete record header is in d->hdr: check it, set up its content.
 * A bad header stays in d->hdr and d->type becomes -1, so that the error
 * can be told again.
 */
static int
record_begin(struct fcgi_decoder *d, char *err, size_t errlen)
{
	const FCGI_Header	*h = (const FCGI_Header *)d->hdr;
	uint16_t		 reqid;
	size_t			 clen;

	d->type = -1;
	reqid = (uint16_t)(h->requestIdB1 << 8 | h->requestIdB0);
	clen = (size_t)h->contentLengthB1 << 8 | h->contentLengthB0;
	if (h->version != FCGI_VERSION_1) {
		seterr(err, errlen, "bad FastCGI version %u", h->version);
		return -1;
	}
	if (reqid != FCGI_NULL_REQUEST_ID && reqid != d->expect_id) {
		seterr(err, errlen, "record type %u for request id %u, not %u",
		    h->type, reqid, d->expect_id);
		return -1;
	}
	if (reqid != FCGI_NULL_REQUEST_ID) {
		switch (h->type) {
		case FCGI_STDOUT:
		case FCGI_STDERR:
			break;
		case FCGI_END_REQUEST:
			if (clen == sizeof(FCGI_EndRequestBody))
				break;
			seterr(err, errlen,
			    "END_REQUEST with content length %zu", clen);
			return -1;
		default:
			seterr(err, errlen, "unexpected record type %u",
			    h->type);
			return -1;
		}
	}
	d->type = h->type;
	d->request_id = reqid;
	d->content_left = clen;
	d->padding_left = h->paddingLength;
	d->end_have = 0;
	return 0;
}

/* Hand content bytes of the current record to where they belong. */
static int
record_content(struct fcgi_decoder *d, const uint8_t *data, size_t len,
    const struct fcgi_sink *sink)
{
	int	(*fn)(void *, const uint8_t *, size_t) = NULL;

	if (d->request_id == FCGI_NULL_REQUEST_ID)
		return 0;
	switch (d->type) {
	case FCGI_STDOUT:
		fn = sink != NULL ? sink->out : NULL;
		break;
	case FCGI_STDERR:
		fn = sink != NULL ? sink->err : NULL;
		break;
	case FCGI_END_REQUEST:
		memcpy(d->end + d->end_have, data, len);
		d->end_have += len;
		return 0;
	}
	if (fn != NULL && fn(sink->arg, data, len) == -1)
		return -1;
	return 0;
}

/*
 * Feed bytes of a response in any split.  Returns FCGI_DEC_END once the
 * whole END_REQUEST record (padding included) is read, with *consumed
 * counting the bytes up to its end; FCGI_DEC_MORE when all bytes were used;
 * FCGI_DEC_STOP when a sink refused bytes (they are not counted in
 * *consumed); FCGI_DEC_ERROR on a malformed record header, which every
 * later call reports again.  After END it consumes nothing.
 */
enum fcgi_decode_status
fcgi_decode(struct fcgi_decoder *d, const uint8_t *data, size_t len,
    size_t *consumed, const struct fcgi_sink *sink, char *err, size_t errlen)
{
	const FCGI_EndRequestBody	*end;
	size_t				 pos = 0, n;

	*consumed = 0;
	if (d->ended)
		return FCGI_DEC_END;
	if (d->type == -1) {
		record_begin(d, err, errlen);
		return FCGI_DEC_ERROR;
	}
	for (;;) {
		if (d->hdr_have < FCGI_HEADER_LEN) {
			if (pos == len)
				break;
			n = FCGI_HEADER_LEN - d->hdr_have;
			if (n > len - pos)
				n = len - pos;
			memcpy(d->hdr + d->hdr_have, data + pos, n);
			d->hdr_have += n;
			pos += n;
			if (d->hdr_have < FCGI_HEADER_LEN)
				break;
			if (record_begin(d, err, errlen) == -1) {
				*consumed = pos;
				return FCGI_DEC_ERROR;
			}
		}
		if (d->content_left > 0) {
			if (pos == len)
				break;
			n = d->content_left < len - pos ? d->content_left :
			    len - pos;
			if (record_content(d, data + pos, n, sink) == -1) {
				*consumed = pos;
				return FCGI_DEC_STOP;
			}
			d->content_left -= n;
			pos += n;
			continue;
		}
		if (d->padding_left > 0) {
			if (pos == len)
				break;
			n = d->padding_left < len - pos ? d->padding_left :
			    len - pos;
			d->padding_left -= n;
			pos += n;
			continue;
		}
		/* The record is complete. */
		d->hdr_have = 0;
		if (d->type == FCGI_END_REQUEST &&
		    d->request_id != FCGI_NULL_REQUEST_ID) {
			end = (const FCGI_EndRequestBody *)d->end;
			d->app_status = (uint32_t)end->appStatusB3 << 24 |
			    (uint32_t)end->appStatusB2 << 16 |
			    (uint32_t)end->appStatusB1 << 8 | end->appStatusB0;
			d->protocol_status = end->protocolStatus;
			d->ended = 1;
			*consumed = pos;
			return FCGI_DEC_END;
		}
	}
	*consumed = pos;
	return FCGI_DEC_MORE;
}

/* Name an END_REQUEST protocolStatus. */
const char *
fcgi_protocol_status_str(int status)
{
	switch (status) {
	case FCGI_REQUEST_COMPLETE:
		return "REQUEST_COMPLETE";
	case FCGI_CANT_MPX_CONN:
		return "CANT_MPX_CONN";
	case FCGI_OVERLOADED:
		return "OVERLOADED";
	case FCGI_UNKNOWN_ROLE:
		return "UNKNOWN_ROLE";
	default:
		return "unknown protocol status";
	}
}

/* A Status value: three digits, 100 to 999, then nothing or a reason. */
static int
cgi_status_parse(const char *v, size_t len, int *status)
{
	if (len < 3 || v[0] < '1' || v[0] > '9' || v[1] < '0' || v[1] > '9' ||
	    v[2] < '0' || v[2] > '9')
		return -1;
	if (len > 3 && v[3] != ' ' && v[3] != '\t')
		return -1;
	*status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
	return 0;
}

/*
 * Split a CGI response into its status and body (RFC 3875): header lines
 * end in CRLF or LF, an empty line ends them.  No Status means 200, or
 * 302 when there is a Location.
 */
int
cgi_parse_response(const char *data, size_t len, struct cgi_response *r,
    char *err, size_t errlen)
{
	const char	*end, *line = data, *eol, *colon, *v;
	char		 text[48];
	size_t		 linelen, vlen;
	int		 status = 0, location = 0;

	memset(r, 0, sizeof(*r));
	/* No STDOUT at all leaves data NULL: no arithmetic on it. */
	if (len == 0 || data == NULL) {
		seterr(err, errlen, "empty CGI response");
		return -1;
	}
	end = data + len;
	for (;; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(end - line));
		if (eol == NULL) {
			seterr(err, errlen,
			    "no end of CGI headers in %zu bytes", len);
			return -1;
		}
		linelen = (size_t)(eol - line);
		if (linelen > 0 && line[linelen - 1] == '\r')
			linelen--;
		if (linelen == 0)
			break;
		if ((colon = memchr(line, ':', linelen)) == NULL) {
			sanitize_text(text, sizeof(text), line, linelen);
			seterr(err, errlen, "CGI header line without ':' (%s)",
			    text);
			return -1;
		}
		v = colon + 1;
		vlen = linelen - (size_t)(v - line);
		while (vlen > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vlen--;
		}
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (colon - line == 6 && strncasecmp(line, "Status", 6) == 0) {
			if (cgi_status_parse(v, vlen, &status) == -1) {
				sanitize_text(text, sizeof(text), v, vlen);
				seterr(err, errlen, "bad CGI Status \"%s\"",
				    text);
				return -1;
			}
		} else if (colon - line == 8 &&
		    strncasecmp(line, "Location", 8) == 0)
			location = 1;
	}
	r->status = status != 0 ? status : location ? 302 : 200;
	r->body = eol + 1;
	r->bodylen = (size_t)(end - r->body);
	return 0;
}
