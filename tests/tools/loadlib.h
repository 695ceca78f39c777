/*
 * What the test load clients (agentc, httpload) share: the clock, the
 * peer's address, and the latency summary.
 */

#ifndef LOADLIB_H
#define LOADLIB_H

#include <netinet/in.h>
#include <stdint.h>

/* Latencies, sorted by lat_summary(). */
struct lat_summary {
	uint64_t	 p50_us;
	uint64_t	 p99_us;
	uint64_t	 max_us;
};

uint64_t	now_us(void);
int		peer_parse(char *, struct sockaddr_in *);
void		lat_summary(uint64_t *, long, struct lat_summary *);

#endif
