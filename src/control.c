/*
 * Operator control: the daemon's control socket (control.socket, a unix
 * socket of mode 0600), the `fpmprobe ctl` client, and the operator
 * marks (maint, drain) kept in control.state_dir so that they survive a
 * restart.
 *
 * The protocol is one request line and the answer, then the daemon
 * closes: "maint POOL [REASON]", "drain POOL [REASON]", "ready POOL",
 * "show".  An answer that starts with "error: " is a refusal.
 */

#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "fpmprobe.h"

#define CONTROL_LINE_MAX	512
#define CONTROL_TIMEOUT_S	2	/* for a request line, and the answer */
#define CONTROL_CLIENT_TIMEOUT_S 5
#define CONTROL_DISCARD_MAX	(64 * 1024)	/* read after the answer */
#define STATE_FILE		"marks"

static void	control_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	control_read(struct bufferevent *, void *);
static void	control_written(struct bufferevent *, void *);
static void	control_discard(struct bufferevent *, void *);
static void	control_event(struct bufferevent *, short, void *);
static void	control_request(struct buf *, char *);
static int	control_mark(struct buf *, const char *, enum pool_mark,
		    const char *);
static void	mark_set(struct pool *, enum pool_mark, const char *);
static const char *mark_name(enum pool_mark);
static int	sun_fill(struct sockaddr_un *, const char *);

static struct config		*control_conf;
/*
 * The control socket: its file has mode 0600 and is removed at close.
 * When a new path cannot be bound, the old socket stays open in its
 * place, so that the daemon can still be reached and say why.
 */
static struct listener_set	 control_listeners = {
	.who = "control",
	.backlog = 16,
	.unix_mode = 0600,
	.unlink_at_close = 1,
	.single = 1,
	.accept = control_accept
};

/* The word for a mark, as the state file and requests spell it. */
static const char *
mark_name(enum pool_mark m)
{
	return m == MARK_MAINT ? "maint" : m == MARK_DRAIN ? "drain" : "ready";
}

/* Fill a unix address; -1 when the path does not fit. */
static int
sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -1;
	strlcpy_safe(sun->sun_path, path, sizeof(sun->sun_path));
	return 0;
}

/* Set or clear a pool's operator mark and compute its answer again. */
static void
mark_set(struct pool *pool, enum pool_mark mark, const char *reason)
{
	char	 clean[REASON_MAX + 1];

	free(pool->mark_reason);
	pool->mark_reason = NULL;
	pool->mark = mark;
	if (mark != MARK_NONE && reason != NULL && reason[0] != '\0') {
		sanitize_text(clean, sizeof(clean), reason, strlen(reason));
		pool->mark_reason = xstrdup(clean);
	}
	policy_update(pool, now_us());
}

/*
 * Split one line of the state file, "MARK<tab>POOL<tab>REASON" and its
 * newline, in place.  Returns 0; -1 when it is not of that shape, -2 for
 * a mark other than maint or drain (line then holds the mark).  Pure.
 */
int
state_line_parse(char *line, enum pool_mark *mark, char **name, char **reason)
{
	char	*nl;

	if ((nl = strchr(line, '\n')) != NULL)
		*nl = '\0';
	*name = strchr(line, '\t');
	*reason = *name != NULL ? strchr(*name + 1, '\t') : NULL;
	if (*reason == NULL)
		return -1;
	*(*name)++ = '\0';
	*(*reason)++ = '\0';
	if (strcmp(line, "maint") == 0)
		*mark = MARK_MAINT;
	else if (strcmp(line, "drain") == 0)
		*mark = MARK_DRAIN;
	else
		return -2;
	return 0;
}

/*
 * Split a control request line, in place, into its verb, its pool name
 * and the reason: blanks separate the first two, the reason is the rest
 * of the line less its leading blanks.  Absent parts are "".  Pure.
 */
void
control_line_split(char *line, char **verb, char **name, char **reason)
{
	*verb = line + strspn(line, " \t");
	*name = *verb + strcspn(*verb, " \t");
	if (**name != '\0')
		*(*name)++ = '\0';
	*name += strspn(*name, " \t");
	*reason = *name + strcspn(*name, " \t");
	if (**reason != '\0')
		*(*reason)++ = '\0';
	*reason += strspn(*reason, " \t");
}

