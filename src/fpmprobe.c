/*
 * fpmprobe: the command line, the daemon's life cycle and --once.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fpmprobe.h"

enum {
	OPT_ONCE = 256,
	OPT_JSON
};

static const struct option longopts[] = {
	{ "foreground",		no_argument,		NULL, 'f' },
	{ "config",		required_argument,	NULL, 'c' },
	{ "pidfile",		required_argument,	NULL, 'p' },
	{ "test-config",	no_argument,		NULL, 't' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "version",		no_argument,		NULL, 'V' },
	{ "help",		no_argument,		NULL, 'h' },
	{ "once",		no_argument,		NULL, OPT_ONCE },
	{ "json",		no_argument,		NULL, OPT_JSON },
	{ NULL,			0,			NULL, 0 }
};

static struct config	*conf;
static const char	*conffile = FPMPROBE_CONF;
static const char	*pidfile;
static int		 pidfd = -1;
static int		 verbose;

static void	usage(FILE *, int) __attribute__((noreturn));
static struct config *load(const char *);
static int	run_once(int, char **, int);
static int	run_daemon(int);
static void	pidfile_open(void);
static void	pidfile_write(void);
static void	on_signal(int, short, void *);
static void	reload(void);
static void	on_watchdog(int, short, void *);
static struct event_base *base_new(void);
static void	drop_privileges(void);
static void	nofile_raise(void);

/* Print the usage text and exit. */
static void
usage(FILE *f, int code)
{
	fprintf(f,
	    "usage: fpmprobe [-fv] [-c file] [-p pidfile]\n"
	    "       fpmprobe -t [-c file]\n"
	    "       fpmprobe --once [--json] [-c file] [pool ...]\n"
	    "       fpmprobe ctl [-c file] maint|drain pool [reason ...]\n"
	    "       fpmprobe ctl [-c file] ready pool | show\n"
	    "       fpmprobe -V | -h\n"
	    "\n"
	    "  -f, --foreground    stay in the foreground, log to stderr\n"
	    "  -c, --config FILE   configuration (default %s)\n"
	    "  -p, --pidfile FILE  write and lock a pid file\n"
	    "  -t, --test-config   check the configuration and exit\n"
	    "      --once          probe each pool once, print a report, exit\n"
	    "                      0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN\n"
	    "      --json          with --once: print JSON\n"
	    "  -v, --verbose       log every probe result\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this text\n", FPMPROBE_CONF);
	exit(code);
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
	int	 ch, foreground = 0, test = 0, once = 0, json = 0;

	nofile_raise();

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

	while ((ch = getopt_long(argc, argv, "fc:p:tvVh", longopts, NULL))
	    != -1) {
		switch (ch) {
		case 'f':
			foreground = 1;
			break;
		case 'c':
			conffile = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 't':
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
			json = 1;
			break;
		default:
			usage(stderr, once ? 3 : 1);
		}
	}
	argc -= optind;
	argv += optind;
	log_init(1, verbose);

	if (json && !once) {
		log_warnx("fpmprobe: --json goes with --once");
		usage(stderr, 1);
	}
	if (once)
		return run_once(argc, argv, json);
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
run_once(int argc, char **argv, int json)
{
	struct event_base	*base;
	struct pool		**pools, *pool;
	struct buf		 out = { NULL, 0, 0 };
	size_t			 n = 0;
	int			 i, code;

	if ((conf = load(conffile)) == NULL) {
		printf("FPMPROBE UNKNOWN - invalid configuration %s\n",
		    conffile);
		return 3;
	}
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
		pools[n++] = pool;
	}
	base = base_new();
	hce_run_once(base, conf, pools, n);
	if (json)
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
 * child after daemon()).
 */
static void
pidfile_open(void)
{
	if (pidfile == NULL)
		return;
	pidfd = open(pidfile, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (pidfd == -1)
		fatal("%s", pidfile);
	if (flock(pidfd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("%s: another fpmprobe is running", pidfile);
		fatal("%s: lock", pidfile);
	}
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
	size_t		 kept;

	log_info("reloading %s", conffile);
	notify_send("RELOADING=1");
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
	 * Whatever can refuse to start does so before detaching, so that
	 * the exit status says it.  The pid file's lock outlives the fork.
	 */
	drop_privileges();
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_init(0, verbose);
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
	if (pidfd != -1) {
		/* Without the right to remove it, leave it empty. */
		if (unlink(pidfile) == -1 && ftruncate(pidfd, 0) == -1)
			log_warn("%s", pidfile);
		close(pidfd);
	}
	return 0;
}
