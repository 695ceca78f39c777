/*
 * Unit tests of the FastCGI codec: name-value pairs and the records we
 * send (read back with a pair decoder of the test's own), the streaming
 * decoder fed in every split, hostile input, and the CGI response
 * parser.  Inputs are copied into buffers of their exact size so that
 * valgrind and ASan see any read past the end.
 */

#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fastcgi.h>

#include "fpmprobe.h"
#include "tap.h"
#include "fcgi_nv.h"

#define REQID		1
#define SEED		0x5eed2024fcULL
#define FUZZ_ROUNDS	20000

/* What one decode of a whole stream produced. */
struct decoded {
	enum fcgi_decode_status	 status;
	size_t			 consumed;
	struct buf		 out;
	struct buf		 err;
	struct fcgi_decoder	 d;
	char			 msg[128];
	int			 bad_more;	/* MORE without using all */
};

/* A sink that accepts everything, or refuses past a limit. */
struct collect {
	struct buf	*out;
	struct buf	*err;
	size_t		 limit;		/* 0: none */
	size_t		 total;
};

static uint64_t	rnd(void);
static size_t	rnd_below(size_t);
static uint8_t	*dup_exact(const void *, size_t);
static void	fill_pattern(char *, size_t, unsigned int);
static void	raw_record(struct buf *, int, int, uint16_t, const void *,
		    size_t, size_t);
static int	walk_records(const uint8_t *, size_t, int, struct buf *,
		    size_t *, int *);
static int	collect_out(void *, const uint8_t *, size_t);
static int	collect_err(void *, const uint8_t *, size_t);
static void	decode_split(const uint8_t *, size_t, size_t (*)(size_t),
		    struct decoded *, size_t);
static void	decoded_free(struct decoded *);
static size_t	split_whole(size_t);
static size_t	split_one(size_t);
static size_t	split_random(size_t);
static void	build_response(struct buf *);
static void	nv_case(size_t, size_t);
static void	test_nv_sizes(void);
static void	test_params(void);
static void	test_begin(void);
static void	test_streams(void);
static void	test_decode_splits(void);
static void	test_decode_truncated(void);
static void	test_decode_garbage(void);
static void	test_decode_stop(void);
static void	test_protocol_status(void);
static int	cgi(const char *, struct cgi_response *, char *, size_t);
static void	test_cgi(void);
static void	test_cgi_no_stdout(void);
static void	test_fuzz(void);

static uint64_t	rnd_state = SEED;

static const char *resp_out =
    "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nHello, world\n";
static const char *resp_err = "PHP Warning: x\nmore";

/* xorshift64: the same sequence on every platform. */
static uint64_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* A number in [0, n). */
static size_t
rnd_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rnd() % n);
}

/* A heap copy of exactly len bytes: any read past it is caught. */
static uint8_t *
dup_exact(const void *p, size_t len)
{
	uint8_t	*q = xcalloc(1, len);

	if (len > 0)
		memcpy(q, p, len);
	return q;
}

/* Fill with letters that depend on the position, so that shifts show. */
static void
fill_pattern(char *p, size_t len, unsigned int salt)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		p[i] = (char)('a' + (i * 7 + salt) % 26);
}

