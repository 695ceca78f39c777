/*
 * php-fpm's own configuration (php-fpm.conf and what it includes), read
 * the way php-fpm 8.2 reads it (sapi/fpm/fpm/fpm_conf.c and the INI
 * scanner in Zend/zend_ini_scanner.l, normal mode), so that fpmprobe
 * knows a pool's pm, pm.max_children or timeouts from the same text.
 *
 * What php-fpm does, and so what is done here:
 * - Each line is parsed on its own (fpm_conf_load_ini_file hands the
 *   scanner one line at a time): nothing, not even a quoted string,
 *   spans two lines.
 * - ';' starts a comment.  '#' does not (PHP 7 dropped it): a '#' line
 *   is a key without '=', which php-fpm refuses, and so is it here.
 * - [name] opens a section; [global] in any case is the global one, and
 *   a name seen before in any case reopens that pool, which keeps its
 *   first spelling.  The current section carries over from a file into
 *   the files it includes and back: a pool file's lines before its
 *   first [pool] go to the section that was current, and the including
 *   file goes on in the section the included one ended in.
 * - A value is unquoted words, "double-quoted" (\" \\ \$ are escapes)
 *   and 'single-quoted' (raw) pieces run together; blanks around a
 *   double-quoted piece and at the ends are dropped.  A whole value of
 *   true/on/yes is "1", of false/off/no/none/null is "" (any case); such
 *   a word inside a longer unquoted value, and an unquoted '=', are
 *   syntax errors to php-fpm and so here.
 * - include=GLOB is expanded with glob(3), sorted, directories skipped,
 *   a relative pattern taken from php-fpm's prefix; a pattern matching
 *   nothing is only a warning to php-fpm, any other glob failure (a
 *   missing directory) an error.  At most 5 files nest.
 * - $pool in a pool's value is its name; in [global] it is an error.
 * - A directive given twice: the last one wins.  A php_value[],
 *   php_admin_value[] or env[] given twice: the first one wins, because
 *   php-fpm prepends them to a list and applies it from its head.
 *   Directive names match in any case, array names and keys exactly.
 *
 * What is not done: constants and expressions (E_ALL & ~E_NOTICE) are
 * kept as written, not evaluated, and ${VAR} is kept, not taken from an
 * environment fpmprobe does not share; directive names are not checked.
 *
 * The files are hostile input: files, bytes, lines, sections, entries and
 * nesting are capped, and every failure is one line, "FILE:LINE: what".
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fpmprobe.h"

#define FPM_CONF_FILES_MAX	256		/* files, includes counted */
#define FPM_CONF_FILE_MAX	(1024 * 1024)	/* bytes of one file */
#define FPM_CONF_LINE_MAX	(64 * 1024)	/* bytes of one line */
#define FPM_CONF_DEPTH_MAX	5		/* php-fpm's own limit */
#define FPM_CONF_SECTIONS_MAX	1024		/* [global] counted */
#define FPM_CONF_ENTRIES_MAX	4096		/* per section */
/* Keys, values and names held: $pool could multiply a small file. */
#define FPM_CONF_TEXT_MAX	(64 * 1024 * 1024)

/*
 * Where php-fpm takes a relative include from when no -p was given: its
 * install prefix (PHP_PREFIX), /usr for distribution packages.
 */
#ifndef FPM_PREFIX
#define FPM_PREFIX		"/usr"
#endif

#define TITLE_MASTER		"php-fpm: master process ("

/* One file being parsed. */
struct conf_parse {
	struct fpm_conf	*conf;
	const char	*file;		/* conf->file[], kept by entries */
	int		 line;
	int		 depth;		/* 1 for the main file */
	int		 follow;	/* read what include= names */
	char		*err;
	size_t		 errlen;
};