/*
 * Read the marks saved in state_dir and apply those of pools that are
 * configured.  A missing file is no mark; a bad line is logged and
 * skipped.
 */
void
state_load(struct config *conf)
{
	char		*path, line[CONTROL_LINE_MAX], *name, *reason;
	struct pool	*pool;
	enum pool_mark	 mark;
	FILE		*f;
	int		 n = 0;

	if (conf->state_dir == NULL)
		return;
	xasprintf(&path, "%s/%s", conf->state_dir, STATE_FILE);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno != ENOENT)
			log_warn("%s", path);
		free(path);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		switch (state_line_parse(line, &mark, &name, &reason)) {
		case -1:
			log_warnx("%s:%d: expected MARK<tab>POOL<tab>REASON",
			    path, n);
			continue;
		case -2:
			log_warnx("%s:%d: unknown mark \"%.20s\"", path, n,
			    line);
			continue;
		}
		if ((pool = config_find_pool(conf, name)) == NULL) {
			log_info("%s:%d: pool %s is no longer configured; its "
			    "mark is dropped", path, n, name);
			continue;
		}
		mark_set(pool, mark, reason);
		log_info("pool %s: %s (%s), as saved", pool->name,
		    mark_name(mark), reason);
	}
	fclose(f);
	free(path);
}

/*
 * Write every pool's mark to state_dir, atomically: a temporary file,
 * fsync, rename.  Returns -1 (logged) when it could not be saved.
 */
int
state_save(struct config *conf)
{
	char		*path, *tmp;
	struct pool	*pool;
	FILE		*f;
	int		 fd, rv = -1;

	if (conf->state_dir == NULL)
		return 0;
	xasprintf(&path, "%s/%s", conf->state_dir, STATE_FILE);
	xasprintf(&tmp, "%s/.%s.tmp", conf->state_dir, STATE_FILE);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1 || (f = fdopen(fd, "w")) == NULL) {
		log_warn("%s", tmp);
		if (fd != -1)
			close(fd);
		goto out;
	}
	TAILQ_FOREACH(pool, &conf->pools, entry)
		if (pool->mark != MARK_NONE)
			fprintf(f, "%s\t%s\t%s\n", mark_name(pool->mark),
			    pool->name, pool->mark_reason != NULL ?
			    pool->mark_reason : "");
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_warn("%s", tmp);
		fclose(f);
		goto out;
	}
	if (fclose(f) == EOF || rename(tmp, path) == -1) {
		log_warn("%s", path);
		goto out;
	}
	rv = 0;
out:
	if (rv == -1)
		unlink(tmp);
	free(tmp);
	free(path);
	return rv;
}

/* Carry operator marks from a configuration to its successor. */
void
marks_carry(struct config *from, struct config *to)
{
	struct pool	*old, *pool;

	TAILQ_FOREACH(old, &from->pools, entry) {
		if (old->mark == MARK_NONE ||
		    (pool = config_find_pool(to, old->name)) == NULL)
			continue;
		pool->mark = old->mark;
		pool->mark_reason = old->mark_reason;
		old->mark_reason = NULL;
	}
}

/*
 * Listen on control.socket; -1 if it cannot be bound.  A reload that
 * keeps the path keeps the socket open.
 */
int
control_start(struct event_base *base, struct config *conf)
{
	struct address	 a;
	int		 rv = 0;

	control_conf = conf;
	listeners_begin(&control_listeners, base);
	if (conf->control_socket != NULL) {
		memset(&a, 0, sizeof(a));
		a.text = conf->control_socket;
		a.sslen = sizeof(struct sockaddr_un);
		if (sun_fill((struct sockaddr_un *)&a.ss,
		    conf->control_socket) == -1) {
			a.ss.ss_family = AF_UNSPEC;
			rv = listeners_fail(&control_listeners, &a,
			    "path too long", NULL);
		} else
			rv = listeners_want(&control_listeners, &a, NULL);
	}
	listeners_end(&control_listeners);
	return rv;
}

/* Close the control socket and remove it. */
void
control_stop(void)
{
	listeners_close(&control_listeners);
}

