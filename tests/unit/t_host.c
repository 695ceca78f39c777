/*
 * Unit tests of host.c: the PSI and /proc/stat parsers against real,
 * old, truncated and hostile text, and host_read() against a directory
 * that has PSI, one that does not, and one whose files hold garbage.
 */

#include "config.h"

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmprobe.h"
#include "tap.h"

static void	 test_psi(void);
static void	 test_ticks(void);
static void	 test_hostile(void);
static void	 test_read(void);
static void	 put(const char *, const char *, const char *);

static char	 root[64];

/* Write text to root/name. */
static void
put(const char *dir, const char *name, const char *text)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(99);
	}
	fputs(text, f);
	fclose(f);
}

static void
test_psi(void)
{
	struct host_psi	 p;

	ok(psi_parse("some avg10=4.02 avg60=16.24 avg300=9.65 "
	    "total=1908813971\nfull avg10=0.50 avg60=0.00 avg300=0.00 "
	    "total=42\n", &p) == 0, "a kernel's cpu pressure parses");
	ok(p.have && p.some.have && p.full.have, "some and full lines");
	ok(p.some.avg10 > 4.015 && p.some.avg10 < 4.025, "avg10 4.02");
	is_int((long long)p.some.total_us, 1908813971LL, "total in us");
	ok(p.full.avg10 > 0.495 && p.full.avg10 < 0.505, "full avg10 0.50");
	is_int((long long)p.full.total_us, 42, "full total");

	ok(psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
	    &p) == 0 && !p.full.have, "before 5.13 cpu has no full line");
	ok(psi_parse("some avg10=100.00 avg60=1 avg300=2 total=7", &p) == 0 &&
	    p.some.avg10 == 100, "100%% and no final newline");
	ok(psi_parse("some avg10=1.5 total=3 extra=x\nfull avg10=bad "
	    "total=1\n", &p) == 0 && p.some.avg10 == 1.5 && !p.full.have,
	    "unknown fields are skipped, a bad full line is dropped");
	ok(psi_parse("some avg10=1.239 total=3\n", &p) == 0 &&
	    p.some.avg10 > 1.225 && p.some.avg10 < 1.235,
	    "digits beyond hundredths are cut");
}

static void
test_ticks(void)
{
	struct cpu_ticks	 t;

	ok(cpu_ticks_parse("cpu  787853 0 245910 994280 2021 0 19740 16940 "
	    "0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n", &t) == 0, "a kernel's /proc/stat");
	ok(t.have && t.have_steal, "with steal");
	is_int((long long)t.total, 787853LL + 245910 + 994280 + 2021 + 19740 +
	    16940, "total of the first eight");
	is_int((long long)t.steal, 16940, "steal is the eighth");
	ok(cpu_ticks_parse("cpu  10 0 5 100 1 0 0\n", &t) == 0 && t.have &&
	    !t.have_steal && t.total == 116, "an old kernel: no steal column");
	ok(cpu_ticks_parse("cpu  1 2 3 4", &t) == 0 && !t.have_steal,
	    "four fields, no newline");
}

/* Text each parser must refuse, keeping nothing of it. */
static void
test_hostile(void)
{
	static const struct {
		int		 psi;	/* else /proc/stat */
		const char	*text;
	} bad[] = {
		{ 1, "" }, { 1, "\n\n" }, { 1, "some\n" },
		{ 1, "some avg10=\n" },
		{ 1, "some avg10=4.02\n" },			/* no total */
		{ 1, "some total=12\n" },			/* no avg10 */
		{ 1, "some avg10=4.02 total=\n" },
		{ 1, "some avg10=4.02 total=-1\n" },
		{ 1, "some avg10=101.00 total=1\n" },		/* over 100% */
		{ 1, "some avg10=100.01 total=1\n" },
		{ 1, "some avg10=4.x2 total=1\n" },
		{ 1, "some avg10=4. total=1\n" },
		{ 1, "some avg10=4.02 total=12345678901234567890123\n" },
		{ 1, "some avg10=4.02 total=1.5\n" },
		{ 1, "some avg10=4.02total=1\n" },
		{ 1, "full avg10=1.00 avg60=0.00 avg300=0.00 total=5\n" },
		{ 1, "SOME avg10=1.00 total=5\n" },
		{ 1, " some avg10=1.00 total=5\n" },
		{ 0, "" }, { 0, "cpu\n" }, { 0, "cpu0 1 2 3 4 5 6 7 8\n" },
		{ 0, "intr 1 2 3\ncpu  1 2 3 4 5 6 7 8\n" },
		{ 0, "cpu  1 2 3\n" },				/* too few */
		{ 0, "cpu  1 2 x 4 5 6 7 8\n" },
		{ 0, "cpu  1 2 3 4 5 6 7 -8\n" },
		{ 0, "cpu  1 2 3 4.5 5 6 7 8\n" },
		{ 0, "cpu  99999999999999999999 2 3 4\n" },	/* 20 digits */
		{ 0, "cpu  9999999999999999999 9999999999999999999 "
		    "9999999999999999999 0\n" },		/* sum overflows */
	};
	struct host_psi		 p;
	struct cpu_ticks	 t;
	size_t			 i;
	int			 refused;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i].psi)
			refused = psi_parse(bad[i].text, &p) == -1 &&
			    !p.have && !p.some.have && !p.full.have;
		else
			refused = cpu_ticks_parse(bad[i].text, &t) == -1 &&
			    !t.have;
		ok(refused, "%s refuses \"%.*s\"", bad[i].psi ? "psi_parse" :
		    "cpu_ticks_parse", (int)strcspn(bad[i].text, "\n"),
		    bad[i].text);
	}
}

