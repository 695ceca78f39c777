/*
 * The service manager's readiness protocol (sd_notify(3)): through
 * libsystemd when configure found it, otherwise one datagram per state
 * change to the AF_UNIX socket named by $NOTIFY_SOCKET; and the watchdog
 * interval from $WATCHDOG_USEC.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "fpmprobe.h"

#ifndef HAVE_LIBSYSTEMD
static void	notify_datagram(const char *, const char *);
#endif

static int	notify_parse_u64(const char *, uint64_t *);

/* Parse a whole decimal number; -1 on anything else. */
static int
notify_parse_u64(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

/*
 * Tell the service manager about a state change ("READY=1",
 * "RELOADING=1", "STOPPING=1", "WATCHDOG=1").  Nothing happens when no
 * manager asked for it.  Never blocks: a full socket loses the message.
 */
void
notify_send(const char *state)
{
	const char	*path;

	if ((path = getenv("NOTIFY_SOCKET")) == NULL || *path == '\0')
		return;
#ifdef HAVE_LIBSYSTEMD
	if (sd_notify(0, state) <= 0)
		log_warnx("NOTIFY_SOCKET %s: cannot send %s", path, state);
#else
	notify_datagram(path, state);
#endif
}

#ifndef HAVE_LIBSYSTEMD
/* Send one state as a datagram to the service manager's socket. */
static void
notify_datagram(const char *path, const char *state)
{
	struct sockaddr_un	 sun;
	size_t			 plen, slen;
	socklen_t		 alen;
	ssize_t			 n;
	int			 fd;

	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    plen >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET: unusable address \"%s\"", path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, plen);
	/* An abstract address starts with a NUL byte and has no terminator. */
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen +
	    (path[0] == '@' ? 0 : 1));

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return;
	}
	slen = strlen(state);
	n = sendto(fd, state, slen, MSG_NOSIGNAL, (struct sockaddr *)&sun,
	    alen);
	if (n == -1)
		log_warn("NOTIFY_SOCKET %s: %s", path, state);
	close(fd);
}
#endif

/*
 * The watchdog interval the service manager expects pings within, in
 * microseconds.  0 with the interval, -1 when there is no watchdog or
 * it is meant for another process.
 */
int
notify_watchdog_usec(uint64_t *usec)
{
	const char	*s;
	uint64_t	 v, pid;

	if ((s = getenv("WATCHDOG_USEC")) == NULL)
		return -1;
	if (notify_parse_u64(s, &v) == -1 || v == 0) {
		log_warnx("WATCHDOG_USEC: not a positive number: \"%s\"", s);
		return -1;
	}
	if ((s = getenv("WATCHDOG_PID")) != NULL) {
		if (notify_parse_u64(s, &pid) == -1) {
			log_warnx("WATCHDOG_PID: not a process id: \"%s\"", s);
			return -1;
		}
		if (pid != (uint64_t)getpid())
			return -1;
	}
	*usec = v;
	return 0;
}
