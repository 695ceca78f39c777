/*
 * Unit tests of what /metrics chooses and says: the Accept header's
 * negotiation, the worker partition, a stale or failed sample, and the
 * OpenMetrics rules (family names, # UNIT, # EOF).
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

static struct config		conf;
static struct pool		pool;
static struct check		sampler;
static struct fpm_worker	workers[5];

/* What metrics_negotiate() makes of a header: "text", "om", "406", "400". */
static const char *
choice(const char *accept)
{
	enum exposition	 expo;

	switch (metrics_negotiate(accept, &expo)) {
	case -1:
		return "400";
	case 1:
		return "406";
	}
	return expo == EXPO_OPENMETRICS ? "om" : "text";
}

/* Headers, what /metrics answers to each, and why. */
static const struct {
	const char	*accept, *want, *why;
} cases[] = {
	{ NULL, "text", "no header" },
	{ "", "text", "an empty header" },
	{ " , ,", "text", "empty list elements only" },
	{ "application/openmetrics-text", "om", "OpenMetrics" },
	{ "application/openmetrics-text;version=1.0.0,"
	  "application/openmetrics-text;version=0.0.1;q=0.75,"
	  "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "om",
	  "Prometheus 2's header" },
	{ "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;"
	  "q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,"
	  "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
	  "text/plain;version=0.0.4;q=0.3,*/*;q=0.2", "om",
	  "Prometheus 3's header: an unknown parameter is no obstacle" },
	{ "text/plain;version=0.0.4", "text", "the text format" },
	{ "*/*", "text", "*/* is the text format" },
	{ "application/*", "om", "application/* is OpenMetrics" },
	{ "text/*;q=0.3, application/*;q=0.2", "text",
	  "the heavier wildcard wins" },
	{ "application/openmetrics-text;q=0.5, text/plain", "text",
	  "text weighs more" },
	{ "application/openmetrics-text, text/plain", "om",
	  "equal weights: OpenMetrics, named" },
	{ "text/plain, */*", "text", "equal weights through */* only" },
	{ "application/openmetrics-text;version=1.0.0;q=0, */*", "text",
	  "the most specific range rules: OpenMetrics refused" },
	{ "text/plain;q=0, */*;q=0.1", "om", "text refused, */* left" },
	{ "text/plain;q=0", "406", "text refused, nothing else" },
	{ "application/json", "406", "another type only" },
	{ "application/openmetrics-text;version=2.0.0", "406",
	  "another OpenMetrics version matches neither" },
	{ "text/plain;version=1.0.0", "406", "another text version" },
	{ "text/plain;charset=iso-8859-1", "406", "another charset" },
	{ "text/plain;charset=UTF-8;q=1.000", "text",
	  "charset utf-8 in any case; q=1.000" },
	{ "APPLICATION/OPENMETRICS-TEXT;VERSION=\"1.0.0\"", "om",
	  "names in any case, a quoted value" },
	{ "text/plain ; q=0.5 ,\tapplication/openmetrics-text ; q=0.4", "text",
	  "blanks around ; and ," },
	{ "text/plain;q=0.5;ext=1, application/openmetrics-text;q=0.6;"
	  "version=2.0.0", "om",
	  "parameters after q are extensions, not the media type's" },
	{ "text/plain;q=1.5", "400", "q over 1" },
	{ "text/plain;q=0.1234", "400", "q with 4 decimals" },
	{ "text/plain;q=", "400", "q without a value" },
	{ "text/plain;q=.5", "400", "q without its 0" },
	{ "text", "400", "no subtype" },
	{ "text/", "400", "an empty subtype" },
	{ "/plain", "400", "an empty type" },
	{ "*/plain", "400", "a wildcard type with a subtype" },
	{ "text/plain;", "text", "a dangling ; is an empty parameter" },
	{ "text/plain; ;q=0.5 ,application/openmetrics-text;q=0.4", "text",
	  "empty parameters between others" },
	{ "text/plain;version", "400", "a parameter without =" },
	{ "text/plain;v=\"1.0", "400", "an unterminated quote" },
	{ "text/plain;v=\"a\\\"b\"", "text",
	  "a quoted pair inside a quoted string" },
	{ "text/plain;v=\"a\001b\"", "400",
	  "a control character in a quoted string" },
	{ "text/plain application/json", "400", "two ranges, no comma" },
	{ "text/pla\"in", "400", "a quote in a token" },
};

