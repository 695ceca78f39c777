/*
 * The configuration: which keys each section has, as tables of struct
 * cfg_key (one row a key: name, kind, offset, range, default, as tmux's
 * options-table.c), and one reader, cfg_read_map(), that reads every
 * mapping of the tree ynode.c makes of the YAML with them.  A check's
 * keys are the common ones (check.c) and its type's own table (its
 * check_*.c).  Every problem becomes one "FILE:LINE:COL: what is wrong"
 * message and the reading goes on, so that one `fpmprobe -t` shows them
 * all.  Intervals, timeouts, rise and fall left unset are inherited once
 * everything has been read: check, then pool, then defaults, then the
 * built-in defaults.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmprobe.h"

#define CONFIG_SIZE_MAX		(1024 * 1024)	/* bytes of YAML */
#define CONFIG_SIZE_STR		"1 MiB"

#define CFG_SCOPES_MAX	8	/* tables one mapping is read with */
#define CFG_SEEN_MAX	64	/* known keys of one mapping */

/* The keys of one table, and where their values go. */
struct cfg_scope {
	const struct cfg_key	*keys;
	void			*base;		/* NULL: the keys are refused */
	const char		*refuse;	/* "a fastcgi check", for that */
};

/* The known keys a mapping had, and their nodes. */
struct cfg_map {
	const struct ynode	*map;
	const struct cfg_key	*key[CFG_SEEN_MAX];
	const struct ynode	*k[CFG_SEEN_MAX];
	const struct ynode	*v[CFG_SEEN_MAX];
	size_t			 n;
};

/* What a check type's finish() is handed. */
struct cfg_check {
	struct cfgctx		*ctx;
	const struct cfg_map	*m;
	const char		*where;		/* "pool \"www\", check \"app\"" */
};

static const struct cfg_choice admin_state_words[] = {
	{ "set", ADMIN_SET }, { "leave", ADMIN_LEAVE }, { NULL, 0 }
};

#define T(field)	offsetof(struct timing, field)
#define C(field)	offsetof(struct config, field)
#define P(field)	offsetof(struct pool, field)

/* Set in defaults, a pool or a check; 0, not set, is inherited. */
const struct cfg_key timing_keys[] = {
	{ .name = "interval", .kind = CFG_DURATION, .offset = T(interval_ms),
	  .min = INTERVAL_MIN_MS, .max = INTERVAL_MAX_MS },
	{ .name = "timeout", .kind = CFG_DURATION, .offset = T(timeout_ms),
	  .min = TIMEOUT_MIN_MS, .max = TIMEOUT_MAX_MS },
	{ .name = "rise", .kind = CFG_UINT, .offset = T(rise), .min = 1,
	  .max = 100 },
	{ .name = "fall", .kind = CFG_UINT, .offset = T(fall), .min = 1,
	  .max = 100 },
	{ .name = NULL }
};

/* agent: the HAProxy agent-check ports. */
static const struct cfg_key agent_keys[] = {
	{ .name = "listen", .kind = CFG_ADDRESSES, .offset = C(agent_listen) },
	{ .name = "allow", .kind = CFG_NETWORKS, .offset = C(allow),
	  .count = C(nallow) },
	{ .name = "admin_state", .kind = CFG_CHOICE, .offset = C(admin_state),
	  .what = "set or leave", .choices = admin_state_words,
	  .def = ADMIN_SET },
	{ .name = NULL }
};

/* control: the socket of `fpmprobe ctl` and where marks are kept. */
static const struct cfg_key control_keys[] = {
	{ .name = "socket", .kind = CFG_STRING, .offset = C(control_socket),
	  .min = 1, .what = "a path" },
	{ .name = "state_dir", .kind = CFG_STRING, .offset = C(state_dir),
	  .min = 1, .what = "a directory" },
	{ .name = NULL }
};

/*
 * http: the status endpoint.  struct config has no ACL of its own for
 * it yet, so "allow" is refused rather than read and ignored.
 */
static const struct cfg_key httpd_keys[] = {
	{ .name = "listen", .kind = CFG_ADDRESSES, .offset = C(http_listen) },
	{ .name = "allow", .kind = CFG_REFUSED,
	  .what = "listen on a loopback address instead" },
	{ .name = NULL }
};