/* Append a record with any version, type and padding (padding is 0xee). */
static void
raw_record(struct buf *b, int version, int type, uint16_t id,
    const void *data, size_t len, size_t pad)
{
	uint8_t	 h[FCGI_HEADER_LEN] = { (uint8_t)version, (uint8_t)type,
	    (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(len >> 8), (uint8_t)len,
	    (uint8_t)pad, 0 };
	uint8_t	 padding[255];

	memset(padding, 0xee, sizeof(padding));
	buf_add(b, h, sizeof(h));
	buf_add(b, data, len);
	buf_add(b, padding, pad);
}

/*
 * Check records we encoded: version 1, the given type and REQID, content
 * at most 65535, zero padding to a multiple of 8.  Appends the content,
 * counts records, notes whether the last one is empty.
 */
static int
walk_records(const uint8_t *p, size_t len, int type, struct buf *content,
    size_t *nrec, int *last_empty)
{
	size_t	 off = 0, clen, plen, i;

	*nrec = 0;
	*last_empty = 0;
	while (off < len) {
		if (len - off < FCGI_HEADER_LEN)
			return -1;
		if (p[off] != FCGI_VERSION_1 || p[off + 1] != type ||
		    p[off + 2] != (REQID >> 8) || p[off + 3] != (REQID & 0xff))
			return -1;
		clen = (size_t)p[off + 4] << 8 | p[off + 5];
		plen = p[off + 6];
		if ((clen + plen) % 8 != 0 || plen >= 8)
			return -1;
		off += FCGI_HEADER_LEN;
		if (len - off < clen + plen)
			return -1;
		buf_add(content, p + off, clen);
		for (i = 0; i < plen; i++)
			if (p[off + clen + i] != 0)
				return -1;
		off += clen + plen;
		(*nrec)++;
		*last_empty = clen == 0;
	}
	return 0;
}

/* Sink for STDOUT. */
static int
collect_out(void *arg, const uint8_t *data, size_t len)
{
	struct collect	*c = arg;

	if (c->limit > 0 && c->total + len > c->limit)
		return -1;
	c->total += len;
	buf_add(c->out, data, len);
	return 0;
}

/* Sink for STDERR. */
static int
collect_err(void *arg, const uint8_t *data, size_t len)
{
	struct collect	*c = arg;

	if (c->limit > 0 && c->total + len > c->limit)
		return -1;
	c->total += len;
	buf_add(c->err, data, len);
	return 0;
}

/*
 * Decode a stream fed in chunks whose sizes next() chooses, each chunk in
 * its own exact-size buffer.  Stops at the first status other than MORE.
 */
static void
decode_split(const uint8_t *p, size_t len, size_t (*next)(size_t),
    struct decoded *r, size_t limit)
{
	struct collect		 c;
	struct fcgi_sink	 sink = { collect_out, collect_err, &c };
	uint8_t			*chunk;
	size_t			 off = 0, n, used;

	memset(r, 0, sizeof(*r));
	memset(&c, 0, sizeof(c));
	c.out = &r->out;
	c.err = &r->err;
	c.limit = limit;
	fcgi_decoder_init(&r->d, REQID);
	r->status = FCGI_DEC_MORE;
	while (off < len) {
		n = next(len - off);
		chunk = dup_exact(p + off, n);
		r->status = fcgi_decode(&r->d, chunk, n, &used, &sink, r->msg,
		    sizeof(r->msg));
		free(chunk);
		if (used > n)
			r->bad_more = 1;
		off += used;
		if (r->status != FCGI_DEC_MORE)
			break;
		if (used != n)
			r->bad_more = 1;
	}
	r->consumed = off;
}

/* Release what a decode collected. */
static void
decoded_free(struct decoded *r)
{
	buf_free(&r->out);
	buf_free(&r->err);
}

/* Feed everything at once. */
static size_t
split_whole(size_t left)
{
	return left;
}

/* Feed one byte at a time. */
static size_t
split_one(size_t left)
{
	return left > 0 ? 1 : 0;
}

/* Feed chunks of random sizes, mostly small. */
static size_t
split_random(size_t left)
{
	size_t	 n;

	n = rnd_below(4) == 0 ? 1 + rnd_below(300) : 1 + rnd_below(12);
	return n < left ? n : left;
}

/*
 * A valid response as php-fpm might send it, and then some: STDOUT and
 * STDERR interleaved, padding of odd sizes, a management record, empty
 * end-of-stream records, END_REQUEST with padding, then trailing bytes.
 */
static void
build_response(struct buf *b)
{
	uint8_t	 end[8] = { 1, 2, 3, 4, FCGI_REQUEST_COMPLETE, 0, 0, 0 };

	raw_record(b, 1, FCGI_STDERR, REQID, "PHP Warning: x\n", 15, 3);
	raw_record(b, 1, FCGI_STDOUT, REQID,
	    "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n", 44, 0);
	raw_record(b, 1, FCGI_GET_VALUES_RESULT, 0, "abc", 3, 5);
	raw_record(b, 1, FCGI_STDOUT, REQID, "Hello, ", 7, 255);
	raw_record(b, 1, FCGI_STDERR, REQID, "more", 4, 0);
	raw_record(b, 1, FCGI_STDOUT, REQID, "world\n", 6, 2);
	raw_record(b, 1, FCGI_STDERR, REQID, NULL, 0, 0);
	raw_record(b, 1, FCGI_STDOUT, REQID, NULL, 0, 0);
	raw_record(b, 1, FCGI_END_REQUEST, REQID, end, sizeof(end), 3);
}

/* One pair of the given sizes: encoded, decoded, sent as PARAMS. */
static void
nv_case(size_t nl, size_t vl)
{
	const uint8_t		*name, *value;
	struct buf		 req, content;
	struct fcgi_param	 param;
	size_t			 want, used, gotnl, gotvl, nrec;
	int			 last_empty, okay;
	char			*n, *v;
	uint8_t			*enc, *in;

	n = xcalloc(1, nl + 1);
	v = xcalloc(1, vl + 1);
	fill_pattern(n, nl, 1);
	fill_pattern(v, vl, 5);
	want = (nl < 128 ? 1 : 4) + (vl < 128 ? 1 : 4) + nl + vl;
	enc = xcalloc(1, want);
	memset(enc, 0xaa, want);
	okay = fcgi_nv_encode(NULL, 0, n, nl, v, vl) == want &&
	    fcgi_nv_encode(enc, want - 1, n, nl, v, vl) == want &&
	    enc[0] == 0xaa && enc[want - 1] == 0xaa &&
	    fcgi_nv_encode(enc, want, n, nl, v, vl) == want;
	ok(okay, "nv encode %zu/%zu: %zu bytes, sizes itself", nl, vl, want);

	in = dup_exact(enc, want);
	okay = nv_decode(in, want, &used, &name, &gotnl, &value,
	    &gotvl) == 0 && used == want && gotnl == nl && gotvl == vl &&
	    memcmp(name, n, nl) == 0 && memcmp(value, v, vl) == 0 &&
	    nv_decode(in, want - 1, &used, &name, &gotnl, &value,
	    &gotvl) == -1;
	ok(okay, "nv decode %zu/%zu round trip, short is -1", nl, vl);
	free(in);

	memset(&req, 0, sizeof(req));
	memset(&content, 0, sizeof(content));
	param.name = n;
	param.value = v;
	fcgi_encode_params(&req, REQID, &param, 1);
	okay = walk_records(req.data, req.len, FCGI_PARAMS, &content, &nrec,
	    &last_empty) == 0 && last_empty &&
	    nrec == 2 + (want - 1) / FCGI_MAX_LENGTH &&
	    content.len == want && memcmp(content.data, enc, want) == 0;
	in = dup_exact(content.data, content.len);
	okay = okay && nv_decode(in, content.len, &used, &name, &gotnl,
	    &value, &gotvl) == 0 && used == want && gotnl == nl &&
	    gotvl == vl && memcmp(name, n, nl) == 0 &&
	    memcmp(value, v, vl) == 0;
	ok(okay, "params %zu/%zu: %zu records reassemble", nl, vl, nrec);
	free(in);
	buf_free(&req);
	buf_free(&content);
	free(enc);
	free(n);
	free(v);
}

/* Pairs with names and values of 0 to 200000 bytes, in and out. */
static void
test_nv_sizes(void)
{
	static const size_t	 sizes[] = { 0, 1, 127, 128, 65535, 65536,
	    200000 };
	const size_t		 ns = sizeof(sizes) / sizeof(sizes[0]);
	size_t			 i, j;

	for (i = 0; i < ns; i++)
		for (j = 0; j < ns; j++)
			nv_case(sizes[i], sizes[j]);
}

/* Several pairs in one PARAMS stream, and none at all. */
static void
test_params(void)
{
	static const struct fcgi_param	 p[] = {
		{ "SCRIPT_FILENAME", "/var/www/status.php" },
		{ "QUERY_STRING", "" },
		{ "REQUEST_METHOD", "GET" },
		{ "", "empty name" },
	};
	static const uint8_t		 empty[] = { 1, FCGI_PARAMS, 0, REQID,
	    0, 0, 0, 0 };
	const uint8_t			*name, *value;
	struct buf			 req, content;
	size_t				 i, off, used, nl, vl, nrec;
	int				 last_empty, okay;

	memset(&req, 0, sizeof(req));
	memset(&content, 0, sizeof(content));
	fcgi_encode_params(&req, REQID, p, 4);
	ok(walk_records(req.data, req.len, FCGI_PARAMS, &content, &nrec,
	    &last_empty) == 0 && nrec == 2 && last_empty,
	    "four pairs: one record and the empty one");
	okay = 1;
	for (i = 0, off = 0; i < 4 && okay; i++) {
		okay = nv_decode(content.data + off, content.len - off,
		    &used, &name, &nl, &value, &vl) == 0 &&
		    nl == strlen(p[i].name) && vl == strlen(p[i].value) &&
		    memcmp(name, p[i].name, nl) == 0 &&
		    memcmp(value, p[i].value, vl) == 0;
		off += used;
	}
	ok(okay && off == content.len, "the pairs decode in order");
	buf_reset(&req);
	fcgi_encode_params(&req, REQID, NULL, 0);
	ok(req.len == sizeof(empty) && memcmp(req.data, empty,
	    sizeof(empty)) == 0, "no pairs: just the empty PARAMS record");
	buf_free(&req);
	buf_free(&content);
}

/* BEGIN_REQUEST, byte for byte. */
static void
test_begin(void)
{
	static const uint8_t	 want1[] = { 1, 1, 0, 1, 0, 8, 0, 0,
	    0, 1, 0, 0, 0, 0, 0, 0 };
	static const uint8_t	 want2[] = { 1, 1, 0x12, 0x34, 0, 8, 0, 0,
	    0, 3, 1, 0, 0, 0, 0, 0 };
	struct buf		 b;

	memset(&b, 0, sizeof(b));
	fcgi_encode_begin(&b, REQID, FCGI_RESPONDER, 0);
	ok(b.len == sizeof(want1) && memcmp(b.data, want1, b.len) == 0,
	    "BEGIN_REQUEST id 1, responder, no flags");
	buf_reset(&b);
	fcgi_encode_begin(&b, 0x1234, FCGI_FILTER, FCGI_KEEP_CONN);
	ok(b.len == sizeof(want2) && memcmp(b.data, want2, b.len) == 0,
	    "BEGIN_REQUEST id 0x1234, filter, keep-conn");
	buf_free(&b);
}

/* STDIN-style streams at the record size boundaries. */
static void
test_streams(void)
{
	static const size_t	 sizes[] = { 65535, 65536, 200000 };
	static const size_t	 records[] = { 1, 2, 4 };
	static const uint8_t	 empty[] = { 1, FCGI_STDIN, 0, REQID, 0, 0, 0,
	    0 };
	struct buf		 b, content;
	size_t			 i, nrec;
	int			 last_empty;
	char			*data;

	memset(&b, 0, sizeof(b));
	memset(&content, 0, sizeof(content));
	fcgi_encode_stream(&b, FCGI_STDIN, REQID, NULL, 0);
	ok(b.len == sizeof(empty) && memcmp(b.data, empty, b.len) == 0,
	    "0 bytes: the empty end-of-stream record");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		data = xcalloc(1, sizes[i]);
		fill_pattern(data, sizes[i], 3);
		buf_reset(&b);
		buf_reset(&content);
		fcgi_encode_stream(&b, FCGI_STDIN, REQID, data, sizes[i]);
		ok(walk_records(b.data, b.len, FCGI_STDIN, &content, &nrec,
		    &last_empty) == 0 && nrec == records[i] && !last_empty &&
		    content.len == sizes[i] &&
		    memcmp(content.data, data, sizes[i]) == 0 &&
		    b.len % 8 == 0,
		    "%zu bytes: %zu padded records, same bytes", sizes[i],
		    records[i]);
		free(data);
	}
	buf_free(&b);
	buf_free(&content);
}

