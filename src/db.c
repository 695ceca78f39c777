/*
 * What the two database checks, pgsql and mysql, share: the keys both
 * read, whether a connection is kept, the capacity audit's schedule and
 * what it last read, kept between probes, and what a report makes of it.  The audit reads the server's connection limit
 * and use now and then, after a successful query; the report adds up
 * the max_children of the pools whose checks use the same server, and
 * warns when together they could open more connections than it allows,
 * less a margin.  No library here: each check reads its own numbers.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define DB_AUDIT_EVERY		10	/* probes, at least, between audits */
#define DB_AUDIT_INTERVAL_US	(60ULL * 1000000)	/* and a minute */
#define DB_TARGET_MAX		256

#define DB(field)	offsetof(struct db_conf, field)

static const struct cfg_choice reconnect_words[] = {
	{ "keep", 0 }, { "never", 0 }, { "always", 1 }, { NULL, 0 }
};

/* The keys both database checks have, for their struct db_conf. */
const struct cfg_key db_keys[] = {
	{ .name = "query", .kind = CFG_STRING, .offset = DB(sql),
	  .what = "a string", .defstr = DEFAULT_SQL },
	{ .name = "password_file", .kind = CFG_PATH,
	  .offset = DB(password_file), .flags = CFG_PRIVATE },
	{ .name = "expect", .kind = CFG_STRING, .offset = DB(expect),
	  .what = "a string" },
	{ .name = "expect_rows", .kind = CFG_UINT, .offset = DB(expect_rows),
	  .max = 1000000000, .def = -1 },
	{ .name = "reconnect", .kind = CFG_CHOICE,
	  .offset = DB(reconnect_always), .what = "keep or always",
	  .choices = reconnect_words },
	{ .name = NULL }
};

static int	db_capacity(struct config *, const struct check *, int64_t,
		    int64_t *, int64_t *);

/*
 * What a database check keeps between probes, made at its first: size
 * bytes that start with a struct db_keep, whose numbers are not known.
 */
void *
db_keep(struct check *c, size_t size)
{
	struct db_keep	*keep;

	if (c->keep != NULL)
		return c->keep;
	keep = xcalloc(1, size);
	keep->max_connections = -1;
	keep->connections = -1;
	c->keep = keep;
	return keep;
}

/*
 * May the connection be used again: after a probe that left it idle
 * (idle), unless the check connects anew every time (reconnect: always)?
 */
int
db_reuse(const struct db_conf *dc, int idle)
{
	return idle && !dc->reconnect_always;
}

/*
 * A query succeeded: is the capacity audit due, and so begun?  The first
 * success runs it, then at most every DB_AUDIT_EVERY probes and at most
 * once a minute.
 */
int
db_audit_due(struct db_keep *keep, uint64_t now)
{
	keep->since_audit++;
	if (keep->audited && (keep->since_audit < DB_AUDIT_EVERY ||
	    now - keep->audit_us < DB_AUDIT_INTERVAL_US))
		return 0;
	keep->audited = 1;
	keep->since_audit = 0;
	keep->audit_us = now;
	return 1;
}

/* The audit is over; unless it read both numbers, neither is known. */
void
db_audit_done(struct db_keep *keep, int64_t max, int64_t used)
{
	int	 known = max >= 0 && used >= 0;

	keep->max_connections = known ? max : -1;
	keep->connections = known ? used : -1;
}

/*
 * The capacity audit: could the pools that use this database open more
 * connections than the server allows, less a margin?  demand is the sum
 * of those pools' max_children.  Returns 1 when they could, 0 when not,
 * -1 when it is not known.
 */
static int
db_capacity(struct config *conf, const struct check *c, int64_t max,
    int64_t *demand, int64_t *limit)
{
	struct pool		*pool;
	const struct check	*other;
	char			 mine[DB_TARGET_MAX], theirs[DB_TARGET_MAX];
	int64_t			 margin;
	unsigned int		 mc;

	*demand = 0;
	*limit = -1;
	if (max < 0)
		return -1;
	c->ops->target(c, mine, sizeof(mine));
	TAILQ_FOREACH(pool, &conf->pools, entry) {
		TAILQ_FOREACH(other, &pool->checks, entry) {
			if (other->ops->target == NULL)
				continue;
			other->ops->target(other, theirs, sizeof(theirs));
			if (strcmp(mine, theirs) == 0)
				break;
		}
		if (other == NULL)
			continue;
		mc = pool->max_children > 0 ? pool->max_children :
		    pool->workers.max_children;
		if (mc == 0)
			return -1;	/* a pool's size is not known */
		*demand += mc;
	}
	margin = max / 10;
	if (margin < 3)
		margin = 3;
	*limit = max - margin;
	return *demand > *limit;
}

/*
 * A database check's part of a report: the audit's numbers in the JSON,
 * a "database:" line in the text once they are known.  Returns 1 when
 * the pools could open more connections than the server allows.
 */
int
db_report(struct buf *b, struct config *conf, const struct check *c,
    int json)
{
	const struct db_keep	*keep = c->keep;
	int64_t			 max = -1, used = -1, demand, limit;
	int			 over;

	if (keep != NULL) {
		max = keep->max_connections;
		used = keep->connections;
	}
	over = db_capacity(conf, c, max, &demand, &limit);
	if (b == NULL)
		return over == 1;
	if (json)
		buf_printf(b, ", \"query_us\": %llu, \"db\": "
		    "{\"max_connections\": %lld, \"connections\": %lld, "
		    "\"pools_max_children\": %lld, "
		    "\"limit_less_margin\": %lld, \"capacity_ok\": %s}",
		    (unsigned long long)(keep != NULL ? keep->query_us : 0),
		    (long long)max, (long long)used,
		    over >= 0 ? (long long)demand : -1LL, (long long)limit,
		    over < 0 ? "null" : over ? "false" : "true");
	else if (over >= 0)
		buf_printf(b, "    database: %lld of %lld connections in use; "
		    "the pools using it may open %lld%s\n", (long long)used,
		    (long long)max, (long long)demand, over ?
		    " - MORE than it allows less a margin (WARNING)" : "");
	if (json && keep != NULL)
		culprit_check_json(b, &keep->culprit);
	else if (json)
		buf_addstr(b, ", \"culprit\": null");
	else if (keep != NULL)
		culprit_check_text(b, &keep->culprit);
	return over == 1;
}

/* A database check's audit findings, or NULL for another check type. */
const struct audit_list *
db_audit_list(const struct check *c)
{
	const struct db_keep	*keep = c->keep;

	if (c->ops->report != db_report || keep == NULL)
		return NULL;
	return &keep->audit;
}

/*
 * Would a probe of the check now look up the sessions of workers that
 * wait on its server, in a worker sample it has not looked at?  --once
 * probes it once more then.
 */
int
db_culprit_due(const struct check *c)
{
	const struct db_keep	*keep = c->keep;

	return c->ops->report == db_report && keep != NULL &&
	    culprit_wanted(c, keep->server);
}
