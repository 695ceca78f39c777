/*
 * What a stuck PHP-FPM worker is blocked on: the system call it sits in,
 * the kernel function it sleeps in, and the far ends of its sockets, so
 * that an operator reads "poll() on 10.0.0.5:3306" instead of "stuck".
 *
 * Linux reads /proc/PID/{syscall,wchan,fd} and the process's own
 * /proc/PID/net/tcp{,6}; the peers of unix sockets come from sock_diag.
 * FreeBSD asks libprocstat.  Elsewhere nothing is known.  Reading other
 * users' processes needs privileges: a refusal is reported, never fatal.
 * The work is bounded (fds, sockets, lines) whatever /proc holds.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#include <sys/un.h>
#include <dirent.h>
#include <sys/stat.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#elif defined(__FreeBSD__)
#include <sys/param.h>
#include <sys/proc.h>
#include <sys/queue.h>
#include <sys/sysctl.h>
#include <sys/user.h>
#include <sys/un.h>
#include <libprocstat.h>
#endif

#include "fpmprobe.h"

static int	 peer_add(struct wait_info *, const char *);
static const char *port_name(unsigned int);
static int	 peer_add_inet(struct wait_info *, int, const uint8_t *,
		    unsigned int);
static void	 inet_text(int, const uint8_t *, unsigned int, char *, size_t);

/*
 * Read a small /proc file in one go, NUL-terminated; -1 with errno on
 * failure.  host.c reads /proc/pressure and /proc/stat with it too.
 */
int
proc_read_small(const char *path, char *buf, size_t size)
{
	ssize_t	 n;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, size - 1);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

#if defined(__linux__)

#define PROC_FDS_MAX		4096	/* fd entries looked at */
#define PROC_SOCKETS_MAX	256	/* socket inodes kept */
#define PROC_LISTEN_MAX		64	/* listening ports kept */
#define PROC_TCP_LINES_MAX	262144	/* lines read per table */
#define PROC_LINE_MAX		512	/* a longer line is skipped */
#define UNIX_QUERIES_MAX	32	/* sock_diag round trips */
#define UNIX_LISTEN_MAX		65536	/* listening unix sockets looked at */
#define UNIX_LISTENERS_KEPT	8	/* found in a batch, by name */
#define OWNER_SCAN_MAX		16384	/* fds looked at to find an owner */
#define OWNER_CACHE		16	/* listeners' owners remembered */
#define OWNER_TTL_US		(300 * 1000000ULL)
#define TCP_ESTABLISHED		0x01
#define TCP_SYN_SENT		0x02
#define TCP_CLOSE_WAIT		0x08
#define TCP_LISTEN		0x0a

/* A connected TCP socket of the process, before inbound ones are dropped. */
struct tcp_conn {
	int		 family;
	uint8_t		 raddr[16];
	unsigned int	 rport;
	uint8_t		 laddr[16];
	unsigned int	 lport;
};

/* The process's sockets and what was learnt about them. */
struct sockset {
	unsigned long	 ino[PROC_SOCKETS_MAX];	/* sorted */
	uint8_t		 tcp[PROC_SOCKETS_MAX];	/* in tcp{,6} */
	size_t		 n;
	struct tcp_conn	 conn[PROC_SOCKETS_MAX];
	size_t		 nconn;
	unsigned int	 listen[PROC_LISTEN_MAX];
	size_t		 nlisten;
};

/* A sock_diag request about unix sockets. */
struct unix_request {
	struct nlmsghdr		nlh;
	struct unix_diag_req	req;
};

/* What sock_diag says about one unix socket. */
struct unix_info {
	unsigned long	 ino;
	int		 type;
	int		 state;
	uint32_t	 peer;
	char		 name[112];	/* a sun_path, '@' and NUL */
};

struct syscall_name {
	long		 nr;
	const char	*name;
};

/*
 * The calls a blocked PHP worker is realistically in.  Numbers come from
 * the target's <sys/syscall.h>, so they are right for each architecture;
 * the legacy calls that aarch64 lacks (poll, select, ...) exist only on
 * x86_64.  Other architectures, and 32-bit processes under a 64-bit
 * kernel, get "syscall N".
 */
static const struct syscall_name syscall_names[] = {
#if defined(__x86_64__) || defined(__aarch64__)
	{ SYS_read, "read" },
	{ SYS_write, "write" },
	{ SYS_readv, "readv" },
	{ SYS_writev, "writev" },
	{ SYS_pread64, "pread64" },
	{ SYS_pwrite64, "pwrite64" },
	{ SYS_ppoll, "ppoll" },
	{ SYS_pselect6, "pselect6" },
	{ SYS_epoll_pwait, "epoll_pwait" },
	{ SYS_recvfrom, "recvfrom" },
	{ SYS_recvmsg, "recvmsg" },
	{ SYS_sendto, "sendto" },
	{ SYS_sendmsg, "sendmsg" },
	{ SYS_connect, "connect" },
	{ SYS_accept, "accept" },
	{ SYS_accept4, "accept4" },
	{ SYS_shutdown, "shutdown" },
	{ SYS_close, "close" },
	{ SYS_nanosleep, "nanosleep" },
	{ SYS_clock_nanosleep, "clock_nanosleep" },
	{ SYS_futex, "futex" },
	{ SYS_flock, "flock" },
	{ SYS_fcntl, "fcntl" },
	{ SYS_wait4, "wait4" },
	{ SYS_waitid, "waitid" },
	{ SYS_openat, "openat" },
	{ SYS_fsync, "fsync" },
	{ SYS_fdatasync, "fdatasync" },
	{ SYS_sendfile, "sendfile" },
	{ SYS_splice, "splice" },
	{ SYS_msgrcv, "msgrcv" },
	{ SYS_semop, "semop" },
	{ SYS_semtimedop, "semtimedop" },
	{ SYS_io_getevents, "io_getevents" },
	{ SYS_rt_sigsuspend, "rt_sigsuspend" },
	{ SYS_rt_sigtimedwait, "rt_sigtimedwait" },
	{ SYS_getrandom, "getrandom" },
#ifdef SYS_epoll_pwait2
	{ SYS_epoll_pwait2, "epoll_pwait2" },
#endif
#endif
#if defined(__x86_64__)
	{ SYS_poll, "poll" },
	{ SYS_select, "select" },
	{ SYS_epoll_wait, "epoll_wait" },
	{ SYS_open, "open" },
	{ SYS_pause, "pause" },
#endif
	{ -1, NULL }
};