/* The valid response decodes the same in every split. */
static void
test_decode_splits(void)
{
	struct buf	 b;
	struct decoded	 r;
	size_t		 full, i;
	int		 okay = 1;

	memset(&b, 0, sizeof(b));
	build_response(&b);
	full = b.len;
	buf_add(&b, "TRAILER", 7);

	decode_split(b.data, b.len, split_whole, &r, 0);
	is_int(r.status, FCGI_DEC_END, "whole: END");
	is_int(r.consumed, full, "whole: consumed up to END_REQUEST only");
	is_str((char *)r.out.data, resp_out, "whole: STDOUT");
	is_str((char *)r.err.data, resp_err, "whole: STDERR");
	ok(r.d.ended && r.d.app_status == 0x01020304 &&
	    r.d.protocol_status == FCGI_REQUEST_COMPLETE &&
	    r.d.request_id == REQID, "whole: appStatus, protocolStatus, id");
	decoded_free(&r);

	decode_split(b.data, b.len, split_one, &r, 0);
	ok(r.status == FCGI_DEC_END && r.consumed == full && !r.bad_more &&
	    strcmp((char *)r.out.data, resp_out) == 0 &&
	    strcmp((char *)r.err.data, resp_err) == 0 &&
	    r.d.app_status == 0x01020304, "one byte at a time");
	decoded_free(&r);

	for (i = 0; i < 500; i++) {
		decode_split(b.data, b.len, split_random, &r, 0);
		if (r.status != FCGI_DEC_END || r.consumed != full ||
		    r.bad_more || strcmp((char *)r.out.data, resp_out) != 0 ||
		    strcmp((char *)r.err.data, resp_err) != 0 ||
		    r.d.app_status != 0x01020304)
			okay = 0;
		decoded_free(&r);
	}
	ok(okay, "500 random splits");

	{
		struct fcgi_decoder	 d;
		size_t			 used;

		fcgi_decoder_init(&d, REQID);
		ok(fcgi_decode(&d, b.data, b.len, &used, NULL, NULL, 0) ==
		    FCGI_DEC_END && used == full, "no sink: all discarded");
		ok(fcgi_decode(&d, b.data + full, 7, &used, NULL, NULL, 0) ==
		    FCGI_DEC_END && used == 0, "after END nothing is consumed");
	}
	buf_free(&b);
}