static void
test_read(void)
{
	struct host_facts	 h;
	char			 dir[128];
	int			 r;

	memset(&h, 0, sizeof(h));
	snprintf(dir, sizeof(dir), "%s/pressure", root);
	if (mkdir(dir, 0700) == -1) {
		perror(dir);
		exit(99);
	}
	put(dir, "cpu", "some avg10=64.00 avg60=10.00 avg300=1.00 "
	    "total=5000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
	put(dir, "io", "some avg10=1.00 avg60=0 avg300=0 total=10\n"
	    "full avg10=0.50 avg60=0 avg300=0 total=5\n");
	put(dir, "memory", "garbage\n");
	put(root, "stat", "cpu  100 0 100 700 0 0 0 100 0 0\n");
	host_read(&h, root, 1000000);
	ok(h.psi[HR_CPU].have && h.psi[HR_CPU].some.avg10 == 64,
	    "cpu pressure read under the root given");
	is_str(h.psi[HR_CPU].note, "", "no note when it is there");
	ok(h.psi[HR_IO].have && h.psi[HR_IO].full.have, "io pressure");
	ok(!h.psi[HR_MEMORY].have && strstr(h.psi[HR_MEMORY].note,
	    "unexpected text") != NULL, "memory: garbage is absent, with a "
	    "note: %s", h.psi[HR_MEMORY].note);
	ok(!h.have_steal && strstr(h.steal_note, "one reading") != NULL,
	    "no steal share from one reading");
	put(root, "stat", "cpu  100 0 100 700 0 0 0 100 0 0\n");
	host_read(&h, root, 1500000);
	ok(!h.have_steal && strstr(h.steal_note, "no clock tick") != NULL,
	    "no steal share when no tick passed");
	put(root, "stat", "cpu  150 0 150 750 0 0 0 150 0 0\n");
	host_read(&h, root, 2000000);
	ok(h.have_steal && h.steal_ratio > 0.249 && h.steal_ratio < 0.251,
	    "steal share between two readings: 50 of 200 ticks");
	is_int((long long)h.steal_window_us, 500000, "over the time between");
	put(root, "stat", "cpu  10 0 10 10 0 0 0 0 0 0\n");
	host_read(&h, root, 3000000);
	ok(!h.have_steal, "counters that went back give no share");

	for (r = 0; r < HR_MAX; r++) {
		snprintf(dir, sizeof(dir), "%s/pressure/%s", root,
		    host_resource_str(r));
		unlink(dir);
	}
	snprintf(dir, sizeof(dir), "%s/pressure", root);
	rmdir(dir);
	host_read(&h, root, 4000000);
	ok(!h.psi[HR_CPU].have && !h.psi[HR_IO].have && !h.psi[HR_MEMORY].have,
	    "no /pressure: every resource absent");
	ok(strstr(h.psi[HR_CPU].note, "PSI not available: ") == h.psi[HR_CPU].note
	    && strstr(h.psi[HR_CPU].note, "/pressure/cpu: No such file or "
	    "directory") != NULL, "the note says why: %s", h.psi[HR_CPU].note);
	snprintf(dir, sizeof(dir), "%s/stat", root);
	unlink(dir);
	host_read(&h, root, 5000000);
	ok(!h.have_steal && strstr(h.steal_note, "/stat: No such file") !=
	    NULL, "no /proc/stat: steal absent with a note: %s", h.steal_note);

	/* The real one, wherever this runs. */
	memset(&h, 0, sizeof(h));
	host_read(&h, "/proc", now_us());
	if (access("/proc/pressure/cpu", R_OK) == 0)
		ok(h.psi[HR_CPU].have, "this kernel's /proc/pressure/cpu parses");
	else
		ok(!h.psi[HR_CPU].have && h.psi[HR_CPU].note[0] != '\0',
		    "this kernel has no PSI, and a note says so: %s",
		    h.psi[HR_CPU].note);
}

int
main(void)
{
	strlcpy_safe(root, "/tmp/t_host.XXXXXX", sizeof(root));
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 99;
	}
	test_psi();
	test_ticks();
	test_hostile();
	test_read();
	rmdir(root);
	return tap_done();
}