static void	 syscall_parse(const char *, struct wait_info *);
static int	 ino_cmp(const void *, const void *);
static long	 ino_find(const struct sockset *, unsigned long);
static int	 fd_sockets(pid_t, struct sockset *);
static int	 hex_parse(const char *, size_t, uint32_t *);
static void	 tcp_line(const char *, struct sockset *, int);
static void	 tcp_table(pid_t, const char *, int, struct sockset *);
static void	 tcp_sock(struct sockset *, int, unsigned int, unsigned long,
		    const uint8_t *, unsigned int, const uint8_t *, unsigned int);
static int	 snap_cmp(const void *, const void *);
static int	 tcp_diag(pid_t, struct sockset *);
static const char *comm_name(const char *);
static int	 owner_comm(unsigned long, char *, size_t);
static void	 peer_name(int, const uint8_t *, unsigned int, char *, size_t);
static int	 tcp_diag_dump(int, int);
static void	 tcp_peers(const struct sockset *, struct wait_info *);
static void	 unix_request(struct unix_request *, uint16_t, uint32_t,
		    uint32_t, uint32_t);
static int	 unix_msg(const uint8_t *, size_t, struct unix_info *);
static int	 unix_query(int, uint32_t, uint32_t, struct unix_info *);
static unsigned long unix_listener(const char *);
static void	 unix_owner(const struct unix_info *, char *, size_t);
static void	 unix_peers(const struct sockset *, struct wait_info *);

/*
 * Name the call from /proc/PID/syscall: "NR args... sp pc" while in a
 * call, "running" on a CPU, "-1 sp pc" when blocked outside any call
 * (then the syscall stays empty and wchan tells).
 */
static void
syscall_parse(const char *text, struct wait_info *wi)
{
	const struct syscall_name	*s;
	long				 nr = 0;
	size_t				 i;

	if (strncmp(text, "running", 7) == 0) {
		strlcpy_safe(wi->syscall, "running", sizeof(wi->syscall));
		return;
	}
	for (i = 0; text[i] >= '0' && text[i] <= '9'; i++) {
		if (i >= 6)
			return;
		nr = nr * 10 + (text[i] - '0');
	}
	if (i == 0 || (text[i] != ' ' && text[i] != '\n' && text[i] != '\0'))
		return;
	for (s = syscall_names; s->name != NULL; s++) {
		if (s->nr == nr) {
			strlcpy_safe(wi->syscall, s->name, sizeof(wi->syscall));
			return;
		}
	}
	snprintf(wi->syscall, sizeof(wi->syscall), "syscall %ld", nr);
}

/* Order inodes for bsearch. */
static int
ino_cmp(const void *a, const void *b)
{
	unsigned long	 x = *(const unsigned long *)a;
	unsigned long	 y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* The index of a socket inode of the process, or -1. */
static long
ino_find(const struct sockset *ss, unsigned long ino)
{
	const unsigned long	*p;

	if (ss->n == 0)
		return -1;
	p = bsearch(&ino, ss->ino, ss->n, sizeof(ss->ino[0]), ino_cmp);
	return p == NULL ? -1 : (long)(p - ss->ino);
}

/* Collect the inodes of the process's sockets; -1 with errno. */
static int
fd_sockets(pid_t pid, struct sockset *ss)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[64], link[64];
	unsigned long	 ino;
	size_t		 seen = 0, i, j;
	ssize_t		 n;
	char		*end;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while (seen < PROC_FDS_MAX && ss->n < PROC_SOCKETS_MAX &&
	    (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		seen++;
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:[", 8) != 0 ||
		    link[8] < '0' || link[8] > '9')
			continue;
		errno = 0;
		ino = strtoul(link + 8, &end, 10);
		if (errno != 0 || *end != ']' || ino == 0)
			continue;
		ss->ino[ss->n++] = ino;
	}
	closedir(d);

	/* Sort, and drop the duplicates dup() makes. */
	qsort(ss->ino, ss->n, sizeof(ss->ino[0]), ino_cmp);
	for (i = j = 0; i < ss->n; i++)
		if (j == 0 || ss->ino[i] != ss->ino[j - 1])
			ss->ino[j++] = ss->ino[i];
	ss->n = j;
	return 0;
}

/* Parse 1 to 8 hex digits, the whole of s. */
static int
hex_parse(const char *s, size_t len, uint32_t *v)
{
	uint32_t	 n = 0;
	size_t		 i;
	int		 d;

	if (len == 0 || len > 8)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else
			return -1;
		n = n << 4 | (uint32_t)d;
	}
	*v = n;
	return 0;
}

/*
 * One line of /proc/net/tcp{,6}:
 *   sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
 * Addresses are hex words as the kernel holds them (network byte order
 * read as host integers), ports plain hex.  Keeps the process's
 * listening ports and its connected sockets.
 */
