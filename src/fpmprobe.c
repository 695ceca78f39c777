/*
 * fpmprobe: the command line, the daemon's life cycle and --once.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmprobe.h"

/*
 * Long options without a short one; config and test-config too, whose
 * letters check_fpmprobe gives to -c (critical) and -t (timeout).
 */
enum {
	OPT_ONCE = 256,
	OPT_CONFIG,
	OPT_TEST,
	OPT_JSON,
	OPT_TIMEOUT,
	OPT_AUDIT,
	OPT_WARNING,
	OPT_CRITICAL
};

/* The name that makes fpmprobe a Monitoring Plugin, and its -t default. */
#define PLUGIN_NAME		"check_fpmprobe"
#define PLUGIN_TIMEOUT_S	10

/* What --once is asked, as fpmprobe --once or as check_fpmprobe. */
struct once_opts {
	int			 json;
	int			 audit;
	unsigned int		 timeout_ms;	/* 0: none */
	int			 nthresholds;
	struct thresholds	 th;
};

/* The long options of both names. */
static const struct option longopts[] = {
	{ "foreground",		no_argument,		NULL, 'f' },
	{ "config",		required_argument,	NULL, OPT_CONFIG },
	{ "pidfile",		required_argument,	NULL, 'p' },
	{ "test-config",	no_argument,		NULL, OPT_TEST },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "once",		no_argument,		NULL, OPT_ONCE },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ "timeout",		required_argument,	NULL, OPT_TIMEOUT },
	{ "audit",		no_argument,		NULL, OPT_AUDIT },
	{ "warning",		required_argument,	NULL, OPT_WARNING },
	{ "critical",		required_argument,	NULL, OPT_CRITICAL },
	{ NULL,			0,			NULL, 0 }
};

static struct config	*conf;
static const char	*conffile = FPMPROBE_CONF;
static const char	*pidfile;
static int		 pidfd = -1;
static int		 verbose;
static int		 plugin;	/* started as check_fpmprobe */

static void	usage(FILE *, int) __attribute__((noreturn));
static void	once_usage(const char *) __attribute__((noreturn));
static void	badopt(int, char **, int) __attribute__((noreturn));
static int	has_once(int, char **);
static void	threshold_option(struct once_opts *, int, const char *,
		    const char *, int);
static int	seconds_parse(const char *, unsigned int *);
static void	plugin_help(void);
static int	plugin_main(int, char **);
static void	stdio_hold(void);
static struct config *load(const char *);
static int	run_once(int, char **, const struct once_opts *);
static int	run_daemon(int);
static void	pidfile_open(void);
static void	pidfile_write(void);
static void	pidfile_remove(void);
static int	daemon_detach(void);
static void	daemon_ready(int);
static void	on_signal(int, short, void *);
static void	reload(void);
static void	on_watchdog(int, short, void *);
static struct event_base *base_new(void);
static void	drop_privileges(void);
static void	nofile_raise(void);

/*
 * Print the synopsis and exit: with the options explained for -h
 * (code 0), alone after a usage error, which said what was wrong.
 */
static void
usage(FILE *f, int code)
{
	fprintf(f,
	    "usage: fpmprobe [-fv] [-c file] [-p pidfile]\n"
	    "       fpmprobe -t [-c file]\n"
	    "       fpmprobe --once [--json] [--audit] [--timeout duration]\n"
	    "                [--warning list] [--critical list] [-c file] "
	    "[pool ...]\n"
	    "       fpmprobe ctl [-c file] maint|drain pool [reason ...]\n"
	    "       fpmprobe ctl [-c file] ready pool | show\n"
	    "       fpmprobe -V | -h\n");
	if (code != 0)
		exit(code);
	fprintf(f, "\n"
	    "  -f, --foreground    stay in the foreground, log to stderr\n"
	    "  -c, --config FILE   configuration (default %s)\n"
	    "  -p, --pidfile FILE  write and lock a pid file\n"
	    "  -t, --test-config   check the configuration and exit\n"
	    "      --once          probe each pool once, print a report, exit\n"
	    "                      0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	    "      --json          with --once: print JSON\n"
	    "      --audit         with --once: unbounded waits found by the\n"
	    "                      audit are a WARNING\n"
	    "      --timeout DUR   with --once: end the whole run within DUR\n"
	    "      --warning LIST  with --once: WARNING when a value raises a\n"
	    "                      range, LIST being metric=RANGE[,...] with\n"
	    "                      metric weight (%%), stuck or latency (s) and\n"
	    "                      RANGE as Monitoring Plugins write it:\n"
	    "                      10, 10:, ~:10, 10:20 or @10:20\n"
	    "      --critical LIST with --once: CRITICAL likewise\n"
	    "  -v, --verbose       also log failed probes, every status sample\n"
	    "                      and each port opened or closed\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this text\n", FPMPROBE_CONF);
	exit(code);
}

