/*
 * fpmprobe's configuration, loaded from memory with config_load_buf():
 * every error names the file first ("FILE:"), and a configuration that
 * loads can be looked up and freed.  Nothing is bound or started: the
 * target calls no listener and no engine, and takes only numeric hosts
 * so that no resolver is asked.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"

#define FILE_NAME	"fuzz.yml"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errlist	 errs = { NULL, 0 }, warns = { NULL, 0 };
	struct config	*conf;
	struct pool	*pool;
	char		*text;
	size_t		 i;

	address_numeric_only(1);
	text = (char *)fuzz_copy(data, size);
	conf = config_load_buf(FILE_NAME, text, size, &errs);
	free(text);
	for (i = 0; i < errs.n; i++)
		FUZZ_ASSERT(strncmp(errs.msg[i], FILE_NAME ":",
		    strlen(FILE_NAME ":")) == 0);
	FUZZ_ASSERT(conf != NULL || errs.n > 0);
	if (conf != NULL) {
		FUZZ_ASSERT(conf->npools > 0 || TAILQ_EMPTY(&conf->pools));
		TAILQ_FOREACH(pool, &conf->pools, entry)
			FUZZ_ASSERT(config_find_pool(conf, pool->name) ==
			    pool);
		config_warnings(conf, &warns);
		config_free(conf);
	}
	errlist_free(&errs);
	errlist_free(&warns);
	return 0;
}