static void
tcp_line(const char *line, struct sockset *ss, int family)
{
	const char	*tok[10], *p = line;
	size_t		 toklen[10], ntok = 0, alen, i;
	uint32_t	 word, lport, rport, st;
	uint8_t		 laddr[16], raddr[16];
	unsigned long	 ino;
	char		 num[24], *end;

	while (ntok < 10) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		tok[ntok] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		toklen[ntok] = (size_t)(p - tok[ntok]);
		ntok++;
	}
	if (ntok < 10 || toklen[9] >= sizeof(num))
		return;
	memcpy(num, tok[9], toklen[9]);
	num[toklen[9]] = '\0';
	if (num[0] < '0' || num[0] > '9')
		return;
	errno = 0;
	ino = strtoul(num, &end, 10);
	if (errno != 0 || *end != '\0' || ino == 0 || ino_find(ss, ino) == -1)
		return;

	alen = family == AF_INET ? 8 : 32;
	if (toklen[1] != alen + 5 || tok[1][alen] != ':' ||
	    hex_parse(tok[1] + alen + 1, 4, &lport) == -1 ||
	    toklen[2] != alen + 5 || tok[2][alen] != ':' ||
	    hex_parse(tok[2] + alen + 1, 4, &rport) == -1 ||
	    hex_parse(tok[3], toklen[3], &st) == -1)
		return;
	for (i = 0; i < alen / 8; i++) {
		if (hex_parse(tok[2] + i * 8, 8, &word) == -1)
			return;
		memcpy(raddr + i * 4, &word, 4);
		if (hex_parse(tok[1] + i * 8, 8, &word) == -1)
			return;
		memcpy(laddr + i * 4, &word, 4);
	}
	tcp_sock(ss, family, st, ino, laddr, lport, raddr, rport);
}

/*
 * Keep one TCP socket if it is the process's: a listening port, or a
 * connection (laddr, raddr in network byte order, 4 or 16 bytes by
 * family).
 */
static void
tcp_sock(struct sockset *ss, int family, unsigned int st, unsigned long ino,
    const uint8_t *laddr, unsigned int lport, const uint8_t *raddr,
    unsigned int rport)
{
	struct tcp_conn	*c;
	long		 idx;

	if ((idx = ino_find(ss, ino)) == -1)
		return;
	ss->tcp[idx] = 1;
	if (st == TCP_LISTEN) {
		if (ss->nlisten < PROC_LISTEN_MAX)
			ss->listen[ss->nlisten++] = lport;
		return;
	}
	if ((st != TCP_ESTABLISHED && st != TCP_SYN_SENT &&
	    st != TCP_CLOSE_WAIT) || ss->nconn >= PROC_SOCKETS_MAX)
		return;
	c = &ss->conn[ss->nconn++];
	c->family = family;
	memcpy(c->raddr, raddr, family == AF_INET ? 4 : 16);
	c->rport = rport;
	memcpy(c->laddr, laddr, family == AF_INET ? 4 : 16);
	c->lport = lport;
}

/* Read one of the process's TCP tables, bounded in lines and length. */
static void
tcp_table(pid_t pid, const char *name, int family, struct sockset *ss)
{
	FILE	*f;
	char	 path[64], line[PROC_LINE_MAX];
	size_t	 lines = 0, len;
	int	 whole = 1, complete;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, name);
	if ((f = fopen(path, "re")) == NULL)
		return;
	while (lines < PROC_TCP_LINES_MAX &&
	    fgets(line, sizeof(line), f) != NULL) {
		len = strlen(line);
		complete = len > 0 && line[len - 1] == '\n';
		/* The first line is the header; a too long line is skipped. */
		if (whole && complete && lines > 0)
			tcp_line(line, ss, family);
		if (complete)
			lines++;
		whole = complete;
	}
	fclose(f);
}

/*
 * The host's TCP sockets in the states that say something (listening,
 * connecting, established, close-wait), from the kernel's tables through
 * inet_diag, sorted by inode.  A PHP host that opens a connection per
 * request holds tens of thousands of TIME_WAIT sockets: formatting and
 * reading them all from /proc/PID/net/tcp took up to seconds per worker,
 * on the loop that answers agents, while here the kernel skips them.
 * Within a batch (proc_wait_batch()) one snapshot serves every worker.
 */
struct tcp_snap {
	unsigned long	 ino;
	uint8_t		 family;
	uint8_t		 state;
	uint16_t	 lport;
	uint16_t	 rport;
	uint8_t		 raddr[16];
	uint8_t		 laddr[16];
};

static struct tcp_snap	*snap;
static size_t		 nsnap, snapcap;
static int		 snap_have;	/* taken in this batch */
static int		 snap_batch;
static struct stat	 snap_ns;	/* whose tables they are */
static struct {
	unsigned long	 ino;
	char		 name[112];
}			 unix_listeners[UNIX_LISTENERS_KEPT];	/* by name */
static size_t		 unix_nlisteners;