/* A new control connection: wait for its line, under a deadline. */
static void
control_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct bufferevent	*bev;
	struct timeval		 tv = { CONTROL_TIMEOUT_S, 0 };

	bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setwatermark(bev, EV_READ, 0, CONTROL_LINE_MAX + 1);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, control_read, NULL, control_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

/* Answer the request line once it is complete. */
static void
control_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct buf	 answer = { NULL, 0, 0 };
	char		*line;

	if ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF)) == NULL) {
		if (evbuffer_get_length(in) <= CONTROL_LINE_MAX)
			return;
		buf_printf(&answer, "error: request longer than %d bytes\n",
		    CONTROL_LINE_MAX);
	} else {
		control_request(&answer, line);
		free(line);
	}
	bufferevent_disable(bev, EV_READ);
	bufferevent_write(bev, answer.data, answer.len);
	bufferevent_setcb(bev, NULL, control_written, control_event, NULL);
	buf_free(&answer);
}

/*
 * The answer is out: end our side, and read what the peer still sends
 * until it closes, so that our close is a FIN and not a RST that would
 * destroy the answer.
 */
static void
control_written(struct bufferevent *bev, void *arg)
{
	size_t	*seen = xcalloc(1, sizeof(*seen));

	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setwatermark(bev, EV_READ, 0, 0);
	bufferevent_setcb(bev, control_discard, NULL, control_event, seen);
	bufferevent_enable(bev, EV_READ);
}

/* Drop what the peer sends after the answer, up to a limit. */
static void
control_discard(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		*seen = arg;

	*seen += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (*seen > CONTROL_DISCARD_MAX)
		control_event(bev, BEV_EVENT_ERROR, arg);
}

/* The peer went away, or its deadline passed. */
static void
control_event(struct bufferevent *bev, short what, void *arg)
{
	free(arg);
	bufferevent_free(bev);
}

/* Set a mark from a request and save it; 0 on success. */
static int
control_mark(struct buf *answer, const char *name, enum pool_mark mark,
    const char *reason)
{
	struct pool	*pool;

	if ((pool = config_find_pool(control_conf, name)) == NULL) {
		buf_printf(answer, "error: unknown pool \"%.64s\"\n", name);
		return -1;
	}
	mark_set(pool, mark, reason);
	log_info("pool %s: %s by the operator%s%s", pool->name,
	    mark_name(mark), pool->mark_reason != NULL ? ": " : "",
	    pool->mark_reason != NULL ? pool->mark_reason : "");
	if (state_save(control_conf) == -1)
		buf_printf(answer, "ok, but not saved in %s (see the log): "
		    "it will not survive a restart\n", control_conf->state_dir);
	else
		buf_printf(answer, "ok: pool %s answers \"%.*s\"\n", pool->name,
		    (int)(pool->verdict.replylen > 0 ?
		    pool->verdict.replylen - 1 : 0), pool->verdict.reply);
	return 0;
}

/* Carry out one request line. */
static void
control_request(struct buf *answer, char *line)
{
	struct pool	*pool;
	const struct verdict *v;
	const struct listen_error *le;
	char		*verb, *name, *reason;
	size_t		 i, n;

	control_line_split(line, &verb, &name, &reason);

	if (strcmp(verb, "show") == 0) {
		TAILQ_FOREACH(pool, &control_conf->pools, entry) {
			v = pool_verdict(pool, now_us());
			buf_printf(answer, "%s\t%s\t%.*s", pool->name,
			    pool_state_str(v->state), (int)(v->replylen > 0 ?
			    v->replylen - 1 : 0), v->reply);
			if (pool->mark != MARK_NONE)
				buf_printf(answer, "\t(%s by the operator)",
				    mark_name(pool->mark));
			buf_addstr(answer, "\n");
		}
		/* No pool name has a space: these lines cannot be a pool's. */
		le = listen_errors(&n);
		for (i = 0; i < n; i++)
			buf_printf(answer, "listen error: %s %s: %s%s%s%s\n",
			    le[i].who, le[i].address, le[i].error,
			    le[i].kept_open != NULL ? " (" : "",
			    le[i].kept_open != NULL ? le[i].kept_open : "",
			    le[i].kept_open != NULL ?
			    " stays open in its place)" : "");
		return;
	}
	if (strcmp(verb, "maint") != 0 && strcmp(verb, "drain") != 0 &&
	    strcmp(verb, "ready") != 0) {
		buf_addstr(answer, "error: expected maint, drain, ready or "
		    "show\n");
		return;
	}
	if (*name == '\0') {
		buf_printf(answer, "error: %s needs a pool name\n", verb);
		return;
	}
	if (strcmp(verb, "ready") == 0)
		control_mark(answer, name, MARK_NONE, NULL);
	else
		control_mark(answer, name, verb[0] == 'm' ? MARK_MAINT :
		    MARK_DRAIN, reason);
}

