/*
 * The YAML document as the configuration reads it, and the kinds of
 * value its keys hold.  libyaml's events become a small tree of nodes
 * that know their line and column (no aliases, no second document,
 * bounded nesting); every problem found in it is a message at a node,
 * kept and handed over sorted into document order as "FILE:LINE:COL:
 * what is wrong".  Each kind a key table names (enum cfg_kind) is read
 * from a node here (ynode_value()), and defaulted, compared and freed
 * here too: adding a kind is this file.  Which keys there are, and what
 * they mean, is config.c's and the check types'.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "fpmprobe.h"

#define CONFIG_DEPTH_MAX	32	/* nested mappings and sequences */
#define CONFIG_ERRORS_MAX	100	/* messages kept for one file */

/* Flags ynode_keys() sets on a pair the caller must skip. */
#define PAIR_BADKEY	1
#define PAIR_DUP	2

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

static void	 cfg_verror(struct cfgctx *, int, int, const char *, va_list)
		    __attribute__((format(printf, 4, 0)));
static int	 cfgmsg_cmp(const void *, const void *);
static void	 yaml_error(struct cfgctx *, const yaml_parser_t *);
static int	 yaml_tag_refused(struct cfgctx *, yaml_event_t *,
		    const yaml_char_t *);
static struct ynode *ynode_new(enum ynode_kind, const yaml_mark_t *);
static void	 ynode_add(struct ynode *, struct ynode *);
static int	 named_cmp(const void *, const void *);
static void	 mark_dups(struct named *, size_t, unsigned char *);
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
static int	 header_name_ok(const char *, size_t);
static int	 header_value_ok(const char *, size_t);
static void	 header_add(struct cfgctx *, const struct ynode *, char ***,
		    size_t *, const char *, size_t, const char *, size_t);
static void	 get_headers(struct cfgctx *, const struct ynode *, char ***,
		    size_t *);
static int	 url_ok(const char *);
static void	 private_file(struct cfgctx *, const char *,
		    const struct ynode *, const char *);
static int	 address_list_same(const struct address_list *,
		    const struct address_list *);

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
void
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
void
cfg_error(struct cfgctx *ctx, const struct ynode *n, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	cfg_verror(ctx, n->line, n->col, fmt, ap);
	va_end(ap);
}

/* One problem at a line and column (0: none known). */
void
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
		/*
		 * libyaml takes a plain key of over 1,024 characters for a
		 * value, and then balks at its ':': say what was meant.
		 */
		if (col > 1024 && strcmp(problem, "mapping values are not "
		    "allowed in this context") == 0)
			cfg_errorat(ctx, line, 1, "a key longer than 1024 "
			    "characters (names have at most %d)",
			    CONFIG_NAME_MAX);
		else if (p->context != NULL)
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

/*
 * Refuse an explicit YAML tag (!!binary, !!int, !custom): fpmprobe reads
 * every value as the text written, so a tag would be silently ignored.
 * Deletes the event and returns 1 when it refused one.
 */
static int
yaml_tag_refused(struct cfgctx *ctx, yaml_event_t *ev, const yaml_char_t *tag)
{
	char	 text[64];

	if (tag == NULL)
		return 0;
	sanitize_text(text, sizeof(text), (const char *)tag,
	    strlen((const char *)tag));
	cfg_errorat(ctx, (int)ev->start_mark.line + 1,
	    (int)ev->start_mark.column + 1, "YAML tag \"%s\" is not "
	    "supported: write the value without it", text);
	yaml_event_delete(ev);
	return 1;
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
void
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
struct ynode *
ynode_read(struct cfgctx *ctx, int *failed)
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
			if (yaml_tag_refused(ctx, &ev, ev.data.scalar.tag))
				goto fail;
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
			if (yaml_tag_refused(ctx, &ev,
			    ev.type == YAML_MAPPING_START_EVENT ?
			    ev.data.mapping_start.tag :
			    ev.data.sequence_start.tag))
				goto fail;
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
const char *
ynode_quote(const struct ynode *n, char *buf, size_t size)
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
int
ynode_null(const struct ynode *n)
{
	if (n->kind != YN_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->str, "~") == 0 ||
	    strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
	    strcmp(n->str, "NULL") == 0;
}

/* Is this key node exactly the given name? */
int
ynode_is(const struct ynode *k, const char *name)
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

/* Flag, in flag[i], each node whose string an earlier one had. */
void
ynode_dups(const struct ynode *const *nodes, size_t n, unsigned char *flag)
{
	struct named	*v;
	size_t		 i;

	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].s = nodes[i]->str;
		v[i].len = nodes[i]->len;
		v[i].idx = i;
	}
	mark_dups(v, n, flag);
	free(v);
}