/* Order snapshot entries by inode. */
static int
snap_cmp(const void *a, const void *b)
{
	const struct tcp_snap	*x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * Inspect several processes with one look at the TCP tables (on), or end
 * the batch and release it (off).
 */
void
proc_wait_batch(int on)
{
	snap_batch = on;
	snap_have = 0;
	nsnap = 0;
	unix_nlisteners = 0;
	if (!on) {
		free(snap);
		snap = NULL;
		snapcap = 0;
	}
}

/*
 * One inet_diag dump of a family's TCP sockets into the snapshot, bounded
 * in sockets.  The kernel fills each reply within the call that asks for
 * it, so nothing here waits: a reply that is not there is a failure.
 */
static int
tcp_diag_dump(int nl, int family)
{
	struct {
		struct nlmsghdr		nlh;
		struct inet_diag_req_v2	req;
	}			 msg;
	uint32_t		 buf[8192];	/* aligned for nlmsghdr */
	const struct nlmsghdr	*h;
	const struct inet_diag_msg *m;
	struct tcp_snap		*t;
	ssize_t			 n;
	int			 len;

	memset(&msg, 0, sizeof(msg));
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1U << TCP_ESTABLISHED | 1U << TCP_SYN_SENT |
	    1U << TCP_CLOSE_WAIT | 1U << TCP_LISTEN;
	if (send(nl, &msg, sizeof(msg), 0) == -1)
		return -1;
	while (nsnap < PROC_TCP_LINES_MAX) {
		n = recv(nl, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len = (int)n;
		for (h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
			    nsnap >= PROC_TCP_LINES_MAX)
				continue;
			m = NLMSG_DATA(h);
			if (nsnap == snapcap) {
				snapcap = snapcap == 0 ? 256 : snapcap * 2;
				snap = xreallocarray(snap, snapcap,
				    sizeof(*snap));
			}
			t = &snap[nsnap++];
			t->ino = m->idiag_inode;
			t->family = (uint8_t)family;
			t->state = m->idiag_state;
			t->lport = ntohs(m->id.idiag_sport);
			t->rport = ntohs(m->id.idiag_dport);
			memcpy(t->raddr, m->id.idiag_dst, sizeof(t->raddr));
			memcpy(t->laddr, m->id.idiag_src, sizeof(t->laddr));
		}
	}
	return 0;	/* bounded: what was seen so far */
}

/*
 * Fill the process's TCP sockets from the snapshot, taking it first if
 * this batch has none.  Only for a process in our network namespace; -1
 * otherwise, or when netlink fails, and the caller reads /proc instead.
 */
static int
tcp_diag(pid_t pid, struct sockset *ss)
{
	struct stat		 self, other;
	struct tcp_snap		 key, *t;
	char			 path[64];
	size_t			 i;
	int			 nl, rv;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &self) == -1 ||
	    stat(path, &other) == -1 || self.st_ino != other.st_ino ||
	    self.st_dev != other.st_dev)
		return -1;
	if (!snap_have || snap_ns.st_ino != self.st_ino ||
	    snap_ns.st_dev != self.st_dev) {
		nsnap = 0;
		if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		    NETLINK_SOCK_DIAG)) == -1)
			return -1;
		rv = tcp_diag_dump(nl, AF_INET) == 0 &&
		    tcp_diag_dump(nl, AF_INET6) == 0 ? 0 : -1;
		close(nl);
		if (rv == -1)
			return -1;
		qsort(snap, nsnap, sizeof(*snap), snap_cmp);
		snap_have = snap_batch;
		snap_ns = self;
	}
	for (i = 0; i < ss->n; i++) {
		key.ino = ss->ino[i];
		if ((t = bsearch(&key, snap, nsnap, sizeof(*snap),
		    snap_cmp)) != NULL)
			tcp_sock(ss, t->family, t->state, t->ino, t->laddr,
			    t->lport, t->raddr, t->rport);
	}
	return 0;
}

/* The product a process name stands for: "postgres" is PostgreSQL. */
static const char *
comm_name(const char *comm)
{
	static const struct {
		const char	*prefix;
		const char	*name;
	} names[] = {
		{ "postgres", "PostgreSQL" }, { "postmaster", "PostgreSQL" },
		{ "mariadbd", "MariaDB" }, { "mysqld", "MySQL" },
		{ "redis-server", "Redis" }, { "memcached", "memcached" },
		{ "php-fpm", "php-fpm" }, { "nginx", "nginx" },
		{ "haproxy", "HAProxy" }, { "pgbouncer", "PgBouncer" },
		{ NULL, NULL }
	};
	size_t	 i;

	for (i = 0; names[i].prefix != NULL; i++)
		if (strncmp(comm, names[i].prefix,
		    strlen(names[i].prefix)) == 0)
			return names[i].name;
	return comm;
}

/*
 * The name of the process that owns socket INO, from a scan of /proc that
 * is bounded in file descriptors looked at and remembered per inode for
 * a while, since a listener's owner rarely changes: 0, or -1 when not
 * found (or not ours to see).
 */