static int	 conf_error(struct conf_parse *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	 file_error(char *, size_t, const char *, const char *);
static void	*grow(void *, size_t, size_t);
static int	 text_budget(struct conf_parse *, size_t);
static void	 global_ensure(struct fpm_conf *);
static int	 text_parse(struct fpm_conf *, const char *, const char *,
		    size_t, int, int, char *, size_t);
static int	 line_parse(struct conf_parse *, const char *, size_t);
static int	 section_parse(struct conf_parse *, const char *, size_t,
		    size_t *);
static int	 entry_parse(struct conf_parse *, const char *, size_t,
		    size_t *);
static int	 bracket_scan(struct conf_parse *, const char *, size_t,
		    size_t *, struct buf *, const char *);
static int	 value_scan(struct conf_parse *, const char *, size_t,
		    size_t *, struct buf *);
static int	 quoted_scan(struct conf_parse *, const char *, size_t,
		    size_t *, struct buf *);
static int	 var_scan(struct conf_parse *, const char *, size_t, size_t *,
		    struct buf *);
static const char *char_name(char, char *, size_t);
static int	 is_blank(char);
static int	 is_word_char(const char *, size_t, size_t);
static int	 bool_word(const char *, size_t);
static int	 section_open(struct conf_parse *, const char *);
static int	 entry_add(struct conf_parse *, const char *, const char *);
static size_t	 pool_expand(char *, const char *, const char *);
static int	 include_follow(struct conf_parse *, const char *);
static int	 file_load(struct fpm_conf *, const char *, int, char *,
		    size_t);
static int	 file_read(const char *, struct buf *, char *, size_t);
static void	 entry_free(struct fpm_conf_entry *);
#if defined(__linux__)
static int	 proc_read(const char *, char *, size_t, size_t *);
static pid_t	 status_ppid(const char *);
#endif

/* Say "FILE:LINE: what" for the caller; always -1, to be returned. */
static int
conf_error(struct conf_parse *p, const char *fmt, ...)
{
	char	 file[512], what[512];
	va_list	 ap;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* A file name from a glob may hold any byte; the message is a line. */
	quote_value(file, sizeof(file), p->file, strlen(p->file));
	snprintf(p->err, p->errlen, "%s:%d: %s", file, p->line, what);
	return -1;
}

/* Say "FILE: why" for the caller. */
static void
file_error(char *err, size_t errlen, const char *path, const char *why)
{
	char	 file[512];

	if (err == NULL || errlen == 0)
		return;
	quote_value(file, sizeof(file), path, strlen(path));
	snprintf(err, errlen, "%s: %s", file, why);
}

/*
 * Room for element n of an array of n: the capacity is not stored, it is
 * 8, then the power of two above n, so the array grows when n reaches it.
 */
static void *
grow(void *array, size_t n, size_t size)
{
	if (n == 0)
		return xreallocarray(array, 8, size);
	if (n >= 8 && (n & (n - 1)) == 0)
		return xreallocarray(array, n * 2, size);
	return array;
}

/* Count len more bytes of text held; -1 past the budget. */
static int
text_budget(struct conf_parse *p, size_t len)
{
	if (len > FPM_CONF_TEXT_MAX - p->conf->bytes)
		return conf_error(p, "the configuration holds more than %d "
		    "MiB of text", FPM_CONF_TEXT_MAX / (1024 * 1024));
	p->conf->bytes += len;
	return 0;
}

/* Section 0 is [global], there before any text. */
static void
global_ensure(struct fpm_conf *conf)
{
	if (conf->n > 0)
		return;
	conf->section = grow(conf->section, 0, sizeof(*conf->section));
	memset(&conf->section[0], 0, sizeof(conf->section[0]));
	conf->section[0].name = xstrdup("global");
	conf->n = 1;
	conf->cur = 0;
}

/*
 * Parse one file's text into conf, line by line as php-fpm does; follow
 * includes when asked.  A UTF-8 byte order mark is skipped (the INI
 * scanner skips it too); a last line without its newline counts.
 */
static int
text_parse(struct fpm_conf *conf, const char *file, const char *text,
    size_t len, int depth, int follow, char *err, size_t errlen)
{
	struct conf_parse	 p;
	const char		*s, *end, *nl, *nul;
	char			 what[64];
	size_t			 linelen;

	if (conf->nfiles >= FPM_CONF_FILES_MAX) {
		snprintf(what, sizeof(what), "more than %d files in the "
		    "configuration", FPM_CONF_FILES_MAX);
		file_error(err, errlen, file, what);
		return -1;
	}
	conf->file = grow(conf->file, conf->nfiles, sizeof(*conf->file));
	conf->file[conf->nfiles] = xstrdup(file);
	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.file = conf->file[conf->nfiles++];
	p.depth = depth;
	p.follow = follow;
	p.err = err;
	p.errlen = errlen;
	global_ensure(conf);

	if (text == NULL || len == 0)
		return 0;
	s = text;
	end = text + len;
	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < end) {
		p.line++;
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		linelen = (size_t)(nl - s);
		if (linelen > FPM_CONF_LINE_MAX)
			return conf_error(&p, "line longer than %d bytes",
			    FPM_CONF_LINE_MAX);
		/* php-fpm hands the line on as a C string: a NUL ends it. */
		if ((nul = memchr(s, '\0', linelen)) != NULL)
			linelen = (size_t)(nul - s);
		if (line_parse(&p, s, linelen) == -1)
			return -1;
		s = nl + 1;
	}
	return 0;
}