/* The top level; pools are read once the rest is. */
static const struct cfg_key top_keys[] = {
	{ .name = "agent", .kind = CFG_SECTION, .table = agent_keys },
	{ .name = "control", .kind = CFG_SECTION, .table = control_keys },
	{ .name = "user", .kind = CFG_STRING, .offset = C(user), .min = 1,
	  .what = "a user name" },
	{ .name = "group", .kind = CFG_STRING, .offset = C(group), .min = 1,
	  .what = "a group name" },
	{ .name = "http", .kind = CFG_SECTION, .table = httpd_keys },
	{ .name = "defaults", .kind = CFG_SECTION, .offset = C(timing),
	  .table = timing_keys },
	{ .name = "pools", .kind = CFG_NODE, .flags = CFG_REQUIRED },
	{ .name = NULL }
};

/* One pool; its checks are read once its other keys are. */
static const struct cfg_key pool_keys[] = {
	{ .name = "fastcgi", .kind = CFG_ADDRESS, .offset = P(fastcgi),
	  .flags = CFG_REQUIRED },
	{ .name = "status_path", .kind = CFG_URI, .offset = P(status_path) },
	{ .name = "status_listen", .kind = CFG_ADDRESS,
	  .offset = P(status_listen) },
	{ .name = "stuck_after", .kind = CFG_DURATION,
	  .offset = P(stuck_after_ms), .min = STUCK_AFTER_MIN_MS,
	  .max = STUCK_AFTER_MAX_MS, .def = DEFAULT_STUCK_AFTER_MS },
	{ .name = "max_children", .kind = CFG_UINT, .offset = P(max_children),
	  .min = 1, .max = 100000 },
	{ .name = "haproxy_timeout_server", .kind = CFG_DURATION,
	  .offset = P(timeout_server_ms), .min = TIMEOUT_MIN_MS,
	  .max = 24 * 3600 * 1000 },
	{ .name = "agent_listen", .kind = CFG_ADDRESSES,
	  .offset = P(agent_listen) },
	{ .name = "timing", .kind = CFG_INCLUDE, .offset = P(timing),
	  .table = timing_keys },
	{ .name = "checks", .kind = CFG_NODE },
	{ .name = NULL }
};

/* What nothing sets: the built-in defaults. */
static const struct timing builtin_timing = {
	DEFAULT_INTERVAL_MS, DEFAULT_TIMEOUT_MS, DEFAULT_RISE, DEFAULT_FALL
};

static void	 unknown_key(struct cfgctx *, const struct ynode *,
		    const char *);
static int	 valid_name(const char *, size_t);
static void	 cfg_read_section(struct cfgctx *, const struct cfg_key *,
		    const struct ynode *, void *);
static const struct cfg_key *cfg_find(const struct cfg_key *,
		    const struct ynode *, size_t *);
static void	 cfg_read_map(struct cfgctx *, const struct ynode *,
		    const struct cfg_scope *, size_t, const char *,
		    struct cfg_map *);
static size_t	 cfg_index(const struct cfg_map *, const char *);
static const struct ynode *cfg_value(const struct cfg_map *, const char *);
static void	 cfg_required(struct cfgctx *, const struct cfg_map *,
		    const struct cfg_key *, const struct ynode *,
		    const char *);
static const struct ynode *map_value(const struct ynode *, const char *);
static void	 type_list(char *, size_t);
static const struct check_ops *parse_type(struct cfgctx *,
		    const struct ynode *);
static struct check *parse_check(struct cfgctx *, struct pool *,
		    const struct ynode *, size_t, const struct ynode **);
static void	 parse_checks(struct cfgctx *, struct pool *,
		    const struct ynode *);
static void	 parse_pool(struct cfgctx *, struct pool *,
		    const struct ynode *, const struct ynode *);
static void	 parse_pools(struct cfgctx *, const struct ynode *,
		    const struct ynode *);
static void	 parse_top(struct cfgctx *, const struct ynode *);
static void	 timing_inherit(struct timing *, const struct timing *);
static void	 resolve(struct config *);

/* A key no one knows; where says "in defaults", "at the top level"... */
static void
unknown_key(struct cfgctx *ctx, const struct ynode *k, const char *where)
{
	char	 q[CONFIG_QUOTE_MAX + 4];

	cfg_error(ctx, k, "unknown key \"%s\" %s", ynode_quote(k, q, sizeof(q)),
	    where);
}

