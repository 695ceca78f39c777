/*
 * What the host does to fpmprobe: pressure stall information (PSI) from
 * /proc/pressure/{cpu,io,memory} and the share of CPU time the hypervisor
 * stole, from two readings of /proc/stat.  A probe that is slow because
 * the host starves fpmprobe (and the backend with it) must not read as a
 * slow backend; these numbers, with each check's scheduling delay, tell
 * the two apart.
 *
 * Read at most once a second, from the interval timers, never on the
 * agent's path.  Where the kernel has no PSI (built without it, booted
 * with psi=0, not Linux) each resource is absent with a note saying why.
 * The parsers are pure and take whatever text they are given.
 */

#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmprobe.h"

#define HOST_TEXT_MAX	4096	/* of one file: /proc/stat's first line */
#define HOST_DIGITS_MAX	19	/* of one number, so that it fits */

static int	 number_parse(const char **, uint64_t *, unsigned int *);
static int	 psi_line(const char *, struct psi_avg *);
static void	 psi_read(struct host_psi *, const char *, const char *);
static void	 steal_read(struct host_facts *, const char *, uint64_t);
static void	 pressure_metrics(struct buf *, const struct host_facts *);
static void	 delay_metrics(struct buf *, struct config *);
static void	 family_head(struct buf *, int);

static const char *host_resource_names[HR_MAX] = {
	[HR_CPU] = "cpu",
	[HR_IO] = "io",
	[HR_MEMORY] = "memory",
};

static struct host_facts	 host;

/* The name of a resource, as /proc/pressure and the reports spell it. */
const char *
host_resource_str(enum host_resource r)
{
	if (r < 0 || r >= HR_MAX)
		return "unknown";
	return host_resource_names[r];
}

/*
 * A decimal number at *p: digits, then optionally '.' and digits, whose
 * fraction is returned in hundredths (*frac, when asked for).  Moves *p
 * past it; -1 when there is none or it is too long.
 */
static int
number_parse(const char **p, uint64_t *v, unsigned int *frac)
{
	const char	*s = *p;
	uint64_t	 n = 0;
	unsigned int	 f = 0, fd = 0;
	size_t		 digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (++digits > HOST_DIGITS_MAX)
			return -1;
		n = n * 10 + (uint64_t)(*s++ - '0');
	}
	if (digits == 0)
		return -1;
	if (frac != NULL) {
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				if (fd < 2)
					f = f * 10 + (unsigned int)(*s - '0');
				fd++;
				s++;
			}
			if (fd == 0)
				return -1;
		}
		for (; fd < 2; fd++)
			f *= 10;
		*frac = f;
	} else if (*s == '.')
		return -1;
	*v = n;
	*p = s;
	return 0;
}

/*
 * The numbers of one PSI line after its kind: "avg10=4.02 avg60=16.24
 * avg300=9.65 total=1908813971".  avg10 and total must be there and
 * sane; the others are not needed.
 */
static int
psi_line(const char *s, struct psi_avg *a)
{
	uint64_t	 n, total = 0;
	unsigned int	 frac;
	int		 have_avg = 0, have_total = 0;

	memset(a, 0, sizeof(*a));
	while (*s != '\0' && *s != '\n') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncmp(s, "avg10=", 6) == 0) {
			s += 6;
			if (number_parse(&s, &n, &frac) == -1 || n > 100 ||
			    (n == 100 && frac > 0))
				return -1;
			a->avg10 = (double)n + frac / 100.0;
			have_avg = 1;
		} else if (strncmp(s, "total=", 6) == 0) {
			s += 6;
			if (number_parse(&s, &total, NULL) == -1)
				return -1;
			have_total = 1;
		} else
			while (*s != '\0' && *s != '\n' && *s != ' ' &&
			    *s != '\t')
				s++;
		if (*s != '\0' && *s != '\n' && *s != ' ' && *s != '\t')
			return -1;
	}
	if (!have_avg || !have_total)
		return -1;
	a->have = 1;
	a->total_us = total;
	return 0;
}

