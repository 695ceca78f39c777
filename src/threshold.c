/*
 * Thresholds as Monitoring Plugins write them: a range [@]start:end on a
 * numeric scale, endpoints included, "~" for negative infinity, "start:"
 * for no upper end, a bare "end" for 0:end; an alert when the value is
 * outside the range, or inside it when the range starts with "@".  The
 * development guidelines' examples:
 *
 *	10	< 0 or > 10		10:20	< 10 or > 20
 *	10:	< 10			@10:20	>= 10 and <= 20
 *	~:10	> 10
 *
 * --warning and --critical take a list of them per metric:
 * "weight=50:,stuck=2,latency=0.5".
 */

#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

static const char *metric_names[METRIC_COUNT] = {
	"weight", "stuck", "latency"
};

static const char *number_scan(const char *, double *);
static int	range_error(char *, size_t, const char *);

/* The metric's name on the command line and in messages. */
const char *
metric_str(enum metric m)
{
	return m < METRIC_COUNT ? metric_names[m] : "?";
}

/*
 * Read a decimal number, [+-]digits[.digits] or [+-].digits (no exponent,
 * no "inf", no hexadecimal: what a range is written with), into v.
 * Returns the first character after it, or NULL when there is none.
 */
static const char *
number_scan(const char *p, double *v)
{
	char		 num[RANGE_TEXT_MAX];
	const char	*q = p;
	size_t		 before = 0, after = 0;

	if (*q == '+' || *q == '-')
		q++;
	while (isdigit((unsigned char)*q)) {
		q++;
		before++;
	}
	if (*q == '.') {
		q++;
		while (isdigit((unsigned char)*q)) {
			q++;
			after++;
		}
		if (after == 0)
			return NULL;
	}
	if (before + after == 0 || (size_t)(q - p) >= sizeof(num))
		return NULL;
	memcpy(num, p, (size_t)(q - p));
	num[q - p] = '\0';
	*v = strtod(num, NULL);
	return q;
}

/* Say why a range was refused; returns -1. */
static int
range_error(char *err, size_t errlen, const char *why)
{
	strlcpy_safe(err, why, errlen);
	return -1;
}

/*
 * Parse a range.  Returns 0, or -1 with why in err; r is set only on
 * success.
 */
int
range_parse(const char *s, struct range *r, char *err, size_t errlen)
{
	struct range	 nr;
	const char	*p = s, *colon, *q;

	memset(&nr, 0, sizeof(nr));
	nr.start = 0;
	nr.end = HUGE_VAL;
	if (*s == '\0')
		return range_error(err, errlen, "empty range");
	if (strlen(s) >= sizeof(nr.text))
		return range_error(err, errlen, "range is too long");
	if (*p == '@') {
		nr.inside = 1;
		p++;
	}
	if ((colon = strchr(p, ':')) != NULL) {
		if (p == colon)
			return range_error(err, errlen, "nothing before \":\" "
			    "(write 0:N, or ~:N for no lower end)");
		if (*p == '~' && p + 1 == colon)
			nr.start = -HUGE_VAL;
		else if ((q = number_scan(p, &nr.start)) != colon)
			goto bad;
		p = colon + 1;
		if (*p != '\0' && ((q = number_scan(p, &nr.end)) == NULL ||
		    *q != '\0'))
			goto bad;
	} else if ((q = number_scan(p, &nr.end)) == NULL || *q != '\0')
		goto bad;
	if (nr.start > nr.end)
		return range_error(err, errlen, "the start is above the end");
	nr.set = 1;
	strlcpy_safe(nr.text, s, sizeof(nr.text));
	*r = nr;
	return 0;

bad:
	/* "1e3", "0x10": a number not written as plain decimals. */
	for (q = s + 1; *q != '\0'; q++)
		if (isdigit((unsigned char)q[-1]) && (((*q == 'e' ||
		    *q == 'E') && (isdigit((unsigned char)q[1]) ||
		    q[1] == '-' || q[1] == '+')) || ((*q == 'x' || *q == 'X') &&
		    q[-1] == '0')))
			return range_error(err, errlen, "a range takes plain "
			    "decimal numbers, without an exponent or hex");
	/* "0.5s", "50%": a number with a unit. */
	for (q = s + 1; *q != '\0'; q++)
		if ((isalpha((unsigned char)*q) || *q == '%') &&
		    isdigit((unsigned char)q[-1]))
			return range_error(err, errlen, "a range takes plain "
			    "numbers, without a unit");
	return range_error(err, errlen, "expected [@]start:end of decimal "
	    "numbers, like 10, 10:, ~:10, 10:20 or @10:20");
}

/* Does v raise the range's alert?  An unset range never does. */
int
range_alert(const struct range *r, double v)
{
	int	 in;

	if (!r->set)
		return 0;
	in = v >= r->start && v <= r->end;
	return r->inside ? in : !in;
}

/*
 * Add a --warning (level 1) or --critical (level 2) list,
 * "metric=range[,metric=range...]", to t.  Returns 0, or -1 with why in
 * err.
 */
int
thresholds_parse(struct thresholds *t, int level, const char *list,
    char *err, size_t errlen)
{
	struct range	*set = level == 2 ? t->crit : t->warn;
	struct range	 r;
	char		*copy, *item, *next, *eq, why[128];
	size_t		 m;
	int		 rc = -1;

	copy = xstrdup(list);
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		if (*item == '\0') {
			snprintf(err, errlen, "an empty item: expected "
			    "metric=RANGE[,metric=RANGE...]");
			goto done;
		}
		if ((eq = strchr(item, '=')) == NULL) {
			snprintf(err, errlen, "\"%.40s\" names no metric: "
			    "write weight=RANGE, stuck=RANGE or latency=RANGE",
			    item);
			goto done;
		}
		*eq = '\0';
		for (m = 0; m < METRIC_COUNT; m++)
			if (strcmp(item, metric_names[m]) == 0)
				break;
		if (m == METRIC_COUNT) {
			snprintf(err, errlen, "unknown metric \"%.40s\" (weight, "
			    "stuck or latency)", item);
			goto done;
		}
		if (set[m].set) {
			snprintf(err, errlen, "%s is given twice", item);
			goto done;
		}
		if (range_parse(eq + 1, &r, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s=%.40s: %s", item, eq + 1, why);
			goto done;
		}
		set[m] = r;
	}
	rc = 0;
done:
	free(copy);
	return rc;
}

/*
 * The Nagios code of a metric's value: 2 when its critical range alerts,
 * 1 when its warning range does, else 0; *fired is that range or NULL.
 */
int
thresholds_code(const struct thresholds *t, enum metric m, double v,
    const struct range **fired)
{
	*fired = NULL;
	if (t == NULL)
		return 0;
	if (range_alert(&t->crit[m], v)) {
		*fired = &t->crit[m];
		return 2;
	}
	if (range_alert(&t->warn[m], v)) {
		*fired = &t->warn[m];
		return 1;
	}
	return 0;
}

/* Is there a warning or a critical range on the metric? */
int
thresholds_on(const struct thresholds *t, enum metric m)
{
	return t != NULL && (t->warn[m].set || t->crit[m].set);
}
