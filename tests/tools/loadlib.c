/*
 * What the test load clients (agentc, httpload) share: the clock, the
 * peer's address, and the latency summary.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadlib.h"

/* Monotonic microseconds. */
uint64_t
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* "IPv4:PORT" into sa; -1 when it is not that.  Cuts the string. */
int
peer_parse(char *hostport, struct sockaddr_in *sa)
{
	char	*colon;

	if ((colon = strrchr(hostport, ':')) == NULL)
		return -1;
	*colon = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, hostport, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

/* Order latencies for the percentiles. */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sort N latencies and take their p50, p99 and max (0 when N is 0). */
void
lat_summary(uint64_t *lat, long n, struct lat_summary *s)
{
	memset(s, 0, sizeof(*s));
	if (n <= 0)
		return;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	s->p50_us = lat[(n - 1) / 2];
	s->p99_us = lat[(n * 99 + 99) / 100 - 1];
	s->max_us = lat[n - 1];
}