/* Pool and check names: what agent-send, ctl and reports carry. */
static int
valid_name(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > CONFIG_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return 0;
	return 1;
}

/*
 * The row of a table for this key node, or NULL; *off gets where the
 * struct its offset counts from is, within the table's own.
 */
static const struct cfg_key *
cfg_find(const struct cfg_key *keys, const struct ynode *k, size_t *off)
{
	const struct cfg_key	*key;
	size_t			 inner;

	for (; keys->name != NULL; keys++) {
		if (keys->kind == CFG_INCLUDE) {
			if ((key = cfg_find(keys->table, k, &inner)) != NULL) {
				*off = keys->offset + inner;
				return key;
			}
		} else if (ynode_is(k, keys->name)) {
			*off = 0;
			return keys;
		}
	}
	return NULL;
}

/*
 * Read a mapping with key tables: each key goes to the first scope that
 * knows it, an unknown one is reported "in" where it was.  What keys it
 * had lands in *m, for the required ones and the caller's own.
 */
static void
cfg_read_map(struct cfgctx *ctx, const struct ynode *map,
    const struct cfg_scope *scope, size_t nscope, const char *in,
    struct cfg_map *m)
{
	const struct cfg_key	*key = NULL;
	const struct ynode	*k, *v;
	unsigned char		*skip;
	size_t			 i, s, off = 0;

	memset(m, 0, sizeof(*m));
	m->map = map;
	skip = ynode_keys(ctx, map, "key");
	for (i = 0; i < map->n / 2; i++) {
		if (skip[i])
			continue;
		k = map->kids[2 * i];
		v = map->kids[2 * i + 1];
		for (s = 0; s < nscope; s++)
			if ((key = cfg_find(scope[s].keys, k, &off)) != NULL)
				break;
		if (s == nscope) {
			unknown_key(ctx, k, in);
			continue;
		}
		if (scope[s].base == NULL) {
			cfg_error(ctx, k, "key \"%s\" does not apply to %s",
			    key->name, scope[s].refuse);
			continue;
		}
		if (key->kind == CFG_REFUSED) {
			cfg_error(ctx, k, "key \"%s\" %s is not supported: %s",
			    key->name, in, key->what);
			continue;
		}
		if (m->n == CFG_SEEN_MAX)
			fatalx("%s: more than %d keys in one table", __func__,
			    CFG_SEEN_MAX);
		m->key[m->n] = key;
		m->k[m->n] = k;
		m->v[m->n++] = v;
		if (key->kind == CFG_SECTION)
			cfg_read_section(ctx, key, v,
			    (char *)scope[s].base + off + key->offset);
		else
			ynode_value(ctx, key, v, (char *)scope[s].base + off);
	}
	free(skip);
}

/* A section: a mapping read with its row's table, for the struct at dst. */
static void
cfg_read_section(struct cfgctx *ctx, const struct cfg_key *key,
    const struct ynode *v, void *dst)
{
	struct cfg_scope	 scope = { key->table, dst, NULL };
	struct cfg_map		 m;
	char			 in[64];

	if (ynode_mapping(ctx, key->name, v) == -1)
		return;
	snprintf(in, sizeof(in), "in %s", key->name);
	cfg_read_map(ctx, v, &scope, 1, in, &m);
}

/* Where in *m a key is, m->n when the mapping did not have it. */
static size_t
cfg_index(const struct cfg_map *m, const char *name)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->key[i]->name, name) == 0)
			break;
	return i;
}

/* The value node a mapping gave a key, or NULL. */
static const struct ynode *
cfg_value(const struct cfg_map *m, const char *name)
{
	size_t	 i = cfg_index(m, name);

	return i < m->n ? m->v[i] : NULL;
}

/* Report each required key of a table the mapping lacks, at a node. */
static void
cfg_required(struct cfgctx *ctx, const struct cfg_map *m,
    const struct cfg_key *keys, const struct ynode *at, const char *where)
{
	for (; keys->name != NULL; keys++) {
		if (keys->kind == CFG_INCLUDE)
			cfg_required(ctx, m, keys->table, at, where);
		if (!(keys->flags & CFG_REQUIRED) ||
		    cfg_value(m, keys->name) != NULL)
			continue;
		if (where != NULL)
			cfg_error(ctx, at, "%s: missing required key \"%s\"",
			    where, keys->name);
		else
			cfg_error(ctx, at, "missing required key \"%s\"",
			    keys->name);
	}
}

