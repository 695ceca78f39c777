/*
 * Unit tests of the php-fpm configuration reader: the INI rules php-fpm
 * 8.2 applies (checked against php-fpm -tt and a real request), $pool,
 * which of two values wins, errors and caps, time values, includes in a
 * temporary directory, Debian's own files, and the master's title, read
 * from a php-fpm started here when root and php-fpm8.2 allow it.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmprobe.h"
#include "tap.h"

#define ERRLEN		256
#define DEBIAN_CONF	"/etc/php/8.2/fpm/php-fpm.conf"

static void	 skip(int, const char *);
static int	 parse(const char *, struct fpm_conf *, char *);
static const char *value(const struct fpm_conf *, const char *,
		    const char *);
static const struct fpm_conf_entry *entry(const struct fpm_conf *,
		    const char *, const char *);
static int	 ends_with(const char *, const char *);
static void	 write_file(const char *, const char *, const char *);
static int	 rm_one(const char *, const struct stat *, int, struct FTW *);
static void	 rm_tree(const char *);
static char	*tmpdir(void);
static uint32_t	 rnd(void);
static void	 pause_ms(unsigned int);
static pid_t	 child_of(pid_t);
static const char *fpm_binary(void);
static int	 reap(pid_t, unsigned int);
static void	 test_sections(void);
static void	 test_values(void);
static void	 test_pool(void);
static void	 test_wins(void);
static void	 test_errors(void);
static void	 test_caps(void);
static void	 test_seconds(void);
static void	 test_load(void);
static void	 test_debian(void);
static void	 test_title(void);
static void	 test_master(void);
static void	 test_master_real(void);
static void	 test_random(void);

/* Report n points that cannot be checked here. */
static void
skip(int n, const char *why)
{
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++tap_n, why);
}

/* Parse a text named t.conf into a fresh conf. */
static int
parse(const char *text, struct fpm_conf *conf, char *err)
{
	memset(conf, 0, sizeof(*conf));
	return fpm_conf_parse(conf, "t.conf", text, strlen(text), err,
	    ERRLEN);
}

/* An entry of a pool, or of [global] when pool is NULL. */
static const struct fpm_conf_entry *
entry(const struct fpm_conf *conf, const char *pool, const char *key)
{
	const struct fpm_conf_section	*sec;

	if (pool == NULL)
		sec = conf->n > 0 ? &conf->section[0] : NULL;
	else
		sec = fpm_conf_pool(conf, pool);
	return fpm_conf_get(sec, key);
}

/* The value php-fpm would use, or NULL. */
static const char *
value(const struct fpm_conf *conf, const char *pool, const char *key)
{
	const struct fpm_conf_entry	*e = entry(conf, pool, key);

	return e == NULL ? NULL : e->value;
}

/* Does s end with tail? */
static int
ends_with(const char *s, const char *tail)
{
	size_t	 n, t;

	if (s == NULL)
		return 0;
	n = strlen(s);
	t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

/* Write a file under dir, or give up: the test cannot go on. */
static void
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF) {
		perror(path);
		abort();
	}
}

