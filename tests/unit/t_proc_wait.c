/*
 * Unit tests of proc_wait_inspect() against real children: one blocked
 * in poll() on TCP connections (IPv4, IPv6, mapped IPv4) and on a unix
 * socket, one blocked in read() on a pipe, a process that is gone, one
 * we may not look at; and of wait_info_format().
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fpmprobe.h"
#include "tap.h"

#define SYSCALL_WAIT_MS	2000

static void	 test_format(void);

#if defined(__linux__)

static const char *const poll_names[] = { "poll", "ppoll", NULL };
static const char *const read_names[] = { "read", NULL };

static int	 has_peer(const struct wait_info *, const char *);
static int	 wait_syscall(pid_t, struct wait_info *, const char *const *);
static void	 child_quiet(void);
static void	 child_stop(pid_t);
static int	 listen_on(int, const char *, unsigned int *);
static int	 connect_to(int, const char *, unsigned int);
static void	 test_tcp(void);
static void	 test_tcp6(void);
static void	 test_mapped(void);
static void	 test_peer_cap(void);
static void	 test_unix(void);
static void	 test_socketpair(void);
static void	 test_pipe(void);
static void	 test_gone(void);
static void	 test_denied(void);

/* Is text one of the peers? */
static int
has_peer(const struct wait_info *wi, const char *text)
{
	size_t	 i;

	for (i = 0; i < wi->npeers; i++)
		if (strcmp(wi->peers[i], text) == 0)
			return 1;
	return 0;
}

/*
 * Inspect pid until it sits in one of the named calls, for at most
 * SYSCALL_WAIT_MS; 0 when it does.
 */
static int
wait_syscall(pid_t pid, struct wait_info *wi, const char *const *names)
{
	struct timespec	 ts = { 0, 5 * 1000 * 1000 };
	uint64_t	 deadline = now_us() + SYSCALL_WAIT_MS * 1000ULL;
	size_t		 i;

	do {
		if (proc_wait_inspect(pid, wi) == 0)
			for (i = 0; names[i] != NULL; i++)
				if (strcmp(wi->syscall, names[i]) == 0)
					return 0;
		nanosleep(&ts, NULL);
	} while (now_us() < deadline);
	printf("# pid %d still in \"%s\" after %d ms\n", (int)pid,
	    wi->syscall, SYSCALL_WAIT_MS);
	return -1;
}

/* A child's standard streams go nowhere, so they add no sockets. */
static void
child_quiet(void)
{
	int	 fd;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		_exit(99);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Kill and reap a child. */
static void
child_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* A listening TCP socket on an ephemeral port of a loopback address. */
static int
listen_on(int family, const char *addr, unsigned int *port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd, off = 0;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, addr, &sin->sin_addr);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		sslen = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* A TCP connection to addr:port; -1 on failure. */
static int
connect_to(int family, const char *addr, unsigned int port)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &sin6->sin6_addr);
		sslen = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Like a PHP-FPM worker: a listening socket, the request that came in on
 * it, and a connection out, blocked in poll() on the latter.  Only the
 * connection out is a peer.
 */
static void
test_tcp(void)
{
	struct wait_info	 wi;
	struct sockaddr_in	 sin;
	socklen_t		 slen = sizeof(sin);
	struct pollfd		 pfd;
	char			 want[64], inbound[64], text[160];
	unsigned int		 port, local = 0;
	int			 l, p[2], c, a;
	pid_t			 pid;

	if ((l = listen_on(AF_INET, "127.0.0.1", &port)) == -1 ||
	    pipe(p) == -1) {
		ok(0, "tcp: listener");
		return;
	}
	if ((pid = fork()) == 0) {
		child_quiet();
		close(p[0]);
		if ((c = connect_to(AF_INET, "127.0.0.1", port)) == -1 ||
		    (a = accept(l, NULL, NULL)) == -1 ||
		    getsockname(c, (struct sockaddr *)&sin, &slen) == -1)
			_exit(1);
		local = ntohs(sin.sin_port);
		if (write(p[1], &local, sizeof(local)) != sizeof(local))
			_exit(1);
		pfd.fd = c;
		pfd.events = POLLIN;
		poll(&pfd, 1, -1);
		_exit(0);
	}
	close(p[1]);
	is_int(wait_syscall(pid, &wi, poll_names), 0,
	    "tcp: child seen in poll/ppoll (%s)", wi.syscall);
	ok(wi.known && !wi.denied, "tcp: known, not denied");
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	ok(has_peer(&wi, want), "tcp: peer %s", want);
	if (read(p[0], &local, sizeof(local)) != sizeof(local))
		local = 0;
	snprintf(inbound, sizeof(inbound), "127.0.0.1:%u", local);
	ok(local != 0 && !has_peer(&wi, inbound),
	    "tcp: the inbound connection (from %s) is not a peer", inbound);
	wait_info_format(&wi, text, sizeof(text));
	snprintf(want, sizeof(want), "%s() on 127.0.0.1:%u (t_proc_wait)",
	    wi.syscall, port);
	is_str(text, want, "tcp: format, naming the process that listens "
	    "on the peer's port");
	printf("# wchan \"%s\"\n", wi.wchan);
	child_stop(pid);
	close(p[0]);
	close(l);
}