/*
 * Parse the text of /proc/pressure/RESOURCE: a "some" line, and a "full"
 * line where the kernel has one.  0 when "some" was read, else -1 with
 * nothing kept.
 */
int
psi_parse(const char *text, struct host_psi *psi)
{
	const char	*line;
	struct psi_avg	 a;

	memset(&psi->some, 0, sizeof(psi->some));
	memset(&psi->full, 0, sizeof(psi->full));
	psi->have = 0;
	for (line = text; line != NULL && *line != '\0';
	    line = strchr(line, '\n'), line = line != NULL ? line + 1 : NULL) {
		if (strncmp(line, "some ", 5) == 0 && !psi->some.have &&
		    psi_line(line + 5, &a) == 0)
			psi->some = a;
		else if (strncmp(line, "full ", 5) == 0 && !psi->full.have &&
		    psi_line(line + 5, &a) == 0)
			psi->full = a;
	}
	if (!psi->some.have) {
		memset(&psi->full, 0, sizeof(psi->full));
		return -1;
	}
	psi->have = 1;
	return 0;
}

/*
 * The "cpu" line of /proc/stat: user nice system idle iowait irq softirq
 * steal guest guest_nice, in clock ticks.  The total is the first eight
 * (guest time is already in user).  Kernels before 2.6.11 have no steal.
 */
int
cpu_ticks_parse(const char *text, struct cpu_ticks *t)
{
	const char	*s = text;
	uint64_t	 v[8], total = 0;
	size_t		 n = 0, i;

	memset(t, 0, sizeof(*t));
	if (strncmp(s, "cpu ", 4) != 0)
		return -1;
	s += 4;
	while (n < 8) {
		while (*s == ' ')
			s++;
		if (*s == '\n' || *s == '\0')
			break;
		if (number_parse(&s, &v[n], NULL) == -1 ||
		    (*s != ' ' && *s != '\n' && *s != '\0'))
			return -1;
		n++;
	}
	if (n < 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (total > UINT64_MAX - v[i])
			return -1;
		total += v[i];
	}
	t->have = 1;
	t->total = total;
	if (n == 8) {
		t->have_steal = 1;
		t->steal = v[7];
	}
	return 0;
}

/* Read one resource's PSI file under root, or say why it cannot be had. */
static void
psi_read(struct host_psi *psi, const char *root, const char *name)
{
	char	 path[256], text[HOST_TEXT_MAX];

	psi->note[0] = '\0';
	snprintf(path, sizeof(path), "%s/pressure/%s", root, name);
	if (proc_read_small(path, text, sizeof(text)) == -1) {
		/* EOPNOTSUPP: the kernel has PSI but was booted psi=0. */
		snprintf(psi->note, sizeof(psi->note),
		    "PSI not available: %.80s: %.50s", path, strerror(errno));
		psi_parse("", psi);
	} else if (psi_parse(text, psi) == -1)
		snprintf(psi->note, sizeof(psi->note),
		    "PSI not available: %.80s: unexpected text", path);
}

/*
 * Read /proc/stat and, with the reading before, the share of CPU time
 * stolen between the two.
 */
