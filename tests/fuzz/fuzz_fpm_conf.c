/*
 * php-fpm's own configuration (an INI file), parsed with fpm_conf_parse():
 * pure, include= is kept and not followed.  Then the look-ups the sampler
 * makes.
 */

#include "config.h"

#include <string.h>

#include "fpmprobe.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fpm_conf_section	*sec;
	const struct fpm_conf_entry	*e;
	struct fpm_conf			 conf;
	unsigned int			 secs;
	char				*text, err[256] = "";
	size_t				 i, j;
	int				 rc;

	text = (char *)fuzz_copy(data, size);
	memset(&conf, 0, sizeof(conf));
	rc = fpm_conf_parse(&conf, "php-fpm.conf", text, size, err,
	    sizeof(err));
	free(text);
	FUZZ_ASSERT(rc == 0 || err[0] != '\0');
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL);
	for (i = 0; i < conf.n; i++) {
		FUZZ_ASSERT(conf.section[i].name != NULL);
		for (j = 0; j < conf.section[i].n; j++) {
			e = &conf.section[i].entry[j];
			FUZZ_ASSERT(e->key != NULL && e->value != NULL);
			FUZZ_ASSERT(e->line >= 1);
			(void)fpm_conf_seconds(e->value, &secs);
		}
		sec = fpm_conf_pool(&conf, conf.section[i].name);
		if (sec != NULL) {
			(void)fpm_conf_get(sec, "pm.max_children");
			(void)fpm_conf_get(sec, "listen");
		}
	}
	(void)fpm_conf_pool(&conf, "www");
	fpm_conf_free(&conf);
	return 0;
}