/* Every prefix of a valid response wants more; only the whole one ends. */
static void
test_decode_truncated(void)
{
	struct buf	 b;
	struct decoded	 r;
	size_t		 len;
	int		 okay = 1, ends = 0;

	memset(&b, 0, sizeof(b));
	build_response(&b);
	for (len = 0; len <= b.len; len++) {
		decode_split(b.data, len, split_whole, &r, 0);
		if (r.status == FCGI_DEC_END)
			ends++;
		if (len < b.len && (r.status != FCGI_DEC_MORE ||
		    r.consumed != len || r.bad_more))
			okay = 0;
		decoded_free(&r);
		decode_split(b.data, len, split_one, &r, 0);
		if (len < b.len && r.status != FCGI_DEC_MORE)
			okay = 0;
		decoded_free(&r);
	}
	ok(okay, "every one of %zu prefixes gives MORE", b.len);
	is_int(ends, 1, "only the whole response gives END");
	buf_free(&b);
}

/* Malformed records are errors with a message an operator can read. */
static void
test_decode_garbage(void)
{
	static const char	*http = "HTTP/1.1 200 OK\r\n\r\n";
	uint8_t			 end[8] = { 0 };
	struct buf		 b;
	struct decoded		 r;
	struct fcgi_decoder	 d;
	char			 msg[64];
	size_t			 used;

	decode_split((const uint8_t *)http, strlen(http), split_whole, &r, 0);
	ok(r.status == FCGI_DEC_ERROR, "an HTTP answer is an error");
	is_str(r.msg, "bad FastCGI version 72", "its message");
	decoded_free(&r);
	decode_split((const uint8_t *)http, strlen(http), split_one, &r, 0);
	is_str(r.msg, "bad FastCGI version 72", "the same one byte at a time");
	decoded_free(&r);

	memset(&b, 0, sizeof(b));
	raw_record(&b, 1, FCGI_GET_VALUES, REQID, "ab", 2, 6);
	decode_split(b.data, b.len, split_whole, &r, 0);
	ok(r.status == FCGI_DEC_ERROR, "type 9 on our request id: error");
	is_str(r.msg, "unexpected record type 9", "its message");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 1, FCGI_BEGIN_REQUEST, REQID, end, 8, 0);
	decode_split(b.data, b.len, split_whole, &r, 0);
	is_str(r.msg, "unexpected record type 1",
	    "a BEGIN_REQUEST from the responder");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 1, FCGI_UNKNOWN_TYPE, REQID, end, 8, 0);
	decode_split(b.data, b.len, split_whole, &r, 0);
	is_str(r.msg, "unexpected record type 11",
	    "a management type on our request id");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 1, FCGI_STDOUT, REQID, "x", 1, 7);
	raw_record(&b, 1, FCGI_END_REQUEST, REQID, end, 3, 5);
	decode_split(b.data, b.len, split_one, &r, 0);
	ok(r.status == FCGI_DEC_ERROR && r.consumed == 24,
	    "END_REQUEST of 3 bytes: error at its header");
	is_str(r.msg, "END_REQUEST with content length 3", "its message");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 1, FCGI_END_REQUEST, REQID, "0123456789", 10, 6);
	decode_split(b.data, b.len, split_whole, &r, 0);
	is_str(r.msg, "END_REQUEST with content length 10",
	    "END_REQUEST of 10 bytes");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 2, FCGI_STDOUT, REQID, "x", 1, 7);
	fcgi_decoder_init(&d, REQID);
	ok(fcgi_decode(&d, b.data, b.len, &used, NULL, msg, sizeof(msg)) ==
	    FCGI_DEC_ERROR && used == 8, "version 2: error after the header");
	msg[0] = '\0';
	ok(fcgi_decode(&d, b.data + used, b.len - used, &used, NULL, msg,
	    sizeof(msg)) == FCGI_DEC_ERROR && used == 0 &&
	    strcmp(msg, "bad FastCGI version 2") == 0,
	    "a later call reports the error again");

	buf_reset(&b);
	raw_record(&b, 1, FCGI_UNKNOWN_TYPE, 0, end, 8, 0);
	raw_record(&b, 1, 200, 0, "zz", 2, 0);
	raw_record(&b, 1, FCGI_STDOUT, REQID, "x", 1, 0);
	decode_split(b.data, b.len, split_whole, &r, 0);
	ok(r.status == FCGI_DEC_MORE && r.consumed == b.len &&
	    strcmp((char *)r.out.data, "x") == 0,
	    "records on request id 0 are skipped");
	decoded_free(&r);

	buf_reset(&b);
	end[4] = FCGI_OVERLOADED;
	raw_record(&b, 1, FCGI_END_REQUEST, REQID, end, 8, 0);
	decode_split(b.data, b.len, split_whole, &r, 0);
	ok(r.status == FCGI_DEC_END && r.d.protocol_status == FCGI_OVERLOADED,
	    "END_REQUEST alone: OVERLOADED read");
	decoded_free(&r);

	/* One request per connection: any other id is a protocol error. */
	buf_reset(&b);
	raw_record(&b, 1, FCGI_STDOUT, 7, "x", 1, 0);
	end[4] = FCGI_REQUEST_COMPLETE;
	raw_record(&b, 1, FCGI_END_REQUEST, 7, end, 8, 0);
	decode_split(b.data, b.len, split_whole, &r, 0);
	ok(r.status == FCGI_DEC_ERROR && r.out.len == 0 && r.consumed == 8,
	    "STDOUT for request id 7: an error, nothing delivered");
	is_str(r.msg, "record type 6 for request id 7, not 1", "its message");
	decoded_free(&r);

	buf_reset(&b);
	raw_record(&b, 1, FCGI_STDOUT, REQID, "x", 1, 0);
	raw_record(&b, 1, FCGI_END_REQUEST, 2, end, 8, 0);
	decode_split(b.data, b.len, split_one, &r, 0);
	ok(r.status == FCGI_DEC_ERROR && !r.d.ended &&
	    strcmp(r.msg, "record type 3 for request id 2, not 1") == 0,
	    "END_REQUEST for another request does not end ours (%s)", r.msg);
	decoded_free(&r);
	buf_free(&b);
}

