/*
 * FastCGI records, decoded as a probe reads them: fed in chunks whose
 * sizes the first four bytes of the input choose, then what STDOUT
 * brought parsed as the CGI response check_fcgi.c parses.
 *
 * Input: 4 bytes of split seed, then the bytes the peer sends.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"

#define REQUEST_ID	1
#define CAP		(64 * 1024)

/* What the sinks collected, under a cap as the probe's. */
struct sunk {
	struct buf	 out;
	struct buf	 err;
	size_t		 total;
};

static int
sink_out(void *arg, const uint8_t *data, size_t len)
{
	struct sunk	*s = arg;

	if (len > CAP - s->total)
		return -1;
	s->total += len;
	buf_add(&s->out, data, len);
	return 0;
}

static int
sink_err(void *arg, const uint8_t *data, size_t len)
{
	struct sunk	*s = arg;

	if (len > CAP - s->total)
		return -1;
	s->total += len;
	buf_add(&s->err, data, len);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sunk		 s;
	struct fcgi_sink	 sink = { sink_out, sink_err, &s };
	struct fcgi_decoder	 d;
	struct cgi_response	 r;
	enum fcgi_decode_status	 st = FCGI_DEC_MORE;
	uint32_t		 seed = 0;
	uint8_t			*chunk;
	size_t			 off, n, used;
	char			 err[128];

	if (size < 4)
		return 0;
	memcpy(&seed, data, 4);
	data += 4;
	size -= 4;
	memset(&s, 0, sizeof(s));
	fcgi_decoder_init(&d, REQUEST_ID);
	for (off = 0; off < size && st == FCGI_DEC_MORE; off += used) {
		/* xorshift32: 1 to 64 bytes, or all that is left. */
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		n = seed % 8 == 0 ? size - off : 1 + (seed >> 3) % 64;
		if (n > size - off)
			n = size - off;
		chunk = fuzz_copy(data + off, n);
		err[0] = '\0';
		st = fcgi_decode(&d, chunk, n, &used, &sink, err, sizeof(err));
		free(chunk);
		FUZZ_ASSERT(used <= n);
		FUZZ_ASSERT(st != FCGI_DEC_MORE || used == n);
		FUZZ_ASSERT(st != FCGI_DEC_ERROR || err[0] != '\0');
		FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
	}
	FUZZ_ASSERT(s.total <= CAP);
	if (st == FCGI_DEC_END) {
		FUZZ_ASSERT(d.ended);
		/* As check_fcgi.c: NULL and 0 when no STDOUT came. */
		err[0] = '\0';
		if (cgi_parse_response((const char *)s.out.data, s.out.len, &r,
		    err, sizeof(err)) == 0) {
			FUZZ_ASSERT(r.status >= 100 && r.status <= 999);
			FUZZ_ASSERT(r.body >= (const char *)s.out.data &&
			    r.body + r.bodylen ==
			    (const char *)s.out.data + s.out.len);
		} else
			FUZZ_ASSERT(err[0] != '\0');
	}
	buf_free(&s.out);
	buf_free(&s.err);
	return 0;
}
