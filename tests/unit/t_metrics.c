/*
 * Unit tests of the Prometheus exposition and the latency histogram.
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

static struct config	conf;
static struct pool	pool;
static struct check	app;

/* One pool with one FastCGI check, healthy. */
static void
setup(const char *name)
{
	memset(&conf, 0, sizeof(conf));
	memset(&pool, 0, sizeof(pool));
	memset(&app, 0, sizeof(app));
	TAILQ_INIT(&conf.pools);
	TAILQ_INIT(&pool.checks);
	pool.name = (char *)name;
	pool.timing.interval_ms = 2000;
	app.name = "app";
	app.ops = &check_fcgi_ops;
	app.pool = &pool;
	app.timing.interval_ms = 2000;
	app.st.healthy = 1;
	app.st.done_us = now_us();
	TAILQ_INSERT_TAIL(&pool.checks, &app, entry);
	TAILQ_INSERT_TAIL(&conf.pools, &pool, entry);
	conf.npools = 1;
}

/* The number after a metric line that starts with prefix, or -1. */
static double
value_of(const char *text, const char *prefix)
{
	const char	*at;

	for (at = strstr(text, prefix); at != NULL;
	    at = strstr(at + 1, prefix))
		if (at == text || at[-1] == '\n')
			return strtod(at + strlen(prefix), NULL);
	return -1;
}

static void
test_histogram(void)
{
	struct check_status	 st;
	uint64_t		 total = 0;
	size_t			 i;

	memset(&st, 0, sizeof(st));
	latency_observe(&st, 0);
	latency_observe(&st, 500);		/* on a bound: that bucket */
	latency_observe(&st, 501);
	latency_observe(&st, 10000000);
	latency_observe(&st, 10000001);		/* past the last: +Inf */
	is_int(st.hist[0], 2, "0 and 500 us fall in le=0.0005");
	is_int(st.hist[1], 1, "501 us in le=0.001");
	is_int(st.hist[LATENCY_NBUCKETS - 1], 1, "10 s in le=10");
	is_int(st.hist[LATENCY_NBUCKETS], 1, "beyond 10 s in +Inf");
	for (i = 0; i <= LATENCY_NBUCKETS; i++)
		total += st.hist[i];
	is_int(total, 5, "every observation counted once");
	is_int(st.hist_sum_us, 20001002, "the sum");
	is_int(st.lat_n, 5, "the window keeps them too");
	for (i = 0; i < 2 * LATENCY_WINDOW; i++)
		latency_observe(&st, 1);
	is_int(st.lat_n, LATENCY_WINDOW, "the window is bounded");
}

static void
test_format(void)
{
	struct buf	 b = { NULL, 0, 0 };
	const char	*t;

	setup("www");
	latency_observe(&app.st, 800);
	latency_observe(&app.st, 30000);
	app.st.probes = 2;
	metrics_format(&b, &conf, 1700000000);
	t = (const char *)b.data;
	ok(strstr(t, "# TYPE fpmprobe_check_latency_seconds histogram\n") !=
	    NULL, "the histogram is typed");
	is_int((long long)value_of(t, "fpmprobe_check_latency_seconds_bucket"
	    "{pool=\"www\",check=\"app\",type=\"fastcgi\",le=\"0.001\"} "), 1,
	    "le=0.001 counts the 800 us probe");
	is_int((long long)value_of(t, "fpmprobe_check_latency_seconds_bucket"
	    "{pool=\"www\",check=\"app\",type=\"fastcgi\",le=\"0.05\"} "), 2,
	    "buckets are cumulative");
	is_int((long long)value_of(t, "fpmprobe_check_latency_seconds_bucket"
	    "{pool=\"www\",check=\"app\",type=\"fastcgi\",le=\"+Inf\"} "), 2,
	    "+Inf counts all");
	is_int((long long)value_of(t, "fpmprobe_check_latency_seconds_count"
	    "{pool=\"www\",check=\"app\",type=\"fastcgi\"} "), 2,
	    "_count equals +Inf");
	ok(value_of(t, "fpmprobe_check_latency_seconds_sum{pool=\"www\","
	    "check=\"app\",type=\"fastcgi\"} ") > 0.0307 &&
	    value_of(t, "fpmprobe_check_latency_seconds_sum{pool=\"www\","
	    "check=\"app\",type=\"fastcgi\"} ") < 0.0309, "_sum in seconds");
	is_int((long long)value_of(t, "fpmprobe_pool_state{pool=\"www\","
	    "state=\"up\"} "), 1, "the pool is up");
	is_int((long long)value_of(t, "fpmprobe_pool_state{pool=\"www\","
	    "state=\"down\"} "), 0, "and not down");
	is_int((long long)value_of(t, "fpmprobe_start_time_seconds "),
	    1700000000, "start time");
	ok(strstr(t, "fpmprobe_pool_workers") == NULL,
	    "no worker gauges without a status sample");
	ok(strstr(t, "fpmprobe_check_probes_total{pool=\"www\",check=\"app\","
	    "type=\"fastcgi\"} 2\n") != NULL, "probes counted");
	buf_free(&b);

	setup("a\"b\\c\nd");
	metrics_format(&b, &conf, 1);
	ok(strstr((const char *)b.data, "{pool=\"a\\\"b\\\\c\\nd\"") != NULL,
	    "label values are escaped");
	buf_free(&b);
}

int
main(void)
{
	log_init(1, 0);
	test_histogram();
	test_format();
	return tap_done();
}
