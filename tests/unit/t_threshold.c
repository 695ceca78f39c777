/*
 * Unit tests of the Monitoring Plugins ranges and of --once's
 * --warning/--critical lists: the development guidelines' examples,
 * decimals, what is refused and how it is said.
 */

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"
#include "tap.h"

/* Refuse s, and say why in words that contain want. */
static int
refused(const char *s, const char *want)
{
	struct range	 r;
	char		 err[128] = "";

	r.set = 7;
	if (range_parse(s, &r, err, sizeof(err)) == 0)
		return 0;
	if (strstr(err, want) == NULL) {
		printf("#   \"%s\": %s\n", s, err);
		return 0;
	}
	return r.set == 7;	/* left as it was */
}

/* A range, a value, and whether the value raises the range's alert. */
static const struct {
	const char	*range;
	double		 value;
	int		 alert;
	const char	*why;
} cases[] = {
	/* The table of the development guidelines, at and around each end. */
	{ "10", -1, 1, "-1 is < 0" },
	{ "10", 0, 0, "0 is inside 0..10" },
	{ "10", 10, 0, "10 is inside (ends included)" },
	{ "10", 10.001, 1, "10.001 is > 10" },
	{ "10:", 9.999, 1, "9.999 is < 10" },
	{ "10:", 10, 0, "10 is not" },
	{ "10:", 1e12, 0, "no upper end" },
	{ "~:10", -1e12, 0, "no lower end" },
	{ "~:10", 10, 0, "10 is not > 10" },
	{ "~:10", 10.5, 1, "10.5 is > 10" },
	{ "10:20", 9, 1, "9 is < 10" },
	{ "10:20", 10, 0, "10 is inside" },
	{ "10:20", 20, 0, "20 is inside" },
	{ "10:20", 21, 1, "21 is > 20" },
	{ "@10:20", 9.9, 0, "9.9 is outside, no alert" },
	{ "@10:20", 10, 1, "10 alerts (>= 10)" },
	{ "@10:20", 15, 1, "15 alerts" },
	{ "@10:20", 20, 1, "20 alerts (<= 20)" },
	{ "@10:20", 20.1, 0, "20.1 does not" },
	/* Decimals and signs. */
	{ "-10:-5", -7, 0, "-7 is inside" },
	{ "-10:-5", -4, 1, "-4 is above" },
	{ "+5", 5, 0, "+5 is 0:5" },
	{ "0.5", 0.5, 0, "0.5 is inside" },
	{ "0.5", 0.500001, 1, "0.500001 is above" },
	{ "0.000001", 0.0000015, 1, "a microsecond and a half is above" },
	{ "5:5", 5, 0, "a single point" },
	{ "~:", 1e300, 0, "never alerts" },
	{ "@~:", -1e300, 1, "always does" },
};

/* Each case: parsed, then compared. */
static void
test_cases(void)
{
	struct range	 r;
	char		 err[128];
	size_t		 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (range_parse(cases[i].range, &r, err, sizeof(err)) == -1) {
			ok(0, "%s: %s", cases[i].range, err);
			continue;
		}
		is_int(range_alert(&r, cases[i].value), cases[i].alert,
		    "%s: %s", cases[i].range, cases[i].why);
	}
}