static void
test_negotiate(void)
{
	char	*big;
	size_t	 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_str(choice(cases[i].accept), cases[i].want, "%s: %s",
		    cases[i].accept != NULL ? cases[i].accept : "(none)",
		    cases[i].why);
	big = malloc(100001);
	memset(big, 'a', 100000);
	big[100000] = '\0';
	big[50000] = '/';
	is_str(choice(big), "406", "a 100 kB type/subtype: parsed, no match");
	big[50000] = ';';
	is_str(choice(big), "400", "100 kB of nonsense: 400");
	for (i = 0; i + 1 < 100000; i += 2) {
		big[i] = ',';
		big[i + 1] = ' ';
	}
	is_str(choice(big), "text", "50,000 empty list elements: text");
	free(big);
}

/* A pool of 5 listed processes, its sample taken now. */
static void
setup(void)
{
	size_t	 i;

	memset(&conf, 0, sizeof(conf));
	memset(&pool, 0, sizeof(pool));
	memset(&sampler, 0, sizeof(sampler));
	memset(workers, 0, sizeof(workers));
	TAILQ_INIT(&conf.pools);
	TAILQ_INIT(&pool.checks);
	pool.name = "www";
	pool.timing.interval_ms = 1000;
	sampler.name = "status";
	sampler.ops = &check_fcgi_ops;
	sampler.pool = &pool;
	sampler.timing.interval_ms = 1000;
	pool.sampler = &sampler;
	TAILQ_INSERT_TAIL(&pool.checks, &sampler, entry);
	TAILQ_INSERT_TAIL(&conf.pools, &pool, entry);
	conf.npools = 1;
	for (i = 0; i < 5; i++)
		workers[i].state = FPM_W_IDLE;
	workers[1].state = FPM_W_RUNNING;		/* active */
	workers[2].state = FPM_W_RUNNING;		/* stuck */
	workers[2].stuck = 1;
	workers[3].state = FPM_W_READING_HEADERS;	/* held */
	workers[3].stuck = workers[3].held = 1;
	pool.workers.have = 1;
	pool.workers.sampled_us = now_us();
	pool.workers.status.workers = workers;
	pool.workers.status.nworkers = 5;
	pool.workers.status.idle = 2;
	pool.workers.status.active = 3;		/* stuck and held included */
	pool.workers.status.accepted_conn = 1234;
	pool.workers.status.slow_requests = 7;
	pool.workers.status.max_children_reached = 3;
	pool.workers.stuck = 1;
	pool.workers.held = 1;
	pool.workers.max_children = 5;
}

/* The text of one scrape. */
static char *
scrape(enum exposition expo)
{
	struct buf	 b = { NULL, 0, 0 };

	metrics_write(&b, &conf, 1700000000, expo);
	return (char *)b.data;
}

static void
test_partition(void)
{
	struct worker_partition	 wp;
	char			*t;

	setup();
	metrics_partition(&pool.workers, &wp);
	is_int(wp.idle, 2, "idle 2");
	is_int(wp.active, 1, "active 1: without the stuck and the held one");
	is_int(wp.stuck, 1, "stuck 1");
	is_int(wp.held, 1, "held 1");
	is_int(wp.idle + wp.active + wp.stuck + wp.held, 5,
	    "they add up to the 5 processes listed");
	t = scrape(EXPO_TEXT);
	ok(strstr(t, "fpmprobe_pool_workers{pool=\"www\",state=\"active\"} 1\n")
	    != NULL, "served: active 1");
	ok(strstr(t, "fpmprobe_pool_workers{pool=\"www\",state=\"held\"} 1\n")
	    != NULL, "served: held 1");
	ok(strstr(t, "fpmprobe_pool_accepted_connections_total{pool=\"www\"} "
	    "1234\n") != NULL, "accepted connections");
	ok(strstr(t, "fpmprobe_pool_slow_requests_total{pool=\"www\"} 7\n") !=
	    NULL, "slow requests");
	ok(strstr(t, "fpmprobe_pool_max_children_reached_total{pool=\"www\"} "
	    "3\n") != NULL, "max children reached");
	ok(strstr(t, "fpmprobe_pool_status_sample_up{pool=\"www\"} 1\n") !=
	    NULL, "sample_up 1");
	free(t);

	/* Without the process list: the page's idle and active lines. */
	pool.workers.status.nworkers = 0;
	metrics_partition(&pool.workers, &wp);
	is_int(wp.idle + wp.active, 5, "without ?full: idle and active lines");
	pool.workers.status.nworkers = 5;
}