/* Was the check given this key?  For a type's finish(). */
int
cfg_seen(const struct cfg_check *cc, const char *key)
{
	return cfg_value(cc->m, key) != NULL;
}

/*
 * A problem a type's finish() found, at the value of key (NULL: the
 * check), after the name of the check.
 */
void
cfg_check_error(struct cfg_check *cc, const char *key, const char *fmt, ...)
{
	const struct ynode	*at = key != NULL ? cfg_value(cc->m, key) : NULL;
	va_list			 ap;
	char			*text;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	cfg_error(cc->ctx, at != NULL ? at : cc->m->map, "%s: %s", cc->where,
	    text);
	free(text);
}

/* The value of the first pair of a mapping with that key, or NULL. */
static const struct ynode *
map_value(const struct ynode *map, const char *name)
{
	size_t	 i;

	for (i = 0; i < map->n / 2; i++)
		if (ynode_is(map->kids[2 * i], name))
			return map->kids[2 * i + 1];
	return NULL;
}

/* "fastcgi, pgsql, mysql or http": the check types, for a message. */
static void
type_list(char *buf, size_t size)
{
	size_t	 i, len = 0;

	buf[0] = '\0';
	for (i = 0; check_types[i] != NULL && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    i == 0 ? "" : check_types[i + 1] != NULL ? ", " : " or ",
		    check_types[i]->name);
}

/* A check's type, or NULL when it is not known or not built. */
static const struct check_ops *
parse_type(struct cfgctx *ctx, const struct ynode *v)
{
	char	 q[CONFIG_QUOTE_MAX + 4], list[128];
	size_t	 i;

	if (ynode_scalar(ctx, "type", v, "a check type") == -1)
		return NULL;
	for (i = 0; check_types[i] != NULL; i++)
		if (strcmp(v->str, check_types[i]->name) == 0)
			break;
	if (check_types[i] == NULL) {
		type_list(list, sizeof(list));
		cfg_error(ctx, v, "unknown check type \"%s\" (expected %s)",
		    ynode_quote(v, q, sizeof(q)), list);
		return NULL;
	}
	if (check_types[i]->start == NULL)
		cfg_error(ctx, v, "check type \"%s\" is not available in this "
		    "build", check_types[i]->name);
	return check_types[i];
}

/*
 * One check.  Its name and type are read first: messages about the
 * other keys name the check, and the type says which keys belong.  Of
 * a type not known, each key is still read, into the settings of the
 * first type that has it, so that its value is checked.  *namenode is
 * the name's node, for duplicate names.
 */