/* A sink that refuses stops the decoder before the refused bytes. */
static void
test_decode_stop(void)
{
	struct buf		 b, out, err;
	struct collect		 c;
	struct fcgi_sink	 sink = { collect_out, collect_err, &c };
	struct fcgi_decoder	 d;
	struct decoded		 r;
	size_t			 used, off;

	memset(&b, 0, sizeof(b));
	build_response(&b);
	decode_split(b.data, b.len, split_whole, &r, 20);
	ok(r.status == FCGI_DEC_STOP, "a sink past its cap: STOP");
	is_int(r.consumed, 34, "the refused record's content is not consumed");
	decoded_free(&r);
	decode_split(b.data, b.len, split_one, &r, 20);
	ok(r.status == FCGI_DEC_STOP && r.out.len + r.err.len <= 20,
	    "STOP one byte at a time, within the cap");
	decoded_free(&r);

	/* Refused bytes are delivered again once the sink takes them. */
	memset(&out, 0, sizeof(out));
	memset(&err, 0, sizeof(err));
	memset(&c, 0, sizeof(c));
	c.out = &out;
	c.err = &err;
	c.limit = 20;
	fcgi_decoder_init(&d, REQID);
	ok(fcgi_decode(&d, b.data, b.len, &off, &sink, NULL, 0) ==
	    FCGI_DEC_STOP, "stopped");
	c.limit = 0;
	ok(fcgi_decode(&d, b.data + off, b.len - off, &used, &sink, NULL,
	    0) == FCGI_DEC_END && off + used == b.len &&
	    strcmp((char *)out.data, resp_out) == 0 &&
	    strcmp((char *)err.data, resp_err) == 0,
	    "resumed after STOP: the same response");
	buf_free(&out);
	buf_free(&err);
	buf_free(&b);
}