static int
owner_comm(unsigned long ino, char *out, size_t outlen)
{
	static struct {
		unsigned long	 ino;
		uint64_t	 until_us;
		char		 comm[32];
	}			 cache[OWNER_CACHE];
	static size_t		 next;
	DIR			*procd, *fdd;
	struct dirent		*pe, *fe;
	char			 path[64], link[64], want[40], comm[32];
	uint64_t		 now = now_us();
	size_t			 i, looked = 0;
	ssize_t			 n;
	int			 found = 0;

	for (i = 0; i < OWNER_CACHE; i++)
		if (cache[i].ino == ino && now < cache[i].until_us) {
			strlcpy_safe(out, cache[i].comm, outlen);
			return cache[i].comm[0] != '\0' ? 0 : -1;
		}
	comm[0] = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", ino);
	if ((procd = opendir("/proc")) == NULL)
		return -1;
	while (!found && looked < OWNER_SCAN_MAX &&
	    (pe = readdir(procd)) != NULL) {
		if (pe->d_name[0] < '1' || pe->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%.16s/fd", pe->d_name);
		/* One not ours to see counts too: as a user, most are not. */
		if ((fdd = opendir(path)) == NULL) {
			looked++;
			continue;
		}
		while (looked < OWNER_SCAN_MAX && (fe = readdir(fdd)) != NULL) {
			if (fe->d_name[0] == '.')
				continue;
			looked++;
			snprintf(path, sizeof(path), "/proc/%.16s/fd/%.16s",
			    pe->d_name, fe->d_name);
			n = readlink(path, link, sizeof(link) - 1);
			if (n <= 0)
				continue;
			link[n] = '\0';
			if (strcmp(link, want) == 0) {
				snprintf(path, sizeof(path), "/proc/%.16s/comm",
				    pe->d_name);
				if (proc_read_small(path, comm, sizeof(comm)) == -1)
					comm[0] = '\0';
				found = 1;
				break;
			}
		}
		closedir(fdd);
	}
	closedir(procd);
	cache[next].ino = ino;
	cache[next].until_us = now + OWNER_TTL_US;
	sanitize_text(cache[next].comm, sizeof(cache[next].comm), comm,
	    strlen(comm));
	strlcpy_safe(out, cache[next].comm, outlen);
	next = (next + 1) % OWNER_CACHE;
	return out[0] != '\0' ? 0 : -1;
}

/*
 * Name what a worker's TCP peer is: for a loopback peer, the process that
 * listens on its port ("PostgreSQL", "Redis", or its own name); for
 * another host, the product of a well-known port; else nothing.
 */
static void
peer_name(int family, const uint8_t *addr, unsigned int port, char *out,
    size_t outlen)
{
	static const uint8_t	 lo6[16] = { [15] = 1 };
	static const uint8_t	 mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const char		*name;
	char			 comm[32];
	size_t			 i;
	int			 loopback;

	out[0] = '\0';
	loopback = family == AF_INET ? addr[0] == 127 :
	    memcmp(addr, lo6, 16) == 0 ||
	    (memcmp(addr, mapped, 12) == 0 && addr[12] == 127);
	if (loopback)
		for (i = 0; i < nsnap; i++)
			if (snap[i].state == TCP_LISTEN &&
			    snap[i].lport == port &&
			    owner_comm(snap[i].ino, comm, sizeof(comm)) == 0) {
				strlcpy_safe(out, comm_name(comm), outlen);
				return;
			}
	if ((name = port_name(port)) != NULL)
		strlcpy_safe(out, name, outlen);
}

/*
 * Keep the far ends of connected sockets.  A connection whose local port
 * is one the process listens on came in (the FastCGI request itself): it
 * says nothing about what the worker waits for, but names its client.
 */
static void
tcp_peers(const struct sockset *ss, struct wait_info *wi)
{
	struct wait_info	 in;
	size_t			 i, j;
	int			 k;

	for (i = 0; i < ss->nconn; i++) {
		const struct tcp_conn *c = &ss->conn[i];

		for (j = 0; j < ss->nlisten; j++)
			if (ss->listen[j] == c->lport)
				break;
		if (j == ss->nlisten) {
			if ((k = peer_add_inet(wi, c->family, c->raddr,
			    c->rport)) >= 0 && wi->peer_names[k][0] == '\0')
				peer_name(c->family, c->raddr, c->rport,
				    wi->peer_names[k], sizeof(wi->peer_names[k]));
			if (k >= 0 && wi->locals[k][0] == '\0')
				inet_text(c->family, c->laddr, c->lport,
				    wi->locals[k], sizeof(wi->locals[k]));
		} else if (wi->client[0] == '\0') {
			memset(&in, 0, sizeof(in));
			peer_add_inet(&in, c->family, c->raddr, c->rport);
			strlcpy_safe(wi->client, in.peers[0],
			    sizeof(wi->client));
		}
	}
}

/*
 * Ask for unix sockets in the states given (a bit per TCP_* state), one
 * by inode (ino, flags NLM_F_REQUEST) or all (NLM_F_DUMP), showing what
 * show asks for.
 */
static void
unix_request(struct unix_request *msg, uint16_t flags, uint32_t states,
    uint32_t ino, uint32_t show)
{
	memset(msg, 0, sizeof(*msg));
	msg->nlh.nlmsg_len = sizeof(*msg);
	msg->nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg->nlh.nlmsg_flags = flags;
	msg->req.sdiag_family = AF_UNIX;
	msg->req.udiag_states = states;
	msg->req.udiag_ino = ino;
	msg->req.udiag_show = show;
	msg->req.udiag_cookie[0] = UINT32_MAX;	/* no cookie: by inode */
	msg->req.udiag_cookie[1] = UINT32_MAX;
}

/*
 * What one SOCK_DIAG_BY_FAMILY message of len bytes (header included)
 * says of a unix socket: its inode, type, state, bound name (abstract
 * ones start with '@') and peer's inode.  -1 when it is not one.
 */
static int
unix_msg(const uint8_t *msg, size_t len, struct unix_info *ui)
{
	struct unix_diag_msg	 udm;
	struct rtattr		 rta;
	size_t			 aoff, plen;
	const uint8_t		*pl;
	char			 tmp[sizeof(ui->name)];

	memset(ui, 0, sizeof(*ui));
	if (len < NLMSG_LENGTH(sizeof(udm)))
		return -1;
	memcpy(&udm, msg + NLMSG_HDRLEN, sizeof(udm));
	ui->ino = udm.udiag_ino;
	ui->type = udm.udiag_type;
	ui->state = udm.udiag_state;
	for (aoff = NLMSG_LENGTH(sizeof(udm)); aoff + sizeof(rta) <= len;
	    aoff += RTA_ALIGN(rta.rta_len)) {
		memcpy(&rta, msg + aoff, sizeof(rta));
		if (rta.rta_len < sizeof(rta) || rta.rta_len > len - aoff)
			break;
		pl = msg + aoff + RTA_LENGTH(0);
		plen = rta.rta_len - RTA_LENGTH(0);
		if (rta.rta_type == UNIX_DIAG_PEER && plen >= sizeof(ui->peer))
			memcpy(&ui->peer, pl, sizeof(ui->peer));
		else if (rta.rta_type == UNIX_DIAG_NAME && plen > 0) {
			if (plen > sizeof(tmp) - 1)
				plen = sizeof(tmp) - 1;
			memcpy(tmp, pl, plen);
			/* Abstract names start with NUL: '@'. */
			if (tmp[0] == '\0')
				tmp[0] = '@';
			sanitize_text(ui->name, sizeof(ui->name), tmp, plen);
			if (ui->name[0] == '\0')
				strlcpy_safe(ui->name, "@", sizeof(ui->name));
		}
	}
	return 0;
}

/*
 * Ask sock_diag about one unix socket by inode: its type, state, bound
 * name and peer's inode.  The kernel answers within sendto(), so the
 * reply is read without waiting.
 */
static int
unix_query(int nl, uint32_t ino, uint32_t seq, struct unix_info *ui)
{
	struct unix_request	 msg;
	union {
		struct nlmsghdr	 align;
		uint8_t		 buf[8192];
	} reply;
	struct sockaddr_nl	 sa;
	struct nlmsghdr		 h;
	size_t			 off;
	ssize_t			 n;

	memset(ui, 0, sizeof(*ui));
	unix_request(&msg, NLM_F_REQUEST, UINT32_MAX, ino,
	    UDIAG_SHOW_NAME | UDIAG_SHOW_PEER);
	msg.nlh.nlmsg_seq = seq;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) != (ssize_t)sizeof(msg))
		return -1;
	if ((n = recv(nl, reply.buf, sizeof(reply.buf), MSG_DONTWAIT)) <= 0)
		return -1;

	for (off = 0; off + sizeof(h) <= (size_t)n;
	    off += NLMSG_ALIGN(h.nlmsg_len)) {
		memcpy(&h, reply.buf + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > (size_t)n - off)
			return -1;
		if (h.nlmsg_seq != seq)
			continue;
		/* NLMSG_ERROR: no such socket (or not in our namespace). */
		if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
		    unix_msg(reply.buf + off, h.nlmsg_len, ui) == -1 ||
		    ui->ino != ino)
			return -1;
		return 0;
	}
	return -1;
}