static void
test_stale(void)
{
	char	*t;

	setup();
	ok(metrics_sample_current(&pool, now_us()), "a sample just taken is "
	    "current");
	ok(!metrics_sample_current(&pool, now_us() + 3001000),
	    "one older than 3 intervals is not");
	pool.workers.sampled_us = now_us() - 3500000;
	t = scrape(EXPO_TEXT);
	ok(strstr(t, "fpmprobe_pool_status_sample_up{pool=\"www\"} 0\n") !=
	    NULL, "stale: sample_up 0");
	ok(strstr(t, "fpmprobe_pool_workers") == NULL,
	    "stale: no worker gauge");
	ok(strstr(t, "fpmprobe_pool_accepted_connections_total") == NULL,
	    "stale: no counter of the page");
	ok(strstr(t, "fpmprobe_pool_status_sample_age_seconds{pool=\"www\"} "
	    "3.5") != NULL, "the age is served: 3.5 s");
	ok(strstr(t, "fpmprobe_pool_max_children{pool=\"www\"} 5\n") != NULL,
	    "max_children, a capacity, still served");
	free(t);

	setup();
	pool.workers.sample_failed = 1;
	t = scrape(EXPO_TEXT);
	ok(strstr(t, "fpmprobe_pool_status_sample_up{pool=\"www\"} 0\n") !=
	    NULL, "failed: sample_up 0");
	ok(strstr(t, "fpmprobe_pool_workers") == NULL,
	    "failed: no worker gauge, however recent the last good sample");
	free(t);

	setup();
	pool.workers.have = 0;
	pool.workers.status.nworkers = 0;
	t = scrape(EXPO_TEXT);
	ok(strstr(t, "fpmprobe_pool_status_sample_age_seconds{pool=\"www\"} "
	    "+Inf\n") != NULL, "before any sample: the age is +Inf");
	free(t);
}

static void
test_openmetrics(void)
{
	char	*t;

	setup();
	t = scrape(EXPO_OPENMETRICS);
	ok(strstr(t, "# TYPE fpmprobe_pool_accepted_connections counter\n") !=
	    NULL, "a counter's family has no _total");
	ok(strstr(t, "# HELP fpmprobe_pool_accepted_connections ") != NULL,
	    "nor its HELP");
	ok(strstr(t, "\nfpmprobe_pool_accepted_connections_total{pool=\"www\"} "
	    "1234\n") != NULL, "its sample has");
	ok(strstr(t, "# UNIT fpmprobe_pool_status_sample_age_seconds seconds\n")
	    != NULL, "# UNIT for a family in seconds");
	ok(strstr(t, "# UNIT fpmprobe_pool_workers") == NULL,
	    "no # UNIT for a count");
	ok(strlen(t) > 6 && strcmp(t + strlen(t) - 6, "# EOF\n") == 0,
	    "it ends with # EOF");
	free(t);
	t = scrape(EXPO_TEXT);
	ok(strstr(t, "# TYPE fpmprobe_pool_accepted_connections_total counter\n")
	    != NULL, "the text format names the family with _total");
	ok(strstr(t, "# EOF") == NULL && strstr(t, "# UNIT") == NULL,
	    "and has no # EOF or # UNIT");
	free(t);
}

int
main(void)
{
	log_init(1, 0);
	test_negotiate();
	test_partition();
	test_stale();
	test_openmetrics();
	return tap_done();
}
