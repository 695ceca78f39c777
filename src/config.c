/*
 * The YAML configuration.  libyaml's event API builds a small tree of
 * the document (no aliases, bounded nesting), then one reader,
 * cfg_read_map(), reads every mapping with key tables, as tmux's
 * options-table.c does: one row a key (name, kind, offset, range,
 * default), here for each section and, in each check type's file, for
 * that type's keys.  Every problem becomes one "FILE:LINE:COL: what is
 * wrong" message and the reading goes on, so that one `fpmprobe -t`
 * shows them all.  Intervals, timeouts, rise and fall left unset are
 * inherited once everything has been read: check, then pool, then
 * defaults, then the built-in defaults.
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
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "fpmprobe.h"

#define CONFIG_SIZE_MAX		(1024 * 1024)	/* bytes of YAML */
#define CONFIG_SIZE_STR		"1 MiB"
#define CONFIG_DEPTH_MAX	32	/* nested mappings and sequences */
#define CONFIG_ERRORS_MAX	100	/* messages kept for one file */
#define CONFIG_NAME_MAX		64	/* pool and check names */
#define CONFIG_QUOTE_MAX	64	/* user text quoted in a message */

enum ynode_kind {
	YN_SCALAR = 0,
	YN_SEQUENCE,
	YN_MAPPING
};

/* One node of the document; a mapping's kids are key, value, key, ... */
struct ynode {
	enum ynode_kind	  kind;
	int		  line;		/* 1-based */
	int		  col;
	int		  plain;	/* an unquoted scalar, which may be null */
	char		 *str;		/* scalars: NUL-terminated, may hold NULs */
	size_t		  len;
	struct ynode	**kids;
	size_t		  n;
	size_t		  cap;
};

/* A string to sort when looking for duplicates. */
struct named {
	const char	*s;
	size_t		 len;
	size_t		 idx;
};

/* A message waiting to be sorted into document order. */
struct cfgmsg {
	int		 line;		/* 0: about the whole file */
	int		 col;
	size_t		 seq;
	char		*text;
};

/* What the reader of one document carries around. */
struct cfgctx {
	const char	*name;		/* file name for messages */
	const char	*data;
	size_t		 len;
	struct errlist	*errs;
	struct cfgmsg	*msgs;
	size_t		 nerr;		/* found, kept or not */
	struct config	*conf;
};

/* Flags map_keys() sets on a pair the caller must skip. */
#define PAIR_BADKEY	1
#define PAIR_DUP	2

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