static void
steal_read(struct host_facts *h, const char *root, uint64_t now)
{
	struct cpu_ticks	 t;
	char			 path[256], text[HOST_TEXT_MAX];

	snprintf(path, sizeof(path), "%s/stat", root);
	if (proc_read_small(path, text, sizeof(text)) == -1) {
		snprintf(h->steal_note, sizeof(h->steal_note), "CPU steal "
		    "not available: %.80s: %.50s", path, strerror(errno));
		h->have_steal = 0;
		h->ticks.have = 0;
		return;
	}
	if (cpu_ticks_parse(text, &t) == -1 || !t.have_steal) {
		snprintf(h->steal_note, sizeof(h->steal_note), "CPU steal "
		    "not available: %.80s: %s", path, t.have ?
		    "no steal column" : "unexpected text");
		h->have_steal = 0;
		h->ticks.have = 0;
		return;
	}
	if (!h->ticks.have) {
		strlcpy_safe(h->steal_note, "CPU steal: one reading so far",
		    sizeof(h->steal_note));
		h->have_steal = 0;
	} else if (t.total <= h->ticks.total || t.steal < h->ticks.steal) {
		/* Too soon for a tick to pass, or the counters went back. */
		snprintf(h->steal_note, sizeof(h->steal_note), "CPU steal: "
		    "no clock tick passed between the readings, %llu ms apart",
		    (unsigned long long)((now - h->ticks_us) / 1000));
		h->have_steal = 0;
	} else {
		h->steal_note[0] = '\0';
		h->have_steal = 1;
		h->steal_ratio = (double)(t.steal - h->ticks.steal) /
		    (double)(t.total - h->ticks.total);
		if (h->steal_ratio > 1)
			h->steal_ratio = 1;
		h->steal_window_us = now - h->ticks_us;
	}
	h->ticks = t;
	h->ticks_us = now;
}

/*
 * Read the host's facts under root ("/proc"; unit tests give their own),
 * keeping the last /proc/stat reading of h for the steal share.
 */
void
host_read(struct host_facts *h, const char *root, uint64_t now)
{
	int	 r;

	for (r = 0; r < HR_MAX; r++)
		psi_read(&h->psi[r], root, host_resource_str(r));
	steal_read(h, root, now);
	h->read_us = now;
}

/*
 * Read the host's facts when the last reading is a second old, or now
 * (force: --once, at its start and its end).
 */
void
host_sample(uint64_t now, int force)
{
	if (!force && host.read_us != 0 && now - host.read_us < HOST_READ_US)
		return;
	host_read(&host, "/proc", now);
}

/* The last reading, for reports and metrics. */
const struct host_facts *
host_facts(void)
{
	return &host;
}

/* PSI cpu "some" avg10, in whole percent, or -1 when not known. */
int
host_cpu_pressure_pct(void)
{
	const struct host_psi	*p = &host.psi[HR_CPU];

	if (host.read_us == 0 || !p->have)
		return -1;
	return (int)(p->some.avg10 + 0.5);
}

/*
 * The metric families host_metrics() writes, in order: the pressure ones
 * (FAM_AVAILABLE to FAM_TOTAL), then each check's lateness.
 */
enum host_family {
	FAM_AVAILABLE = 0,
	FAM_AVG10,
	FAM_TOTAL,
	FAM_STEAL,
	FAM_DELAY,
	FAM_DELAY_MAX,
	FAM_SELF_LATE,
	FAM_MAX
};

static const struct {
	const char	*name, *type, *help;
} host_families[FAM_MAX] = {
	[FAM_AVAILABLE] = { "fpmprobe_host_pressure_available", "gauge",
	    "1 while the kernel gives pressure stall information for the "
	    "resource" },
	[FAM_AVG10] = { "fpmprobe_host_pressure_avg10_ratio", "gauge",
	    "share of the last 10 s in which some (or all) runnable tasks "
	    "stalled on the resource (PSI)" },
	[FAM_TOTAL] = { "fpmprobe_host_pressure_seconds_total", "counter",
	    "time some (or all) runnable tasks stalled on the resource since "
	    "boot (PSI)" },
	[FAM_STEAL] = { "fpmprobe_host_cpu_steal_ratio", "gauge",
	    "share of CPU time the hypervisor gave to others between the "
	    "last two readings of /proc/stat" },
	[FAM_DELAY] = { "fpmprobe_check_schedule_delay_seconds", "gauge",
	    "how late the check's interval timer last fired after it was "
	    "due: fpmprobe's own lateness, not the backend's" },
	[FAM_DELAY_MAX] = { "fpmprobe_check_schedule_delay_max_seconds",
	    "gauge", "the largest of the last 32 scheduling delays" },
	[FAM_SELF_LATE] = { "fpmprobe_check_self_late_total", "counter",
	    "failed probes fpmprobe itself ran late for (started late or "
	    "judged past their deadline)" },
};