/* nftw callback: remove what is below, then the directory. */
static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Remove a temporary tree. */
static void
rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new temporary directory, its real path (the caller frees it). */
static char *
tmpdir(void)
{
	char	 tmpl[] = "/tmp/t_fpm_conf.XXXXXX";
	char	*real;

	if (mkdtemp(tmpl) == NULL || (real = realpath(tmpl, NULL)) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return real;
}

/* A fixed-seed generator, so that a failure repeats. */
static uint32_t
rnd(void)
{
	static uint32_t	 x = 0x2545f491;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* Sleep a few milliseconds between polls. */
static void
pause_ms(unsigned int ms)
{
	struct timespec	 ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	nanosleep(&ts, NULL);
}

/* Sections: [global] first, reopened pools, names as written. */
static void
test_sections(void)
{
	static const char text[] =
	    "; a comment\n"
	    "pid = /run/fpm.pid\n"
	    "\n"
	    "[www]\n"
	    "pm = dynamic\n"
	    "  pm.max_children   =   5   ; five\n"
	    "[global]\n"
	    "error_log = /var/log/fpm.log\n"
	    "[WWW]\n"
	    "pm.start_servers = 2\n"
	    "[ \"api\" ]\n"
	    "[ spaced ]\n"
	    "[api] listen = /run/api.sock\n"
	    "[Global] ; back to it\n"
	    "log_level = notice\n";
	struct fpm_conf			 conf;
	const struct fpm_conf_entry	*e;
	char				 err[ERRLEN];

	is_int(parse(text, &conf, err), 0, "sections: parses (%s)", err);
	is_int(conf.n, 4, "sections: global, www, api, \" spaced \"");
	is_str(conf.section[0].name, "global", "sections: [0] is global");
	is_str(value(&conf, NULL, "pid"), "/run/fpm.pid",
	    "sections: a key before any [section] is global");
	is_str(value(&conf, NULL, "error_log"), "/var/log/fpm.log",
	    "sections: [global] reopened");
	is_str(value(&conf, NULL, "log_level"), "notice",
	    "sections: [Global] in another case is global");
	is_str(value(&conf, "www", "pm"), "dynamic", "sections: www pm");
	is_str(value(&conf, "www", "pm.max_children"), "5",
	    "sections: blanks around key and value, comment after");
	is_str(value(&conf, "www", "pm.start_servers"), "2",
	    "sections: [WWW] reopens www");
	ok(fpm_conf_pool(&conf, "WwW") == fpm_conf_pool(&conf, "www") &&
	    fpm_conf_pool(&conf, "www") != NULL,
	    "sections: pools match in any case");
	is_str(conf.section[1].name, "www", "sections: first spelling kept");
	is_str(value(&conf, "api", "listen"), "/run/api.sock",
	    "sections: quoted name, and an entry after ']' on its line");
	ok(fpm_conf_pool(&conf, " spaced ") != NULL &&
	    fpm_conf_pool(&conf, "spaced") == NULL,
	    "sections: unquoted blanks in a name are kept");
	ok(fpm_conf_pool(&conf, "global") == NULL,
	    "sections: global is no pool");
	e = entry(&conf, "www", "pm.max_children");
	ok(e != NULL && e->line == 6 && strcmp(e->file, "t.conf") == 0,
	    "sections: where an entry was written");
	is_int(conf.nfiles, 1, "sections: one file");
	is_str(conf.path, "t.conf", "sections: the path");
	fpm_conf_free(&conf);
	ok(conf.section == NULL && conf.n == 0 && conf.path == NULL,
	    "sections: free empties");
	fpm_conf_free(&conf);

	is_int(parse("", &conf, err), 0, "empty: parses");
	ok(conf.n == 1 && strcmp(conf.section[0].name, "global") == 0 &&
	    conf.section[0].n == 0, "empty: only an empty [global]");
	fpm_conf_free(&conf);
}

/* Values as php-fpm 8.2 makes them (each checked with php-fpm -tt). */
static void
test_values(void)
{
	static const struct {
		const char	*line;
		const char	*key;
		const char	*want;
	} cases[] = {
	    { "a = \"128M\" ; comment", "a", "128M" },
	    { "a = '.:/usr/share/php'", "a", ".:/usr/share/php" },
	    { "a = \"x=y\"", "a", "x=y" },
	    { "a = /a/b c  d   ", "a", "/a/b c  d" },
	    { "a = a\tb", "a", "a\tb" },
	    { "a = \"a\\\"b\\\\c\\$d\\n\"", "a", "a\"b\\c$d\\n" },
	    { "a = \"C:\\path\\\"", "a", "C:\\path\\" },
	    { "a = a \"b\" c", "a", "abc" },
	    { "a = 'a' 'b'", "a", "a b" },
	    { "a = \"a\" \"b\"", "a", "ab" },
	    { "a = x'a'", "a", "xa" },
	    { "a = semi\";\"colon", "a", "semi;colon" },
	    { "a = 'a;b' ; c", "a", "a;b" },
	    { "a = on", "a", "1" },
	    { "a = Yes ", "a", "1" },
	    { "a = TRUE;c", "a", "1" },
	    { "a = off", "a", "" },
	    { "a = none", "a", "" },
	    { "a = NULL", "a", "" },
	    { "a = \"no\"", "a", "no" },
	    { "a = no-reply yesterday", "a", "no-reply yesterday" },
	    { "a =", "a", "" },
	    { "a = \"\"", "a", "" },
	    { "a = ${HOME}/x", "a", "${HOME}/x" },
	    { "a = E_ALL & ~E_NOTICE", "a", "E_ALL & ~E_NOTICE" },
	    { "a = x # not a comment", "a", "x # not a comment" },
	    { "a=2", "a", "2" },
	    { "a = $HOSTNAME", "a", "$HOSTNAME" },
	    { "php_admin_value[error_log] = /var/log/$pool.log",
	      "php_admin_value[error_log]", "/var/log/p.log" },
	    { "php_value [ memory_limit ] = 32M",
	      "php_value[memory_limit ]", "32M" },
	    { "php_value[ \"q\" ] = 1", "php_value[q]", "1" },
	    { "php_value[r=s] = 1", "php_value[r=s]", "1" },
	    { "env[PATH] = /usr/bin:/bin", "env[PATH]", "/usr/bin:/bin" },
	    { "access.suppress_path[] = /ping", "access.suppress_path[]",
	      "/ping" },
	    { "a b = c", "a b", "c" },
	};
	struct fpm_conf			 conf;
	const struct fpm_conf_entry	*e;
	char				 err[ERRLEN], text[256];
	size_t				 i;
	int				 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[p]\n%s\n", cases[i].line);
		err[0] = '\0';
		rc = parse(text, &conf, err);
		is_str(rc == 0 ? value(&conf, "p", cases[i].key) : err,
		    cases[i].want, "value: %s", cases[i].line);
		fpm_conf_free(&conf);
	}

	parse("[p]\nPm.Max_Children = 7\n", &conf, err);
	e = entry(&conf, "p", "pm.max_children");
	ok(e != NULL && strcmp(e->key, "Pm.Max_Children") == 0 &&
	    strcmp(e->value, "7") == 0,
	    "key kept as written, found in any case");
	fpm_conf_free(&conf);

	parse("[p]\r\na = b\r\n", &conf, err);
	is_str(value(&conf, "p", "a"), "b", "CRLF");
	fpm_conf_free(&conf);
	parse("\xef\xbb\xbf[p]\na = 1\n", &conf, err);
	is_str(value(&conf, "p", "a"), "1", "a byte order mark is skipped");
	fpm_conf_free(&conf);
	parse("[p]\ra = 1\rb = 2\n", &conf, err);
	e = entry(&conf, "p", "b");
	ok(e != NULL && strcmp(e->value, "2") == 0 && e->line == 1 &&
	    strcmp(value(&conf, "p", "a"), "1") == 0,
	    "a lone CR ends a statement, not the line");
	fpm_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	rc = fpm_conf_parse(&conf, "t.conf", "[p]\na = x\0y = z\nb = 2",
	    21, err, sizeof(err));
	ok(rc == 0 && strcmp(value(&conf, "p", "a"), "x") == 0 &&
	    value(&conf, "p", "y") == NULL &&
	    strcmp(value(&conf, "p", "b"), "2") == 0,
	    "a NUL ends its line; a last line without newline counts");
	fpm_conf_free(&conf);
}

/* $pool: in every pool value, once, never in [global] or include. */
static void
test_pool(void)
{
	struct fpm_conf	 conf;
	char		 err[ERRLEN];
	int		 rc;

	parse("[www]\n"
	    "slowlog = /var/log/$pool.slow\n"
	    "listen = /run/$pool-$pool.sock\n"
	    "x = $POOL $poolx\n"
	    "include = /nonexistent/$pool/*.conf\n", &conf, err);
	is_str(value(&conf, "www", "slowlog"), "/var/log/www.slow",
	    "$pool: expanded");
	is_str(value(&conf, "www", "listen"), "/run/www-www.sock",
	    "$pool: twice");
	is_str(value(&conf, "www", "x"), "$POOL wwwx",
	    "$pool: case-sensitive, inside a word");
	is_str(value(&conf, "www", "include"), "/nonexistent/$pool/*.conf",
	    "$pool: not in include");
	fpm_conf_free(&conf);

	parse("[$pool]\nx = a$poolb\n", &conf, err);
	is_str(value(&conf, "$pool", "x"), "a$poolb",
	    "$pool: a pool named $pool ends (php-fpm loops)");
	fpm_conf_free(&conf);
	parse("[Web]\n[WEB]\nx = $pool\n", &conf, err);
	is_str(value(&conf, "web", "x"), "Web",
	    "$pool: the first spelling of a reopened pool");
	fpm_conf_free(&conf);

	err[0] = '\0';
	is_int(parse("x = $pool\n", &conf, err), -1, "$pool in global: error");
	ok(strncmp(err, "t.conf:1: $pool in [global]", 27) == 0,
	    "$pool in global: says so (%s)", err);
	fpm_conf_free(&conf);

	memset(&conf, 0, sizeof(conf));
	fpm_conf_parse(&conf, "a.conf", "[www]\n", 6, err, sizeof(err));
	rc = fpm_conf_parse(&conf, "b.conf", "x = $pool\n", 10, err,
	    sizeof(err));
	ok(rc == 0 && conf.nfiles == 2 && strcmp(conf.path, "a.conf") == 0 &&
	    entry(&conf, "www", "x") != NULL &&
	    strcmp(entry(&conf, "www", "x")->file, "b.conf") == 0 &&
	    strcmp(value(&conf, "www", "x"), "www") == 0,
	    "the next file goes on in the current pool");
	fpm_conf_free(&conf);
}

/* Which of two values php-fpm uses (checked with a real request). */
static void
test_wins(void)
{
	static const char text[] =
	    "[www]\n"
	    "pm.max_children = 5\n"
	    "pm.max_children = 10\n"
	    "PM.MAX_CHILDREN = 20\n"
	    "php_value[memory_limit] = 11M\n"
	    "php_value[memory_limit] = 22M\n"
	    "env[FOO] = first\n"
	    "env[FOO] = second\n";
	struct fpm_conf			 conf;
	const struct fpm_conf_entry	*e;
	char				 err[ERRLEN];

	parse(text, &conf, err);
	e = entry(&conf, "www", "pm.max_children");
	ok(e != NULL && strcmp(e->value, "20") == 0 && e->line == 4,
	    "a directive: the last one, in any case");
	e = entry(&conf, "www", "php_value[memory_limit]");
	ok(e != NULL && strcmp(e->value, "11M") == 0 && e->line == 5,
	    "php_value[]: the first one");
	is_str(value(&conf, "www", "env[FOO]"), "first", "env[]: the first");
	ok(value(&conf, "www", "php_value[MEMORY_LIMIT]") == NULL,
	    "array keys are exact");
	ok(value(&conf, "www", "nope") == NULL, "a missing key");
	ok(fpm_conf_get(NULL, "pm") == NULL && fpm_conf_pool(NULL, "x") ==
	    NULL, "NULL section or conf");
	is_int(fpm_conf_pool(&conf, "www")->n, 7, "every entry is kept");
	fpm_conf_free(&conf);
}

/* What php-fpm refuses, and a clear one-line error for each. */
static void
test_errors(void)
{
	static const struct {
		const char	*text;
		const char	*where;
		const char	*what;
	} cases[] = {
	    { "[www]\n# comment\n", "t.conf:2: ",
	      "'#' does not start a comment" },
	    { "[www]\npm\n", "t.conf:2: ", "'pm' has no '='" },
	    { "[www\n", "t.conf:1: ", "section header without its ']'" },
	    { "[a;b]\n", "t.conf:1: ", "section header without its ']'" },
	    { "[www] junk\n", "t.conf:1: ", "'junk' has no '='" },
	    { "[www]\na = \"open\n", "t.conf:2: ", "unterminated \"" },
	    { "[www]\na = 'open\n", "t.conf:2: ", "unterminated '" },
	    { "[www]\na = \"x\\\" ;c\n", "t.conf:2: ", "unterminated \"" },
	    { "[www]\nenv[FOO] = a=b\n", "t.conf:2: ",
	      "'=' in a value must be quoted" },
	    { "[www]\na = yes please\n", "t.conf:2: ", "'yes' must be quoted" },
	    { "[www]\na = /usr/sbin/sendmail -f no\n", "t.conf:2: ",
	      "'no' must be quoted" },
	    { "[www]\nphp_value[x]y = 1\n", "t.conf:2: ", "unexpected 'y'" },
	    { "[www]\nphp_value[x = 1\n", "t.conf:2: ",
	      "key without its ']'" },
	    { "[www]\n= 1\n", "t.conf:2: ", "expected a key" },
	    { "[www]\na(b) = 1\n", "t.conf:2: ", "unexpected '('" },
	    { "[www]\na\tb = 1\n", "t.conf:2: ", "unexpected 'b'" },
	    { "[www]\na = ${HOME\n", "t.conf:2: ", "unterminated ${" },
	    { "[www]\na\t\033 = 1\n", "t.conf:2: ",
	      "unexpected byte 0x1b after 'a'" },
	};
	struct fpm_conf	 conf;
	char		 err[ERRLEN];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		rc = parse(cases[i].text, &conf, err);
		ok(rc == -1 && strncmp(err, cases[i].where,
		    strlen(cases[i].where)) == 0 &&
		    strstr(err, cases[i].what) != NULL &&
		    strchr(err, '\n') == NULL,
		    "error %zu: %s", i + 1, err);
		fpm_conf_free(&conf);
	}

	is_int(parse("[www]\npm\n", &conf, NULL), -1, "error: no err buffer");
	fpm_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	err[0] = 'x';
	fpm_conf_parse(&conf, "t.conf", "pm\n", 3, err, 1);
	is_str(err, "", "error: err of one byte");
	fpm_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	fpm_conf_parse(&conf, "t.conf", "pm\n", 3, err, 12);
	is_str(err, "t.conf:1: '", "error: cut to its buffer");
	fpm_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	rc = fpm_conf_parse(&conf, "t.conf", "[a]\nx = 1\n[b\ny = 2\n", 18,
	    err, sizeof(err));
	ok(rc == -1 && value(&conf, "a", "x") != NULL &&
	    fpm_conf_pool(&conf, "b") == NULL,
	    "error: what came before is kept for fpm_conf_free");
	fpm_conf_free(&conf);
	memset(&conf, 0, sizeof(conf));
	fpm_conf_parse(&conf, "a\nb.conf", "pm\n", 3, err, sizeof(err));
	ok(strchr(err, '\n') == NULL, "error: a file name cannot break the "
	    "line (%s)", err);
	fpm_conf_free(&conf);
}