static void	 cfg_verror(struct cfgctx *, int, int, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static void	 cfg_error(struct cfgctx *, const struct ynode *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
static void	 cfg_errorat(struct cfgctx *, int, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	 cfgmsg_cmp(const void *, const void *);
static void	 cfg_flush(struct cfgctx *);
static void	 yaml_error(struct cfgctx *, const yaml_parser_t *);
static struct ynode *ynode_new(enum ynode_kind, const yaml_mark_t *);
static void	 ynode_add(struct ynode *, struct ynode *);
static void	 ynode_free(struct ynode *);
static struct ynode *yaml_read(struct cfgctx *, int *);
static const char *quote(const struct ynode *, char *, size_t);
static int	 is_null(const struct ynode *);
static int	 key_is(const struct ynode *, const char *);
static int	 named_cmp(const void *, const void *);
static void	 mark_dups(struct named *, size_t, unsigned char *);
static unsigned char *map_keys(struct cfgctx *, const struct ynode *,
		    const char *);
static void	 unknown_key(struct cfgctx *, const struct ynode *,
		    const char *);
static int	 section(struct cfgctx *, const char *, const struct ynode *);
static int	 get_scalar(struct cfgctx *, const char *, const struct ynode *,
		    const char *);
static int	 get_string(struct cfgctx *, const char *, const struct ynode *,
		    const char *, int, char **);
static int	 get_path(struct cfgctx *, const char *, const struct ynode *,
		    char **);
static int	 get_uint(struct cfgctx *, const char *, const struct ynode *,
		    unsigned long, unsigned long, unsigned long *);
static int	 get_bool(struct cfgctx *, const char *, const struct ynode *,
		    int *);
static int	 get_choice(struct cfgctx *, const char *, const struct ynode *,
		    const struct cfg_choice *, const char *);
static void	 ms_str(unsigned int, char *, size_t);
static int	 get_duration(struct cfgctx *, const char *,
		    const struct ynode *, unsigned int, unsigned int,
		    unsigned int *);
static int	 get_address(struct cfgctx *, const char *,
		    const struct ynode *, struct address *);
static void	 get_address_list(struct cfgctx *, const char *,
		    const struct ynode *, struct address_list *);
static void	 get_cidrs(struct cfgctx *, const char *, const struct ynode *,
		    struct cidr **, size_t *);
static int	 valid_name(const char *, size_t);
static int	 header_name_ok(const char *, size_t);
static int	 header_value_ok(const char *, size_t);
static void	 header_add(struct cfgctx *, const struct ynode *, char ***,
		    size_t *, const char *, size_t, const char *, size_t);
static void	 get_headers(struct cfgctx *, const struct ynode *, char ***,
		    size_t *);
static int	 url_ok(const char *);
static int	 address_list_same(const struct address_list *,
		    const struct address_list *);
static void	 private_file(struct cfgctx *, const char *,
		    const struct ynode *, const char *);
static void	 cfg_read_value(struct cfgctx *, const struct cfg_key *,
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

/* Keep one message; past CONFIG_ERRORS_MAX they are only counted. */
static void
cfg_verror(struct cfgctx *ctx, int line, int col, const char *fmt,
    va_list ap)
{
	struct cfgmsg	*m;

	if (ctx->nerr++ >= CONFIG_ERRORS_MAX)
		return;
	ctx->msgs = xreallocarray(ctx->msgs, ctx->nerr, sizeof(*ctx->msgs));
	m = &ctx->msgs[ctx->nerr - 1];
	m->line = line;
	m->col = col;
	m->seq = ctx->nerr;
	if (vasprintf(&m->text, fmt, ap) == -1)
		fatal("vasprintf");
}

/* Order messages as the file reads, then as they were found. */
static int
cfgmsg_cmp(const void *a, const void *b)
{
	const struct cfgmsg	*x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hand the kept messages over in document order. */
static void
cfg_flush(struct cfgctx *ctx)
{
	size_t	 i, n;

	n = ctx->nerr < CONFIG_ERRORS_MAX ? ctx->nerr : CONFIG_ERRORS_MAX;
	if (n > 1)
		qsort(ctx->msgs, n, sizeof(*ctx->msgs), cfgmsg_cmp);
	for (i = 0; i < n; i++) {
		if (ctx->msgs[i].line > 0)
			errlist_add(ctx->errs, "%s:%d:%d: %s", ctx->name,
			    ctx->msgs[i].line, ctx->msgs[i].col,
			    ctx->msgs[i].text);
		else
			errlist_add(ctx->errs, "%s: %s", ctx->name,
			    ctx->msgs[i].text);
		free(ctx->msgs[i].text);
	}
	if (ctx->nerr > CONFIG_ERRORS_MAX)
		errlist_add(ctx->errs, "%s: %zu more errors not shown",
		    ctx->name, ctx->nerr - CONFIG_ERRORS_MAX);
	free(ctx->msgs);
	ctx->msgs = NULL;
}

/* One problem at a node of the document. */
static void
cfg_error(struct cfgctx *ctx, const struct ynode *n, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cfg_verror(ctx, n->line, n->col, fmt, ap);
	va_end(ap);
}

/* One problem at a line and column (0: none known). */
static void
cfg_errorat(struct cfgctx *ctx, int line, int col, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cfg_verror(ctx, line, col, fmt, ap);
	va_end(ap);
}

/* Report what libyaml found wrong with the text itself. */
static void
yaml_error(struct cfgctx *ctx, const yaml_parser_t *p)
{
	const char	*problem = p->problem != NULL ? p->problem : "error";
	size_t		 off, i;
	int		 line = 1, col = 1;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		fatalx("libyaml: out of memory");
	case YAML_READER_ERROR:
		/* The reader gives a byte offset, not a mark. */
		off = p->problem_offset < ctx->len ? p->problem_offset :
		    ctx->len;
		for (i = 0; i < off; i++) {
			if (ctx->data[i] == '\n') {
				line++;
				col = 1;
			} else
				col++;
		}
		if (p->problem_value != -1)
			cfg_errorat(ctx, line, col,
			    "YAML syntax error: %s (#%X)", problem,
			    (unsigned int)p->problem_value);
		else
			cfg_errorat(ctx, line, col, "YAML syntax error: %s",
			    problem);
		break;
	default:
		line = (int)p->problem_mark.line + 1;
		col = (int)p->problem_mark.column + 1;
		if (p->context != NULL)
			cfg_errorat(ctx, line, col, "YAML syntax error: %s "
			    "(%s at line %d, column %d)", problem, p->context,
			    (int)p->context_mark.line + 1,
			    (int)p->context_mark.column + 1);
		else
			cfg_errorat(ctx, line, col, "YAML syntax error: %s",
			    problem);
		break;
	}
}

/* A new node at a libyaml mark. */
static struct ynode *
ynode_new(enum ynode_kind kind, const yaml_mark_t *mark)
{
	struct ynode	*n;

	n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = (int)mark->line + 1;
	n->col = (int)mark->column + 1;
	return n;
}

/* Append a child to a sequence or mapping. */
static void
ynode_add(struct ynode *parent, struct ynode *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
		parent->kids = xreallocarray(parent->kids, parent->cap,
		    sizeof(*parent->kids));
	}
	parent->kids[parent->n++] = kid;
}

/* Release a tree; its depth is bounded by CONFIG_DEPTH_MAX. */
static void
ynode_free(struct ynode *n)
{
	size_t	 i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		ynode_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

/*
 * Read the text into a tree.  Aliases are refused (no expansion, no
 * cycles), so is more than one document or deeper nesting than any
 * valid configuration needs.  Sets *failed after a reported error; a
 * NULL return without it is an empty document.
 */
static struct ynode *
yaml_read(struct cfgctx *ctx, int *failed)
{
	yaml_parser_t	 parser;
	yaml_event_t	 ev;
	struct ynode	*stack[CONFIG_DEPTH_MAX], *root = NULL, *n;
	size_t		 depth = 0;
	int		 done = 0, docs = 0;

	*failed = 0;
	if (!yaml_parser_initialize(&parser))
		fatalx("yaml_parser_initialize");
	yaml_parser_set_input_string(&parser, (const unsigned char *)ctx->data,
	    ctx->len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			yaml_error(ctx, &parser);
			goto fail;
		}
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				cfg_errorat(ctx, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "only one YAML document is allowed");
				yaml_event_delete(&ev);
				goto fail;
			}
			break;
		case YAML_ALIAS_EVENT:
			/* libyaml allows only [A-Za-z0-9_-] in anchors. */
			cfg_errorat(ctx, (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1,
			    "alias \"*%s\" is not supported: write the value "
			    "out", (const char *)ev.data.alias.anchor);
			yaml_event_delete(&ev);
			goto fail;
		case YAML_SCALAR_EVENT:
			n = ynode_new(YN_SCALAR, &ev.start_mark);
			n->len = ev.data.scalar.length;
			n->str = xcalloc(1, n->len + 1);
			if (n->len > 0)
				memcpy(n->str, ev.data.scalar.value, n->len);
			n->plain =
			    ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth == CONFIG_DEPTH_MAX) {
				cfg_errorat(ctx, (int)ev.start_mark.line + 1,
				    (int)ev.start_mark.column + 1,
				    "nested deeper than %d levels",
				    CONFIG_DEPTH_MAX);
				yaml_event_delete(&ev);
				goto fail;
			}
			n = ynode_new(ev.type == YAML_MAPPING_START_EVENT ?
			    YN_MAPPING : YN_SEQUENCE, &ev.start_mark);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			/* One document has one root: nothing else at depth 0. */
			if (depth > 0)
				ynode_add(stack[depth - 1], n);
			else
				root = n;
			if (n->kind != YN_SCALAR)
				stack[depth++] = n;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return root;

fail:
	yaml_parser_delete(&parser);
	ynode_free(root);
	*failed = 1;
	return NULL;
}

/* User text fit for a message: printable, one line, bounded. */
static const char *
quote(const struct ynode *n, char *buf, size_t size)
{
	size_t	 len;

	if (n->kind != YN_SCALAR) {
		strlcpy_safe(buf, n->kind == YN_MAPPING ? "(a mapping)" :
		    "(a sequence)", size);
		return buf;
	}
	len = n->len > CONFIG_QUOTE_MAX ? CONFIG_QUOTE_MAX : n->len;
	sanitize_text(buf, size, n->str, len);
	if (n->len > len && strlen(buf) + 4 <= size)
		strcat(buf, "...");
	return buf;
}

/* A YAML null: no value at all, "~" or "null" unquoted. */
static int
is_null(const struct ynode *n)
{
	if (n->kind != YN_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0;
}

/* Is this key node exactly the given name? */
static int
key_is(const struct ynode *k, const char *name)
{
	return k->kind == YN_SCALAR && k->len == strlen(name) &&
	    memcmp(k->str, name, k->len) == 0;
}

/* Order strings by bytes, then by where they appear. */
static int
named_cmp(const void *a, const void *b)
{
	const struct named	*x = a, *y = b;
	size_t			 len = x->len < y->len ? x->len : y->len;
	int			 r;

	if ((r = memcmp(x->s, y->s, len)) != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Set flag[idx] to PAIR_DUP for every string seen before; sorting keeps
 * a big hostile mapping from costing n * n comparisons.
 */
static void
mark_dups(struct named *v, size_t n, unsigned char *flag)
{
	size_t	 i;

	if (n < 2)
		return;
	qsort(v, n, sizeof(*v), named_cmp);
	for (i = 1; i < n; i++)
		if (v[i].len == v[i - 1].len &&
		    memcmp(v[i].s, v[i - 1].s, v[i].len) == 0)
			flag[v[i].idx] = PAIR_DUP;
}

/*
 * Check a mapping's keys: each is a string and appears once.  Returns
 * one flag per pair, non-zero for a pair the caller must skip; what
 * names a key in the duplicate message ("key", "pool name").
 */
static unsigned char *
map_keys(struct cfgctx *ctx, const struct ynode *map, const char *what)
{
	struct named	*v;
	unsigned char	*flag;
	size_t		 i, m = 0, npairs = map->n / 2;
	char		 q[CONFIG_QUOTE_MAX + 4];

	flag = xcalloc(npairs + 1, 1);
	v = xcalloc(npairs + 1, sizeof(*v));
	for (i = 0; i < npairs; i++) {
		const struct ynode *k = map->kids[2 * i];

		if (k->kind != YN_SCALAR) {
			cfg_error(ctx, k, "expected a string as key, not %s",
			    quote(k, q, sizeof(q)));
			flag[i] = PAIR_BADKEY;
			continue;
		}
		v[m].s = k->str;
		v[m].len = k->len;
		v[m].idx = i;
		m++;
	}
	mark_dups(v, m, flag);
	for (i = 0; i < npairs; i++)
		if (flag[i] == PAIR_DUP)
			cfg_error(ctx, map->kids[2 * i], "duplicate %s \"%s\"",
			    what, quote(map->kids[2 * i], q, sizeof(q)));
	free(v);
	return flag;
}

/* A key no one knows; where says "in defaults", "at the top level"... */
static void
unknown_key(struct cfgctx *ctx, const struct ynode *k, const char *where)
{
	char	 q[CONFIG_QUOTE_MAX + 4];

	cfg_error(ctx, k, "unknown key \"%s\" %s", quote(k, q, sizeof(q)),
	    where);
}

/* A section's value: 0 for a mapping to read, -1 for none or a problem. */
static int
section(struct cfgctx *ctx, const char *key, const struct ynode *v)
{
	if (is_null(v))
		return -1;
	if (v->kind != YN_MAPPING) {
		cfg_error(ctx, v, "%s: expected a mapping", key);
		return -1;
	}
	return 0;
}

/* A scalar that holds a value: not null, not a container, no NUL. */
static int
get_scalar(struct cfgctx *ctx, const char *key, const struct ynode *v,
    const char *what)
{
	if (v->kind != YN_SCALAR || is_null(v)) {
		cfg_error(ctx, v, "%s: expected %s", key, what);
		return -1;
	}
	if (memchr(v->str, '\0', v->len) != NULL) {
		cfg_error(ctx, v, "%s: must not contain a NUL byte", key);
		return -1;
	}
	return 0;
}

/* A string; nonempty: refuse "". */
static int
get_string(struct cfgctx *ctx, const char *key, const struct ynode *v,
    const char *what, int nonempty, char **dst)
{
	if (get_scalar(ctx, key, v, what) == -1)
		return -1;
	if (nonempty && v->len == 0) {
		cfg_error(ctx, v, "%s: expected %s, not an empty string", key,
		    what);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v->str);
	return 0;
}

/* An absolute path. */
static int
get_path(struct cfgctx *ctx, const char *key, const struct ynode *v,
    char **dst)
{
	if (get_scalar(ctx, key, v, "an absolute path") == -1)
		return -1;
	if (v->str[0] != '/') {
		cfg_error(ctx, v, "%s: expected an absolute path", key);
		return -1;
	}
	free(*dst);
	*dst = xstrdup(v->str);
	return 0;
}

/* A plain decimal integer from min to max. */
static int
get_uint(struct cfgctx *ctx, const char *key, const struct ynode *v,
    unsigned long min, unsigned long max, unsigned long *dst)
{
	unsigned long	 n = 0;
	size_t		 i;

	if (v->kind != YN_SCALAR || v->len == 0 || v->len > 10 ||
	    (v->str[0] == '0' && v->len > 1))
		goto bad;
	for (i = 0; i < v->len; i++) {
		if (v->str[i] < '0' || v->str[i] > '9')
			goto bad;
		n = n * 10 + (unsigned long)(v->str[i] - '0');
	}
	if (n < min || n > max)
		goto bad;
	*dst = n;
	return 0;

bad:
	cfg_error(ctx, v, "%s: expected an integer from %lu to %lu", key, min,
	    max);
	return -1;
}

/* true/false, yes/no, on/off in any case. */
static int
get_bool(struct cfgctx *ctx, const char *key, const struct ynode *v,
    int *dst)
{
	static const char *const yes[] = { "true", "yes", "on", NULL };
	static const char *const no[] = { "false", "no", "off", NULL };
	size_t	 i;

	if (v->kind == YN_SCALAR && memchr(v->str, '\0', v->len) == NULL) {
		for (i = 0; yes[i] != NULL; i++)
			if (strcasecmp(v->str, yes[i]) == 0) {
				*dst = 1;
				return 0;
			}
		for (i = 0; no[i] != NULL; i++)
			if (strcasecmp(v->str, no[i]) == 0) {
				*dst = 0;
				return 0;
			}
	}
	cfg_error(ctx, v, "%s: expected true or false", key);
	return -1;
}

/* One word of a list: its index, or -1; what lists the words to suggest. */
static int
get_choice(struct cfgctx *ctx, const char *key, const struct ynode *v,
    const struct cfg_choice *words, const char *what)
{
	int	 i;

	if (v->kind == YN_SCALAR && memchr(v->str, '\0', v->len) == NULL)
		for (i = 0; words[i].word != NULL; i++)
			if (strcmp(v->str, words[i].word) == 0)
				return i;
	cfg_error(ctx, v, "%s: expected %s", key, what);
	return -1;
}

/* A duration as it is best written: 250ms, 2s, 1m, 1h. */
static void
ms_str(unsigned int ms, char *buf, size_t size)
{
	if (ms != 0 && ms % (3600 * 1000) == 0)
		snprintf(buf, size, "%uh", ms / (3600 * 1000));
	else if (ms != 0 && ms % (60 * 1000) == 0)
		snprintf(buf, size, "%um", ms / (60 * 1000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, size, "%us", ms / 1000);
	else
		snprintf(buf, size, "%ums", ms);
}

/* A duration with a unit, from min to max milliseconds. */
static int
get_duration(struct cfgctx *ctx, const char *key, const struct ynode *v,
    unsigned int min, unsigned int max, unsigned int *dst)
{
	const char	*err = NULL;
	char		 lo[16], hi[16];
	unsigned int	 ms;

	if (get_scalar(ctx, key, v,
	    "a duration with a unit, like 250ms, 2s or 1m") == -1)
		return -1;
	if (duration_parse(v->str, &ms, &err) == -1) {
		cfg_error(ctx, v, "%s: %s", key, err);
		return -1;
	}
	if (ms < min || ms > max) {
		ms_str(min, lo, sizeof(lo));
		ms_str(max, hi, sizeof(hi));
		cfg_error(ctx, v, "%s: expected a duration from %s to %s", key,
		    lo, hi);
		return -1;
	}
	*dst = ms;
	return 0;
}

/* HOST:PORT, [V6]:PORT or unix:/path. */
static int
get_address(struct cfgctx *ctx, const char *key, const struct ynode *v,
    struct address *dst)
{
	struct address	 a;
	const char	*err = NULL;

	if (get_scalar(ctx, key, v,
	    "an address (HOST:PORT, [V6]:PORT or unix:/path)") == -1)
		return -1;
	if (address_parse(v->str, &a, &err) == -1) {
		cfg_error(ctx, v, "%s: %s", key, err);
		return -1;
	}
	address_free(dst);
	*dst = a;
	return 0;
}

/* One address, or a sequence of them. */
static void
get_address_list(struct cfgctx *ctx, const char *key, const struct ynode *v,
    struct address_list *l)
{
	struct address	 a;
	size_t		 i, n;

	address_list_free(l);
	if (is_null(v))
		return;
	if (v->kind == YN_MAPPING) {
		cfg_error(ctx, v, "%s: expected an address or a sequence of "
		    "addresses", key);
		return;
	}
	n = v->kind == YN_SEQUENCE ? v->n : 1;
	l->addr = xcalloc(n, sizeof(*l->addr));
	for (i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		if (get_address(ctx, key, v->kind == YN_SEQUENCE ?
		    v->kids[i] : v, &a) == 0)
			l->addr[l->n++] = a;
	}
}

/* One network, or a sequence of them. */
static void
get_cidrs(struct cfgctx *ctx, const char *key, const struct ynode *v,
    struct cidr **list, size_t *nlist)
{
	const char	*what = "a network like 10.0.0.0/8 or ::1/128";
	const struct ynode *item;
	struct cidr	 c;
	size_t		 i, n;

	free(*list);
	*list = NULL;
	*nlist = 0;
	if (is_null(v))
		return;
	if (v->kind == YN_MAPPING) {
		cfg_error(ctx, v, "%s: expected a sequence of networks", key);
		return;
	}
	n = v->kind == YN_SEQUENCE ? v->n : 1;
	*list = xcalloc(n, sizeof(**list));
	for (i = 0; i < n; i++) {
		item = v->kind == YN_SEQUENCE ? v->kids[i] : v;
		if (get_scalar(ctx, key, item, what) == -1)
			continue;
		if (cidr_parse(item->str, &c) == -1) {
			cfg_error(ctx, item, "%s: expected %s", key, what);
			continue;
		}
		(*list)[(*nlist)++] = c;
	}
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

/* An HTTP token (RFC 9110), so that a name cannot smuggle a header. */
static int
header_name_ok(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", s[i]) != NULL) || s[i] == '\0')
			return 0;
	return 1;
}

/* A header value: no control bytes but tab, so no CR LF. */
static int
header_value_ok(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') ||
		    s[i] == 0x7f)
			return 0;
	return 1;
}

/* Validate one header and keep it as "Name: value". */
static void
header_add(struct cfgctx *ctx, const struct ynode *at, char ***headers,
    size_t *n, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	char	 q[CONFIG_QUOTE_MAX + 4];
	char	*h;

	while (valuelen > 0 && (*value == ' ' || *value == '\t')) {
		value++;
		valuelen--;
	}
	while (valuelen > 0 && (value[valuelen - 1] == ' ' ||
	    value[valuelen - 1] == '\t'))
		valuelen--;
	if (!header_name_ok(name, namelen)) {
		cfg_error(ctx, at, "headers: bad header name in \"%s\" "
		    "(expected \"Name: value\")", quote(at, q, sizeof(q)));
		return;
	}
	if (!header_value_ok(value, valuelen)) {
		cfg_error(ctx, at, "headers: a header value must not contain "
		    "control characters");
		return;
	}
	xasprintf(&h, "%.*s: %.*s", (int)namelen, name, (int)valuelen, value);
	*headers = xreallocarray(*headers, *n + 1, sizeof(**headers));
	(*headers)[(*n)++] = h;
}

/* A sequence of "Name: value" strings, or a mapping name -> value. */
static void
get_headers(struct cfgctx *ctx, const struct ynode *v, char ***headers,
    size_t *n)
{
	const char	*what = "\"Name: value\"";
	const struct ynode *item, *k;
	unsigned char	*skip;
	const char	*colon;
	size_t		 i;

	if (is_null(v))
		return;
	if (v->kind == YN_SEQUENCE) {
		for (i = 0; i < v->n; i++) {
			item = v->kids[i];
			if (get_scalar(ctx, "headers", item, what) == -1)
				continue;
			if ((colon = strchr(item->str, ':')) == NULL) {
				cfg_error(ctx, item, "headers: expected %s",
				    what);
				continue;
			}
			header_add(ctx, item, headers, n, item->str,
			    (size_t)(colon - item->str), colon + 1,
			    item->len - (size_t)(colon + 1 - item->str));
		}
		return;
	}
	if (v->kind != YN_MAPPING) {
		cfg_error(ctx, v, "headers: expected a sequence of %s strings "
		    "or a mapping", what);
		return;
	}
	skip = map_keys(ctx, v, "header");
	for (i = 0; i < v->n / 2; i++) {
		if (skip[i])
			continue;
		k = v->kids[2 * i];
		item = v->kids[2 * i + 1];
		if (get_scalar(ctx, "headers", item, "a header value") == -1)
			continue;
		header_add(ctx, k, headers, n, k->str, k->len, item->str,
		    item->len);
	}
	free(skip);
}

/* An http:// or https:// URL without blanks or control bytes. */
static int
url_ok(const char *s)
{
	const char	*p;

	if (strncasecmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		p = s + 8;
	else
		return 0;
	if (*p == '\0' || *p == '/')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* Do two lists hold the same addresses, as written? */
static int
address_list_same(const struct address_list *a, const struct address_list *b)
{
	size_t	 i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!str_same(a->addr[i].text, b->addr[i].text))
			return 0;
	return 1;
}

/* A file named at key that others may read: refused, it holds a secret. */
static void
private_file(struct cfgctx *ctx, const char *key, const struct ynode *v,
    const char *path)
{
	struct stat	 sb;

	if (stat(path, &sb) == 0 && (sb.st_mode & S_IROTH))
		cfg_error(ctx, v, "%s %s is readable by others; refusing it "
		    "(chmod o-r %s)", key, path, path);
}

/* Read one value as its key's kind says, into dst; base holds dst. */
static void
cfg_read_value(struct cfgctx *ctx, const struct cfg_key *key,
    const struct ynode *v, void *base)
{
	void		*dst = (char *)base + key->offset;
	char		**str = dst;
	const char	*what;
	struct cfg_scope scope;
	struct cfg_map	 m;
	char		 in[64];
	unsigned long	 n;
	int		 i;

	switch (key->kind) {
	case CFG_STRING:
		get_string(ctx, key->name, v, key->what, key->min > 0, str);
		break;
	case CFG_PATH:
		if (get_path(ctx, key->name, v, str) == 0 &&
		    (key->flags & CFG_PRIVATE))
			private_file(ctx, key->name, v, *str);
		break;
	case CFG_FILE:
		if (get_path(ctx, key->name, v, str) == 0 &&
		    v->str[v->len - 1] == '/')
			cfg_error(ctx, v, "%s: expected the path of a file, "
			    "not a directory", key->name);
		break;
	case CFG_URI:
	case CFG_URL:
		what = key->kind == CFG_URI ? "a path starting with /" :
		    "an http:// or https:// URL";
		if (get_scalar(ctx, key->name, v, what) == -1)
			break;
		if (key->kind == CFG_URI ? v->str[0] == '/' : url_ok(v->str)) {
			free(*str);
			*str = xstrdup(v->str);
		} else
			cfg_error(ctx, v, "%s: expected %s", key->name, what);
		break;
	case CFG_UINT:
		if (get_uint(ctx, key->name, v, key->min, key->max, &n) == 0)
			*(unsigned int *)dst = (unsigned int)n;
		break;
	case CFG_DURATION:
		get_duration(ctx, key->name, v, key->min, key->max, dst);
		break;
	case CFG_BOOL:
		get_bool(ctx, key->name, v, dst);
		break;
	case CFG_CHOICE:
	case CFG_WORD:
		if ((i = get_choice(ctx, key->name, v, key->choices,
		    key->what)) == -1)
			break;
		if (key->kind == CFG_CHOICE)
			*(int *)dst = key->choices[i].value;
		else
			*(const char **)dst = key->choices[i].word;
		break;
	case CFG_ADDRESS:
		get_address(ctx, key->name, v, dst);
		break;
	case CFG_ADDRESSES:
		get_address_list(ctx, key->name, v, dst);
		break;
	case CFG_NETWORKS:
		get_cidrs(ctx, key->name, v, dst,
		    (size_t *)((char *)base + key->count));
		break;
	case CFG_HEADERS:
		get_headers(ctx, v, dst, (size_t *)((char *)base + key->count));
		break;
	case CFG_SECTION:
		if (section(ctx, key->name, v) == 0) {
			scope = (struct cfg_scope){ key->table, dst, NULL };
			snprintf(in, sizeof(in), "in %s", key->name);
			cfg_read_map(ctx, v, &scope, 1, in, &m);
		}
		break;
	case CFG_NODE:
	case CFG_INCLUDE:
	case CFG_REFUSED:
		break;		/* the caller's: cfg_find(), cfg_read_map() */
	}
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
		} else if (key_is(k, keys->name)) {
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
	skip = map_keys(ctx, map, "key");
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
		cfg_read_value(ctx, key, v, (char *)scope[s].base + off);
	}
	free(skip);
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

/* Set what a table's keys hold before anything is read. */
void
cfg_defaults(const struct cfg_key *keys, void *base)
{
	void	*dst;

	for (; keys->name != NULL; keys++) {
		dst = (char *)base + keys->offset;
		switch (keys->kind) {
		case CFG_UINT:
		case CFG_DURATION:
		case CFG_BOOL:
		case CFG_CHOICE:
			*(int *)dst = keys->def;
			break;
		case CFG_WORD:
			*(const char **)dst = keys->defstr;
			break;
		case CFG_STRING:
		case CFG_PATH:
		case CFG_FILE:
		case CFG_URI:
		case CFG_URL:
			if (keys->defstr != NULL)
				*(char **)dst = xstrdup(keys->defstr);
			break;
		case CFG_INCLUDE:
		case CFG_SECTION:
			cfg_defaults(keys->table, dst);
			break;
		default:
			break;
		}
	}
}

/* Do two structs hold the same values for every key of a table? */
int
cfg_same(const struct cfg_key *keys, const void *a, const void *b)
{
	const void	*x, *y;
	size_t		 i, n;

	for (; keys->name != NULL; keys++) {
		x = (const char *)a + keys->offset;
		y = (const char *)b + keys->offset;
		switch (keys->kind) {
		case CFG_STRING:
		case CFG_PATH:
		case CFG_FILE:
		case CFG_URI:
		case CFG_URL:
		case CFG_WORD:
			if (!str_same(*(char *const *)x, *(char *const *)y))
				return 0;
			break;
		case CFG_UINT:
		case CFG_DURATION:
		case CFG_BOOL:
		case CFG_CHOICE:
			if (*(const int *)x != *(const int *)y)
				return 0;
			break;
		case CFG_ADDRESS:
			if (!str_same(((const struct address *)x)->text,
			    ((const struct address *)y)->text))
				return 0;
			break;
		case CFG_ADDRESSES:
			if (!address_list_same(x, y))
				return 0;
			break;
		case CFG_NETWORKS:
			n = *(const size_t *)((const char *)a + keys->count);
			if (n != *(const size_t *)((const char *)b +
			    keys->count) || (n > 0 &&
			    memcmp(*(struct cidr *const *)x,
			    *(struct cidr *const *)y, n * sizeof(struct cidr))))
				return 0;
			break;
		case CFG_HEADERS:
			n = *(const size_t *)((const char *)a + keys->count);
			if (n != *(const size_t *)((const char *)b +
			    keys->count))
				return 0;
			for (i = 0; i < n; i++)
				if (strcmp((*(char **const *)x)[i],
				    (*(char **const *)y)[i]) != 0)
					return 0;
			break;
		case CFG_INCLUDE:
		case CFG_SECTION:
			if (!cfg_same(keys->table, x, y))
				return 0;
			break;
		case CFG_NODE:
		case CFG_REFUSED:
			break;
		}
	}
	return 1;
}

/* Release what a table's keys hold; a secret is wiped first. */
void
cfg_free(const struct cfg_key *keys, void *base)
{
	void	*dst;
	char	**str;
	size_t	 i, *n;

	for (; keys->name != NULL; keys++) {
		dst = (char *)base + keys->offset;
		str = dst;
		switch (keys->kind) {
		case CFG_STRING:
		case CFG_PATH:
		case CFG_FILE:
		case CFG_URI:
		case CFG_URL:
			if (*str != NULL && (keys->flags & CFG_SECRET))
				explicit_bzero(*str, strlen(*str));
			free(*str);
			*str = NULL;
			break;
		case CFG_ADDRESS:
			address_free(dst);
			break;
		case CFG_ADDRESSES:
			address_list_free(dst);
			break;
		case CFG_NETWORKS:
			free(*(struct cidr **)dst);
			*(struct cidr **)dst = NULL;
			*(size_t *)((char *)base + keys->count) = 0;
			break;
		case CFG_HEADERS:
			n = (size_t *)((char *)base + keys->count);
			for (i = 0; i < *n; i++)
				free((*(char ***)dst)[i]);
			free(*(char ***)dst);
			*(char ***)dst = NULL;
			*n = 0;
			break;
		case CFG_INCLUDE:
		case CFG_SECTION:
			cfg_free(keys->table, dst);
			break;
		default:
			break;
		}
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
		if (key_is(map->kids[2 * i], name))
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

	if (get_scalar(ctx, "type", v, "a check type") == -1)
		return NULL;
	for (i = 0; check_types[i] != NULL; i++)
		if (strcmp(v->str, check_types[i]->name) == 0)
			break;
	if (check_types[i] == NULL) {
		type_list(list, sizeof(list));
		cfg_error(ctx, v, "unknown check type \"%s\" (expected %s)",
		    quote(v, q, sizeof(q)), list);
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
	    get_scalar(ctx, "name", namev, "a check name") == 0) {
		if (valid_name(namev->str, namev->len)) {
			c->name = xstrdup(namev->str);
			*namenode = namev;
		} else
			cfg_error(ctx, namev, "name: \"%s\": expected 1 to %d "
			    "letters, digits, '_', '.' or '-'",
			    quote(namev, q, sizeof(q)), CONFIG_NAME_MAX);
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
	struct named	*names;
	unsigned char	*dup;
	struct check	*c;
	size_t		 i, m = 0;

	if (is_null(v))
		return;
	if (v->kind != YN_SEQUENCE) {
		cfg_error(ctx, v, "checks: expected a sequence");
		return;
	}
	names = xcalloc(v->n + 1, sizeof(*names));
	nodes = xcalloc(v->n + 1, sizeof(*nodes));
	for (i = 0; i < v->n; i++) {
		if (v->kids[i]->kind != YN_MAPPING) {
			cfg_error(ctx, v->kids[i], "checks: expected a mapping "
			    "for each check");
			continue;
		}
		c = parse_check(ctx, pool, v->kids[i], i + 1, &namenode);
		TAILQ_INSERT_TAIL(&pool->checks, c, entry);
		if (namenode != NULL) {
			names[m].s = c->name;
			names[m].len = strlen(c->name);
			names[m].idx = m;
			nodes[m] = namenode;
			m++;
		}
	}
	dup = xcalloc(m + 1, 1);
	mark_dups(names, m, dup);
	for (i = 0; i < m; i++)
		if (dup[i])
			cfg_error(ctx, nodes[i], "duplicate check name \"%s\" "
			    "in pool \"%s\"", nodes[i]->str, pool->name);
	free(dup);
	free(nodes);
	free(names);
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
	    NULL && (checks == NULL || is_null(checks) ||
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

	if (is_null(v) || (v->kind == YN_MAPPING && v->n == 0)) {
		cfg_error(ctx, is_null(v) ? k : v,
		    "pools: expected at least one pool");
		return;
	}
	if (v->kind != YN_MAPPING) {
		cfg_error(ctx, v, "pools: expected a mapping of pool names "
		    "to pools");
		return;
	}
	skip = map_keys(ctx, v, "pool name");
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
			pool->name = xstrdup(quote(pk, q, sizeof(q)));
			cfg_error(ctx, pk, "pool name \"%s\": expected 1 to %d "
			    "letters, digits, '_', '.' or '-'", pool->name,
			    CONFIG_NAME_MAX);
		}
		TAILQ_INSERT_TAIL(&conf->pools, pool, entry);
		conf->npools++;
		if (pv->kind != YN_MAPPING) {
			cfg_error(ctx, is_null(pv) ? pk : pv, "pool \"%s\": "
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

	if (root == NULL || is_null(root)) {
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

	root = yaml_read(&ctx, &failed);
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