/* The HELP and TYPE lines of one of host_families. */
static void
family_head(struct buf *b, int f)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", host_families[f].name,
	    host_families[f].help, host_families[f].name,
	    host_families[f].type);
}

/* The largest scheduling delay in a check's window, in microseconds. */
uint64_t
check_delay_max(const struct check_status *st)
{
	uint64_t	 max = 0;
	unsigned int	 i;

	for (i = 0; i < st->delay_n && i < SCHED_DELAY_WINDOW; i++)
		if (st->delays[i] > max)
			max = st->delays[i];
	return max;
}

/* The host's gauges and counters. */
static void
pressure_metrics(struct buf *b, const struct host_facts *h)
{
	static const char	*kinds[] = { "some", "full" };
	const struct psi_avg	*a;
	int			 r, k, f;

	family_head(b, FAM_AVAILABLE);
	for (r = 0; r < HR_MAX; r++)
		buf_printf(b, "%s{resource=\"%s\"} %d\n",
		    host_families[FAM_AVAILABLE].name, host_resource_str(r),
		    h->psi[r].have);
	for (f = FAM_AVG10; f <= FAM_TOTAL; f++) {
		family_head(b, f);
		for (r = 0; r < HR_MAX; r++)
			for (k = 0; k < 2; k++) {
				a = k == 0 ? &h->psi[r].some : &h->psi[r].full;
				if (!h->psi[r].have || !a->have)
					continue;
				buf_printf(b, "%s{resource=\"%s\",kind=\"%s\"} ",
				    host_families[f].name,
				    host_resource_str(r), kinds[k]);
				if (f == FAM_AVG10)
					buf_printf(b, "%.4f\n", a->avg10 / 100);
				else
					buf_printf(b, "%.6f\n", a->total_us / 1e6);
			}
	}
	if (h->have_steal) {
		family_head(b, FAM_STEAL);
		buf_printf(b, "%s %.4f\n", host_families[FAM_STEAL].name,
		    h->steal_ratio);
	}
}

/*
 * Each check's scheduling delay and its probes that fpmprobe itself ran
 * late for.  Pool and check names are [A-Za-z0-9_.-]: nothing to escape.
 */
static void
delay_metrics(struct buf *b, struct config *conf)
{
	struct pool	*pool;
	struct check	*c;
	int		 f;

	for (f = FAM_DELAY; f <= FAM_SELF_LATE; f++) {
		family_head(b, f);
		TAILQ_FOREACH(pool, &conf->pools, entry)
			TAILQ_FOREACH(c, &pool->checks, entry) {
				if (c == pool->sampler ||
				    (f != FAM_SELF_LATE && !c->st.have_delay))
					continue;
				buf_printf(b, "%s{pool=\"%s\",check=\"%s\","
				    "type=\"%s\"} ", host_families[f].name,
				    pool->name, c->name, c->ops->name);
				if (f == FAM_DELAY)
					buf_printf(b, "%.6f\n",
					    c->st.delay_us / 1e6);
				else if (f == FAM_DELAY_MAX)
					buf_printf(b, "%.6f\n",
					    check_delay_max(&c->st) / 1e6);
				else
					buf_printf(b, "%llu\n",
					    (unsigned long long)
					    c->st.self_late_total);
			}
	}
}

/* What /metrics adds of the host and of fpmprobe's own lateness. */
void
host_metrics(struct buf *b, struct config *conf)
{
	pressure_metrics(b, &host);
	delay_metrics(b, conf);
}