/* Names of END_REQUEST protocol statuses. */
static void
test_protocol_status(void)
{
	is_str(fcgi_protocol_status_str(FCGI_REQUEST_COMPLETE),
	    "REQUEST_COMPLETE", "0");
	is_str(fcgi_protocol_status_str(FCGI_CANT_MPX_CONN), "CANT_MPX_CONN",
	    "1");
	is_str(fcgi_protocol_status_str(FCGI_OVERLOADED), "OVERLOADED", "2");
	is_str(fcgi_protocol_status_str(FCGI_UNKNOWN_ROLE), "UNKNOWN_ROLE",
	    "3");
	is_str(fcgi_protocol_status_str(4), "unknown protocol status", "4");
	is_str(fcgi_protocol_status_str(-1), "unknown protocol status", "-1");
}

/* Parse a CGI response from an exact-size copy (no NUL after it). */
static int
cgi(const char *s, struct cgi_response *r, char *err, size_t errlen)
{
	static uint8_t	*last;
	int		 rc;

	free(last);
	last = strlen(s) > 0 ? dup_exact(s, strlen(s)) : NULL;
	err[0] = '\0';
	rc = cgi_parse_response((const char *)last, strlen(s), r, err,
	    errlen);
	if (rc == 0 && (r->body < (const char *)last ||
	    r->body + r->bodylen != (const char *)last + strlen(s)))
		rc = -2;
	return rc;
}