/*
 * One line: statements one after the other, as the scanner reads them
 * ("[www] pm = static" is a section and an entry; a lone CR ends one).
 */
static int
line_parse(struct conf_parse *p, const char *s, size_t len)
{
	size_t	 i = 0;

	for (;;) {
		while (i < len && (is_blank(s[i]) || s[i] == '\r'))
			i++;
		if (i == len)
			return 0;
		if (s[i] == ';') {
			/* A comment runs to the end of the line, or a CR. */
			while (i < len && s[i] != '\r')
				i++;
			continue;
		}
		if (s[i] == '[') {
			if (section_parse(p, s, len, &i) == -1)
				return -1;
		} else if (entry_parse(p, s, len, &i) == -1)
			return -1;
	}
}

/* "[name]": open or reopen the section. */
static int
section_parse(struct conf_parse *p, const char *s, size_t len, size_t *pos)
{
	struct buf	 name;
	int		 rc;

	memset(&name, 0, sizeof(name));
	buf_add(&name, "", 0);
	(*pos)++;
	rc = bracket_scan(p, s, len, pos, &name, "section header");
	if (rc == 0)
		rc = section_open(p, (const char *)name.data);
	buf_free(&name);
	return rc;
}

/* "key = value" or "name[offset] = value". */
static int
entry_parse(struct conf_parse *p, const char *s, size_t len, size_t *pos)
{
	static const char	 stop[] = "=\r\t;&|^$~(){}!\"[";
	struct buf		 key, value;
	char			 shown[64], c[16];
	size_t			 i = *pos, start = *pos, end;
	int			 rc = -1;

	memset(&key, 0, sizeof(key));
	memset(&value, 0, sizeof(value));
	buf_add(&value, "", 0);
	while (i < len && strchr(stop, s[i]) == NULL)
		i++;
	end = i;
	while (end > start && s[end - 1] == ' ')
		end--;
	quote_value(shown, sizeof(shown), s + start, end - start);
	if (end == start) {
		conf_error(p, "expected a key or a [section], found %s",
		    char_name(s[i], c, sizeof(c)));
		goto done;
	}
	buf_add(&key, s + start, end - start);
	if (i < len && s[i] == '[') {
		/* The offset's leading blanks are dropped, not its trailing. */
		i++;
		while (i < len && is_blank(s[i]))
			i++;
		buf_add(&key, "[", 1);
		if (bracket_scan(p, s, len, &i, &key, "key") == -1)
			goto done;
		buf_add(&key, "]", 1);
	}
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i] == ';' || s[i] == '\r') {
		if (s[start] == '#')
			conf_error(p, "'%s' has no '=': '#' does not start a "
			    "comment, ';' does", shown);
		else
			conf_error(p, "'%s' has no '=' (expected key = value)",
			    shown);
		goto done;
	}
	if (s[i] != '=') {
		conf_error(p, "unexpected %s after '%s' (expected '=')",
		    char_name(s[i], c, sizeof(c)), shown);
		goto done;
	}
	i++;
	while (i < len && is_blank(s[i]))
		i++;
	if (value_scan(p, s, len, &i, &value) == -1)
		goto done;
	*pos = i;
	rc = entry_add(p, (const char *)key.data, (const char *)value.data);
done:
	buf_free(&key);
	buf_free(&value);
	return rc;
}

/*
 * The inside of [section] or of key[offset], up to and past its ']':
 * unquoted text is kept as written (blanks, backslash pairs), quoted
 * pieces as in a value.  A ';' or the end of the line before ']' is an
 * error.
 */