/* Lines, entries, sections and text are capped. */
static void
test_caps(void)
{
	struct fpm_conf	 conf;
	struct buf	 b;
	char		 err[ERRLEN];
	int		 i, rc;

	memset(&b, 0, sizeof(b));
	buf_addstr(&b, "[p]\na = ");
	for (i = 4; i < 65536; i++)
		buf_add(&b, "x", 1);
	buf_add(&b, "\n", 1);
	rc = parse((const char *)b.data, &conf, err);
	ok(rc == 0 && strlen(value(&conf, "p", "a")) == 65532,
	    "a line of 64 KiB is read");
	fpm_conf_free(&conf);
	b.len--;
	buf_add(&b, "x\n", 2);
	err[0] = '\0';
	is_int(parse((const char *)b.data, &conf, err), -1,
	    "a longer line: error");
	is_str(err, "t.conf:2: line longer than 65536 bytes",
	    "a longer line: says so");
	fpm_conf_free(&conf);

	buf_reset(&b);
	buf_addstr(&b, "[p]\n");
	for (i = 0; i < 4096; i++)
		buf_printf(&b, "k%d = %d\n", i, i);
	rc = parse((const char *)b.data, &conf, err);
	ok(rc == 0 && fpm_conf_pool(&conf, "p")->n == 4096,
	    "4096 entries in a section");
	fpm_conf_free(&conf);
	buf_addstr(&b, "one = more\n");
	is_int(parse((const char *)b.data, &conf, err), -1,
	    "4097 entries: error");
	is_str(err, "t.conf:4098: more than 4096 entries in [p]",
	    "4097 entries: says so");
	fpm_conf_free(&conf);

	buf_reset(&b);
	for (i = 1; i < 1024; i++)
		buf_printf(&b, "[p%d]\n", i);
	rc = parse((const char *)b.data, &conf, err);
	ok(rc == 0 && conf.n == 1024, "1024 sections, global counted");
	fpm_conf_free(&conf);
	buf_addstr(&b, "[last]\n");
	is_int(parse((const char *)b.data, &conf, err), -1,
	    "1025 sections: error");
	is_str(err, "t.conf:1024: more than 1024 sections",
	    "1025 sections: says so");
	fpm_conf_free(&conf);

	/* A 60000-byte name times 13000: refused before it is allocated. */
	buf_reset(&b);
	buf_add(&b, "[", 1);
	for (i = 0; i < 60000; i++)
		buf_add(&b, "n", 1);
	buf_addstr(&b, "]\na = ");
	for (i = 0; i < 13000; i++)
		buf_addstr(&b, "$pool");
	buf_add(&b, "\n", 1);
	is_int(parse((const char *)b.data, &conf, err), -1,
	    "$pool times a long name: error");
	is_str(err, "t.conf:2: the configuration holds more than 64 MiB of "
	    "text", "$pool times a long name: says so");
	fpm_conf_free(&conf);
	buf_free(&b);
}

