/*
 * The CGI response php-fpm writes on STDOUT (cgi_parse_response), and
 * FastCGI name-value pairs (the tests' nv_decode) walked over the same bytes
 * as over a PARAMS stream, each re-encoded to check the round trip.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"
#include "../unit/fcgi_nv.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgi_response	 r;
	const uint8_t		*name, *value;
	uint8_t			*in, *again;
	size_t			 off, used, nl, vl, need;
	char			 err[128] = "";

	in = fuzz_copy(data, size);
	if (cgi_parse_response(size > 0 ? (const char *)in : NULL, size, &r,
	    err, sizeof(err)) == 0) {
		FUZZ_ASSERT(r.status >= 100 && r.status <= 999);
		FUZZ_ASSERT(r.body >= (const char *)in &&
		    r.body + r.bodylen == (const char *)in + size);
	} else
		FUZZ_ASSERT(err[0] != '\0' && strlen(err) < sizeof(err));

	for (off = 0; off < size; off += used) {
		if (nv_decode(in + off, size - off, &used, &name, &nl,
		    &value, &vl) == -1)
			break;
		FUZZ_ASSERT(used > 0 && used <= size - off);
		FUZZ_ASSERT(name >= in + off && name + nl <= in + size);
		FUZZ_ASSERT(value >= name + nl && value + vl <= in + size);
		/* What decodes encodes back to a pair of the same text. */
		need = fcgi_nv_encode(NULL, 0, (const char *)name, nl,
		    (const char *)value, vl);
		FUZZ_ASSERT(need <= used);
		again = malloc(need);
		FUZZ_ASSERT(again != NULL);
		FUZZ_ASSERT(fcgi_nv_encode(again, need, (const char *)name,
		    nl, (const char *)value, vl) == need);
		FUZZ_ASSERT(memcmp(again + need - nl - vl, name, nl) == 0);
		free(again);
	}
	free(in);
	return 0;
}
