/*
 * The in-memory pool the policy's unit tests and its fuzz target judge:
 * one healthy fastcgi check ("app", with a result at 100 s) and the status
 * sampler, interval 2s, timeout 1s, rise and fall 2, stuck_after 10s,
 * status_listen set.  Callers change what their case needs afterwards.
 */

#ifndef POLICY_FIXTURE_H
#define POLICY_FIXTURE_H

#include <string.h>

#include "fpmprobe.h"

static void	fixture_pool(struct pool *, struct check *, struct check *);

/* Make POOL with APP and the sampler STATUS, freeing a previous sample. */
static void
fixture_pool(struct pool *pool, struct check *app, struct check *status)
{
	fpm_status_free(&pool->workers.status);
	memset(pool, 0, sizeof(*pool));
	memset(app, 0, sizeof(*app));
	memset(status, 0, sizeof(*status));
	TAILQ_INIT(&pool->checks);
	pool->name = "www";
	pool->status_path = "/fpm-status";
	pool->have_status_listen = 1;
	pool->stuck_after_ms = 10000;
	pool->timing.interval_ms = 2000;
	pool->timing.timeout_ms = 1000;
	app->name = "app";
	app->ops = &check_fcgi_ops;
	app->pool = pool;
	app->timing.interval_ms = 2000;
	app->timing.timeout_ms = 1000;
	app->timing.rise = 2;
	app->timing.fall = 2;
	app->st.healthy = 1;
	app->st.have_result = 1;
	app->st.done_us = 100 * 1000000ULL;
	TAILQ_INSERT_TAIL(&pool->checks, app, entry);
	status->name = "status";
	status->ops = &check_fpm_status_ops;
	status->pool = pool;
	status->timing.interval_ms = 2000;
	status->timing.timeout_ms = 1000;
	status->timing.rise = 2;
	status->timing.fall = 2;
	status->st.healthy = 1;
	TAILQ_INSERT_HEAD(&pool->checks, status, entry);
	pool->sampler = status;
}

#endif /* POLICY_FIXTURE_H */