/* php-fpm's time values, and what is not one. */
static void
test_seconds(void)
{
	static const struct {
		const char	*text;
		int		 rc;
		unsigned int	 secs;
	} cases[] = {
	    { "0", 0, 0 }, { "30", 0, 30 }, { "30s", 0, 30 },
	    { "5m", 0, 300 }, { "1h", 0, 3600 }, { "1d", 0, 86400 },
	    { "0s", 0, 0 }, { "007", 0, 7 },
	    { "2147483647", 0, 2147483647 }, { "24855d", 0, 2147472000 },
	    { "2147483648", -1, 0 }, { "24856d", -1, 0 },
	    { "99999999999999999999", -1, 0 }, { "35791395m", -1, 0 },
	    { "", -1, 0 }, { "s", -1, 0 }, { "30x", -1, 0 },
	    { "30ss", -1, 0 }, { "-1", -1, 0 }, { "+1", -1, 0 },
	    { " 30", -1, 0 }, { "30 ", -1, 0 }, { "1.5m", -1, 0 },
	    { "0x10", -1, 0 }, { "30S", -1, 0 }, { "garbage", -1, 0 },
	};
	unsigned int	 secs;
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		secs = 12345;
		rc = fpm_conf_seconds(cases[i].text, &secs);
		ok(rc == cases[i].rc && (rc == -1 ? secs == 12345 :
		    secs == cases[i].secs), "seconds \"%s\": %d, %u",
		    cases[i].text, rc, secs);
	}
	ok(fpm_conf_seconds(NULL, &secs) == -1, "seconds NULL");
}