static int
bracket_scan(struct conf_parse *p, const char *s, size_t len, size_t *pos,
    struct buf *out, const char *what)
{
	size_t	 i = *pos, start, k;
	int	 blank;

	for (;;) {
		if (i == len || s[i] == '\r' || s[i] == ';')
			return conf_error(p, "%s without its ']'", what);
		if (s[i] == ']')
			break;
		if (s[i] == '"' || s[i] == '\'') {
			if (quoted_scan(p, s, len, &i, out) == -1)
				return -1;
			continue;
		}
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
			if (var_scan(p, s, len, &i, out) == -1)
				return -1;
			continue;
		}
		start = i;
		while (i < len && s[i] != ']' && s[i] != '\r' && s[i] != ';' &&
		    s[i] != '"' && s[i] != '\'' &&
		    !(s[i] == '$' && i + 1 < len && s[i + 1] == '{'))
			i += s[i] == '\\' && i + 1 < len ? 2 : 1;
		/* Blanks alone before a '"' are the quote's: it drops them. */
		for (k = start, blank = 1; k < i && blank; k++)
			blank = is_blank(s[k]);
		if (!(blank && i < len && s[i] == '"'))
			buf_add(out, s + start, i - start);
	}
	*pos = i + 1;
	return 0;
}

/*
 * A value, up to the end of the line, a ';' comment or a CR: words,
 * quoted pieces and the blanks between them, run together.
 */
static int
value_scan(struct conf_parse *p, const char *s, size_t len, size_t *pos,
    struct buf *out)
{
	size_t	 i = *pos, start, ntok = 0, boolstart = 0, boollen = 0;
	int	 boolv = -1, b;

	while (i < len && s[i] != ';' && s[i] != '\r') {
		start = i;
		if (is_blank(s[i])) {
			while (i < len && is_blank(s[i]))
				i++;
			/* Trailing blanks go; a '"' drops those before it. */
			if (i == len || s[i] == ';' || s[i] == '\r' ||
			    s[i] == '"')
				continue;
			buf_add(out, s + start, i - start);
		} else if (s[i] == '=') {
			return conf_error(p, "'=' in a value must be quoted");
		} else if (s[i] == '"' || s[i] == '\'') {
			if (quoted_scan(p, s, len, &i, out) == -1)
				return -1;
		} else if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
			if (var_scan(p, s, len, &i, out) == -1)
				return -1;
		} else if (strchr("&|~()!", s[i]) != NULL) {
			/* php-fpm computes an expression; it is kept here. */
			buf_add(out, s + i, 1);
			i++;
		} else {
			while (i < len && is_word_char(s, len, i))
				i++;
			if ((b = bool_word(s + start, i - start)) != -1) {
				boolv = b;
				boolstart = start;
				boollen = i - start;
			}
			buf_add(out, s + start, i - start);
		}
		ntok++;
	}
	*pos = i;
	if (boolv == -1)
		return 0;
	if (ntok != 1)
		return conf_error(p, "'%.*s' must be quoted inside a longer "
		    "value", (int)boollen, s + boolstart);
	buf_reset(out);
	if (boolv)
		buf_add(out, "1", 1);
	return 0;
}

/*
 * A "double-quoted" or 'single-quoted' piece at s[*pos].  In double
 * quotes \" \\ and \$ stand for the character, other backslashes stay,
 * and "C:\path\" at the end of a line is closed by its last quote, as
 * php-fpm's scanner has it.  Blanks after a closing '"' are dropped.
 */
static int
quoted_scan(struct conf_parse *p, const char *s, size_t len, size_t *pos,
    struct buf *out)
{
	const char	*q;
	size_t		 i = *pos + 1;
	char		 c;