static struct check *
parse_check(struct cfgctx *ctx, struct pool *pool, const struct ynode *map,
    size_t index, const struct ynode **namenode)
{
	struct cfg_scope	 scope[CFG_SCOPES_MAX];
	void			*scratch[CFG_SCOPES_MAX];
	const struct check_ops	*ops = NULL;
	const struct ynode	*namev, *typev;
	struct cfg_map		 m;
	struct cfg_check	 cc;
	struct check		*c;
	char			 where[2 * CONFIG_QUOTE_MAX + 64];
	char			 in[sizeof(where) + 4], refuse[32];
	char			 q[CONFIG_QUOTE_MAX + 4];
	size_t			 i, n = 0;

	*namenode = NULL;
	if ((typev = map_value(map, "type")) != NULL)
		ops = parse_type(ctx, typev);
	c = check_new(pool, ops);
	c->line = map->line;
	c->col = map->col;
	if ((namev = map_value(map, "name")) != NULL &&
	    ynode_scalar(ctx, "name", namev, "a check name") == 0) {
		if (valid_name(namev->str, namev->len)) {
			c->name = xstrdup(namev->str);
			*namenode = namev;
		} else
			cfg_error(ctx, namev, "name: \"%s\": expected 1 to %d "
			    "letters, digits, '_', '.' or '-'",
			    ynode_quote(namev, q, sizeof(q)), CONFIG_NAME_MAX);
	}
	if (c->name != NULL)
		snprintf(where, sizeof(where), "pool \"%s\", check \"%s\"",
		    pool->name, c->name);
	else
		snprintf(where, sizeof(where), "pool \"%s\", check #%zu",
		    pool->name, index);
	snprintf(in, sizeof(in), "in %s", where);

	memset(scratch, 0, sizeof(scratch));
	snprintf(refuse, sizeof(refuse), "a %s check",
	    ops != NULL ? ops->name : "");
	scope[n++] = (struct cfg_scope){ check_keys, c, NULL };
	if (ops != NULL)
		scope[n++] = (struct cfg_scope){ ops->keys, c->conf, NULL };
	for (i = 0; check_types[i] != NULL && n < CFG_SCOPES_MAX; i++) {
		if (check_types[i] == ops)
			continue;
		if (ops == NULL)
			scratch[i] = check_conf_new(check_types[i]);
		scope[n++] = (struct cfg_scope){ check_types[i]->keys,
		    scratch[i], refuse };
	}
	cfg_read_map(ctx, map, scope, n, in, &m);
	for (i = 0; check_types[i] != NULL && i < CFG_SCOPES_MAX; i++)
		check_conf_free(check_types[i], scratch[i]);

	cfg_required(ctx, &m, check_keys, map, where);
	if (ops != NULL) {
		cc = (struct cfg_check){ ctx, &m, where };
		if (ops->finish != NULL)
			ops->finish(c, &cc);
		cfg_required(ctx, &m, ops->keys, map, where);
	}
	return c;
}

/* A pool's checks; names are unique within the pool. */
static void
parse_checks(struct cfgctx *ctx, struct pool *pool, const struct ynode *v)
{
	const struct ynode **nodes, *namenode;
	unsigned char	*dup;
	struct check	*c;
	size_t		 i, m = 0;

	if (ynode_null(v))
		return;
	if (v->kind != YN_SEQUENCE) {
		cfg_error(ctx, v, "checks: expected a sequence");
		return;
	}
	nodes = xcalloc(v->n + 1, sizeof(*nodes));
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != YN_MAPPING) {
			cfg_error(ctx, v->kids[i], "checks: expected a mapping "
			    "for each check");
			continue;
		}
		c = parse_check(ctx, pool, v->kids[i], i + 1, &namenode);
		TAILQ_INSERT_TAIL(&pool->checks, c, entry);
		if (namenode != NULL)
			nodes[m++] = namenode;
	}
	dup = xcalloc(m + 1, 1);
	ynode_dups(nodes, m, dup);
	for (i = 0; i < m; i++)
		if (dup[i])
			cfg_error(ctx, nodes[i], "duplicate check name \"%s\" "
			    "in pool \"%s\"", nodes[i]->str, pool->name);
	free(dup);
	free(nodes);
}

/* One pool's mapping; k is its name, where messages about it point. */
static void
parse_pool(struct cfgctx *ctx, struct pool *pool, const struct ynode *k,
    const struct ynode *v)
{
	struct cfg_scope	 scope = { pool_keys, pool, NULL };
	const struct ynode	*checks;
	struct cfg_map		 m;
	char			 where[CONFIG_QUOTE_MAX + 16];
	char			 in[sizeof(where) + 4];

	snprintf(where, sizeof(where), "pool \"%s\"", pool->name);
	snprintf(in, sizeof(in), "in %s", where);
	cfg_read_map(ctx, v, &scope, 1, in, &m);
	cfg_required(ctx, &m, pool_keys, k, where);
	pool->have_fastcgi = pool->fastcgi.text != NULL;
	pool->have_status_listen = pool->status_listen.text != NULL;

	/* After the pool's own keys: a check may take the pool's address. */
	if ((checks = cfg_value(&m, "checks")) != NULL)
		parse_checks(ctx, pool, checks);
	if (TAILQ_EMPTY(&pool->checks) && cfg_value(&m, "status_path") ==
	    NULL && (checks == NULL || ynode_null(checks) ||
	    (checks->kind == YN_SEQUENCE && checks->n == 0)))
		cfg_error(ctx, k, "pool \"%s\": nothing to check (add checks "
		    "or status_path)", pool->name);
}