/* Includes: sorted globs, the current pool carried, loops, caps. */
static void
test_load(void)
{
	struct fpm_conf			 conf;
	const struct fpm_conf_entry	*e;
	struct buf			 b;
	char				*dir, path[PATH_MAX], name[64];
	char				 text[PATH_MAX * 2], err[ERRLEN];
	char				 want[PATH_MAX + 64];
	const char			*s;
	int				 i, rc;

	dir = tmpdir();
	snprintf(path, sizeof(path), "%s/pool.d", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/pool.d/dir.conf", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/empty.d", dir);
	mkdir(path, 0755);
	snprintf(text, sizeof(text),
	    "[global]\n"
	    "error_log = /var/log/fpm.log\n"
	    "include = %s/pool.d/*.conf\n"
	    "php_value[after] = 1\n"
	    "include = %s/empty.d/*.conf\n", dir, dir);
	write_file(dir, "php-fpm.conf", text);
	write_file(dir, "pool.d/20-www-more.conf",
	    "pm.max_children = 9\n[api]\npm = static\n");
	write_file(dir, "pool.d/10-www.conf",
	    "[www]\npm = dynamic\npm.max_children = 5\n");
	write_file(dir, "pool.d/README", "not = read\n");

	snprintf(path, sizeof(path), "%s/php-fpm.conf", dir);
	err[0] = '\0';
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	is_int(rc, 0, "load: reads (%s)", err);
	is_int(conf.nfiles, 3, "load: the main file and two pool files");
	ok(conf.nfiles == 3 && strcmp(conf.file[0], path) == 0 &&
	    ends_with(conf.file[1], "/10-www.conf") &&
	    ends_with(conf.file[2], "/20-www-more.conf"),
	    "load: in sorted order, the directory and README skipped");
	e = entry(&conf, "www", "pm.max_children");
	ok(e != NULL && strcmp(e->value, "9") == 0 && e->line == 1 &&
	    ends_with(e->file, "/20-www-more.conf"),
	    "load: a later file's line before any [pool] overrides");
	e = entry(&conf, "www", "pm");
	ok(e != NULL && strcmp(e->value, "dynamic") == 0 && e->line == 2 &&
	    ends_with(e->file, "/10-www.conf"), "load: www pm");
	is_str(value(&conf, "api", "pm"), "static", "load: api pm");
	e = entry(&conf, "api", "php_value[after]");
	ok(e != NULL && e->line == 4 && strcmp(e->file, path) == 0,
	    "load: the main file goes on in the pool the includes ended in");
	e = entry(&conf, NULL, "include");
	ok(e != NULL && e->line == 3 && ends_with(e->value, "/pool.d/*.conf"),
	    "load: include is kept as an entry");
	ok(entry(&conf, "api", "include") != NULL,
	    "load: a glob matching nothing is fine");
	is_str(conf.path, path, "load: the path");
	fpm_conf_free(&conf);

	/* An include loop ends at php-fpm's depth, 5 files. */
	snprintf(text, sizeof(text), "include = %s/self.conf\n", dir);
	write_file(dir, "self.conf", text);
	snprintf(path, sizeof(path), "%s/self.conf", dir);
	err[0] = '\0';
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "self.conf:1: including ") != NULL &&
	    strstr(err, "nests more than 5 files") != NULL,
	    "loop: error (%s)", err);
	ok(conf.n == 0 && conf.section == NULL && conf.path == NULL,
	    "loop: nothing is left to free");
	for (i = 1; i <= 6; i++) {
		snprintf(name, sizeof(name), "d%d.conf", i);
		if (i < 6)
			snprintf(text, sizeof(text), "include = %s/d%d.conf\n",
			    dir, i + 1);
		else
			snprintf(text, sizeof(text), "[deep]\nx = 1\n");
		write_file(dir, name, text);
	}
	snprintf(path, sizeof(path), "%s/d2.conf", dir);
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == 0 && conf.nfiles == 5 && value(&conf, "deep", "x") != NULL,
	    "depth: 5 files nest (%s)", rc == 0 ? "ok" : err);
	fpm_conf_free(&conf);
	snprintf(path, sizeof(path), "%s/d1.conf", dir);
	is_int(fpm_conf_load(path, &conf, err, sizeof(err)), -1,
	    "depth: 6 files do not");

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	fpm_conf_load(path, &conf, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	is_str(err, want, "missing file: FILE: strerror");
	fpm_conf_load(dir, &conf, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	is_str(err, want, "a directory: error");
	snprintf(path, sizeof(path), "%s/fifo.conf", dir);
	if (mkfifo(path, 0600) == 0) {
		rc = fpm_conf_load(path, &conf, err, sizeof(err));
		ok(rc == -1 && strstr(err, "not a regular file") != NULL,
		    "a FIFO: error, no wait");
	} else
		skip(1, "mkfifo failed");
	is_int(fpm_conf_load("", &conf, err, sizeof(err)), -1, "empty path");

	snprintf(text, sizeof(text), "[www]\ninclude = %s/nodir/*.conf\n",
	    dir);
	write_file(dir, "nodir.conf", text);
	snprintf(path, sizeof(path), "%s/nodir.conf", dir);
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "nodir.conf:2: include '") != NULL &&
	    strstr(err, "a directory cannot be read") != NULL,
	    "a glob in a missing directory: error, as php-fpm (%s)", err);
	write_file(dir, "rel.conf", "include = fpmprobe-no-such-dir/*.conf\n");
	snprintf(path, sizeof(path), "%s/rel.conf", dir);
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	s = strstr(err, "include '");
	ok(rc == -1 && s != NULL && s[9] == '/' &&
	    strncmp(s + 9, dir, strlen(dir)) != 0 &&
	    strstr(s, "/fpmprobe-no-such-dir/*.conf'") != NULL,
	    "a relative include is taken from php-fpm's prefix, not the "
	    "file's directory (%s)", err);

	memset(&b, 0, sizeof(b));
	for (i = 0; i < 1024 * 1024 / 64; i++)
		buf_addstr(&b, ";234567890123456789012345678901234567890"
		    "12345678901234567890123\n");
	write_file(dir, "big.conf", (const char *)b.data);
	snprintf(path, sizeof(path), "%s/big.conf", dir);
	ok(fpm_conf_load(path, &conf, err, sizeof(err)) == 0, "1 MiB file");
	fpm_conf_free(&conf);
	buf_add(&b, ";", 1);
	write_file(dir, "big.conf", (const char *)b.data);
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "big.conf: larger than 1 MiB") != NULL,
	    "a larger file: error (%s)", err);
	buf_free(&b);

	snprintf(path, sizeof(path), "%s/many.d", dir);
	mkdir(path, 0755);
	for (i = 0; i < 255; i++) {
		snprintf(name, sizeof(name), "many.d/%03d.conf", i);
		write_file(dir, name, "x = 1\n");
	}
	snprintf(text, sizeof(text), "include = %s/many.d/*.conf\n", dir);
	write_file(dir, "many.conf", text);
	snprintf(path, sizeof(path), "%s/many.conf", dir);
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == 0 && conf.nfiles == 256, "256 files");
	fpm_conf_free(&conf);
	write_file(dir, "many.d/255.conf", "x = 1\n");
	rc = fpm_conf_load(path, &conf, err, sizeof(err));
	ok(rc == -1 && strstr(err, "255.conf: more than 256 files") != NULL,
	    "257 files: error (%s)", err);

	rm_tree(dir);
	free(dir);
}

