/*
 * The pool's status page (plain text), parsed with fpm_status_parse() and
 * driven through the policy as the sampler hands it over: a pool and its
 * checks in memory, as tests/unit/t_policy.c builds them, the parsed
 * sample in an outcome of the status check, then the verdict and the
 * agent's answer.
 *
 * Input: 1 byte of settings (pool flavour, the other check's result),
 * then the page.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"
#include "../unit/policy_fixture.h"

#define SEC	1000000ULL

static struct pool	 pool;
static struct check	 app;
static struct check	 status;

/* A pool with one fastcgi check and a status sampler, both healthy. */
static void
pool_setup(uint8_t how)
{
	fixture_pool(&pool, &app, &status);
	pool.have_status_listen = how & 1;
	pool.max_children = how & 2 ? 4 : 0;	/* else from the page */
	pool.once = (how & 4) != 0;
	pool.admin_state = how & 8 ? ADMIN_LEAVE : ADMIN_SET;
}

/* What any verdict must be. */
static void
verdict_check(const struct verdict *v)
{
	FUZZ_ASSERT(v->state <= POOL_DRAIN);
	FUZZ_ASSERT(v->replylen > 0 && v->replylen < sizeof(v->reply));
	FUZZ_ASSERT(strlen(v->reply) == v->replylen);
	FUZZ_ASSERT(v->reply[v->replylen - 1] == '\n');
	FUZZ_ASSERT(memchr(v->reply, '\n', v->replylen) ==
	    v->reply + v->replylen - 1);
	FUZZ_ASSERT(strlen(v->reason) <= REASON_MAX);
	FUZZ_ASSERT(v->state != POOL_UP || (v->weight >= 1 &&
	    v->weight <= 100));
	for (const char *p = v->reason; *p != '\0'; p++)
		FUZZ_ASSERT(*p >= 0x20 && *p < 0x7f);
}

/* One probe outcome of check c, carrying a sample or not. */
static void
record(struct check *c, enum probe_result r, struct fpm_status *sample,
    uint64_t now)
{
	struct outcome	 o;

	memset(&o, 0, sizeof(o));
	o.result = r;
	o.phase = PH_RESPONSE;
	o.detail = "";
	o.latency_us = 1500;
	o.sample = sample;
	policy_record(c, &o, now);
	FUZZ_ASSERT(o.sample == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fpm_status	 st, *sample;
	char			*page, err[128] = "";
	uint8_t			 how;
	size_t			 i;
	int			 rc;

	if (size < 1)
		return 0;
	log_init(1, 0);
	how = data[0];
	page = (char *)fuzz_copy(data + 1, size - 1);
	memset(&st, 0, sizeof(st));
	rc = fpm_status_parse(page, size - 1, &st, err, sizeof(err));
	free(page);
	FUZZ_ASSERT(rc == 0 || err[0] != '\0');
	FUZZ_ASSERT(memchr(st.pool, '\0', sizeof(st.pool)) != NULL);
	FUZZ_ASSERT(memchr(st.pm, '\0', sizeof(st.pm)) != NULL);
	for (i = 0; i < st.nworkers; i++) {
		FUZZ_ASSERT(st.workers[i].state < FPM_W_MAX);
		FUZZ_ASSERT(memchr(st.workers[i].uri, '\0',
		    sizeof(st.workers[i].uri)) != NULL);
	}
	if (rc == -1) {
		fpm_status_free(&st);
		return 0;
	}

	pool_setup(how);
	/* The policy takes the sample, as probe_done() hands it over. */
	sample = malloc(sizeof(*sample));
	FUZZ_ASSERT(sample != NULL);
	*sample = st;
	record(&status, PR_OK, sample, 101 * SEC);
	free(sample);
	FUZZ_ASSERT(pool.workers.have);
	FUZZ_ASSERT(pool.workers.stuck + pool.workers.held <=
	    pool.workers.status.nworkers);
	verdict_check(pool_verdict(&pool, 101 * SEC));

	/* The real path times out or fails, then a second sample comes. */
	record(&app, how & 16 ? PR_TIMEOUT : how & 32 ? PR_STATUS : PR_OK,
	    NULL, 102 * SEC);
	verdict_check(pool_verdict(&pool, 102 * SEC));
	record(&app, how & 16 ? PR_TIMEOUT : PR_OK, NULL, 104 * SEC);
	verdict_check(pool_verdict(&pool, 104 * SEC));
	/* Much later: every result is stale. */
	verdict_check(pool_verdict(&pool, 200 * SEC));
	fpm_status_free(&pool.workers.status);
	return 0;
}