/*
 * The inode of the unix socket listening on name, from one sock_diag
 * dump of the listening ones on a netlink socket of its own (a dump cut
 * short is closed, not drained), bounded in sockets; 0 when none is.  A
 * batch remembers what it found, so that workers waiting on the same
 * server cost one dump.
 */
static unsigned long
unix_listener(const char *name)
{
	struct unix_request	 msg;
	uint32_t		 buf[8192];	/* aligned for nlmsghdr */
	const struct nlmsghdr	*h;
	struct unix_info	 ui;
	size_t			 seen = 0, i;
	unsigned long		 found = 0;
	ssize_t			 n;
	int			 nl, len, done = 0;

	for (i = 0; i < unix_nlisteners; i++)
		if (strcmp(unix_listeners[i].name, name) == 0)
			return unix_listeners[i].ino;
	unix_request(&msg, NLM_F_REQUEST | NLM_F_DUMP, 1U << TCP_LISTEN, 0,
	    UDIAG_SHOW_NAME);
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl == -1)
		return 0;
	if (send(nl, &msg, sizeof(msg), 0) == -1) {
		close(nl);
		return 0;
	}
	while (!done && found == 0 && seen < UNIX_LISTEN_MAX) {
		n = recv(nl, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len = (int)n;
		for (h = (const struct nlmsghdr *)buf; NLMSG_OK(h, len);
		    h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR) {
				done = 1;
				break;
			}
			seen++;
			if (found == 0 && h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    unix_msg((const uint8_t *)h, h->nlmsg_len,
			    &ui) == 0 && strcmp(ui.name, name) == 0)
				found = ui.ino;
		}
	}
	close(nl);
	/* Kept found or not, so that a batch dumps once for each name. */
	if (snap_batch && unix_nlisteners < UNIX_LISTENERS_KEPT) {
		strlcpy_safe(unix_listeners[unix_nlisteners].name, name,
		    sizeof(unix_listeners[0].name));
		unix_listeners[unix_nlisteners++].ino = found;
	}
	return found;
}

/*
 * Name the server behind a worker's unix connection: the process that
 * owns the socket listening on the path the far end is bound to
 * ("MariaDB", "php-fpm", or its own name), else the owner of the far
 * end itself (the listener is gone, or was not found in time).
 */
static void
unix_owner(const struct unix_info *far, char *out, size_t outlen)
{
	unsigned long	 ino;
	char		 comm[32];

	out[0] = '\0';
	/*
	 * The far end is only looked up when no listener was found: it is
	 * another inode for each connection, and a scan each, of the same
	 * server that a listener not ours to see belongs to.
	 */
	if ((ino = unix_listener(far->name)) != 0 ?
	    owner_comm(ino, comm, sizeof(comm)) == 0 :
	    owner_comm(far->ino, comm, sizeof(comm)) == 0)
		strlcpy_safe(out, comm_name(comm), outlen);
}

/*
 * Unix stream sockets connected out: "unix:/run/mysqld/mysqld.sock", or
 * "unix" when the peer has no name.  A socket with a name of its own is
 * a listener or the server end of an inbound connection (the FastCGI
 * request on a unix listen socket) and is left out, as are datagram
 * sockets (syslog).  So are sockets sock_diag cannot see, e.g. in
 * another network namespace.
 */
static void
unix_peers(const struct sockset *ss, struct wait_info *wi)
{
	struct unix_info	 ui, peer;
	char			 text[sizeof(wi->peers[0])];
	size_t			 i, queries = 0;
	uint32_t		 seq = 0;
	int			 nl, k;

	for (i = 0; i < ss->n; i++)
		if (!ss->tcp[i])
			break;
	if (i == ss->n)
		return;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl == -1)
		return;
	for (i = 0; i < ss->n && queries < UNIX_QUERIES_MAX &&
	    wi->npeers < WAIT_PEERS_MAX; i++) {
		if (ss->tcp[i] || ss->ino[i] > UINT32_MAX)
			continue;
		queries++;
		if (unix_query(nl, (uint32_t)ss->ino[i], ++seq, &ui) == -1 ||
		    ui.type != SOCK_STREAM || ui.state == TCP_LISTEN ||
		    ui.peer == 0)
			continue;
		if (ui.name[0] != '\0') {
			/* The server end of a request on a unix listener. */
			if (wi->client[0] == '\0') {
				memcpy(text, "unix:", 5);
				strlcpy_safe(text + 5, ui.name,
				    sizeof(text) - 5);
				strlcpy_safe(wi->client, text,
				    sizeof(wi->client));
			}
			continue;
		}
		queries++;
		if (unix_query(nl, ui.peer, ++seq, &peer) == 0 &&
		    peer.name[0] != '\0') {
			/* Long paths are cut to what a peer entry holds. */
			memcpy(text, "unix:", 5);
			strlcpy_safe(text + 5, peer.name, sizeof(text) - 5);
			if ((k = peer_add(wi, text)) >= 0 &&
			    wi->peer_names[k][0] == '\0')
				unix_owner(&peer, wi->peer_names[k],
				    sizeof(wi->peer_names[k]));
		} else
			peer_add(wi, "unix");
	}
	close(nl);
}