/* Debian's own php-fpm.conf and pool.d/www.conf, when installed. */
static void
test_debian(void)
{
	struct fpm_conf			 conf;
	const struct fpm_conf_entry	*e;
	FILE				*f;
	char				 err[ERRLEN], text[4096];
	int				 line = 0, n, rc;

	if (access(DEBIAN_CONF, R_OK) == -1) {
		skip(5, DEBIAN_CONF " is not installed");
		return;
	}
	rc = fpm_conf_load(DEBIAN_CONF, &conf, err, sizeof(err));
	is_int(rc, 0, "debian: loads (%s)", rc == 0 ? "ok" : err);
	is_str(value(&conf, "www", "pm"), "dynamic", "debian: www pm");
	e = entry(&conf, "www", "pm.max_children");
	is_str(e != NULL ? e->value : NULL, "5", "debian: pm.max_children");
	ok(e != NULL && ends_with(e->file, "pool.d/www.conf"),
	    "debian: from pool.d/www.conf");

	/* The line is where the file has it: the last pm.max_children. */
	if (e != NULL && (f = fopen(e->file, "r")) != NULL) {
		for (n = 1; fgets(text, sizeof(text), f) != NULL; n++)
			if (strncmp(text, "pm.max_children", 15) == 0)
				line = n;
		fclose(f);
	}
	ok(e != NULL && e->line > 0 && e->line == line,
	    "debian: line %d, as in the file", e != NULL ? e->line : 0);
	fpm_conf_free(&conf);
}

