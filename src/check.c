/*
 * The check types, and what every check has whatever its type.  A type
 * is one file, check_TYPE.c, exporting one struct check_ops, and one
 * line in check_types[] below.  Its settings are its own struct, read
 * from its key table into c->conf, compared and freed from that table.
 *
 * Every type is listed whether or not its library was found at build
 * time: its keys are still checked, and a check of that type is refused
 * as "not available in this build" (its ops have no start()).
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

/* Every user-selectable check type, in the order messages list them. */
const struct check_ops *const check_types[] = {
	&check_fcgi_ops,
	&check_pgsql_ops,
	&check_mysql_ops,
	&check_http_ops,
	NULL
};

/* The keys every check has, before its type's own. */
const struct cfg_key check_keys[] = {
	{ .name = "name", .kind = CFG_NODE, .flags = CFG_REQUIRED },
	{ .name = "type", .kind = CFG_NODE, .flags = CFG_REQUIRED },
	{ .name = "timing", .kind = CFG_INCLUDE,
	  .offset = offsetof(struct check, timing), .table = timing_keys },
	{ .name = NULL }
};

/* The operations of a check type this build can run, or NULL. */
const struct check_ops *
check_ops_lookup(const char *name)
{
	size_t	 i;

	for (i = 0; check_types[i] != NULL; i++)
		if (strcmp(check_types[i]->name, name) == 0)
			return check_types[i]->start != NULL ?
			    check_types[i] : NULL;
	return NULL;
}

/* Settings of a type as its keys' defaults make them. */
void *
check_conf_new(const struct check_ops *ops)
{
	void	*conf;

	conf = xcalloc(1, ops->conf_size);
	cfg_defaults(ops->keys, conf);
	return conf;
}

/* Release settings made by check_conf_new(). */
void
check_conf_free(const struct check_ops *ops, void *conf)
{
	if (conf == NULL)
		return;
	cfg_free(ops->keys, conf);
	free(conf);
}

/* A new check of a pool; ops NULL: its type is not known (yet). */
struct check *
check_new(struct pool *pool, const struct check_ops *ops)
{
	struct check	*c;

	c = xcalloc(1, sizeof(*c));
	c->pool = pool;
	c->ops = ops;
	if (ops != NULL)
		c->conf = check_conf_new(ops);
	return c;
}

/*
 * Release a check and its settings.  What it keeps between probes is
 * the engine's, released by hce_stop() before.
 */
void
check_free(struct check *c)
{
	if (c == NULL)
		return;
	if (c->ops != NULL)
		check_conf_free(c->ops, c->conf);
	free(c->name);
	free(c);
}

/*
 * Does a check probe the same thing, the same way, as another?  Every
 * key of both tables is compared, so that a key added to a type counts
 * without anything to write here.
 */
int
check_same(const struct check *a, const struct check *b)
{
	return a->ops == b->ops && cfg_same(check_keys, a, b) &&
	    cfg_same(a->ops->keys, a->conf, b->conf);
}
