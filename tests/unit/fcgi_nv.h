/*
 * A FastCGI name-value pair decoder for the tests and the fuzzer, to
 * check what fcgi_nv_encode() writes: the daemon sends pairs and never
 * reads any, so the decoder is not part of it.
 */

#ifndef FCGI_NV_H
#define FCGI_NV_H

#include <stddef.h>
#include <stdint.h>

static int	nv_len_get(const uint8_t *, size_t, size_t *, size_t *);
static int	nv_decode(const uint8_t *, size_t, size_t *, const uint8_t **,
		    size_t *, const uint8_t **, size_t *);

/* Read a pair length at in[*off], within len bytes. */
static int
nv_len_get(const uint8_t *in, size_t len, size_t *off, size_t *out)
{
	const uint8_t	*p = in + *off;

	if (*off >= len)
		return -1;
	if ((p[0] & 0x80) == 0) {
		*out = p[0];
		*off += 1;
		return 0;
	}
	if (len - *off < 4)
		return -1;
	*out = ((size_t)(p[0] & 0x7f) << 24) | ((size_t)p[1] << 16) |
	    ((size_t)p[2] << 8) | p[3];
	*off += 4;
	return 0;
}

/*
 * Decode one pair from the first len bytes of in, to check what the
 * encoder wrote (the daemon sends pairs and never reads any); the name
 * and value point into in.  Lengths are checked against len before use.
 */
static int
nv_decode(const uint8_t *in, size_t len, size_t *used, const uint8_t **name,
    size_t *namelen, const uint8_t **value, size_t *valuelen)
{
	size_t	 off = 0, nl, vl;

	if (nv_len_get(in, len, &off, &nl) == -1 ||
	    nv_len_get(in, len, &off, &vl) == -1)
		return -1;
	if (nl > len - off || vl > len - off - nl)
		return -1;
	*name = in + off;
	*namelen = nl;
	*value = in + off + nl;
	*valuelen = vl;
	*used = off + nl + vl;
	return 0;
}

#endif /* FCGI_NV_H */