/* The path in a master's title, and titles that hold none. */
static void
test_title(void)
{
	static const char padded[] = "php-fpm: master process "
	    "(/etc/php/8.2/fpm/php-fpm.conf)\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
	char		 path[PATH_MAX], junk[512];
	const char	*t;
	size_t		 i;

	is_int(fpm_master_title_path(padded, sizeof(padded), path,
	    sizeof(path)), 0, "title: NUL-padded");
	is_str(path, "/etc/php/8.2/fpm/php-fpm.conf", "title: the path");
	t = "php-fpm: master process (/etc/php (old)/fpm.conf)";
	fpm_master_title_path(t, strlen(t), path, sizeof(path));
	is_str(path, "/etc/php (old)/fpm.conf", "title: parentheses inside");
	t = "php-fpm: master process (php-fpm.conf)  ";
	fpm_master_title_path(t, strlen(t), path, sizeof(path));
	is_str(path, "php-fpm.conf", "title: relative, blank-padded");

	errno = 0;
	t = "php-fpm: pool www\0\0\0\0";
	ok(fpm_master_title_path(t, 21, path, sizeof(path)) == -1 &&
	    errno == ESRCH, "title: a worker's");
	t = "php-fpm: master process (/etc/php/8.2/fpm/php-fp";
	ok(fpm_master_title_path(t, strlen(t), path, sizeof(path)) == -1,
	    "title: cut short");
	t = "php-fpm: master process ()";
	ok(fpm_master_title_path(t, strlen(t), path, sizeof(path)) == -1,
	    "title: no path");
	t = "php-fpm: master process /etc/php-fpm.conf";
	ok(fpm_master_title_path(t, strlen(t), path, sizeof(path)) == -1,
	    "title: no parentheses");
	t = "php-fpm8.2\0-F\0-y\0/etc/x.conf";
	ok(fpm_master_title_path(t, 27, path, sizeof(path)) == -1,
	    "title: arguments before php-fpm sets its title");
	t = "php-fpm: master process (/a)";
	ok(fpm_master_title_path(t, strlen(t) - 1, path, sizeof(path)) == -1,
	    "title: nothing past len is read");
	errno = 0;
	ok(fpm_master_title_path(padded, sizeof(padded), path, 10) == -1 &&
	    errno == ENAMETOOLONG, "title: path buffer too small");
	ok(fpm_master_title_path("", 0, path, sizeof(path)) == -1 &&
	    fpm_master_title_path(NULL, 5, path, sizeof(path)) == -1,
	    "title: empty, NULL");
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)rnd();
	ok(fpm_master_title_path(junk, sizeof(junk), path, sizeof(path)) ==
	    -1, "title: random bytes");
}

/* The pid of a child of parent, from /proc; -1 when none yet. */
static pid_t
child_of(pid_t parent)
{
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	char		 path[300], line[128];
	pid_t		 found = -1;
	int		 ppid;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while (found == -1 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL)
			if (sscanf(line, "PPid: %d", &ppid) == 1) {
				if (ppid == (int)parent)
					found = (pid_t)atoi(de->d_name);
				break;
			}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The php-fpm binary to start, or NULL. */
static const char *
fpm_binary(void)
{
	static const char *const bins[] = {
	    "/usr/sbin/php-fpm8.2", "/usr/local/sbin/php-fpm",
	    "/usr/sbin/php-fpm",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bins) / sizeof(bins[0]); i++)
		if (access(bins[i], X_OK) == 0)
			return bins[i];
	return NULL;
}

/* Wait for a child until a deadline; 1 when it was reaped. */
static int
reap(pid_t pid, unsigned int ms)
{
	uint64_t	 deadline = now_us() + (uint64_t)ms * 1000;
	int		 status;

	while (now_us() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return 1;
		pause_ms(20);
	}
	return 0;
}

/* fpm_master_conf_path on processes that are no php-fpm worker. */
static void
test_master(void)
{
	char	 path[PATH_MAX];
	pid_t	 pid;

	ok(fpm_master_conf_path(getpid(), path, sizeof(path)) == -1,
	    "master: our parent is no php-fpm master");
	errno = 0;
	ok(fpm_master_conf_path(0, path, sizeof(path)) == -1 &&
	    errno == EINVAL, "master: pid 0");
	ok(fpm_master_conf_path(-4, path, sizeof(path)) == -1,
	    "master: a negative pid");
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	errno = 0;
	ok(fpm_master_conf_path(pid, path, sizeof(path)) == -1 &&
	    errno == ENOENT, "master: a process that is gone");
}

