/*
 * Unit tests of the lines peers send: the agent-send line's pool name
 * (a name of the longest length the configuration accepts included), a
 * control request, and a line of the state file of operator marks.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

/* The name a line carries, as the agent reads it. */
static const char *
name_of(const char *line, size_t *len)
{
	static char	 out[AGENT_LINE_MAX];

	*len = agent_line_name(line, strlen(line), out, sizeof(out));
	return out;
}

/* agent-send lines: blanks, line ends, over-long names. */
static void
test_agent_line(void)
{
	char		 long_name[65], line[80], small[8], yaml[256];
	struct errlist	 errs = { NULL, 0 };
	struct config	*conf;
	size_t		 len;

	is_str(name_of("www\n", &len), "www", "a name and LF");
	is_int(len, 3, "its length");
	is_str(name_of(" \twww \t\r\n", &len), "www", "blanks and CRLF");
	is_str(name_of("www", &len), "www", "no line end (the peer closed)");
	is_str(name_of("", &len), "", "nothing");
	is_int(len, 0, "length 0");
	is_str(name_of("a b\nc", &len), "a b", "only the first line");
	is_int(agent_line_name("ab\0cd", 5, small, sizeof(small)), 2,
	    "a NUL ends the name");
	is_int(agent_line_name("abcdefghijk", 11, small, sizeof(small)), 11,
	    "a name longer than the room: its whole length");
	is_str(small, "abcdefg", "and what fits");

	/* The configuration accepts names of 1 to 64 characters. */
	memset(long_name, 'p', 64);
	long_name[64] = '\0';
	snprintf(line, sizeof(line), "%s\n", long_name);
	is_str(name_of(line, &len), long_name, "a 64-character name");
	is_int(len, 64, "of length 64");
	snprintf(yaml, sizeof(yaml), "pools:\n  %s:\n    fastcgi: "
	    "127.0.0.1:9000\n    checks:\n      - { name: app, type: "
	    "fastcgi, script: /x.php }\n", long_name);
	conf = config_load_buf("t.yml", yaml, strlen(yaml), &errs);
	ok(conf != NULL, "a config with a 64-character pool name loads");
	ok(conf != NULL && config_find_pool(conf, name_of(line, &len)) !=
	    NULL, "and the agent's name finds that pool");
	config_free(conf);
	errlist_free(&errs);
}

/* Control requests: verb, pool, reason. */
static void
test_control_line(void)
{
	char	 line[128], *verb, *name, *reason;

	strlcpy_safe(line, "  maint  www  deploy of 1.2 ", sizeof(line));
	control_line_split(line, &verb, &name, &reason);
	is_str(verb, "maint", "verb");
	is_str(name, "www", "pool");
	is_str(reason, "deploy of 1.2 ", "the reason is the rest");
	strlcpy_safe(line, "show", sizeof(line));
	control_line_split(line, &verb, &name, &reason);
	ok(strcmp(verb, "show") == 0 && *name == '\0' && *reason == '\0',
	    "a verb alone");
	strlcpy_safe(line, "", sizeof(line));
	control_line_split(line, &verb, &name, &reason);
	ok(*verb == '\0' && *name == '\0' && *reason == '\0', "nothing");
}

/* Lines of the state file. */
static void
test_state_line(void)
{
	char		 line[128], *name, *reason;
	enum pool_mark	 mark = MARK_NONE;

	strlcpy_safe(line, "drain\twww\tdeploy\n", sizeof(line));
	ok(state_line_parse(line, &mark, &name, &reason) == 0 &&
	    mark == MARK_DRAIN && strcmp(name, "www") == 0 &&
	    strcmp(reason, "deploy") == 0, "drain, pool, reason");
	strlcpy_safe(line, "maint\twww\t", sizeof(line));
	ok(state_line_parse(line, &mark, &name, &reason) == 0 &&
	    mark == MARK_MAINT && *reason == '\0', "an empty reason");
	strlcpy_safe(line, "maint\twww\n", sizeof(line));
	is_int(state_line_parse(line, &mark, &name, &reason), -1,
	    "one tab: not a mark line");
	strlcpy_safe(line, "ready\twww\tx\n", sizeof(line));
	is_int(state_line_parse(line, &mark, &name, &reason), -2,
	    "an unknown mark");
	is_str(line, "ready", "the line holds the mark");
}

int
main(void)
{
	test_agent_line();
	test_control_line();
	test_state_line();
	return tap_done();
}