/*
 * A usage error in --once, where a monitor reads the first line of
 * standard output and the exit status: one line, UNKNOWN (3).
 */
static void
once_usage(const char *said)
{
	char	 why[512];

	/* It may quote an argument: one printable line whatever it holds. */
	sanitize_text(why, sizeof(why), said, strlen(said));
	if (plugin)
		printf("FPMPROBE UNKNOWN - %s; usage: " PLUGIN_NAME " [-v] "
		    "[-w list] [-c list] [-t seconds] [-C file] [--json] "
		    "[--audit] [pool ...]\n", why);
	else
		printf("FPMPROBE UNKNOWN - %s; usage: fpmprobe --once [--json] "
		    "[--audit] [--timeout duration] [--warning list] "
		    "[--critical list] [-c file] [pool ...]\n", why);
	exit(3);
}

/*
 * A usage error getopt_long found (opterr 0, optstring with a leading
 * ':'): name the option, on the one line of --once or before the
 * synopsis.
 */
static void
badopt(int ch, char **argv, int once)
{
	char		 opt[64], why[256];
	const char	*arg = argv[optind - 1];

	if (optopt > 0 && optopt < 256)
		snprintf(opt, sizeof(opt), "-%c", optopt);
	else
		snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
	if (ch == ':')
		snprintf(why, sizeof(why), "%s needs an argument", opt);
	else if (optopt >= 256)
		snprintf(why, sizeof(why), "%s takes no argument", opt);
	else if (once && !plugin && optopt == 'w')
		snprintf(why, sizeof(why), "unknown option -w (fpmprobe --once "
		    "takes --warning and --critical; -w, -c and -t are "
		    PLUGIN_NAME "'s)");
	else
		snprintf(why, sizeof(why), "unknown option %s", opt);
	if (once)
		once_usage(why);
	log_warnx("%s", why);
	usage(stderr, 1);
}

/*
 * Add a --warning (level 1) or --critical (level 2) list; a list that
 * does not parse is a usage error, UNKNOWN in --once.
 */
static void
threshold_option(struct once_opts *o, int level, const char *opt,
    const char *arg, int once)
{
	char	 err[200], said[300], why[300];

	o->nthresholds++;
	if (thresholds_parse(&o->th, level, arg, err, sizeof(err)) == 0)
		return;
	snprintf(said, sizeof(said), "%s %s%s", opt, err, plugin &&
	    level == 2 && strchr(arg, '/') != NULL ?
	    " (the configuration file is -C FILE)" : "");
	if (once)
		once_usage(said);
	/* It quotes the user's list: printable, as once_usage makes it. */
	sanitize_text(why, sizeof(why), said, strlen(said));
	log_warnx("%s", why);
	usage(stderr, 1);
}

/* A plugin's -t: whole seconds, 1 to an hour.  Returns 0 or -1. */
static int
seconds_parse(const char *s, unsigned int *ms)
{
	unsigned int	 v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned int)(*s - '0');
		if (v > TIMEOUT_MAX_MS / 1000)
			return -1;
	}
	if (v == 0)
		return -1;
	*ms = v * 1000;
	return 0;
}

/* check_fpmprobe --help: the revision, the usage, then each option. */
static void
plugin_help(void)
{
	printf(PLUGIN_NAME " (fpmprobe %s)\n"
	    "Probe PHP-FPM pools once and report as a Monitoring Plugin.\n"
	    "\n"
	    "usage: " PLUGIN_NAME " [-v] [-w list] [-c list] [-t seconds] "
	    "[-C file]\n"
	    "       [--json] [--audit] [pool ...]\n"
	    "\n"
	    "  -w, --warning LIST   WARNING when a value raises a range of LIST\n"
	    "  -c, --critical LIST  CRITICAL likewise\n"
	    "                       LIST: metric=RANGE[,metric=RANGE...], with\n"
	    "                         weight   each pool's weight, percent\n"
	    "                         stuck    each pool's stuck workers\n"
	    "                         latency  each check's latency, seconds\n"
	    "                       RANGE: [@]start:end, an alert outside it\n"
	    "                       (inside with @), endpoints included:\n"
	    "                         10 < 0 or > 10     10: < 10   ~:10 > 10\n"
	    "                         10:20 < 10 or > 20 @10:20 10 to 20\n"
	    "                       A weight or stuck threshold replaces the\n"
	    "                       WARNING of any weight under 100%%.\n"
	    "  -t, --timeout SECS   end the whole run within SECS seconds "
	    "(default %d)\n"
	    "  -C, --config FILE    configuration (default %s)\n"
	    "      --json           print the report as JSON\n"
	    "      --audit          unbounded waits found by the audit are a "
	    "WARNING\n"
	    "  -v, --verbose        also log failed probes and status samples "
	    "to stderr\n"
	    "  -V, --version        print the version\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "Pools are all configured ones, or those named.  Exit status: 0 OK,\n"
	    "1 WARNING, 2 CRITICAL, 3 UNKNOWN (a usage error, -h, -V).\n",
	    PACKAGE_VERSION, PLUGIN_TIMEOUT_S, FPMPROBE_CONF);
}