/* pools: name -> pool; at least one. */
static void
parse_pools(struct cfgctx *ctx, const struct ynode *k, const struct ynode *v)
{
	struct config	*conf = ctx->conf;
	struct pool	*pool;
	unsigned char	*skip;
	char		 q[CONFIG_QUOTE_MAX + 4];
	size_t		 i;

	if (ynode_null(v) || (v->kind == YN_MAPPING && v->n == 0)) {
		cfg_error(ctx, ynode_null(v) ? k : v,
		    "pools: expected at least one pool");
		return;
	}
	if (v->kind != YN_MAPPING) {
		cfg_error(ctx, v, "pools: expected a mapping of pool names "
		    "to pools");
		return;
	}
	skip = ynode_keys(ctx, v, "pool name");
	for (i = 0; i < v->n / 2; i++) {
		const struct ynode *pk = v->kids[2 * i];
		const struct ynode *pv = v->kids[2 * i + 1];

		if (skip[i])
			continue;
		pool = xcalloc(1, sizeof(*pool));
		cfg_defaults(pool_keys, pool);
		TAILQ_INIT(&pool->checks);
		pool->line = pk->line;
		pool->col = pk->col;
		if (valid_name(pk->str, pk->len))
			pool->name = xstrdup(pk->str);
		else {
			pool->name = xstrdup(ynode_quote(pk, q, sizeof(q)));
			cfg_error(ctx, pk, "pool name \"%s\": expected 1 to %d "
			    "letters, digits, '_', '.' or '-'", pool->name,
			    CONFIG_NAME_MAX);
		}
		TAILQ_INSERT_TAIL(&conf->pools, pool, entry);
		conf->npools++;
		if (pv->kind != YN_MAPPING) {
			cfg_error(ctx, ynode_null(pv) ? pk : pv, "pool \"%s\": "
			    "expected a mapping", pool->name);
			continue;
		}
		parse_pool(ctx, pool, pk, pv);
	}
	free(skip);
}

/* The top level: sections, then the pools, then what must be there. */
static void
parse_top(struct cfgctx *ctx, const struct ynode *root)
{
	struct cfg_scope	 scope = { top_keys, ctx->conf, NULL };
	struct cfg_map		 m;
	size_t			 i;

	if (root == NULL || ynode_null(root)) {
		cfg_errorat(ctx, 1, 1, "missing required key \"pools\"");
		return;
	}
	if (root->kind != YN_MAPPING) {
		cfg_error(ctx, root, "expected a mapping at the top level");
		return;
	}
	cfg_read_map(ctx, root, &scope, 1, "at the top level", &m);
	if ((i = cfg_index(&m, "pools")) < m.n)
		parse_pools(ctx, m.k[i], m.v[i]);
	cfg_required(ctx, &m, top_keys, root, NULL);
}

/* What a level leaves unset (0) it takes from the level above. */
static void
timing_inherit(struct timing *t, const struct timing *from)
{
	if (t->interval_ms == 0)
		t->interval_ms = from->interval_ms;
	if (t->timeout_ms == 0)
		t->timeout_ms = from->timeout_ms;
	if (t->rise == 0)
		t->rise = from->rise;
	if (t->fall == 0)
		t->fall = from->fall;
}

/* Fill what was left unset: check, then pool, then defaults, then ours. */
static void
resolve(struct config *conf)
{
	struct pool	*pool;
	struct check	*c;

	timing_inherit(&conf->timing, &builtin_timing);
	TAILQ_FOREACH(pool, &conf->pools, entry) {
		pool->admin_state = conf->admin_state;
		timing_inherit(&pool->timing, &conf->timing);
		TAILQ_FOREACH(c, &pool->checks, entry)
			timing_inherit(&c->timing, &pool->timing);
	}
}

/* Read a configuration from memory; NULL when anything is wrong. */
struct config *
config_load_buf(const char *name, const char *data, size_t len,
    struct errlist *errs)
{
	struct cfgctx	 ctx;
	struct config	*conf;
	struct ynode	*root;
	int		 failed;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.data = data != NULL ? data : "";
	ctx.len = data != NULL ? len : 0;
	ctx.errs = errs;
	if (ctx.len > CONFIG_SIZE_MAX) {
		cfg_errorat(&ctx, 0, 0, "larger than " CONFIG_SIZE_STR
		    ", the most a configuration may be");
		cfg_flush(&ctx);
		return NULL;
	}