	if (s[*pos] == '\'') {
		if ((q = memchr(s + i, '\'', len - i)) == NULL)
			return conf_error(p, "unterminated '...' string");
		buf_add(out, s + i, (size_t)(q - (s + i)));
		*pos = (size_t)(q - s) + 1;
		return 0;
	}
	for (;;) {
		if (i == len)
			return conf_error(p, "unterminated \"...\" string");
		c = s[i];
		if (c == '"') {
			i++;
			break;
		}
		if (c == '\\' && i + 1 < len) {
			c = s[i + 1];
			if (c == '"' && (i + 2 == len || s[i + 2] == '\r')) {
				buf_add(out, "\\", 1);
				i += 2;
				break;
			}
			if (c != '"' && c != '\\' && c != '$')
				buf_add(out, "\\", 1);
			buf_add(out, &c, 1);
			i += 2;
			continue;
		}
		if (c == '$' && i + 1 < len && s[i + 1] == '{') {
			if (var_scan(p, s, len, &i, out) == -1)
				return -1;
			continue;
		}
		buf_add(out, &c, 1);
		i++;
	}
	while (i < len && is_blank(s[i]))
		i++;
	*pos = i;
	return 0;
}

/*
 * "${NAME}": php-fpm puts the variable of its own environment there; that
 * is not fpmprobe's, so the text is kept as written.
 */
static int
var_scan(struct conf_parse *p, const char *s, size_t len, size_t *pos,
    struct buf *out)
{
	const char	*q;
	size_t		 i = *pos;

	if ((q = memchr(s + i, '}', len - i)) == NULL)
		return conf_error(p, "unterminated ${...}");
	buf_add(out, s + i, (size_t)(q - (s + i)) + 1);
	*pos = (size_t)(q - s) + 1;
	return 0;
}

/* A byte as an error message shows it: 'x', or its code. */
static const char *
char_name(char c, char *buf, size_t len)
{
	unsigned char	 u = (unsigned char)c;

	if (u > 0x20 && u < 0x7f)
		snprintf(buf, len, "'%c'", c);
	else
		snprintf(buf, len, "byte 0x%02x", u);
	return buf;
}

/* A blank between INI tokens. */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Does s[i] continue an unquoted word of a value? */
static int
is_word_char(const char *s, size_t len, size_t i)
{
	if (strchr(" \t\r;=\"'&|~()!", s[i]) != NULL)
		return 0;
	return !(s[i] == '$' && i + 1 < len && s[i + 1] == '{');
}

/* 1 or 0 for the scanner's boolean words, -1 for any other word. */
static int
bool_word(const char *s, size_t len)
{
	static const char *const yes[] = { "true", "on", "yes" };
	static const char *const no[] = { "false", "off", "no", "none",
	    "null" };
	size_t	 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0)
			return 1;
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0)
			return 0;
	return -1;
}

/* Make the named section current, adding it the first time. */
static int
section_open(struct conf_parse *p, const char *name)
{
	struct fpm_conf		*conf = p->conf;
	struct fpm_conf_section	*sec;
	size_t			 i;

	if (strcasecmp(name, "global") == 0) {
		conf->cur = 0;
		return 0;
	}
	for (i = 1; i < conf->n; i++) {
		if (strcasecmp(conf->section[i].name, name) == 0) {
			conf->cur = i;
			return 0;
		}
	}
	if (conf->n >= FPM_CONF_SECTIONS_MAX)
		return conf_error(p, "more than %d sections",
		    FPM_CONF_SECTIONS_MAX);
	if (text_budget(p, strlen(name)) == -1)
		return -1;
	conf->section = grow(conf->section, conf->n, sizeof(*conf->section));
	sec = &conf->section[conf->n];
	memset(sec, 0, sizeof(*sec));
	sec->name = xstrdup(name);
	conf->cur = conf->n++;
	return 0;
}

/*
 * Add key = value to the current section, $pool expanded, and read what
 * an include names.  php-fpm does not expand $pool in include.  The
 * expanded size is counted before anything is allocated.
 */
static int
entry_add(struct conf_parse *p, const char *key, const char *value)
{
	struct fpm_conf_section	*sec = &p->conf->section[p->conf->cur];
	struct fpm_conf_entry	*e;
	char			 shown[64];
	size_t			 vlen;
	int			 include, expand;

	if (sec->n >= FPM_CONF_ENTRIES_MAX) {
		quote_value(shown, sizeof(shown), sec->name, strlen(sec->name));
		return conf_error(p, "more than %d entries in [%s]",
		    FPM_CONF_ENTRIES_MAX, shown);
	}
	include = strcmp(key, "include") == 0;
	expand = !include && strstr(value, "$pool") != NULL;
	if (expand && p->conf->cur == 0)
		return conf_error(p, "$pool in [global], where there is no "
		    "pool to name");
	vlen = expand ? pool_expand(NULL, value, sec->name) : strlen(value);
	if (text_budget(p, strlen(key) + vlen) == -1)
		return -1;
	sec->entry = grow(sec->entry, sec->n, sizeof(*sec->entry));
	e = &sec->entry[sec->n++];
	e->key = xstrdup(key);
	if (expand) {
		e->value = xcalloc(1, vlen + 1);
		pool_expand(e->value, value, sec->name);
	} else
		e->value = xstrdup(value);
	e->file = (char *)p->file;
	e->line = p->line;
	if (include && p->follow)
		return include_follow(p, e->value);
	return 0;
}