/*
 * A real php-fpm master started with a relative -y, as root: its
 * worker leads to the file, taken from the master's directory.
 */
static void
test_master_real(void)
{
	struct fpm_conf	 conf;
	const char	*bin = fpm_binary();
	char		*dir, text[PATH_MAX * 3], path[PATH_MAX];
	char		 want[PATH_MAX + 16], err[ERRLEN];
	uint64_t	 deadline;
	pid_t		 master, worker = -1;
	int		 fd, found = 0, gone = 0;

	if (geteuid() != 0 || bin == NULL) {
		skip(4, "needs root and php-fpm");
		return;
	}
	dir = tmpdir();
	snprintf(text, sizeof(text),
	    "[global]\nerror_log = %s/fpm.log\n"
	    "[probe]\nlisten = %s/fpm.sock\npm = static\n"
	    "pm.max_children = 1\n", dir, dir);
	write_file(dir, "fpm.conf", text);
	snprintf(want, sizeof(want), "%s/fpm.conf", dir);

	/* The child must not write our buffered TAP lines a second time. */
	fflush(stdout);
	if ((master = fork()) == 0) {
		if (chdir(dir) == -1)
			_exit(127);
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "-F", "-R", "-y", "fpm.conf", (char *)NULL);
		_exit(127);
	}
	deadline = now_us() + 10 * 1000000;
	while (master > 0 && !found && now_us() < deadline) {
		if (waitpid(master, NULL, WNOHANG) == master) {
			gone = 1;
			break;
		}
		if ((worker = child_of(master)) > 0 &&
		    fpm_master_conf_path(worker, path, sizeof(path)) == 0)
			found = 1;
		else
			pause_ms(20);
	}
	ok(found, "real master: a worker of %s found (%s)", bin,
	    gone ? "php-fpm exited" : found ? "ok" : "timed out");
	is_str(found ? path : "", want,
	    "real master: the conf path, from its directory");
	ok(found && fpm_master_conf_path(master, path, sizeof(path)) == -1,
	    "real master: the master itself has no php-fpm parent");
	ok(found && fpm_conf_load(want, &conf, err, sizeof(err)) == 0 &&
	    value(&conf, "probe", "pm.max_children") != NULL &&
	    strcmp(value(&conf, "probe", "pm.max_children"), "1") == 0,
	    "real master: its file reads back");
	if (found)
		fpm_conf_free(&conf);

	if (master > 0 && !gone) {
		kill(master, SIGTERM);
		if (!reap(master, 5000)) {
			kill(master, SIGKILL);
			waitpid(master, NULL, 0);
		}
	}
	rm_tree(dir);
	free(dir);
}

/* Thousands of mutated files: a clean parse or a clean one-line error. */
static void
test_random(void)
{
	static const char seed[] =
	    "[global]\npid = /run/fpm.pid\ninclude = /etc/x/*.conf\n"
	    "[www]\nuser = www-data\nlisten = /run/$pool.sock\n"
	    "pm = dynamic ; c\npm.max_children = \"5\"\n"
	    "php_admin_value[error_log] = '/var/log/x.log'\n"
	    "php_flag[display_errors] = off\nenv[A] = \"a b\" c\n";
	static const char special[] = "[]=;\"'$\\{}()\r\n\t #pool";
	struct fpm_conf	 conf;
	char		 buf[1024], err[ERRLEN];
	size_t		 len, i, j, k, s, runs = 0, parsed = 0, bad = 0;
	int		 rc, m, nm;

	for (i = 0; i < 4000; i++) {
		len = sizeof(seed) - 1;
		memcpy(buf, seed, len);
		nm = 1 + (int)(rnd() % 4);
		for (m = 0; m < nm; m++) {
			k = rnd() % len;
			if (rnd() % 3 == 0 && len + 1 < sizeof(buf)) {
				memmove(buf + k + 1, buf + k, len - k);
				len++;
			}
			buf[k] = rnd() % 2 ? special[rnd() %
			    (sizeof(special) - 1)] : (char)rnd();
		}
		err[0] = '\0';
		memset(&conf, 0, sizeof(conf));
		rc = fpm_conf_parse(&conf, "t.conf", buf, len, err,
		    sizeof(err));
		runs++;
		if (rc == 0) {
			parsed++;
			if (conf.n < 1 || strcmp(conf.section[0].name,
			    "global") != 0)
				bad++;
			for (s = 0; s < conf.n; s++)
				for (j = 0; j < conf.section[s].n; j++)
					if (conf.section[s].entry[j].key[0] ==
					    '\0' ||
					    conf.section[s].entry[j].line < 1)
						bad++;
		} else if (rc != -1 || strncmp(err, "t.conf:", 7) != 0 ||
		    strchr(err, '\n') != NULL)
			bad++;
		fpm_conf_free(&conf);
	}
	ok(runs == 4000 && parsed > 400 && parsed < runs,
	    "random: %zu files, %zu parsed", runs, parsed);
	is_int(bad, 0, "random: every result is clean");
}

int
main(void)
{
	test_sections();
	test_values();
	test_pool();
	test_wins();
	test_errors();
	test_caps();
	test_seconds();
	test_load();
	test_debian();
	test_title();
	test_master();
	test_master_real();
	test_random();
	return tap_done();
}