/* The CGI response php-fpm writes on STDOUT. */
static void
test_cgi(void)
{
	static const char	*bad_status[] = { "abc", "20", "2000", "099",
	    "", "200x", "-200", " 2 00" };
	struct cgi_response	 r;
	char			 err[128], in[64];
	size_t			 i;

	ok(cgi("Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n"
	    "gone", &r, err, sizeof(err)) == 0 && r.status == 404 &&
	    r.bodylen == 4 && memcmp(r.body, "gone", 4) == 0,
	    "Status 404 and the body");
	ok(cgi("Content-Type: text/plain\r\n\r\nOK\n", &r, err,
	    sizeof(err)) == 0 && r.status == 200 && r.bodylen == 3,
	    "no Status: 200");
	ok(cgi("Location: /elsewhere\r\n\r\n", &r, err, sizeof(err)) == 0 &&
	    r.status == 302 && r.bodylen == 0, "Location alone: 302");
	ok(cgi("location: /x\r\nStatus: 301 Moved\r\n\r\n", &r, err,
	    sizeof(err)) == 0 && r.status == 301,
	    "Location with Status: the Status");
	ok(cgi("sTaTuS:\t503\tBusy  \n\nx", &r, err, sizeof(err)) == 0 &&
	    r.status == 503 && r.bodylen == 1,
	    "names are case-insensitive, tabs around the value");
	ok(cgi("Status: 999\r\n\r\n", &r, err, sizeof(err)) == 0 &&
	    r.status == 999, "999 is a status");
	ok(cgi("Content-Type: text/plain\nX-A: b\n\nhello\n", &r, err,
	    sizeof(err)) == 0 && r.status == 200 && r.bodylen == 6 &&
	    memcmp(r.body, "hello\n", 6) == 0, "LF-only lines");
	ok(cgi("Status: 200\r\n\r\na\r\n\r\nb", &r, err, sizeof(err)) == 0 &&
	    r.bodylen == 6 && memcmp(r.body, "a\r\n\r\nb", 6) == 0,
	    "a blank line inside the body stays in the body");
	ok(cgi("\r\nbody", &r, err, sizeof(err)) == 0 && r.status == 200 &&
	    r.bodylen == 4, "no headers at all");
	for (i = 0; i < sizeof(bad_status) / sizeof(bad_status[0]); i++) {
		snprintf(in, sizeof(in), "Status: %s\r\n\r\n", bad_status[i]);
		ok(cgi(in, &r, err, sizeof(err)) == -1 &&
		    strstr(err, "Status") != NULL,
		    "bad Status \"%s\": %s", bad_status[i], err);
	}
	ok(cgi("Content-Type: text/plain\r\n", &r, err, sizeof(err)) == -1 &&
	    strstr(err, "no end of CGI headers") != NULL,
	    "no blank line: %s", err);
	ok(cgi("Content-Type: text/plain", &r, err, sizeof(err)) == -1,
	    "no newline at all");
	ok(cgi("", &r, err, sizeof(err)) == -1 && strcmp(err,
	    "empty CGI response") == 0, "empty: %s", err);
	ok(cgi("HTTP/1.1 200 OK\r\n\r\n", &r, err, sizeof(err)) == -1 &&
	    strstr(err, "without ':'") != NULL, "no colon: %s", err);
	ok(cgi("X: y\r\n\r", &r, err, sizeof(err)) == -1,
	    "a lone CR is not a blank line");
	/* An empty input releases the last copy. */
	cgi("", &r, err, sizeof(err));
	test_cgi_no_stdout();
}