/*
 * Write value with every $pool replaced by the name into out (when not
 * NULL, room for the result and its NUL); return the result's length.
 * One pass: php-fpm searches its result again, and never ends when the
 * name itself holds "$pool".
 */
static size_t
pool_expand(char *out, const char *value, const char *pool)
{
	const char	*s = value, *t;
	size_t		 n = 0, plen = strlen(pool);

	while ((t = strstr(s, "$pool")) != NULL) {
		if (out != NULL) {
			memcpy(out + n, s, (size_t)(t - s));
			memcpy(out + n + (size_t)(t - s), pool, plen);
		}
		n += (size_t)(t - s) + plen;
		s = t + 5;
	}
	if (out != NULL)
		memcpy(out + n, s, strlen(s) + 1);
	return n + strlen(s);
}

/* Read the files an include pattern matches, sorted, as php-fpm does. */
static int
include_follow(struct conf_parse *p, const char *pattern)
{
	glob_t	 g;
	char	*full = NULL;
	char	 shown[256];
	size_t	 i, n;
	int	 rc;

	if (pattern[0] != '/') {
		xasprintf(&full, "%s/%s", FPM_PREFIX, pattern);
		pattern = full;
	}
	quote_value(shown, sizeof(shown), pattern, strlen(pattern));
	memset(&g, 0, sizeof(g));
	rc = glob(pattern, GLOB_ERR | GLOB_MARK, NULL, &g);
	if (rc == GLOB_NOMATCH) {
		free(full);
		return 0;
	}
	if (rc != 0) {
		conf_error(p, "include '%s': %s", shown, rc == GLOB_NOSPACE ?
		    "out of memory" : "a directory cannot be read");
		globfree(&g);
		free(full);
		return -1;
	}
	for (i = 0, rc = 0; i < g.gl_pathc && rc == 0; i++) {
		n = strlen(g.gl_pathv[i]);
		if (n == 0 || g.gl_pathv[i][n - 1] == '/')
			continue;
		if (p->depth >= FPM_CONF_DEPTH_MAX) {
			quote_value(shown, sizeof(shown), g.gl_pathv[i], n);
			rc = conf_error(p, "including %s nests more than %d "
			    "files (an include loop?)", shown,
			    FPM_CONF_DEPTH_MAX);
			break;
		}
		rc = file_load(p->conf, g.gl_pathv[i], p->depth + 1, p->err,
		    p->errlen);
	}
	globfree(&g);
	free(full);
	return rc;
}

/* Read and parse one file at the given nesting depth. */
static int
file_load(struct fpm_conf *conf, const char *path, int depth, char *err,
    size_t errlen)
{
	struct buf	 text;
	int		 rc;

	memset(&text, 0, sizeof(text));
	if (file_read(path, &text, err, errlen) == -1) {
		buf_free(&text);
		return -1;
	}
	rc = text_parse(conf, path, (const char *)text.data, text.len, depth,
	    1, err, errlen);
	buf_free(&text);
	return rc;
}

/*
 * A regular file's bytes, at most FPM_CONF_FILE_MAX.  Non-blocking, so
 * that a FIFO put where a file should be cannot stall the caller.
 */
static int
file_read(const char *path, struct buf *out, char *err, size_t errlen)
{
	struct stat	 st;
	char		 chunk[16384];
	ssize_t		 n;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) ==
	    -1) {
		file_error(err, errlen, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		file_error(err, errlen, path, strerror(saved));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		file_error(err, errlen, path, "not a regular file");
		return -1;
	}
	buf_add(out, "", 0);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			file_error(err, errlen, path, strerror(saved));
			return -1;
		}
		if (n == 0)
			break;
		if ((size_t)n > FPM_CONF_FILE_MAX - out->len) {
			close(fd);
			file_error(err, errlen, path, "larger than 1 MiB");
			return -1;
		}
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/*
 * Read php-fpm's main configuration file and what it includes.  *conf is
 * overwritten; on failure it is left empty and err says why.
 */