/* The guidelines' command line examples, as warning and critical. */
static void
test_command_lines(void)
{
	struct thresholds	 t;
	const struct range	*r;
	char			 err[200];

	memset(&t, 0, sizeof(t));
	ok(thresholds_parse(&t, 1, "weight=10", err, sizeof(err)) == 0 &&
	    thresholds_parse(&t, 2, "weight=20", err, sizeof(err)) == 0,
	    "-w10 -c20");
	is_int(thresholds_code(&t, METRIC_WEIGHT, 5, &r), 0, "5: OK");
	is_int(thresholds_code(&t, METRIC_WEIGHT, 15, &r), 1, "15: WARNING");
	ok(r == &t.warn[METRIC_WEIGHT], "the warning range fired");
	is_int(thresholds_code(&t, METRIC_WEIGHT, 25, &r), 2, "25: CRITICAL");
	ok(r == &t.crit[METRIC_WEIGHT], "the critical range fired");
	is_int(thresholds_code(&t, METRIC_WEIGHT, -1, &r), 2,
	    "-1: CRITICAL, as the guidelines say");
	is_int(thresholds_code(&t, METRIC_STUCK, 25, &r), 0,
	    "another metric without ranges: OK");
	ok(r == NULL, "and nothing fired");

	memset(&t, 0, sizeof(t));
	ok(thresholds_parse(&t, 2, "stuck=5:6", err, sizeof(err)) == 0,
	    "-c5:6");
	is_int(thresholds_code(&t, METRIC_STUCK, 4, &r), 2, "4 is < 5");
	is_int(thresholds_code(&t, METRIC_STUCK, 5.5, &r), 0, "5.5 is not");
	is_int(thresholds_code(&t, METRIC_STUCK, 7, &r), 2, "7 is > 6");

	memset(&t, 0, sizeof(t));
	ok(thresholds_parse(&t, 1, "latency=~:0", err, sizeof(err)) == 0 &&
	    thresholds_parse(&t, 2, "latency=10", err, sizeof(err)) == 0,
	    "-w~:0 -c10");
	is_int(thresholds_code(&t, METRIC_LATENCY, 0, &r), 0, "0: OK");
	is_int(thresholds_code(&t, METRIC_LATENCY, 0.1, &r), 1,
	    "0.1: WARNING");
	is_int(thresholds_code(&t, METRIC_LATENCY, 11, &r), 2,
	    "11: CRITICAL");
	is_int(thresholds_code(NULL, METRIC_LATENCY, 11, &r), 0,
	    "no thresholds at all: OK");
}

/* What a parsed range holds. */
static void
test_values(void)
{
	struct range	 r;
	char		 err[128];

	ok(range_parse("@0.25:.75", &r, err, sizeof(err)) == 0 && r.inside &&
	    r.start == 0.25 && r.end == 0.75, "@0.25:.75: inside, decimals");
	is_str(r.text, "@0.25:.75", "the range is kept as written");
	ok(range_parse("10", &r, err, sizeof(err)) == 0 && !r.inside &&
	    r.start == 0 && r.end == 10, "10 is 0:10");
	ok(range_parse("10:", &r, err, sizeof(err)) == 0 && r.start == 10 &&
	    isinf(r.end) && r.end > 0, "10: has no upper end");
	ok(range_parse("~:10", &r, err, sizeof(err)) == 0 &&
	    isinf(r.start) && r.start < 0 && r.end == 10,
	    "~ is negative infinity");
	r.set = 0;
	is_int(range_alert(&r, 1), 0, "an unset range never alerts");
}

/* What is not a range, and what the error says. */
static void
test_refused(void)
{
	char	 longer[RANGE_TEXT_MAX + 8];

	ok(refused("", "empty"), "empty");
	ok(refused("abc", "expected [@]start:end"), "words");
	ok(refused(":10", "nothing before"), ":10 (no start)");
	ok(refused("20:10", "start is above the end"), "20:10");
	ok(refused("-5", "start is above the end"), "-5 is 0:-5");
	ok(refused("0.5s", "without a unit"), "0.5s: a unit");
	ok(refused("50%", "without a unit"), "50%%: a unit");
	ok(refused("50:%", "expected"), "50:%%");
	ok(refused("1e3", "without an exponent"), "1e3: no exponent");
	ok(refused("10:20:30", "expected"), "two colons");
	ok(refused(" 10", "expected"), "a leading space");
	ok(refused("10 ", "expected"), "a trailing space");
	ok(refused("@", "expected"), "@ alone");
	ok(refused("@@10", "expected"), "@@10");
	ok(refused("~", "expected"), "~ alone");
	ok(refused("~10", "expected"), "~10 (no colon)");
	ok(refused("10:~", "expected"), "~ as the end");
	ok(refused("5.", "expected"), "5. (no digit after the point)");
	ok(refused(".", "expected"), "a point");
	ok(refused("-", "expected"), "a sign");
	ok(refused("inf", "expected"), "inf");
	ok(refused("nan", "expected"), "nan");
	ok(refused("0x10", "or hex"), "hexadecimal");
	ok(refused("1,5", "expected"), "a decimal comma");
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ok(refused(longer, "too long"), "a range longer than %d characters",
	    RANGE_TEXT_MAX - 1);
}

