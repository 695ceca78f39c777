/*
 * Logging in the manner of relayd's log.c: stderr in the foreground,
 * syslog(LOG_DAEMON) once detached.  On stderr every message starts with
 * "fpmprobe: ", as the tools around it write theirs, except when stderr
 * is the systemd journal, which names the program itself.
 */

#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fpmprobe.h"

static void	log_crit(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static int	log_stderr_is_journal(void);

static int	 log_foreground = 1;
static int	 log_verbose;
static int	 log_journal;

/* Choose where messages go: stderr (foreground) or syslog. */
void
log_init(int foreground, int verbose)
{
	log_foreground = foreground;
	log_verbose = verbose;
	log_journal = foreground && log_stderr_is_journal();
	if (!foreground)
		openlog("fpmprobe", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/*
 * Is stderr the journal?  systemd says so in JOURNAL_STREAM, the device
 * and inode of the stream it connected; a child's redirected stderr no
 * longer matches.
 */
static int
log_stderr_is_journal(void)
{
	const char		*env;
	struct stat		 sb;
	unsigned long long	 dev, ino;
	char			 end;

	if ((env = getenv("JOURNAL_STREAM")) == NULL ||
	    sscanf(env, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
	    fstat(STDERR_FILENO, &sb) == -1)
		return 0;
	return (unsigned long long)sb.st_dev == dev &&
	    (unsigned long long)sb.st_ino == ino;
}

/* Emit one message at a syslog priority. */
void
vlog(int pri, const char *fmt, va_list ap)
{
	if (log_foreground) {
		if (!log_journal)
			fputs("fpmprobe: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		fflush(stderr);
	} else
		vsyslog(pri, fmt, ap);
}

/* Append strerror(errno) to a warning. */
void
log_warn(const char *fmt, ...)
{
	char	 msg[1024];
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warnx("%s: %s", msg, strerror(saved));
	errno = saved;
}

/* A warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap);
	va_end(ap);
}

/* Something an operator may want to know. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

/* Only with -v. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

/* What fatal() and fatalx() say before the exit, at LOG_CRIT. */
static void
log_crit(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
}

/* A broken invariant, with errno: log and exit. */
void
fatal(const char *fmt, ...)
{
	char	 msg[1024];
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_crit("%s: %s", msg, strerror(saved));
	exit(1);
}

/* A broken invariant: log and exit. */
void
fatalx(const char *fmt, ...)
{
	char	 msg[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_crit("%s", msg);
	exit(1);
}

/* calloc that cannot fail. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		fatal("calloc");
	return p;
}

/* reallocarray that cannot fail. */
void *
xreallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > SIZE_MAX / size)
		fatalx("reallocarray: overflow");
	if ((p = realloc(old, n * size != 0 ? n * size : 1)) == NULL)
		fatal("realloc");
	return p;
}

/* strdup that cannot fail. */
char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("strdup");
	return p;
}

/* strndup that cannot fail. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		fatal("strndup");
	return p;
}

/* asprintf that cannot fail. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("asprintf");
	return n;
}