int
fpm_conf_load(const char *path, struct fpm_conf *conf, char *err,
    size_t errlen)
{
	memset(conf, 0, sizeof(*conf));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || path[0] == '\0') {
		if (err != NULL && errlen > 0)
			strlcpy_safe(err, "no configuration file given",
			    errlen);
		return -1;
	}
	conf->path = xstrdup(path);
	global_ensure(conf);
	if (file_load(conf, path, 1, err, errlen) == -1) {
		fpm_conf_free(conf);
		return -1;
	}
	return 0;
}

/*
 * Parse one file's text into conf, appending; include= is kept as an
 * entry and not followed.  conf starts zeroed or from an earlier call;
 * on failure it keeps what came before the bad line, for
 * fpm_conf_free().
 */
int
fpm_conf_parse(struct fpm_conf *conf, const char *file, const char *text,
    size_t len, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (file == NULL)
		file = "-";
	if (conf->path == NULL)
		conf->path = xstrdup(file);
	return text_parse(conf, file, text, len, 1, 0, err, errlen);
}

/* Release one entry's strings; its file belongs to the conf. */
static void
entry_free(struct fpm_conf_entry *e)
{
	free(e->key);
	free(e->value);
}

/* Release everything; idempotent. */
void
fpm_conf_free(struct fpm_conf *conf)
{
	size_t	 i, j;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->n; i++) {
		for (j = 0; j < conf->section[i].n; j++)
			entry_free(&conf->section[i].entry[j]);
		free(conf->section[i].entry);
		free(conf->section[i].name);
	}
	free(conf->section);
	for (i = 0; i < conf->nfiles; i++)
		free(conf->file[i]);
	free(conf->file);
	free(conf->path);
	memset(conf, 0, sizeof(*conf));
}

/*
 * A pool by name, in any case as php-fpm matches sections; never
 * [global], which no pool can be called.
 */
const struct fpm_conf_section *
fpm_conf_pool(const struct fpm_conf *conf, const char *name)
{
	size_t	 i;

	if (conf == NULL || name == NULL)
		return NULL;
	for (i = 1; i < conf->n; i++)
		if (strcasecmp(conf->section[i].name, name) == 0)
			return &conf->section[i];
	return NULL;
}

/*
 * The entry php-fpm would use for a key.  A directive ("pm.max_children",
 * any case) is the last one written; an array key ("php_value[x]",
 * exact) is the first, since php-fpm applies those lists newest first
 * and so leaves the oldest value standing.
 */
const struct fpm_conf_entry *
fpm_conf_get(const struct fpm_conf_section *sec, const char *key)
{
	size_t	 i;

	if (sec == NULL || key == NULL)
		return NULL;
	if (strchr(key, '[') != NULL) {
		for (i = 0; i < sec->n; i++)
			if (strcmp(sec->entry[i].key, key) == 0)
				return &sec->entry[i];
		return NULL;
	}
	for (i = sec->n; i > 0; i--)
		if (strchr(sec->entry[i - 1].key, '[') == NULL &&
		    strcasecmp(sec->entry[i - 1].key, key) == 0)
			return &sec->entry[i - 1];
	return NULL;
}

/*
 * php-fpm's time values (fpm_conf_set_time): digits, then s (the
 * default), m, h or d.  Stricter than php-fpm's atoi(): a sign, blanks or
 * garbage are refused, and so is more than php-fpm's int can hold.
 */
int
fpm_conf_seconds(const char *value, unsigned int *secs)
{
	unsigned long long	 v = 0, mult = 1;
	const char		*s = value;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		v = v * 10 + (unsigned long long)(*s - '0');
		if (v > INT_MAX)
			return -1;
	}
	if (*s != '\0') {
		if (s[1] != '\0')
			return -1;
		switch (*s) {
		case 's':
			break;
		case 'm':
			mult = 60;
			break;
		case 'h':
			mult = 3600;
			break;
		case 'd':
			mult = 86400;
			break;
		default:
			return -1;
		}
	}
	if (v * mult > INT_MAX)
		return -1;
	*secs = (unsigned int)(v * mult);
	return 0;
}