/* The metric=range lists of --warning and --critical. */
static void
test_lists(void)
{
	struct thresholds	 t;
	char			 err[200];

	memset(&t, 0, sizeof(t));
	ok(thresholds_parse(&t, 1, "weight=50:,stuck=2,latency=0.5", err,
	    sizeof(err)) == 0, "three metrics in one list");
	ok(t.warn[METRIC_WEIGHT].set && t.warn[METRIC_STUCK].set &&
	    t.warn[METRIC_LATENCY].set, "each has its warning range");
	ok(!t.crit[METRIC_WEIGHT].set && !t.crit[METRIC_STUCK].set &&
	    !t.crit[METRIC_LATENCY].set, "and no critical one");
	is_str(t.warn[METRIC_WEIGHT].text, "50:", "weight=50:");
	is_str(t.warn[METRIC_LATENCY].text, "0.5", "latency=0.5");
	ok(thresholds_on(&t, METRIC_STUCK) && !thresholds_on(NULL,
	    METRIC_STUCK), "thresholds_on");
	ok(thresholds_parse(&t, 2, "weight=25:", err, sizeof(err)) == 0 &&
	    t.crit[METRIC_WEIGHT].set, "a critical list on its own");

	ok(thresholds_parse(&t, 1, "stuck=3", err, sizeof(err)) == -1 &&
	    strstr(err, "stuck is given twice") != NULL,
	    "a metric given twice, over two options: %s", err);
	memset(&t, 0, sizeof(t));
	ok(thresholds_parse(&t, 2, "weight=1,weight=2", err,
	    sizeof(err)) == -1 && strstr(err, "twice") != NULL,
	    "twice in one list: %s", err);
	ok(thresholds_parse(&t, 1, "80", err, sizeof(err)) == -1 &&
	    strstr(err, "names no metric") != NULL &&
	    strstr(err, "weight=RANGE, stuck=RANGE or latency=RANGE") != NULL,
	    "a bare range says which metrics exist: %s", err);
	ok(thresholds_parse(&t, 1, "load=5", err, sizeof(err)) == -1 &&
	    strstr(err, "unknown metric \"load\" (weight, stuck or latency)")
	    != NULL, "an unknown metric: %s", err);
	ok(thresholds_parse(&t, 1, "Weight=5", err, sizeof(err)) == -1,
	    "metric names are lower case");
	ok(thresholds_parse(&t, 1, "latency=0.5s", err, sizeof(err)) == -1 &&
	    strstr(err, "latency=0.5s: a range takes plain numbers") != NULL,
	    "a unit: %s", err);
	ok(thresholds_parse(&t, 1, "weight=", err, sizeof(err)) == -1 &&
	    strstr(err, "weight=: empty range") != NULL, "no range: %s", err);
	ok(thresholds_parse(&t, 1, "weight=1,", err, sizeof(err)) == -1 &&
	    strstr(err, "empty item") != NULL, "a trailing comma: %s", err);
	ok(thresholds_parse(&t, 1, "", err, sizeof(err)) == -1 &&
	    strstr(err, "empty item") != NULL, "an empty list");
	ok(thresholds_parse(&t, 1, "stuck = 2", err, sizeof(err)) == -1,
	    "no spaces around =");
	is_str(metric_str(METRIC_WEIGHT), "weight", "metric_str weight");
	is_str(metric_str(METRIC_LATENCY), "latency", "metric_str latency");
}

int
main(void)
{
	test_cases();
	test_command_lines();
	test_values();
	test_refused();
	test_lists();
	return tap_done();
}