/*
 * Fill *wi for a process: 0 when it exists, even if nothing could be
 * read (wi->denied tells why); -1 when it does not.  The syscall needs
 * ptrace-attach rights, wchan and fds only read rights (Yama's
 * ptrace_scope makes the difference), so each is tried on its own.
 */
int
proc_wait_inspect(pid_t pid, struct wait_info *wi)
{
	struct sockset	*ss;
	char		 path[64], text[512];

	memset(wi, 0, sizeof(*wi));
	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (access(path, F_OK) == -1)
		return -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	if (proc_read_small(path, text, sizeof(text)) == 0) {
		wi->known = 1;
		syscall_parse(text, wi);
	} else if (errno == EACCES || errno == EPERM)
		wi->denied = 1;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if (proc_read_small(path, text, sizeof(text)) == 0 &&
	    strcmp(text, "0") != 0)
		sanitize_text(wi->wchan, sizeof(wi->wchan), text,
		    strlen(text));

	ss = xcalloc(1, sizeof(*ss));
	if (fd_sockets(pid, ss) == -1) {
		if (errno == EACCES || errno == EPERM)
			wi->denied = 1;
	} else if (ss->n > 0) {
		if (tcp_diag(pid, ss) == -1) {
			tcp_table(pid, "tcp", AF_INET, ss);
			tcp_table(pid, "tcp6", AF_INET6, ss);
		}
		tcp_peers(ss, wi);
		unix_peers(ss, wi);
	}
	free(ss);
	if (!snap_batch)
		proc_wait_batch(0);

	if (wi->wchan[0] != '\0' || wi->npeers > 0)
		wi->known = 1;
	return 0;
}

#elif defined(__FreeBSD__)

/* One look per process is all FreeBSD's libprocstat offers. */
void
proc_wait_batch(int on)
{
	(void)on;
}

/*
 * FreeBSD: kinfo_proc gives the wait message (ki_wmesg: "select",
 * "sbwait", "nanslp", "piperd", ...), kept as wchan since there is no
 * syscall number to read; libprocstat gives each socket's local and
 * peer address.  Needs -lprocstat.  Another user's process may be
 * invisible (security.bsd.see_other_uids=0) and then counts as gone.
 */
int
proc_wait_inspect(pid_t pid, struct wait_info *wi)
{
	struct procstat		*ps;
	struct kinfo_proc	*kp;
	struct filestat_list	*files;
	struct filestat		*fst;
	struct sockstat		 sock;
	const struct sockaddr	*sa;
	unsigned int		 cnt = 0, listen[64], lport, rport;
	int			 k;
	size_t			 nlisten = 0, i;
	char			 text[sizeof(wi->peers[0])];
	int			 pass;

	memset(wi, 0, sizeof(*wi));
	if (pid <= 0)
		return -1;
	if ((ps = procstat_open_sysctl()) == NULL)
		return 0;
	kp = procstat_getprocs(ps, KERN_PROC_PID, pid, &cnt);
	if (kp == NULL || cnt == 0) {
		if (kp != NULL)
			procstat_freeprocs(ps, kp);
		procstat_close(ps);
		return -1;
	}
	wi->known = 1;
	if (kp->ki_stat == SRUN)
		strlcpy_safe(wi->syscall, "running", sizeof(wi->syscall));
	else
		sanitize_text(wi->wchan, sizeof(wi->wchan), kp->ki_wmesg,
		    sizeof(kp->ki_wmesg));

	if ((files = procstat_getfiles(ps, kp, 0)) == NULL)
		wi->denied = 1;
	/* First the listening ports, then connections not made to them. */
	for (pass = 0; files != NULL && pass < 2; pass++) {
		STAILQ_FOREACH(fst, files, next) {
			if (fst->fs_type != PS_FST_TYPE_SOCKET ||
			    procstat_get_socket_info(ps, fst, &sock,
			    NULL) != 0)
				continue;
			sa = (const struct sockaddr *)&sock.sa_peer;
			if (sock.dom_family == AF_LOCAL) {
				const struct sockaddr_un *sun =
				    (const struct sockaddr_un *)sa;

				if (pass == 0 || sock.type != SOCK_STREAM ||
				    sa->sa_family != AF_LOCAL ||
				    sun->sun_path[0] == '\0')
					continue;
				snprintf(text, sizeof(text), "unix:%.*s",
				    (int)sizeof(sun->sun_path), sun->sun_path);
				peer_add(wi, text);
				continue;
			}
			if (sock.proto != IPPROTO_TCP)
				continue;
			if (sock.dom_family == AF_INET) {
				lport = ntohs(((const struct sockaddr_in *)
				    &sock.sa_local)->sin_port);
				rport = ntohs(((const struct sockaddr_in *)
				    sa)->sin_port);
			} else if (sock.dom_family == AF_INET6) {
				lport = ntohs(((const struct sockaddr_in6 *)
				    &sock.sa_local)->sin6_port);
				rport = ntohs(((const struct sockaddr_in6 *)
				    sa)->sin6_port);
			} else
				continue;
			if (pass == 0) {
				if (rport == 0 && nlisten < 64)
					listen[nlisten++] = lport;
				continue;
			}
			for (i = 0; i < nlisten; i++)
				if (listen[i] == lport)
					break;
			if (rport == 0 || i < nlisten)
				continue;
			if (sock.dom_family == AF_INET)
				k = peer_add_inet(wi, AF_INET, (const uint8_t *)
				    &((const struct sockaddr_in *)sa)->sin_addr,
				    rport);
			else
				k = peer_add_inet(wi, AF_INET6,
				    (const uint8_t *)&((const struct
				    sockaddr_in6 *)sa)->sin6_addr, rport);
			if (k >= 0 && wi->locals[k][0] == '\0')
				inet_text(sock.dom_family, sock.dom_family ==
				    AF_INET ? (const uint8_t *)&((const struct
				    sockaddr_in *)&sock.sa_local)->sin_addr :
				    (const uint8_t *)&((const struct
				    sockaddr_in6 *)&sock.sa_local)->sin6_addr,
				    lport, wi->locals[k], sizeof(wi->locals[k]));
			/* No owner lookup here yet: the port's product. */
			if (k >= 0 && port_name(rport) != NULL)
				strlcpy_safe(wi->peer_names[k],
				    port_name(rport), sizeof(wi->peer_names[k]));
		}
	}
	if (files != NULL)
		procstat_freefiles(ps, files);
	procstat_freeprocs(ps, kp);
	procstat_close(ps);
	return 0;
}