	conf = xcalloc(1, sizeof(*conf));
	conf->path = xstrdup(name);
	cfg_defaults(top_keys, conf);
	TAILQ_INIT(&conf->pools);
	ctx.conf = conf;

	root = ynode_read(&ctx, &failed);
	if (!failed)
		parse_top(&ctx, root);
	ynode_free(root);
	cfg_flush(&ctx);
	if (ctx.nerr > 0) {
		config_free(conf);
		return NULL;
	}
	resolve(conf);
	return conf;
}

/* Read a configuration file; NULL when anything is wrong. */
struct config *
config_load(const char *path, struct errlist *errs)
{
	struct config	*conf;
	struct stat	 sb;
	char		*data;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		errlist_add(errs, "%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* Whoever may write it decides where fpmprobe connects. */
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (sb.st_mode & S_IWOTH)) {
		errlist_add(errs, "%s: writable by others; refusing it "
		    "(chmod o-w %s)", path, path);
		close(fd);
		return NULL;
	}
	data = xcalloc(1, CONFIG_SIZE_MAX + 1);
	for (;;) {
		n = read(fd, data + len, CONFIG_SIZE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			errlist_add(errs, "%s: cannot read: %s", path,
			    strerror(errno));
			close(fd);
			free(data);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_SIZE_MAX) {
			errlist_add(errs, "%s: larger than " CONFIG_SIZE_STR
			    ", the most a configuration may be", path);
			close(fd);
			free(data);
			return NULL;
		}
	}
	close(fd);
	conf = config_load_buf(path, data, len, errs);
	free(data);
	return conf;
}

/*
 * Release a configuration: pools, their checks, addresses, strings.
 * What the engine adds (the status sampler) and keeps (timers, probes,
 * connections) it releases itself, in hce_stop(), before.
 */
void
config_free(struct config *conf)
{
	struct pool	*pool;
	struct check	*c;

	if (conf == NULL)
		return;
	while ((pool = TAILQ_FIRST(&conf->pools)) != NULL) {
		TAILQ_REMOVE(&conf->pools, pool, entry);
		while ((c = TAILQ_FIRST(&pool->checks)) != NULL) {
			TAILQ_REMOVE(&pool->checks, c, entry);
			check_free(c);
		}
		cfg_free(pool_keys, pool);
		free(pool->name);
		fpm_status_free(&pool->workers.status);
		audit_clear(&pool->audit);
		free(pool->mark_reason);
		free(pool);
	}
	cfg_free(top_keys, conf);
	free(conf->path);
	free(conf);
}

/* The pool of that name, or NULL. */
struct pool *
config_find_pool(struct config *conf, const char *name)
{
	struct pool	*pool;

	if (conf == NULL || name == NULL)
		return NULL;
	TAILQ_FOREACH(pool, &conf->pools, entry)
		if (strcmp(pool->name, name) == 0)
			return pool;
	return NULL;
}

/*
 * What a valid configuration may still get wrong, as "FILE:LINE:COL:
 * warning: ..." lines for -t and the log: a pool whose capacity cannot
 * be learned, a check whose timeout outlasts its interval.
 */
void
config_warnings(const struct config *conf, struct errlist *warns)
{
	const struct pool	*pool;
	const struct check	*c;

	TAILQ_FOREACH(pool, &conf->pools, entry) {
		if (pool->status_path != NULL && pool->max_children == 0 &&
		    !pool_is_local(pool))
			errlist_add(warns, "%s:%d:%d: warning: pool %s is not "
			    "on this host and sets no max_children: if it runs "
			    "pm = dynamic or ondemand, stuck workers neither "
			    "lower its weight nor take it down", conf->path,
			    pool->line, pool->col, pool->name);
		TAILQ_FOREACH(c, &pool->checks, entry)
			if (c != pool->sampler &&
			    c->timing.timeout_ms > c->timing.interval_ms)
				errlist_add(warns, "%s:%d:%d: warning: check %s: "
				    "timeout %ums is longer than interval %ums: a "
				    "probe runs to its timeout and the start due "
				    "meanwhile is skipped", conf->path, c->line,
				    c->col, c->name, c->timing.timeout_ms,
				    c->timing.interval_ms);
	}
}