/*
 * Check a mapping's keys: each is a string and appears once.  Returns
 * one flag per pair, non-zero for a pair the caller must skip; what
 * names a key in the duplicate message ("key", "pool name").
 */
unsigned char *
ynode_keys(struct cfgctx *ctx, const struct ynode *map, const char *what)
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
			    ynode_quote(k, q, sizeof(q)));
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
			    what, ynode_quote(map->kids[2 * i], q, sizeof(q)));
	free(v);
	return flag;
}

/* A section's value: 0 for a mapping to read, -1 for none or a problem. */
int
ynode_mapping(struct cfgctx *ctx, const char *key, const struct ynode *v)
{
	if (ynode_null(v))
		return -1;
	if (v->kind != YN_MAPPING) {
		cfg_error(ctx, v, "%s: expected a mapping", key);
		return -1;
	}
	return 0;
}

/* A scalar that holds a value: not null, not a container, no NUL. */
int
ynode_scalar(struct cfgctx *ctx, const char *key, const struct ynode *v,
    const char *what)
{
	if (v->kind != YN_SCALAR || ynode_null(v)) {
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
	if (ynode_scalar(ctx, key, v, what) == -1)
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
	if (ynode_scalar(ctx, key, v, "an absolute path") == -1)
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

	if (ynode_scalar(ctx, key, v,
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

	if (ynode_scalar(ctx, key, v,
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
	if (ynode_null(v))
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
	if (ynode_null(v))
		return;
	if (v->kind == YN_MAPPING) {
		cfg_error(ctx, v, "%s: expected a sequence of networks", key);
		return;
	}
	n = v->kind == YN_SEQUENCE ? v->n : 1;
	*list = xcalloc(n, sizeof(**list));
	for (i = 0; i < n; i++) {
		item = v->kind == YN_SEQUENCE ? v->kids[i] : v;
		if (ynode_scalar(ctx, key, item, what) == -1)
			continue;
		if (cidr_parse(item->str, &c) == -1) {
			cfg_error(ctx, item, "%s: expected %s", key, what);
			continue;
		}
		(*list)[(*nlist)++] = c;
	}
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
		    "(expected \"Name: value\")", ynode_quote(at, q, sizeof(q)));
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

	if (ynode_null(v))
		return;
	if (v->kind == YN_SEQUENCE) {
		for (i = 0; i < v->n; i++) {
			item = v->kids[i];
			if (ynode_scalar(ctx, "headers", item, what) == -1)
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
	skip = ynode_keys(ctx, v, "header");
	for (i = 0; i < v->n / 2; i++) {
		if (skip[i])
			continue;
		k = v->kids[2 * i];
		item = v->kids[2 * i + 1];
		if (ynode_scalar(ctx, "headers", item, "a header value") == -1)
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

/*
 * Read one value as its key's kind says, into base + the key's offset;
 * a problem is a message at the node, and leaves the value as it was.
 */
void
ynode_value(struct cfgctx *ctx, const struct cfg_key *key,
    const struct ynode *v, void *base)
{
	void		*dst = (char *)base + key->offset;
	char		**str = dst;
	const char	*what;
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
		if (ynode_scalar(ctx, key->name, v, what) == -1)
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
	case CFG_NODE:
	case CFG_INCLUDE:
	case CFG_SECTION:
	case CFG_REFUSED:
		break;		/* the caller's: config.c's cfg_read_map() */
	}
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