#else

/* Nothing to share between inspections here. */
void
proc_wait_batch(int on)
{
	(void)on;
}

/* Nowhere to look on this system: the wait stays unknown. */
int
proc_wait_inspect(pid_t pid, struct wait_info *wi)
{
	memset(wi, 0, sizeof(*wi));
	return pid > 0 ? 0 : -1;
}

#endif

/*
 * Add a peer once; beyond WAIT_PEERS_MAX the rest are dropped.  Returns
 * its index, or -1 when dropped.
 */
static int
peer_add(struct wait_info *wi, const char *text)
{
	size_t	 i;

	for (i = 0; i < wi->npeers; i++)
		if (strcmp(wi->peers[i], text) == 0)
			return (int)i;
	if (wi->npeers >= WAIT_PEERS_MAX)
		return -1;
	strlcpy_safe(wi->peers[wi->npeers], text, sizeof(wi->peers[0]));
	return (int)wi->npeers++;
}

/* The product behind a well-known port, for a peer on another host. */
static const char *
port_name(unsigned int port)
{
	static const struct {
		unsigned int	 port;
		const char	*name;
	} ports[] = {
		{ 5432, "PostgreSQL" }, { 3306, "MySQL/MariaDB" },
		{ 6379, "Redis" }, { 11211, "memcached" },
		{ 27017, "MongoDB" }, { 9200, "Elasticsearch" },
		{ 5672, "RabbitMQ" }, { 9000, "FastCGI" }, { 80, "HTTP" },
		{ 443, "HTTPS" }, { 53, "DNS" }, { 25, "SMTP" },
		{ 389, "LDAP" }, { 636, "LDAPS" }, { 0, NULL }
	};
	size_t	 i;

	for (i = 0; ports[i].name != NULL; i++)
		if (ports[i].port == port)
			return ports[i].name;
	return NULL;
}

/*
 * "10.0.0.5:3306" or "[2001:db8::1]:5432"; mapped IPv4 as IPv4; "" when
 * the address cannot be printed.
 */
static void
inet_text(int family, const uint8_t *addr, unsigned int port, char *out,
    size_t outlen)
{
	static const uint8_t	 mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char			 host[INET6_ADDRSTRLEN];

	out[0] = '\0';
	if (family == AF_INET6 && memcmp(addr, mapped, sizeof(mapped)) == 0) {
		family = AF_INET;
		addr += sizeof(mapped);
	}
	if (inet_ntop(family, addr, host, sizeof(host)) == NULL)
		return;
	if (family == AF_INET6)
		snprintf(out, outlen, "[%s]:%u", host, port);
	else
		snprintf(out, outlen, "%s:%u", host, port);
}

/* Add a peer's address (inet_text()); returns its index, or -1. */
static int
peer_add_inet(struct wait_info *wi, int family, const uint8_t *addr,
    unsigned int port)
{
	char	 text[64];

	inet_text(family, addr, port, text, sizeof(text));
	return text[0] != '\0' ? peer_add(wi, text) : -1;
}

/*
 * The wait in words, for reasons and reports: "poll() on 127.0.0.1:5432",
 * "read()", "unknown (permission)".
 */
void
wait_info_format(const struct wait_info *wi, char *out, size_t outlen)
{
	size_t	 i, len;

	if (outlen == 0)
		return;
	if (!wi->known) {
		strlcpy_safe(out, wi->denied ? "unknown (permission)" :
		    "unknown", outlen);
		return;
	}
	if (wi->syscall[0] == '\0' && wi->wchan[0] == '\0')
		strlcpy_safe(out, "unknown", outlen);
	else if (wi->syscall[0] == '\0')
		snprintf(out, outlen, "%.*s", (int)sizeof(wi->wchan),
		    wi->wchan);
	else if (strcmp(wi->syscall, "running") == 0 ||
	    strncmp(wi->syscall, "syscall ", 8) == 0)
		snprintf(out, outlen, "%.*s", (int)sizeof(wi->syscall),
		    wi->syscall);
	else
		snprintf(out, outlen, "%.*s()", (int)sizeof(wi->syscall),
		    wi->syscall);
	for (i = 0; i < wi->npeers && i < WAIT_PEERS_MAX; i++) {
		len = strlen(out);
		if (len + 1 >= outlen)
			break;
		snprintf(out + len, outlen - len, "%s%.*s%s%.*s%s",
		    i == 0 ? " on " : ", ", (int)sizeof(wi->peers[i]),
		    wi->peers[i], wi->peer_names[i][0] != '\0' ? " (" : "",
		    (int)sizeof(wi->peer_names[i]), wi->peer_names[i],
		    wi->peer_names[i][0] != '\0' ? ")" : "");
	}
}
