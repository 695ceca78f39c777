/*
 * What fpmprobe's libFuzzer targets share.  A target checks the promises
 * of the code it drives and aborts when one is broken; the sanitizers
 * catch the rest.
 */

#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A promise the code under test broke: report it as a finding. */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: broken promise: %s\n",		\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* A copy of the input of exactly its size (libFuzzer's may be longer). */
static inline uint8_t *
fuzz_copy(const uint8_t *data, size_t len)
{
	uint8_t	*p = malloc(len > 0 ? len : 1);

	if (p == NULL)
		abort();
	for (size_t i = 0; i < len; i++)
		p[i] = data[i];
	return p;
}

#endif