/* An IPv6 peer is written in brackets. */
static void
test_tcp6(void)
{
	struct wait_info	 wi;
	struct pollfd		 pfd;
	char			 want[64];
	unsigned int		 port;
	int			 l, c;
	pid_t			 pid;

	if ((l = listen_on(AF_INET6, "::1", &port)) == -1) {
		ok(1, "# SKIP no IPv6 loopback");
		return;
	}
	if ((pid = fork()) == 0) {
		child_quiet();
		if ((c = connect_to(AF_INET6, "::1", port)) == -1)
			_exit(1);
		pfd.fd = c;
		pfd.events = POLLIN;
		poll(&pfd, 1, -1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, poll_names), 0, "tcp6: in poll");
	snprintf(want, sizeof(want), "[::1]:%u", port);
	ok(has_peer(&wi, want), "tcp6: peer %s", want);
	child_stop(pid);
	close(l);
}

/* IPv4 through an IPv6 socket shows as plain IPv4. */
static void
test_mapped(void)
{
	struct wait_info	 wi;
	struct pollfd		 pfd;
	char			 want[64];
	unsigned int		 port;
	int			 l, c;
	pid_t			 pid;

	if ((l = listen_on(AF_INET6, "::", &port)) == -1) {
		ok(1, "# SKIP no dual-stack IPv6");
		return;
	}
	if ((pid = fork()) == 0) {
		child_quiet();
		if ((c = connect_to(AF_INET6, "::ffff:127.0.0.1", port)) == -1)
			_exit(1);
		pfd.fd = c;
		pfd.events = POLLIN;
		poll(&pfd, 1, -1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, poll_names), 0, "mapped: in poll");
	snprintf(want, sizeof(want), "127.0.0.1:%u", port);
	ok(has_peer(&wi, want), "mapped: peer %s", want);
	child_stop(pid);
	close(l);
}

/* Many connections: duplicates fold, and at most WAIT_PEERS_MAX. */
static void
test_peer_cap(void)
{
	struct wait_info	 wi;
	struct pollfd		 pfd;
	unsigned int		 port[6];
	int			 l[6], c = -1, i, j, dup;
	pid_t			 pid;

	for (i = 0; i < 6; i++)
		if ((l[i] = listen_on(AF_INET, "127.0.0.1", &port[i])) == -1) {
			ok(0, "cap: listeners");
			while (--i >= 0)
				close(l[i]);
			return;
		}
	if ((pid = fork()) == 0) {
		child_quiet();
		for (i = 0; i < 6; i++)
			close(l[i]);
		for (i = 0; i < 6; i++)
			for (j = 0; j < (i == 0 ? 20 : 1); j++)
				if ((c = connect_to(AF_INET, "127.0.0.1",
				    port[i])) == -1)
					_exit(1);
		pfd.fd = c;
		pfd.events = POLLIN;
		poll(&pfd, 1, -1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, poll_names), 0, "cap: in poll");
	is_int(wi.npeers, WAIT_PEERS_MAX, "cap: 25 connections to 6 places, "
	    "%d peers", WAIT_PEERS_MAX);
	dup = 0;
	for (i = 0; i < (int)wi.npeers; i++)
		for (j = i + 1; j < (int)wi.npeers; j++)
			dup += strcmp(wi.peers[i], wi.peers[j]) == 0;
	is_int(dup, 0, "cap: no duplicates");
	child_stop(pid);
	for (i = 0; i < 6; i++)
		close(l[i]);
}

/*
 * A unix stream connection out shows the path it went to; the server end
 * of a connection in (which carries the listener's name) does not count.
 */