/*
 * The configuration path in a php-fpm master's title as /proc/PID/cmdline
 * shows it: "php-fpm: master process (PATH)", NUL-padded to the length
 * of the arguments and environment php-fpm overwrote.  -1 (errno ESRCH)
 * for another title, one without the path (a worker's "php-fpm: pool
 * www") or one cut short; ENAMETOOLONG when PATH does not fit.
 */
int
fpm_master_title_path(const char *cmdline, size_t len, char *path,
    size_t pathlen)
{
	size_t	 n, plen, prefix = strlen(TITLE_MASTER);

	if (cmdline == NULL) {
		errno = ESRCH;
		return -1;
	}
	n = strnlen(cmdline, len);
	while (n > 0 && cmdline[n - 1] == ' ')
		n--;
	if (n < prefix + 2 || memcmp(cmdline, TITLE_MASTER, prefix) != 0 ||
	    cmdline[n - 1] != ')') {
		errno = ESRCH;
		return -1;
	}
	plen = n - prefix - 1;
	if (plen >= pathlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, cmdline + prefix, plen);
	path[plen] = '\0';
	return 0;
}

#if defined(__linux__)

/* Up to size bytes of a /proc file; -1 with errno. */
static int
proc_read(const char *path, char *buf, size_t size, size_t *len)
{
	ssize_t	 n;
	size_t	 have = 0;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	while (have < size) {
		n = read(fd, buf + have, size - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	*len = have;
	return 0;
}

/* The "PPid:" of a /proc/PID/status text; -1 when absent. */
static pid_t
status_ppid(const char *status)
{
	const char	*s;
	char		*end;
	long		 v;

	if ((s = strstr(status, "\nPPid:")) == NULL)
		return -1;
	errno = 0;
	v = strtol(s + 6, &end, 10);
	if (errno != 0 || end == s + 6 || v <= 0 || v > INT_MAX)
		return -1;
	return (pid_t)v;
}

/*
 * The configuration file of the php-fpm master above a worker, from the
 * master's title.  A relative path (php-fpm -y php-fpm.conf) is taken
 * from the master's working directory, which php-fpm does not change.
 * Reads /proc only; -1 with errno (ESRCH: the parent is no php-fpm
 * master, or its title holds no path).
 */
int
fpm_master_conf_path(pid_t worker, char *path, size_t len)
{
	char		 file[64], status[4096], title[PATH_MAX + 64];
	char		 conf[PATH_MAX], cwd[PATH_MAX];
	size_t		 n;
	ssize_t		 cwdlen;
	pid_t		 master;

	if (worker <= 0 || path == NULL || len == 0) {
		errno = EINVAL;
		return -1;
	}
	snprintf(file, sizeof(file), "/proc/%d/status", (int)worker);
	if (proc_read(file, status, sizeof(status) - 1, &n) == -1)
		return -1;
	status[n] = '\0';
	if ((master = status_ppid(status)) <= 1) {
		errno = ESRCH;
		return -1;
	}
	snprintf(file, sizeof(file), "/proc/%d/cmdline", (int)master);
	if (proc_read(file, title, sizeof(title), &n) == -1)
		return -1;
	if (fpm_master_title_path(title, n, conf, sizeof(conf)) == -1)
		return -1;
	if (conf[0] == '/') {
		if (strlcpy_safe(path, conf, len) >= len) {
			errno = ENAMETOOLONG;
			return -1;
		}
		return 0;
	}
	snprintf(file, sizeof(file), "/proc/%d/cwd", (int)master);
	if ((cwdlen = readlink(file, cwd, sizeof(cwd) - 1)) == -1)
		return -1;
	cwd[cwdlen] = '\0';
	if (cwd[0] != '/') {
		errno = ESRCH;
		return -1;
	}
	if ((size_t)snprintf(path, len, "%s/%s", cwd, conf) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

#else

/* Only Linux shows a process's title and parent this way. */
int
fpm_master_conf_path(pid_t worker, char *path, size_t len)
{
	errno = ENOSYS;
	return -1;
}

#endif