/*
 * Started as check_fpmprobe (a link's name): --once with the options of
 * Monitoring Plugins, -w and -c thresholds, -t seconds (10 by default),
 * -C for the configuration.
 */
static int
plugin_main(int argc, char **argv)
{
	struct once_opts	 o;
	int			 ch;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = PLUGIN_TIMEOUT_S * 1000;
	plugin = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":w:c:t:C:vVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'w':
		case OPT_WARNING:
			threshold_option(&o, 1, "-w", optarg, 1);
			break;
		case 'c':
		case OPT_CRITICAL:
			threshold_option(&o, 2, "-c", optarg, 1);
			break;
		case 't':
		case OPT_TIMEOUT:
			if (seconds_parse(optarg, &o.timeout_ms) == -1)
				once_usage("-t takes whole seconds, 1 to 3600, "
				    "like 10");
			break;
		case 'C':
		case OPT_CONFIG:
			conffile = optarg;
			break;
		case 'f':
		case 'p':
		case OPT_TEST:
			once_usage("--foreground, --pidfile and --test-config "
			    "are fpmprobe's, not " PLUGIN_NAME "'s");
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf(PLUGIN_NAME " (fpmprobe %s)\n", PACKAGE_VERSION);
			return 3;
		case 'h':
			plugin_help();
			return 3;
		case OPT_ONCE:
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_AUDIT:
			o.audit = 1;
			break;
		default:
			badopt(ch, argv, 1);
		}
	}
	log_init(1, verbose);
	return run_once(argc - optind, argv + optind, &o);
}

/*
 * Is --once among the arguments, before any "--", as getopt_long will
 * take it: abbreviated ("--onc") or with an argument it refuses?
 */
static int
has_once(int argc, char **argv)
{
	size_t	 len;
	int	 i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		len = strcspn(argv[i], "=");
		if (len >= 3 && len <= 6 && strncmp(argv[i], "--once", len) == 0)
			return 1;
	}
	return 0;
}

/*
 * Started with standard input, output or error closed, the pid file or a
 * listener could get descriptor 0, 1 or 2, and daemon_ready()'s dup2()
 * would close it (the pid file's lock with it): keep all three open.
 */
