/*
 * The lines peers and files send the daemon: an agent-send line (and the
 * unknown-pool answer it may get), a control request, a line of the
 * state file of operator marks.
 *
 * Input: 1 byte choosing the parser, then the line.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"

/* A well-formed agent answer: one line, ending in its only newline. */
static void
reply_check(const char *reply, size_t len, size_t room)
{
	FUZZ_ASSERT(len > 0 && len < room);
	FUZZ_ASSERT(strlen(reply) == len);
	FUZZ_ASSERT(memchr(reply, '\n', len) == reply + len - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 name[AGENT_LINE_MAX], reply[AGENT_REPLY_MAX];
	char		*line, *verb, *pool, *reason;
	enum pool_mark	 mark;
	size_t		 len, n;
	uint8_t		 which;

	if (size < 1 || size > 4096)
		return 0;
	which = data[0] % 3;
	data++;
	size--;
	line = malloc(size + 1);
	FUZZ_ASSERT(line != NULL);
	memcpy(line, data, size);
	line[size] = '\0';
	switch (which) {
	case 0:
		len = agent_line_name(line, size, name, sizeof(name));
		FUZZ_ASSERT(len <= size);
		FUZZ_ASSERT(strlen(name) == (len < sizeof(name) ? len :
		    sizeof(name) - 1));
		FUZZ_ASSERT(strpbrk(name, "\r\n") == NULL);
		n = agent_reply_unknown(reply, sizeof(reply), name);
		reply_check(reply, n, sizeof(reply));
		n = agent_reply_format(reply, sizeof(reply),
		    (enum pool_state)(size % 4), (unsigned int)size, name,
		    size % 2 ? ADMIN_LEAVE : ADMIN_SET);
		reply_check(reply, n, sizeof(reply));
		break;
	case 1:
		control_line_split(line, &verb, &pool, &reason);
		FUZZ_ASSERT(verb >= line && verb <= line + size);
		FUZZ_ASSERT(pool >= verb && pool <= line + size);
		FUZZ_ASSERT(reason >= pool && reason <= line + size);
		FUZZ_ASSERT(strpbrk(verb, " \t") == NULL);
		FUZZ_ASSERT(strpbrk(pool, " \t") == NULL);
		break;
	case 2:
		if (state_line_parse(line, &mark, &pool, &reason) == 0) {
			FUZZ_ASSERT(mark == MARK_MAINT || mark == MARK_DRAIN);
			FUZZ_ASSERT(pool > line && pool <= line + size);
			FUZZ_ASSERT(reason > pool && reason <= line + size);
			FUZZ_ASSERT(strchr(reason, '\n') == NULL);
		}
		break;
	}
	free(line);
	return 0;
}