/*
 * fpmprobe ctl: send one request to the daemon named by the
 * configuration's control.socket, print the answer.  Exit 0 when the
 * daemon did it, 1 when it refused or cannot be reached, 2 on usage.
 */
int
ctl_main(const char *conffile, int argc, char **argv)
{
	struct config		*conf;
	struct errlist		 errs = { NULL, 0 };
	struct sockaddr_un	 sun;
	struct timeval		 tv = { CONTROL_CLIENT_TIMEOUT_S, 0 };
	struct buf		 req = { NULL, 0, 0 }, ans = { NULL, 0, 0 };
	char			 chunk[4096];
	ssize_t			 n;
	size_t			 off, i;
	int			 fd, rv = 1;

	if (argc < 1 || (strcmp(argv[0], "show") != 0 && argc < 2) ||
	    (strcmp(argv[0], "show") == 0 && argc != 1) ||
	    (strcmp(argv[0], "ready") == 0 && argc != 2)) {
		fprintf(stderr, "usage: fpmprobe ctl [-c file] maint|drain "
		    "pool [reason ...]\n"
		    "       fpmprobe ctl [-c file] ready pool\n"
		    "       fpmprobe ctl [-c file] show\n");
		return 2;
	}
	if ((conf = config_load(conffile, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "fpmprobe ctl: %s\n", errs.msg[i]);
		errlist_free(&errs);
		return 1;
	}
	errlist_free(&errs);
	if (conf->control_socket == NULL) {
		fprintf(stderr, "fpmprobe ctl: %s sets no control.socket\n",
		    conffile);
		config_free(conf);
		return 1;
	}
	for (i = 0; i < (size_t)argc; i++) {
		if (strpbrk(argv[i], "\r\n") != NULL) {
			fprintf(stderr, "fpmprobe ctl: no line breaks, "
			    "please\n");
			goto out;
		}
		buf_printf(&req, "%s%s", i > 0 ? " " : "", argv[i]);
	}
	buf_addstr(&req, "\n");
	if (sun_fill(&sun, conf->control_socket) == -1 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "fpmprobe ctl: %s: bad socket path\n",
		    conf->control_socket);
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "fpmprobe ctl: cannot reach the daemon at %s: "
		    "%s\n", conf->control_socket, strerror(errno));
		close(fd);
		goto out;
	}
	for (off = 0; off < req.len; off += (size_t)n)
		if ((n = write(fd, req.data + off, req.len - off)) <= 0) {
			fprintf(stderr, "fpmprobe ctl: %s: %s\n",
			    conf->control_socket, strerror(errno));
			close(fd);
			goto out;
		}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 &&
	    ans.len < 1024 * 1024)
		buf_add(&ans, chunk, (size_t)n);
	close(fd);
	if (n == -1) {
		fprintf(stderr, "fpmprobe ctl: no answer from the daemon in "
		    "%d s\n", CONTROL_CLIENT_TIMEOUT_S);
		goto out;
	}
	/* A refusal is the daemon's "error: why": said as ctl says its own. */
	if (ans.len > 7 && memcmp(ans.data, "error: ", 7) == 0)
		fprintf(stderr, "fpmprobe ctl: %.*s", (int)(ans.len - 7),
		    (const char *)ans.data + 7);
	else if (ans.len > 0) {
		fwrite(ans.data, 1, ans.len, stdout);
		rv = 0;
	}
out:
	buf_free(&req);
	buf_free(&ans);
	config_free(conf);
	return rv;
}