static void
stdio_hold(void)
{
	int	 fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 &&
	    fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Load a configuration, printing one line per problem. */
static struct config *
load(const char *path)
{
	struct errlist	 errs = { NULL, 0 };
	struct config	*c;
	size_t		 i;

	c = config_load(path, &errs);
	if (c != NULL)
		config_warnings(c, &errs);
	for (i = 0; i < errs.n; i++)
		log_warnx("%s", errs.msg[i]);
	errlist_free(&errs);
	return c;
}

/*
 * Take every descriptor the hard limit allows: systemd and most shells
 * leave the soft limit at 1,024, fewer than the agent's connections,
 * probes and kept database connections may need.
 */
static void
nofile_raise(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
	    rl.rlim_max == RLIM_INFINITY) {
		rl.rlim_cur = 65536;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(int argc, char *argv[])
{
	struct once_opts o;
	int		 ch, foreground = 0, test = 0, once = 0;
	const char	*why = NULL, *name;

	stdio_hold();
	nofile_raise();

	if (argc > 0 && argv[0] != NULL) {
		name = strrchr(argv[0], '/');
		if (strcmp(name != NULL ? name + 1 : argv[0], PLUGIN_NAME) == 0)
			return plugin_main(argc, argv);
	}
	memset(&o, 0, sizeof(o));

	if (argc > 1 && strcmp(argv[1], "ctl") == 0) {
		log_init(1, 0);
		argc--;
		argv++;
		while ((ch = getopt(argc, argv, "+c:")) != -1) {
			if (ch != 'c')
				return ctl_main(conffile, 0, NULL);
			conffile = optarg;
		}
		return ctl_main(conffile, argc - optind, argv + optind);
	}

	/* Known before parsing, so that every usage error says it right. */
	once = has_once(argc, argv);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":fc:p:tvVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
		case OPT_CONFIG:
			conffile = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 't':
		case OPT_TEST:
			test = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("fpmprobe %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
		case OPT_ONCE:
			once = 1;
			break;
		case OPT_JSON:
			o.json = 1;
			break;
		case OPT_TIMEOUT:
			if (duration_parse(optarg, &o.timeout_ms, &why) == -1 ||
			    o.timeout_ms == 0) {
				if (once)
					once_usage("--timeout takes a duration "
					    "such as 10s");
				log_warnx("--timeout %s: %s", optarg,
				    why != NULL ? why : "zero");
				usage(stderr, 1);
			}
			break;
		case OPT_AUDIT:
			o.audit = 1;
			break;
		case OPT_WARNING:
		case OPT_CRITICAL:
			threshold_option(&o, ch == OPT_CRITICAL ? 2 : 1,
			    ch == OPT_CRITICAL ? "--critical" : "--warning",
			    optarg, once);
			break;
		default:
			badopt(ch, argv, once);
		}
	}
	argc -= optind;
	argv += optind;
	log_init(1, verbose);

	if ((o.json || o.timeout_ms > 0 || o.nthresholds > 0) && !once) {
		log_warnx("--json, --timeout, --warning and "
		    "--critical go with --once");
		usage(stderr, 1);
	}
	if (o.audit && !once) {
		log_warnx("--audit goes with --once");
		usage(stderr, 1);
	}
	if (once && (test || foreground || pidfile != NULL))
		once_usage("-t, -f and -p do not go with --once");
	if (once)
		return run_once(argc, argv, &o);
	if (argc > 0)
		usage(stderr, 1);
	if (test) {
		if ((conf = load(conffile)) == NULL)
			return 1;
		printf("%s: configuration OK\n", conffile);
		config_free(conf);
		return 0;
	}
	return run_daemon(foreground);
}

/*
 * An event base whose timers use the precise monotonic clock: libevent's
 * default on Linux is the coarse one, which fires deadlines up to a few
 * milliseconds early.
 */
static struct event_base *
base_new(void)
{
	struct event_config	*cfg;
	struct event_base	*base;

	if ((cfg = event_config_new()) == NULL)
		fatalx("event_config_new");
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	if ((base = event_base_new_with_config(cfg)) == NULL)
		fatalx("event_base_new");
	event_config_free(cfg);
	return base;
}

/* --once: probe the named pools (or all) once and report. */
static int
run_once(int argc, char **argv, const struct once_opts *o)
{
	struct event_base	*base;
	struct pool		**pools, *pool;
	struct buf		 out = { NULL, 0, 0 };
	size_t			 n = 0, j;
	int			 i, code;

	if ((conf = load(conffile)) == NULL) {
		printf("FPMPROBE UNKNOWN - invalid configuration %s\n",
		    conffile);
		return 3;
	}
	conf->audit_warning = o->audit;
	report_thresholds(&o->th);
	pools = xcalloc(conf->npools + (size_t)argc + 1, sizeof(*pools));
	if (argc == 0)
		TAILQ_FOREACH(pool, &conf->pools, entry)
			pools[n++] = pool;
	for (i = 0; i < argc; i++) {
		if ((pool = config_find_pool(conf, argv[i])) == NULL) {
			printf("FPMPROBE UNKNOWN - no pool named \"%s\" in %s\n",
			    argv[i], conffile);
			free(pools);
			config_free(conf);
			return 3;
		}
		for (j = 0; j < n && pools[j] != pool; j++)
			;
		if (j == n)		/* named twice: probed once */
			pools[n++] = pool;
	}
	base = base_new();
	hce_run_once(base, conf, pools, n, o->timeout_ms);
	if (o->json)
		report_json(&out, conf, pools, n);
	else
		report_text(&out, conf, pools, n);
	fwrite(out.data, 1, out.len, stdout);
	code = report_exit_code(conf, pools, n);
	buf_free(&out);
	hce_stop(conf);
	event_base_free(base);
	free(pools);
	config_free(conf);
	return code;
}

/*
 * Create and lock the pid file; refuse to start when another live
 * instance holds it.  The lock lasts as long as the process (and its
 * child after daemon_detach()).  From here on, every exit of the process
 * that holds it removes it, a refused start-up (fatal) included.
 */
static void
pidfile_open(void)
{
	struct stat	 sb;

	if (pidfile == NULL)
		return;
	pidfd = open(pidfile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (pidfd == -1)
		fatal("%s", pidfile);
	/* It is removed at exit: never a device, a FIFO or a link. */
	if (fstat(pidfd, &sb) == -1)
		fatal("%s", pidfile);
	if (!S_ISREG(sb.st_mode)) {
		close(pidfd);
		pidfd = -1;
		fatalx("%s: not a regular file", pidfile);
	}
	if (flock(pidfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("%s: another fpmprobe is running", pidfile);
		fatal("%s: lock", pidfile);
	}
	if (atexit(pidfile_remove) != 0)
		fatalx("atexit");
}

/* Write our pid into the locked pid file (after detaching). */
static void
pidfile_write(void)
{
	char	 pid[32];
	int	 len;

	if (pidfd == -1)
		return;
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(pidfd, 0) == -1 || write(pidfd, pid, (size_t)len) != len)
		fatal("%s: write", pidfile);
}

/*
 * Remove the pid file at exit.  exit() runs this in the process that
 * holds it: daemon_detach()'s parent leaves with _exit().  Without the
 * right to remove it (running as user: without write permission on its
 * directory), leave it empty.
 */
static void
pidfile_remove(void)
{
	if (pidfd == -1)
		return;
	if (unlink(pidfile) == -1 && ftruncate(pidfd, 0) == -1)
		log_warn("%s", pidfile);
	close(pidfd);
	pidfd = -1;
}

/*
 * Detach as daemon(3) does, except that the parent stays until the child
 * says it runs: with its pid file written (and locked since
 * pidfile_open()), its signals handled and its probes started.  Only then
 * does the parent exit 0, so that whoever started fpmprobe (rc.subr, a
 * PIDFile= unit, a script) finds the pid the moment the command returns.
 * When the child dies first, the parent exits with the child's status;
 * until it is running the child still reports to stderr.  Returns, in the
 * child, the pipe to report through.
 */
static int
daemon_detach(void)
{
	int	 fds[2], status;
	pid_t	 pid;
	ssize_t	 n;
	char	 c;

	if (pipe2(fds, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		close(fds[0]);
		if (setsid() == -1)
			fatal("setsid");
		if (chdir("/") == -1)
			fatal("chdir /");
		return fds[1];
	}
	close(fds[1]);
	do
		n = read(fds[0], &c, 1);
	while (n == -1 && errno == EINTR);
	if (n == 1)
		_exit(0);
	/* The child closed the pipe without saying it runs: it died. */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			_exit(1);
	_exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ?
	    WEXITSTATUS(status) : 1);
}

/*
 * In the detached child, once it runs: log to syslog, let go of the
 * terminal's stdin, stdout and stderr, and release the waiting parent.
 */
static void
daemon_ready(int fd)
{
	int	 null;
	char	 c = 0;

	log_init(0, verbose);
	if ((null = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	if (dup2(null, STDIN_FILENO) == -1 || dup2(null, STDOUT_FILENO) == -1 ||
	    dup2(null, STDERR_FILENO) == -1)
		fatal("dup2");
	if (null > STDERR_FILENO)
		close(null);
	/* A parent that is gone has nothing left to wait for. */
	if (write(fd, &c, 1) == -1 && errno != EPIPE)
		log_warn("daemon: cannot release the parent");
	close(fd);
}

/*
 * Become the configuration's user (and group, else the user's), for
 * good, once every port is bound and the pid file written.  Refuses to
 * go on if root could be regained.
 */
static void
drop_privileges(void)
{
	struct passwd	*pw;
	struct group	*gr;
	gid_t		 gid;

	if (conf->user == NULL)
		return;
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("user %s: no such user", conf->user);
	gid = pw->pw_gid;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL)
			fatalx("group %s: no such group", conf->group);
		gid = gr->gr_gid;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return;
		fatalx("user %s: only root can become another user",
		    conf->user);
	}
	if (initgroups(pw->pw_name, gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot become user %s", conf->user);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("user %s: root could be regained", conf->user);
	log_info("running as user %s (uid %u, gid %u)", pw->pw_name,
	    (unsigned int)pw->pw_uid, (unsigned int)gid);
}

/* SIGTERM/SIGINT stop cleanly; SIGHUP reloads. */
static void
on_signal(int sig, short ev, void *arg)
{
	struct event_base	*base = arg;

	switch (sig) {
	case SIGHUP:
		reload();
		break;
	default:
		log_info("stopping on signal %d", sig);
		event_base_loopbreak(base);
	}
}

static struct event_base	*daemon_base;

/*
 * Read the configuration again.  A configuration that does not validate
 * is refused with its errors logged, and the running one stays.
 */
static void
reload(void)
{
	struct config	*next;
	struct timespec	 now;
	char		 reloading[64];
	size_t		 kept;

	log_info("reloading %s", conffile);
	/*
	 * With the time the reload began: Type=notify-reload (systemd 253
	 * and later) takes a RELOADING=1 for the SIGHUP it sent only when
	 * MONOTONIC_USEC is not older than the signal.
	 */
	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		fatal("clock_gettime");
	(void)snprintf(reloading, sizeof(reloading),
	    "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)now.tv_sec * 1000000ULL +
	    (unsigned long long)now.tv_nsec / 1000ULL);
	notify_send(reloading);
	if ((next = load(conffile)) == NULL) {
		log_warnx("reload refused: %s is invalid; keeping the running "
		    "configuration", conffile);
		notify_send("READY=1");
		return;
	}
	marks_carry(conf, next);
	kept = hce_carry(conf, next);
	hce_stop(conf);
	config_free(conf);
	conf = next;
	if (control_start(daemon_base, conf) == -1)
		log_warnx("reload: the control socket could not be bound");
	if (agent_start(daemon_base, conf) == -1)
		log_warnx("reload: some agent ports could not be bound");
	if (httpd_start(daemon_base, conf) == -1)
		log_warnx("reload: some status ports could not be bound");
	hce_start(daemon_base, conf);
	log_info("configuration reloaded: %zu pools, %zu checks kept their "
	    "state", conf->npools, kept);
	notify_send("READY=1");
}

/* Tell the service manager's watchdog that the event loop still turns. */
static void
on_watchdog(int fd, short ev, void *arg)
{
	notify_send("WATCHDOG=1");
}

/* The daemon: bind, detach, probe, answer, until told to stop. */
static int
run_daemon(int foreground)
{
	struct event	*sigs[4], *watchdog = NULL;
	struct timeval	 tv;
	int		 signals[4] = { SIGTERM, SIGINT, SIGHUP, 0 };
	int		 ready = -1;
	uint64_t	 usec;
	size_t		 i;

	if ((conf = load(conffile)) == NULL)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	pidfile_open();		/* another instance: refuse before binding */
	daemon_base = base_new();
	if (agent_start(daemon_base, conf) == -1)
		return 1;
	if (httpd_start(daemon_base, conf) == -1)
		return 1;
	if (control_start(daemon_base, conf) == -1)
		return 1;
	state_load(conf);
	/*
	 * Whatever can refuse to start does so before the parent exits, so
	 * that its exit status says it.  The pid file's lock outlives the
	 * fork.
	 */
	drop_privileges();
	if (!foreground) {
		ready = daemon_detach();
		if (event_reinit(daemon_base) == -1)
			fatalx("event_reinit");
	}
	pidfile_write();
	for (i = 0; signals[i] != 0; i++) {
		sigs[i] = evsignal_new(daemon_base, signals[i], on_signal,
		    daemon_base);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("evsignal");
	}
	hce_start(daemon_base, conf);
	if (ready != -1)
		daemon_ready(ready);
	log_info("started: %zu pools", conf->npools);
	notify_send("READY=1");
	if (notify_watchdog_usec(&usec) == 0) {
		/* Ping at half the interval, as sd_watchdog_enabled(3) advises. */
		usec = usec / 2 > 0 ? usec / 2 : 1;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		watchdog = event_new(daemon_base, -1, EV_PERSIST, on_watchdog,
		    NULL);
		if (watchdog == NULL || evtimer_add(watchdog, &tv) == -1)
			fatalx("watchdog timer");
	}
	event_base_dispatch(daemon_base);
	notify_send("STOPPING=1");
	if (watchdog != NULL)
		event_free(watchdog);

	hce_stop(conf);
	agent_stop();
	httpd_stop();
	control_stop();
	for (i = 0; signals[i] != 0; i++)
		event_free(sigs[i]);
	config_free(conf);
	event_base_free(daemon_base);
	pidfile_remove();
	return 0;
}