static void
test_unix(void)
{
	struct wait_info	 wi;
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			 dir[] = "/tmp/t_proc_wait.XXXXXX";
	char			 want[160], text[160], ch;
	int			 l, c, p[2];
	pid_t			 server, pid;

	if (mkdtemp(dir) == NULL || pipe(p) == -1) {
		ok(0, "unix: mkdtemp");
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fpm.sock", dir);
	/* The server: a process of its own, named as Redis' is. */
	if ((server = fork()) == 0) {
		child_quiet();
		close(p[0]);
		prctl(PR_SET_NAME, "redis-server", 0, 0, 0);
		if ((l = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    bind(l, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
		    listen(l, 8) == -1 || write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			if (accept(l, NULL, NULL) == -1 && errno != EINTR)
				_exit(1);
	}
	close(p[1]);
	if (read(p[0], &ch, 1) != 1) {
		ok(0, "unix: listener");
		child_stop(server);
		return;
	}
	close(p[0]);
	if ((pid = fork()) == 0) {
		child_quiet();
		if ((c = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(c, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(1);
		pfd.fd = c;
		pfd.events = POLLIN;
		poll(&pfd, 1, -1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, poll_names), 0, "unix: in poll");
	snprintf(want, sizeof(want), "unix:%s", sun.sun_path);
	ok(has_peer(&wi, want), "unix: peer %s", want);
	ok(!has_peer(&wi, "unix"), "unix: the server end is not a peer");
	ok(wi.npeers > 0 && strcmp(wi.peer_names[0], "Redis") == 0,
	    "unix: the peer is named by the process that owns the listening "
	    "socket (\"%s\")", wi.peer_names[0]);
	wait_info_format(&wi, text, sizeof(text));
	snprintf(want, sizeof(want), "%s() on unix:%s (Redis)", wi.syscall,
	    sun.sun_path);
	is_str(text, want, "unix: format, by path and owner");
	/* Looked at in a batch, the listener is found once. */
	proc_wait_batch(1);
	ok(proc_wait_inspect(pid, &wi) == 0 && proc_wait_inspect(pid, &wi) ==
	    0 && wi.npeers > 0 && strcmp(wi.peer_names[0], "Redis") == 0,
	    "unix: the same, twice in a batch");
	proc_wait_batch(0);
	child_stop(pid);
	child_stop(server);
	unlink(sun.sun_path);
	rmdir(dir);
}

/* A socketpair has no name: "unix". */
static void
test_socketpair(void)
{
	struct wait_info	 wi;
	char			 text[160], ch;
	int			 sv[2];
	pid_t			 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		ok(0, "socketpair");
		return;
	}
	if ((pid = fork()) == 0) {
		child_quiet();
		(void)read(sv[0], &ch, 1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, read_names), 0, "socketpair: in read");
	ok(has_peer(&wi, "unix"), "socketpair: peer \"unix\"");
	wait_info_format(&wi, text, sizeof(text));
	is_str(text, "read() on unix", "socketpair: format");
	child_stop(pid);
	close(sv[0]);
	close(sv[1]);
}

/* Blocked reading a pipe: read(), no peers. */
static void
test_pipe(void)
{
	struct wait_info	 wi;
	char			 text[160], ch;
	int			 p[2];
	pid_t			 pid;

	if (pipe(p) == -1) {
		ok(0, "pipe");
		return;
	}
	if ((pid = fork()) == 0) {
		child_quiet();
		(void)read(p[0], &ch, 1);
		_exit(0);
	}
	is_int(wait_syscall(pid, &wi, read_names), 0, "pipe: in read");
	is_str(wi.syscall, "read", "pipe: syscall read");
	is_int(wi.npeers, 0, "pipe: no peers");
	wait_info_format(&wi, text, sizeof(text));
	is_str(text, "read()", "pipe: format");
	child_stop(pid);
	close(p[0]);
	close(p[1]);
}

/* A process that is gone, or never was. */
static void
test_gone(void)
{
	struct wait_info	 wi;
	pid_t			 pid;

	if ((pid = fork()) == 0)
		_exit(0);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	memset(&wi, 0xa5, sizeof(wi));
	is_int(proc_wait_inspect(pid, &wi), -1, "reaped child: -1");
	ok(!wi.known && !wi.denied && wi.npeers == 0,
	    "reaped child: nothing known");
	is_int(proc_wait_inspect(0, &wi), -1, "pid 0: -1");
	is_int(proc_wait_inspect(-1, &wi), -1, "pid -1: -1");
	is_int(proc_wait_inspect(INT_MAX, &wi), -1, "pid INT_MAX: -1");
	is_int(proc_wait_inspect(getpid(), &wi), 0, "ourselves: 0");
	ok(wi.known, "ourselves: known (%s)", wi.syscall);
}

/*
 * Someone else's process: a refusal, not a failure.  As root, a child
 * turned nobody looks at us; otherwise we look at init.
 */
static void
test_denied(void)
{
	struct wait_info	 wi;
	char			 text[160];
	int			 status, rc;
	pid_t			 pid;

	if (geteuid() != 0) {
		rc = proc_wait_inspect(1, &wi);
		if (rc == 0 && wi.denied) {
			ok(1, "init: denied");
			wait_info_format(&wi, text, sizeof(text));
			printf("# %s\n", text);
		} else
			ok(1, "# SKIP init is readable or absent here");
		return;
	}
	if ((pid = fork()) == 0) {
		pid_t parent = getppid();

		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(10);
		rc = proc_wait_inspect(parent, &wi);
		wait_info_format(&wi, text, sizeof(text));
		if (rc != 0)
			_exit(1);
		if (!wi.denied)
			_exit(2);
		if (!wi.known && strcmp(text, "unknown (permission)") != 0)
			_exit(3);
		if (wi.npeers != 0)
			_exit(4);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 10) {
		ok(1, "# SKIP cannot become nobody");
		return;
	}
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "nobody looking at root: 0, denied, no peers (exit %d)",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

#endif /* __linux__ */

/* The words operators read. */
static void
test_format(void)
{
	struct wait_info	 wi;
	char			 out[160], small[12];

	memset(&wi, 0, sizeof(wi));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "unknown", "format: nothing known");
	wi.denied = 1;
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "unknown (permission)", "format: denied");

	memset(&wi, 0, sizeof(wi));
	wi.known = 1;
	strlcpy_safe(wi.syscall, "poll", sizeof(wi.syscall));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "poll()", "format: call alone");
	strlcpy_safe(wi.peers[wi.npeers++], "127.0.0.1:5432",
	    sizeof(wi.peers[0]));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "poll() on 127.0.0.1:5432", "format: one peer");
	strlcpy_safe(wi.peers[wi.npeers++], "10.0.0.5:3306",
	    sizeof(wi.peers[0]));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "poll() on 127.0.0.1:5432, 10.0.0.5:3306",
	    "format: two peers");
	strlcpy_safe(wi.peers[wi.npeers++], "[::1]:6379", sizeof(wi.peers[0]));
	strlcpy_safe(wi.peers[wi.npeers++], "unix:/run/mysqld/mysqld.sock",
	    sizeof(wi.peers[0]));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "poll() on 127.0.0.1:5432, 10.0.0.5:3306, [::1]:6379, "
	    "unix:/run/mysqld/mysqld.sock", "format: four peers");

	memset(small, 'X', sizeof(small));
	wait_info_format(&wi, small, 10);
	is_str(small, "poll() on", "format: cut to the buffer");
	ok(small[10] == 'X' && small[11] == 'X', "format: nothing past it");
	small[0] = 'X';
	wait_info_format(&wi, small, 0);
	ok(small[0] == 'X', "format: no room, nothing written");
	wait_info_format(&wi, small, 1);
	is_str(small, "", "format: room for the NUL only");

	memset(&wi, 0, sizeof(wi));
	wi.known = 1;
	strlcpy_safe(wi.syscall, "syscall 4242", sizeof(wi.syscall));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "syscall 4242", "format: unnamed call");
	strlcpy_safe(wi.syscall, "running", sizeof(wi.syscall));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "running", "format: on a CPU");
	wi.syscall[0] = '\0';
	strlcpy_safe(wi.wchan, "sbwait", sizeof(wi.wchan));
	strlcpy_safe(wi.peers[wi.npeers++], "10.0.0.5:3306",
	    sizeof(wi.peers[0]));
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "sbwait on 10.0.0.5:3306", "format: wait channel only");
	wi.wchan[0] = '\0';
	wait_info_format(&wi, out, sizeof(out));
	is_str(out, "unknown on 10.0.0.5:3306", "format: peers only");
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_format();
#if defined(__linux__)
	signal(SIGPIPE, SIG_IGN);
	test_tcp();
	test_tcp6();
	test_mapped();
	test_peer_cap();
	test_unix();
	test_socketpair();
	test_pipe();
	test_gone();
	test_denied();
#else
	ok(1, "# SKIP proc_wait_inspect reads /proc, Linux only here");
#endif
	return tap_done();
}