/*
 * A peer that sends END_REQUEST and no STDOUT at all: the decoder leaves
 * the output buffer unallocated, and the parser gets (NULL, 0), as
 * check_fcgi.c hands it over.
 */
static void
test_cgi_no_stdout(void)
{
	static const uint8_t	 wire[16] = { 1, 3, 0, 1, 0, 8, 0, 0,
				    0, 0, 0, 0, 0, 0, 0, 0 };
	struct cgi_response	 r;
	struct decoded		 d;
	char			 err[128] = "";

	decode_split(wire, sizeof(wire), split_whole, &d, 0);
	ok(d.status == FCGI_DEC_END && d.out.data == NULL && d.out.len == 0,
	    "END_REQUEST alone: no STDOUT buffer at all");
	ok(cgi_parse_response((const char *)d.out.data, d.out.len, &r, err,
	    sizeof(err)) == -1 && strcmp(err, "empty CGI response") == 0,
	    "(NULL, 0): %s", err);
	decoded_free(&d);
}

/*
 * Random bytes and mutated valid streams, fed in random splits, must
 * never crash or read out of bounds; neither must the other parsers.
 */
static void
test_fuzz(void)
{
	struct buf		 valid, b;
	struct decoded		 r;
	struct cgi_response	 cr;
	uint8_t			*in;
	char			 err[128];
	size_t			 i, k, len;
	int			 okay = 1, cgi_ok = 1;
	int			 seen[4] = { 0, 0, 0, 0 };

	memset(&valid, 0, sizeof(valid));
	memset(&b, 0, sizeof(b));
	build_response(&valid);
	for (i = 0; i < FUZZ_ROUNDS; i++) {
		buf_reset(&b);
		if (i % 2 == 0) {
			len = rnd_below(300);
			for (k = 0; k < len; k++) {
				uint8_t c = (uint8_t)rnd();
				/* Often a plausible header byte. */
				if (k % 8 == 0 && rnd_below(2) == 0)
					c = 1;
				else if (k % 8 == 1 && rnd_below(2) == 0)
					c = (uint8_t)(6 + rnd_below(3));
				buf_add(&b, &c, 1);
			}
		} else {
			buf_add(&b, valid.data, valid.len);
			for (k = rnd_below(6); k > 0; k--)
				b.data[rnd_below(b.len)] = (uint8_t)rnd();
			if (rnd_below(3) == 0)
				b.len = rnd_below(b.len + 1);
		}
		decode_split(b.data, b.len, i % 3 == 0 ? split_one :
		    split_random, &r, rnd_below(2) ? 0 : 1 + rnd_below(64));
		if (r.consumed > b.len || r.bad_more ||
		    (r.status == FCGI_DEC_ERROR && r.msg[0] == '\0'))
			okay = 0;
		if ((unsigned int)r.status < 4)
			seen[r.status]++;
		decoded_free(&r);

		in = dup_exact(b.data, b.len);
		if (cgi_parse_response((const char *)in, b.len, &cr, err,
		    sizeof(err)) == 0 && (cr.body < (const char *)in ||
		    cr.body + cr.bodylen != (const char *)in + b.len))
			cgi_ok = 0;
		free(in);
	}
	ok(okay, "decoder: %d rounds (%d MORE, %d END, %d ERROR, %d STOP)",
	    FUZZ_ROUNDS, seen[FCGI_DEC_MORE], seen[FCGI_DEC_END],
	    seen[FCGI_DEC_ERROR], seen[FCGI_DEC_STOP]);
	ok(seen[FCGI_DEC_MORE] > 0 && seen[FCGI_DEC_END] > 0 &&
	    seen[FCGI_DEC_ERROR] > 0 && seen[FCGI_DEC_STOP] > 0,
	    "the fuzz reached every outcome");
	ok(cgi_ok, "CGI parser: %d rounds, bodies inside the data",
	    FUZZ_ROUNDS);
	buf_free(&valid);
	buf_free(&b);
}

int
main(void)
{
	test_nv_sizes();
	test_params();
	test_begin();
	test_streams();
	test_decode_splits();
	test_decode_truncated();
	test_decode_garbage();
	test_decode_stop();
	test_protocol_status();
	test_cgi();
	test_fuzz();
	return tap_done();
}
