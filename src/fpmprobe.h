/*
 * fpmprobe: tells a load balancer whether PHP-FPM pools can really serve.
 *
 * One header for the whole daemon: defaults, structures, then the
 * prototypes of each file under a comment naming it.
 */

#ifndef FPMPROBE_H
#define FPMPROBE_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/listener.h>

#ifndef SYSCONFDIR
#define SYSCONFDIR		"/usr/local/etc"
#endif
#define FPMPROBE_CONF		SYSCONFDIR "/fpmprobe.yml"

/* Defaults every pool and check inherits unless the config says otherwise. */
#define DEFAULT_INTERVAL_MS	2000
#define DEFAULT_TIMEOUT_MS	1000
#define DEFAULT_RISE		2
#define DEFAULT_FALL		2
#define DEFAULT_STUCK_AFTER_MS	10000
#define DEFAULT_EXPECT_STATUS	200
#define DEFAULT_SQL		"SELECT 1"

/* What the configuration may set them to. */
#define INTERVAL_MIN_MS		100
#define INTERVAL_MAX_MS		(3600 * 1000)
#define TIMEOUT_MIN_MS		10
#define TIMEOUT_MAX_MS		(3600 * 1000)
#define STUCK_AFTER_MIN_MS	100
#define STUCK_AFTER_MAX_MS	(24 * 3600 * 1000)

/* A result older than this many intervals no longer counts as fresh. */
#define STALE_INTERVALS		3
/*
 * Jitter applied to each interval, in percent, always shortening it: the
 * configured interval stays an upper bound, so that a fault is seen
 * within interval + timeout.
 */
#define INTERVAL_JITTER_PCT	10

/* Pool and check names: [A-Za-z0-9_.-], at most this long. */
#define CONFIG_NAME_MAX		64

/* Caps on what a peer may make us hold. */
#define FCGI_RESPONSE_MAX	(256 * 1024)	/* STDOUT + STDERR of one probe */
/*
 * A status page `?full` takes 380 to 540 bytes per process: it may have
 * 1 KiB per process the pool can run, up to a hard cap (10,000 processes,
 * what fpm_status.c reads at most, fit in it).
 */
#define FPM_STATUS_PER_WORKER	1024
#define FPM_STATUS_RESPONSE_MAX	(8 * 1024 * 1024)
#define FCGI_STDERR_KEEP	512		/* STDERR text kept for a reason */
#define AGENT_CLIENTS_MAX	1024	/* less what RLIMIT_NOFILE lacks */
#define AGENT_SOURCE_MAX	64	/* open from one address, or /64 */
#define AGENT_PARKED_MAX	1024	/* over a source's share, held */
#define AGENT_PARK_MS		5000	/* before they are closed */
#define AGENT_FDS_RESERVED	192	/* for the rest of the daemon */
#define AGENT_LINE_MAX		256
/*
 * HAProxy sends its agent-send line with the connection: a peer still
 * silent after this long holds a slot the load balancers need.
 */
#define AGENT_READ_TIMEOUT_MS	200
#define AGENT_LINGER_MS		500		/* drain after the answer */
#define LOG_REPEAT_S		10		/* a repeated warning, at most */
#define AGENT_ACCEPT_PAUSE_MS	100		/* after EMFILE/ENFILE */
#define AGENT_ACCEPT_BURST	64		/* accepts before a yield */

/* What HAProxy shows of a reason; it cuts at 128. */
#define REASON_MAX		119
#define AGENT_REPLY_MAX		(REASON_MAX + 32)
#define DETAIL_MAX		256
#define PASSWORD_MAX		1024	/* bytes of a password_file */
#define CONFIG_QUOTE_MAX	64	/* user text quoted in a message */

/* Latency samples kept per check, for p50/p99/max. */
#define LATENCY_WINDOW		256
/* Upper bounds of the latency histogram's buckets, in microseconds. */
#define LATENCY_BUCKETS_US	{ 500, 1000, 2500, 5000, 10000, 25000, \
				  50000, 100000, 250000, 500000, 1000000, \
				  2500000, 5000000, 10000000 }
#define LATENCY_NBUCKETS	14

/* The status endpoint's bounds. */
#define HTTPD_CLIENTS_MAX	64	/* open at once, counted from accept */
#define HTTPD_SOURCE_MAX	16	/* of them from one address, or /64 */
#define HTTPD_ACCEPT_BURST	16	/* accepts before they are admitted */
#define HTTPD_HEADERS_MAX	8192
#define HTTPD_TIMEOUT_S		5

struct check;
struct pool;
struct probe;
struct config;
struct fpm_status;
struct listener_set;
struct cfgmsg;

/* A growable byte buffer; data is always NUL-terminated for convenience. */
struct buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
};

/* An address as written in the config: HOST:PORT, [V6]:PORT or unix:/path. */
struct address {
	char			*text;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
};

struct address_list {
	struct address		*addr;
	size_t			 n;
};

/*
 * A listening socket of the agent, the status endpoint or the control
 * socket.  A reload keeps it open while its address is still asked for,
 * whatever it serves in the new configuration.
 */
struct listener {
	struct listener_set	*set;
	struct evconnlistener	*lev;
	struct event		*resume;	/* after EMFILE */
	struct sockaddr_storage	 ss;		/* what it is bound to */
	char			*text;		/* as the configuration spells it */
	dev_t			 dev;		/* a unix socket's file */
	ino_t			 ino;
	void			*serves;	/* the owner's: agent, a pool */
	void			*bound;		/* the owner's: http, evhttp's */
	int			 stale;		/* not asked for (yet) */
};

/* One service's listening sockets, and how it opens them. */
struct listener_set {
	const char		*who;		/* "agent", "http", "control" */
	struct event_base	*base;
	int			 backlog;
	mode_t			 unix_mode;	/* 0: as the umask leaves it */
	int			 unlink_at_close;	/* a unix socket's file */
	int			 single;	/* one socket: the old one stands in */
	evconnlistener_cb	 accept;	/* its arg is the listener */
	/* Hand a new socket to its server instead (http); -1: refused. */
	int			(*attach)(struct listener *);
	/* Take it back from the server, which frees lev. */
	void			(*detach)(struct listener *);
	struct listener		**l;
	size_t			 n;
};

/* An address the running configuration asks for and does not have. */
struct listen_error {
	const char	*who;
	char		*address;
	char		*error;
	char		*kept_open;	/* the old socket in its place, or NULL */
};

/* One allowed source network. */
struct cidr {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 net[16];
	unsigned int	 bits;
};

struct errlist {
	char		**msg;
	size_t		  n;
};

/*
 * Every way a probe can end.  probe_result_str() names each one; the
 * reason an operator reads is built from it in one place (probe_reason()).
 */
enum probe_result {
	PR_OK = 0,
	PR_CONNECT_REFUSED,
	PR_CONNECT_ERROR,
	PR_TIMEOUT,
	PR_IO_ERROR,
	PR_CLOSED,
	PR_PROTOCOL,
	PR_TOO_BIG,
	PR_FCGI_STATUS,
	PR_STATUS,
	PR_BODY,
	PR_DB_AUTH,
	PR_DB_UNKNOWN_DB,
	PR_DB_TOO_MANY,
	PR_DB_QUERY,
	PR_DB_EXPECT,
	PR_DB_ERROR,
	PR_DNS,
	PR_TLS,
	PR_STALE,
	PR_ABORTED,
	PR_INTERNAL,
	PR_MAX
};

/* Where a probe was when it ended; a timeout names it. */
enum probe_phase {
	PH_CONNECT = 0,
	PH_AUTH,
	PH_REQUEST,
	PH_RESPONSE,
	PH_QUERY,
	PH_MAX
};

/*
 * What a configuration key holds, and so how ynode.c reads, defaults,
 * compares and frees it.  A section or a check type lists its keys in a
 * table of struct cfg_key; each value lives at its offset in a struct.
 */
enum cfg_kind {
	CFG_STRING = 0,	/* char *; min 1 refuses "" */
	CFG_PATH,	/* char *: an absolute path */
	CFG_FILE,	/* char *: an absolute path, not a directory */
	CFG_URI,	/* char *: a path starting with / */
	CFG_URL,	/* char *: an http:// or https:// URL */
	CFG_UINT,	/* unsigned int from min to max */
	CFG_DURATION,	/* unsigned int: milliseconds from min to max */
	CFG_BOOL,	/* int: true or false */
	CFG_CHOICE,	/* int: the value of one of choices */
	CFG_WORD,	/* const char *: one of choices, as the table spells it */
	CFG_ADDRESS,	/* struct address */
	CFG_ADDRESSES,	/* struct address_list: one address or a sequence */
	CFG_NETWORKS,	/* struct cidr *: one network or a sequence, at count */
	CFG_HEADERS,	/* char ** of "Name: value", their number at count */
	CFG_NODE,	/* read by the section's own code */
	CFG_INCLUDE,	/* the keys of table, for a struct at offset */
	CFG_SECTION,	/* a mapping of the keys of table, for one at offset */
	CFG_REFUSED	/* known, and refused: what says instead what */
};

#define CFG_REQUIRED	0x1	/* "missing required key" without it */
#define CFG_SECRET	0x2	/* wiped when freed */
#define CFG_PRIVATE	0x4	/* a file others must not be able to read */

/* One word of a CFG_CHOICE or CFG_WORD key, and what it stands for. */
struct cfg_choice {
	const char	*word;
	int		 value;
};

/* One configuration key: tmux's options-table.c, one row a key. */
struct cfg_key {
	const char		*name;		/* NULL ends a table */
	enum cfg_kind		 kind;
	size_t			 offset;	/* of the value */
	unsigned int		 min;		/* CFG_UINT, CFG_DURATION */
	unsigned int		 max;
	int			 flags;
	const char		*what;		/* what a message says is expected */
	const struct cfg_choice	*choices;	/* CFG_CHOICE, CFG_WORD */
	const struct cfg_key	*table;		/* CFG_INCLUDE, CFG_SECTION */
	size_t			 count;		/* lists: offset of their number */
	int			 def;		/* numbers: before anything is read */
	const char		*defstr;	/* strings: likewise */
};

/* What a check type's finish() may ask of config.c; config.c's own. */
struct cfg_check;

/* A node of the YAML document (ynode.c); a mapping's kids are key, value. */
enum ynode_kind {
	YN_SCALAR = 0,
	YN_SEQUENCE,
	YN_MAPPING
};

struct ynode {
	enum ynode_kind	  kind;
	int		  line;		/* 1-based */
	int		  col;
	int		  plain;	/* an unquoted scalar, which may be null */
	char		 *str;		/* scalars: NUL-terminated, may hold NULs */
	size_t		  len;
	struct ynode	**kids;
	size_t		  n;
	size_t		  cap;
};

/* What the reader of one document carries around. */
struct cfgctx {
	const char	*name;		/* file name for messages */
	const char	*data;
	size_t		 len;
	struct errlist	*errs;
	struct cfgmsg	*msgs;		/* ynode.c's, to sort */
	size_t		 nerr;		/* found, kept or not */
	struct config	*conf;
};

/*
 * How often a check runs, how long it may take and how many results in
 * a row turn it: set in defaults, a pool or a check, 0 where not set
 * and then taken from the level above (config.c, resolve()).
 */
struct timing {
	unsigned int		 interval_ms;
	unsigned int		 timeout_ms;
	unsigned int		 rise;
	unsigned int		 fall;
};

/*
 * One table of operations per check type, collected in check_types[]
 * (check.c).  Everything a type knows lives in its file: its keys, what
 * it makes of them, how it probes and what it adds to a report.
 */
struct check_ops {
	const char		*name;
	/* Its own keys, read into a struct of conf_size bytes (c->conf). */
	const struct cfg_key	*keys;
	size_t			 conf_size;
	/*
	 * The check goes through the pool's own request path (a FastCGI
	 * round trip): a timeout may then only mean the pool is busy.
	 */
	int			 real_path;
	/* Refuse what the keys cannot say alone, fill what they leave. */
	void		(*finish)(struct check *, struct cfg_check *);
	/* Begin a probe; ends in probe_done() now or later (NULL: not built). */
	void		(*start)(struct probe *);
	/* Release the probe's I/O state but its fd; idempotent (or NULL). */
	void		(*abort)(struct probe *);
	/* Release what the check keeps between probes, c->keep (or NULL). */
	void		(*free)(struct check *);
	/*
	 * Add the type's own lines to a report (b NULL: none); returns 1
	 * when they call for a WARNING.
	 */
	int		(*report)(struct buf *, struct config *,
			    const struct check *, int);
	/* Where it connects, "type address", to match checks of pools. */
	void		(*target)(const struct check *, char *, size_t);
};

/*
 * A running probe: one per check at most.  Its state, beyond the phase
 * a timeout names, is the check type's own, behind ctx.
 */
struct probe {
	struct check		*check;
	struct event_base	*base;
	int			 fd;
	struct event		*ev;
	enum probe_phase	 phase;
	uint64_t		 start_us;	/* CLOCK_MONOTONIC */
	uint64_t		 deadline_us;
	uint64_t		 connect_us;	/* durations from start */
	uint64_t		 first_byte_us;
	uint64_t		 total_us;
	uint64_t		 start_delay_us;	/* started after it was due */
	int			 self_blocked;	/* its own code held the loop */
	char			 detail[DETAIL_MAX];
	struct buf		 out;
	size_t			 out_off;
	struct buf		 in;
	void			*ctx;		/* the check type's own */
	struct fpm_status	*sample;	/* the sampler's worker sample */
	int			 done;
};

/* One probe's raw outcome, as probe_done() hands it to the policy. */
struct outcome {
	enum probe_result	 result;
	enum probe_phase	 phase;
	const char		*detail;
	uint64_t		 latency_us;
	uint64_t		 connect_us;
	uint64_t		 first_byte_us;
	struct fpm_status	*sample;	/* the policy takes it, or NULL */
	/* fpmprobe's own lateness: host starvation, not the backend's. */
	uint64_t		 start_delay_us;	/* probe started late */
	uint64_t		 overrun_us;	/* judged past its deadline */
	int			 cpu_pressure_pct;	/* PSI cpu some, -1 */
};

/*
 * A failed probe that fpmprobe itself ran late for (policy.c): its start
 * was late, or its deadline passed while fpmprobe was not running, by at
 * least SELF_LATE_PCT of the timeout.  A stalled one does not count
 * toward fall.
 */
enum self_late {
	LATE_NO = 0,
	LATE_START,
	LATE_STALLED
};
#define SELF_LATE_PCT		25
#define SELF_LATE_MIN_US	20000
#define SCHED_DELAY_WINDOW	32

/* What the scheduler and policy keep about one check. */
struct check_status {
	int			 have_result;
	enum probe_result	 result;
	enum probe_phase	 phase;
	char			 reason[REASON_MAX + 1];
	uint64_t		 done_us;	/* monotonic time of the last result */
	uint64_t		 latency_us;
	uint64_t		 connect_us;
	uint64_t		 first_byte_us;
	unsigned int		 ok_run;
	unsigned int		 fail_run;
	int			 healthy;	/* after rise/fall */
	int			 saturated;	/* timed out, pool busy */
	uint64_t		 probes;
	uint64_t		 failures;
	uint64_t		 hist[LATENCY_NBUCKETS + 1];	/* +Inf last */
	uint64_t		 hist_sum_us;
	uint32_t		 lat[LATENCY_WINDOW];
	unsigned int		 lat_n;
	unsigned int		 lat_pos;
	/* How late its timer fired (hce.c), over the last few. */
	int			 have_delay;
	uint64_t		 tick_us;	/* when it last fired */
	uint64_t		 delay_us;
	uint32_t		 delays[SCHED_DELAY_WINDOW];
	unsigned int		 delay_n;
	unsigned int		 delay_pos;
	uint64_t		 overrun_us;	/* the last probe's */
	enum self_late		 self_late;	/* of the last result */
	uint64_t		 self_late_total;
};

/*
 * What every check has, whatever its type (check.c): the type's own
 * settings are behind conf, what the type keeps between probes (a
 * database connection, a request it built) behind keep.
 */
struct check {
	TAILQ_ENTRY(check)	 entry;
	struct pool		*pool;
	char			*name;
	const struct check_ops	*ops;
	void			*conf;		/* the type's settings, ops->keys */
	int			 line;		/* where the config defines it */
	int			 col;
	struct timing		 timing;

	/* runtime */
	struct event		*timer;
	uint64_t		 due_us;	/* when the timer should fire */
	struct probe		*probe;		/* running, or NULL */
	void			*keep;		/* the type's, between probes */
	struct check_status	 st;
};
TAILQ_HEAD(check_list, check);

/* A fastcgi check's settings; the status sampler's too (check_fcgi.c). */
struct fcgi_conf {
	struct address		 address;	/* the pool's fastcgi unless set */
	char			*script;	/* SCRIPT_FILENAME */
	char			*uri;		/* SCRIPT_NAME / REQUEST_URI */
	char			*query;		/* QUERY_STRING */
	int			 expect_status;
	char			*expect_body;
};

/* What both database checks read (db.c). */
struct db_conf {
	char			*sql;		/* the "query" */
	char			*password_file;
	char			*expect;
	int			 expect_rows;	/* -1: any */
	int			 reconnect_always;
};

/* A pgsql check's settings (check_pgsql.c). */
struct pg_conf {
	struct db_conf		 db;
	char			*conninfo;
};

/* A mysql check's settings (check_mysql.c). */
struct my_conf {
	struct db_conf		 db;
	char			*host;
	unsigned int		 port;
	char			*socket;
	char			*user;
	char			*password;
	char			*database;
	int			 tls;		/* 0 off, 1 on, 2 verify */
	char			*tls_ca;
};

/* An http check's settings (check_http.c). */
struct http_conf {
	char			*url;
	const char		*method;	/* "GET" or "HEAD" */
	char			**headers;	/* "Name: value" */
	size_t			 nheaders;
	char			*unix_socket;
	int			 expect_status;
	char			*expect_body;
	int			 tls_verify;
	int			 follow_redirects;
};

/*
 * What a database check keeps between probes besides its connection,
 * at the start of the type's own keep: the capacity audit's schedule
 * and what it last read (db.c).
 */
/* One finding of the bounded-blocking audit (audit.c). */
#define AUDIT_SOURCE_MAX	300
#define AUDIT_LINE_MAX		1024
#define AUDIT_FINDINGS_MAX	64	/* of a pool, reported */
#define AUDIT_INI_BYTES_MAX	(512 * 1024)	/* of one php.ini file */

struct audit_finding {
	int		 warn;		/* a WARNING with --audit, else info */
	char		 layer[16];	/* "php-fpm", "php", "postgresql" */
	char		 setting[64];
	char		 value[64];
	char		 source[AUDIT_SOURCE_MAX];	/* FILE:LINE, "default" */
	char		 why[200];
	char		 safe[200];	/* "" when there is no advice */
};

struct audit_list {
	struct audit_finding	*f;
	size_t			 n;
};

/*
 * The database culprit (culprit.c): the sessions of the workers that wait
 * on a database check's server, found by the local address of their
 * sockets, and the session that blocks them, as the check's connection
 * read them after its own query.  Fixed-size text, cut and printable,
 * whatever the server sends.
 */
#define CULPRIT_WORKERS_MAX	16	/* worker sessions looked up per sample */
#define CULPRIT_BLOCKED_BY_MAX	4	/* blocking sessions kept per worker */
#define CULPRIT_TEXT_MAX	64
#define CULPRIT_QUERY_MAX	100	/* of a session's query text */
#define CULPRIT_MIN_LEFT_US	50000	/* of the deadline, to begin */

/* One database session as pg_stat_activity or PROCESSLIST shows it. */
struct db_session {
	int64_t		 id;		/* backend pid or thread id; -1 none */
	int		 hidden;	/* the server withheld its details */
	char		 user[CULPRIT_TEXT_MAX];
	char		 client[CULPRIT_TEXT_MAX];	/* "127.0.0.1:40112" */
	char		 application[CULPRIT_TEXT_MAX];	/* application_name */
	char		 state[CULPRIT_TEXT_MAX];	/* "idle in transaction" */
	char		 wait[CULPRIT_TEXT_MAX];	/* "Lock/relation", "row lock" */
	char		 object[CULPRIT_TEXT_MAX];	/* what it waits for */
	char		 query[CULPRIT_QUERY_MAX];
	int64_t		 xact_age_s;	/* its transaction's age; -1 none */
};

/* A worker's session and what blocks it. */
struct db_worker_session {
	pid_t			 worker;	/* the php-fpm process */
	uint64_t		 requests;	/* its counter: the same request */
	char			 local[64];	/* its socket's end, as matched */
	int			 found;		/* the server lists it */
	struct db_session	 session;
	int64_t			 blocked_by[CULPRIT_BLOCKED_BY_MAX];
	size_t			 nblocked_by;
	struct db_session	 blocker;	/* the first; id -1: none known */
};

/* One lookup of a database check, for one worker sample. */
struct db_culprit {
	uint64_t		 sample_us;	/* the sample it answers, 0: none */
	uint64_t		 done_us;
	uint64_t		 took_us;
	char			 product[16];	/* "PostgreSQL", "MariaDB", "MySQL" */
	char			 server[64];	/* the check's peer, as workers' */
	char			 missing[200];	/* privileges the user lacks */
	char			 error[128];	/* why the lookup is incomplete */
	struct db_worker_session w[CULPRIT_WORKERS_MAX];
	size_t			 n;		/* looked up, of */
	size_t			 waiting;	/* the workers waiting on it */
};

struct db_keep {
	unsigned int		 since_audit;	/* successes since the audit */
	uint64_t		 audit_us;	/* when it last ran */
	int			 audited;
	int64_t			 max_connections;	/* -1: not known */
	int64_t			 connections;	/* in use, -1: not known */
	uint64_t		 query_us;	/* the last query phase */
	struct audit_list	 audit;		/* the server's timeouts */
	char			 server[64];	/* the connection's peer */
	struct db_culprit	 culprit;	/* the last lookup */
};

/* PHP-FPM worker states as the status page names them. */
enum fpm_wstate {
	FPM_W_UNKNOWN = 0,
	FPM_W_IDLE,
	FPM_W_STARTING,
	FPM_W_READING_HEADERS,
	FPM_W_GETTING_INFO,
	FPM_W_RUNNING,
	FPM_W_FINISHING,
	FPM_W_ENDING,
	FPM_W_MAX
};

#define WAIT_PEERS_MAX	4

/* What a worker is blocked on, from /proc (Linux) or kinfo (FreeBSD). */
struct wait_info {
	int		 known;		/* 1 when inspected */
	int		 denied;	/* permission refused */
	char		 syscall[32];	/* "poll", "read", ... */
	char		 wchan[64];
	char		 peers[WAIT_PEERS_MAX][64];	/* "127.0.0.1:5432" */
	char		 peer_names[WAIT_PEERS_MAX][32];	/* "PostgreSQL" */
	char		 locals[WAIT_PEERS_MAX][64];	/* the worker's end of each */
	size_t		 npeers;
	char		 client[64];	/* who sent the worker its request */
};

struct fpm_worker {
	pid_t		 pid;
	enum fpm_wstate	 state;
	uint64_t	 requests;
	uint64_t	 request_duration_us;
	char		 method[16];
	char		 uri[256];
	char		 script[256];
	int		 stuck;		/* in a request past stuck_after */
	int		 held;		/* of which: still reading it */
	struct wait_info wait;
};

/* The pool's status page, `full` flavour. */
struct fpm_status {
	char			 pool[64];
	char			 pm[16];	/* static, dynamic, ondemand */
	uint64_t		 start_since;
	uint64_t		 accepted_conn;
	uint64_t		 listen_queue;
	uint64_t		 max_listen_queue;
	uint64_t		 listen_queue_len;
	uint64_t		 idle;
	uint64_t		 active;
	uint64_t		 total;
	uint64_t		 max_active;
	uint64_t		 max_children_reached;
	uint64_t		 slow_requests;
	struct fpm_worker	*workers;
	size_t			 nworkers;
};

/* Where a pool's max_children, its capacity, comes from. */
enum capacity_source {
	CAP_UNKNOWN = 0,
	CAP_CONFIG,		/* fpmprobe's max_children: */
	CAP_FPM_CONF,		/* php-fpm's own pool configuration */
	CAP_STATUS_PAGE		/* the processes a static pool lists */
};

/* What php-fpm's own configuration says of a local pool. */
struct fpm_facts {
	int			 have;
	uint64_t		 read_us;	/* when last read, 0: never */
	char			 file[256];	/* php-fpm's main file */
	char			 pm[16];
	unsigned int		 max_children;	/* 0: not set */
	int			 terminate_s;	/* request_terminate_timeout, -1 */
	char			 source[256];	/* "FILE:LINE" of max_children */
	char			 warning[512];	/* a mismatch with our config */
};

/* One key = value of php-fpm's configuration, where it was written. */
struct fpm_conf_entry {
	char		*key;		/* "pm.max_children", "php_value[x]" */
	char		*value;		/* quotes removed, $pool expanded */
	char		*file;		/* one of fpm_conf's file[] */
	int		 line;
};

/* One [section]: "global" or a pool. */
struct fpm_conf_section {
	char			*name;
	struct fpm_conf_entry	*entry;
	size_t			 n;
};

/* php-fpm's configuration: sections in the order they first appear. */
struct fpm_conf {
	char			*path;		/* the main file */
	struct fpm_conf_section	*section;	/* [0] is always "global" */
	size_t			 n;
	char			**file;		/* files read, in order */
	size_t			 nfiles;	/* includes counted */
	size_t			 cur;		/* current, across files */
	size_t			 bytes;		/* text held, capped */
};

/* What the policy makes of a pool's worker sample. */
struct pool_workers {
	int			 have;		/* a sample was read */
	uint64_t		 sampled_us;
	struct fpm_status	 status;
	unsigned int		 max_children;	/* 0: not known */
	enum capacity_source	 capacity_source;
	unsigned int		 stuck;		/* Running past stuck_after */
	unsigned int		 held;		/* Reading headers past it */
	int			 progress;	/* 1 yes, 0 no, -1 not known yet */
	uint64_t		 requests;	/* sum of workers' request counters */
	uint64_t		 completed;	/* requests since the last sample */
	int			 sample_failed;	/* the last sample could not be had */
};

/* The processes of a status sample, by disjoint state (metrics.c). */
struct worker_partition {
	unsigned long long	 idle;
	unsigned long long	 active;	/* busy, neither stuck nor held */
	unsigned long long	 stuck;
	unsigned long long	 held;
};

/* The formats /metrics serves (metrics_negotiate()). */
enum exposition {
	EXPO_TEXT = 0,		/* text/plain; version=0.0.4 */
	EXPO_OPENMETRICS	/* application/openmetrics-text; version=1.0.0 */
};

enum pool_state {
	POOL_UP = 0,
	POOL_DOWN,
	POOL_MAINT,
	POOL_DRAIN
};

enum pool_mark {
	MARK_NONE = 0,
	MARK_MAINT,
	MARK_DRAIN
};

enum admin_state {
	ADMIN_SET = 0,		/* ready/drain/maint are sent */
	ADMIN_LEAVE		/* only up/down and the weight */
};

/* The answer a pool gives now, computed by policy_update(). */
struct verdict {
	enum pool_state		 state;
	enum pool_state		 health;	/* up or down, marks aside */
	unsigned int		 weight;	/* percent, 1..100 while up */
	char			 reason[REASON_MAX + 1];
	int			 saturated;	/* timed out, but making progress */
	char			 reply[AGENT_REPLY_MAX];
	size_t			 replylen;
	uint64_t		 fresh_until_us;
};

struct pool {
	TAILQ_ENTRY(pool)	 entry;
	char			*name;
	int			 line;
	int			 col;
	struct address		 fastcgi;
	int			 have_fastcgi;
	char			*status_path;
	struct address		 status_listen;
	int			 have_status_listen;
	unsigned int		 stuck_after_ms;
	unsigned int		 max_children;	/* 0: from the sample */
	unsigned int		 timeout_server_ms;	/* HAProxy's, 0: not told */
	struct address_list	 agent_listen;
	struct timing		 timing;
	struct check_list	 checks;
	struct check		*sampler;	/* status_path set: fpm-status */
	enum admin_state	 admin_state;	/* the config's, for answers */
	int			 once;		/* --once: one probe of each check */

	/* runtime */
	struct fpm_facts	 fpm;		/* learned by the sampler */
	struct audit_list	 audit;		/* php-fpm's and php.ini's */
	struct pool_workers	 workers;
	struct verdict		 verdict;
	enum pool_mark		 mark;
	char			*mark_reason;
};
TAILQ_HEAD(pool_list, pool);


struct config {
	char			*path;
	struct address_list	 agent_listen;
	struct cidr		*allow;
	size_t			 nallow;
	enum admin_state	 admin_state;
	char			*control_socket;
	char			*state_dir;
	char			*user;
	char			*group;
	struct address_list	 http_listen;
	struct timing		 timing;	/* defaults: */
	struct pool_list	 pools;
	size_t			 npools;
	int			 audit_warning;	/* --once --audit */
};

/* FastCGI name-value pair for encoding. */
struct fcgi_param {
	const char	*name;
	const char	*value;
};

/* Streaming FastCGI record decoder: feed it bytes in any split. */
struct fcgi_decoder {
	uint8_t		 hdr[8];
	size_t		 hdr_have;
	int		 type;
	uint16_t	 expect_id;	/* the one request sent */
	uint16_t	 request_id;	/* of the current record */
	size_t		 content_left;
	size_t		 padding_left;
	uint8_t		 end[8];		/* END_REQUEST body */
	size_t		 end_have;
	int		 ended;
	uint32_t	 app_status;
	int		 protocol_status;
};

/* Where the decoder delivers STDOUT and STDERR bytes. */
struct fcgi_sink {
	/* Return -1 to stop decoding (a cap was reached). */
	int	(*out)(void *arg, const uint8_t *data, size_t len);
	int	(*err)(void *arg, const uint8_t *data, size_t len);
	void	*arg;
};

enum fcgi_decode_status {
	FCGI_DEC_MORE = 0,	/* consumed everything, need more */
	FCGI_DEC_END,		/* END_REQUEST seen */
	FCGI_DEC_ERROR,		/* malformed; see errbuf */
	FCGI_DEC_STOP		/* a sink returned -1 */
};

/* A CGI response split into its status and body. */
struct cgi_response {
	int		 status;
	const char	*body;
	size_t		 bodylen;
};

/* host.c: what the host does to fpmprobe (PSI, CPU steal). */
#define HOST_READ_US		1000000	/* at most once a second */
#define HOST_NOTE_MAX		160

enum host_resource {
	HR_CPU = 0,
	HR_IO,
	HR_MEMORY,
	HR_MAX
};

/* One line of /proc/pressure/RESOURCE: "some" or "full". */
struct psi_avg {
	int		 have;
	double		 avg10;		/* percent of the last 10 s */
	uint64_t	 total_us;	/* stalled, since boot */
};

struct host_psi {
	int		 have;
	struct psi_avg	 some;
	struct psi_avg	 full;		/* cpu: kernels before 5.13 lack it */
	char		 note[HOST_NOTE_MAX];	/* why not, when not */
};

/* The "cpu" line of /proc/stat, in clock ticks. */
struct cpu_ticks {
	int		 have;
	int		 have_steal;
	uint64_t	 total;
	uint64_t	 steal;
};

struct host_facts {
	uint64_t	 read_us;	/* 0: never read */
	struct host_psi	 psi[HR_MAX];
	struct cpu_ticks ticks;		/* the last reading */
	uint64_t	 ticks_us;
	int		 have_steal;
	double		 steal_ratio;	/* between the last two readings */
	uint64_t	 steal_window_us;
	char		 steal_note[HOST_NOTE_MAX];
};

int	 psi_parse(const char *, struct host_psi *);
int	 cpu_ticks_parse(const char *, struct cpu_ticks *);
void	 host_read(struct host_facts *, const char *, uint64_t);
void	 host_sample(uint64_t, int);
const struct host_facts *host_facts(void);
const char *host_resource_str(enum host_resource);
int	 host_cpu_pressure_pct(void);
uint64_t check_delay_max(const struct check_status *);
void	 host_metrics(struct buf *, struct config *);

/* log.c */
void	log_init(int foreground, int verbose);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((format(printf, 2, 0)));
void	fatal(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* util.c */
uint64_t now_us(void);
uint64_t event_again(struct event **, struct event_base *, int, short,
	    event_callback_fn, void *, uint64_t);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_addstr(struct buf *, const char *);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
int	 duration_parse(const char *, unsigned int *, const char **);
int	 address_parse(const char *, struct address *, const char **);
void	 address_numeric_only(int);
void	 address_free(struct address *);
void	 address_list_free(struct address_list *);
int	 cidr_parse(const char *, struct cidr *);
int	 cidr_match(const struct cidr *, size_t, const struct sockaddr *);
void	 errlist_add(struct errlist *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 errlist_free(struct errlist *);
size_t	 strlcpy_safe(char *, const char *, size_t);
size_t	 utf8_len(const unsigned char *, size_t);
void	 sanitize_utf8(char *, size_t, const char *, size_t);
void	 sanitize_text(char *, size_t, const char *, size_t);
void	 quote_value(char *, size_t, const char *, size_t);
void	 scrub_secret(char *, const char *);
int	 str_same(const char *, const char *);
int	 password_read(const char *, char **, char *, size_t);
void	 listeners_begin(struct listener_set *, struct event_base *);
int	 listeners_want(struct listener_set *, const struct address *,
	    struct listener **);
int	 listeners_fail(struct listener_set *, const struct address *,
	    const char *, struct listener **);
void	 listeners_end(struct listener_set *);
void	 listeners_close(struct listener_set *);
struct listener *listener_find(struct listener_set *,
	    struct evconnlistener *);
void	 listener_pause(struct listener *);
const struct listen_error *listen_errors(size_t *);

/* config.c */
struct config	*config_load(const char *, struct errlist *);
struct config	*config_load_buf(const char *, const char *, size_t,
		    struct errlist *);
void		 config_free(struct config *);
struct pool	*config_find_pool(struct config *, const char *);
void		 config_warnings(const struct config *, struct errlist *);
extern const struct cfg_key timing_keys[];
int		 cfg_seen(const struct cfg_check *, const char *);
void		 cfg_check_error(struct cfg_check *, const char *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

/* ynode.c */
void	 cfg_error(struct cfgctx *, const struct ynode *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	 cfg_errorat(struct cfgctx *, int, int, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
void	 cfg_flush(struct cfgctx *);
struct ynode *ynode_read(struct cfgctx *, int *);
void	 ynode_free(struct ynode *);
const char *ynode_quote(const struct ynode *, char *, size_t);
int	 ynode_null(const struct ynode *);
int	 ynode_is(const struct ynode *, const char *);
unsigned char *ynode_keys(struct cfgctx *, const struct ynode *,
	    const char *);
void	 ynode_dups(const struct ynode *const *, size_t, unsigned char *);
int	 ynode_mapping(struct cfgctx *, const char *, const struct ynode *);
int	 ynode_scalar(struct cfgctx *, const char *, const struct ynode *,
	    const char *);
void	 ynode_value(struct cfgctx *, const struct cfg_key *,
	    const struct ynode *, void *);
void	 cfg_defaults(const struct cfg_key *, void *);
int	 cfg_same(const struct cfg_key *, const void *, const void *);
void	 cfg_free(const struct cfg_key *, void *);

/* check.c */
extern const struct check_ops *const check_types[];
extern const struct cfg_key check_keys[];
const struct check_ops *check_ops_lookup(const char *);
struct check	*check_new(struct pool *, const struct check_ops *);
void		*check_conf_new(const struct check_ops *);
void		 check_conf_free(const struct check_ops *, void *);
void		 check_free(struct check *);
int		 check_same(const struct check *, const struct check *);

/* fcgi.c */
void	fcgi_encode_begin(struct buf *, uint16_t, uint16_t, uint8_t);
void	fcgi_encode_params(struct buf *, uint16_t, const struct fcgi_param *,
	    size_t);
void	fcgi_encode_stream(struct buf *, int, uint16_t, const void *, size_t);
size_t	fcgi_nv_encode(uint8_t *, size_t, const char *, size_t, const char *,
	    size_t);
void	fcgi_decoder_init(struct fcgi_decoder *, uint16_t);
enum fcgi_decode_status
	fcgi_decode(struct fcgi_decoder *, const uint8_t *, size_t, size_t *,
	    const struct fcgi_sink *, char *, size_t);
const char *fcgi_protocol_status_str(int);
int	cgi_parse_response(const char *, size_t, struct cgi_response *, char *,
	    size_t);

/* fpm_status.c */
int	 fpm_status_parse(const char *, size_t, struct fpm_status *, char *,
	    size_t);
void	 fpm_status_free(struct fpm_status *);
const char *fpm_wstate_str(enum fpm_wstate);
enum fpm_wstate fpm_wstate_parse(const char *);

/* fpm_conf.c */
int	 fpm_conf_load(const char *, struct fpm_conf *, char *, size_t);
int	 fpm_conf_parse(struct fpm_conf *, const char *, const char *, size_t,
	    char *, size_t);
void	 fpm_conf_free(struct fpm_conf *);
const struct fpm_conf_section *fpm_conf_pool(const struct fpm_conf *,
	    const char *);
const struct fpm_conf_entry *fpm_conf_get(const struct fpm_conf_section *,
	    const char *);
int	 fpm_conf_seconds(const char *, unsigned int *);
int	 fpm_master_conf_path(pid_t, char *, size_t);
int	 fpm_master_title_path(const char *, size_t, char *, size_t);

/* sampler.c */
void	 sampler_take(struct probe *, struct fpm_status *);
size_t	 sampler_response_max(const struct pool *);
int	 pool_is_local(const struct pool *);

/* proc_wait.c */
int	 proc_read_small(const char *, char *, size_t);
int	 proc_wait_inspect(pid_t, struct wait_info *);
void	 proc_wait_batch(int);
void	 wait_info_format(const struct wait_info *, char *, size_t);

/* hce.c */
void	 hce_start(struct event_base *, struct config *);
void	 hce_stop(struct config *);
size_t	 hce_carry(struct config *, struct config *);
void	 hce_run_once(struct event_base *, struct config *, struct pool **,
	    size_t, unsigned int);
void	 probe_done(struct probe *, enum probe_result);
void	 probe_fail(struct probe *, enum probe_result, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 probe_again(struct probe *, short, event_callback_fn);
void	 probe_close(struct probe *);
int	 probe_expired(struct probe *);
const char *probe_result_str(enum probe_result);
const char *probe_phase_str(enum probe_phase);
void	 probe_reason(const struct check *, enum probe_result,
	    enum probe_phase, const char *, char *, size_t);

/* check_fcgi.c */
extern const struct check_ops check_fcgi_ops;
extern const struct check_ops check_fpm_status_ops;
struct check *check_fpm_status_new(struct pool *);
int	 sock_connect(struct probe *, const struct address *);

/* db.c */
extern const struct cfg_key db_keys[];
void	*db_keep(struct check *, size_t);
int	 db_reuse(const struct db_conf *, int);
int	 db_audit_due(struct db_keep *, uint64_t);
void	 db_audit_done(struct db_keep *, int64_t, int64_t);
int	 db_report(struct buf *, struct config *, const struct check *, int);

const struct audit_list *db_audit_list(const struct check *);
int	 db_culprit_due(const struct check *);

/* culprit.c */
struct db_culprit *culprit_begin(struct check *, const char *, const char *,
	    uint64_t, uint64_t);
void	 culprit_end(struct check *, struct db_culprit *, const char *,
	    uint64_t);
int	 culprit_wanted(const struct check *, const char *);
void	 culprit_sql_list(struct buf *, const struct db_culprit *, int);
struct db_worker_session *culprit_worker(struct db_culprit *, const char *,
	    long long);
void	 culprit_peer_text(int, char *, size_t);
size_t	 culprit_ids_parse(const char *, int64_t *, size_t);
void	 culprit_text(char *, size_t, const char *, size_t);
int	 culprit_reason_format(char *, size_t, const char *, const char *,
	    const char *, const char *, const char *, long long, const char *,
	    long long);
int	 culprit_reason(const struct pool *, int (*)(const struct pool *,
	    const struct fpm_worker *), const char *, char *, size_t);
const struct db_worker_session *culprit_find(const struct pool *,
	    const struct fpm_worker *, const struct check **);
void	 culprit_worker_report(struct buf *, const struct pool *,
	    const struct fpm_worker *, int);
void	 culprit_check_text(struct buf *, const struct db_culprit *);
void	 culprit_check_json(struct buf *, const struct db_culprit *);

/* audit.c */
void	 audit_add(struct audit_list *, int, const char *, const char *,
	    const char *, const char *, const char *, const char *);
void	 audit_clear(struct audit_list *);
void	 audit_replace(struct audit_list *, struct audit_list *,
	    const struct pool *);
void	 audit_line(char *, size_t, const struct audit_finding *);
void	 audit_fpm(struct audit_list *, const struct fpm_conf_section *, int,
	    unsigned int, const struct fpm_conf *, const char *,
	    const char *);
void	 audit_fpm_learn(struct pool *, const char *,
	    const struct fpm_conf_section *);
int	 audit_php_ini_load(const char *, struct fpm_conf *, char *, size_t,
	    char *, size_t);
void	 audit_pg_setting(struct audit_list *, const char *, const char *,
	    const char *, const char *, const char *, int);
void	 audit_pg_slots(struct audit_list *, const char *, long long,
	    long long);
void	 audit_my_setting(struct audit_list *, const char *, const char *,
	    const char *, const char *, int);
size_t	 audit_collect(const struct pool *, const struct audit_finding **,
	    size_t);
size_t	 audit_warnings(const struct pool *);
void	 audit_text(struct buf *, struct pool **, size_t);
void	 audit_json(struct buf *, struct pool **, size_t);

/* check_pgsql.c */
extern const struct check_ops check_pgsql_ops;

/* check_mysql.c */
extern const struct check_ops check_mysql_ops;

/* check_http.c */
extern const struct check_ops check_http_ops;

/* policy.c */
void	 policy_record(struct check *, struct outcome *, uint64_t);
void	 policy_update(struct pool *, uint64_t);
int	 worker_busy(const struct pool *, const struct fpm_worker *);
int	 worker_overdue(const struct pool *, const struct fpm_worker *);
int	 real_path_timed_out(const struct pool *);
const char *capacity_source_str(enum capacity_source);
const char *pool_state_str(enum pool_state);
const struct verdict *pool_verdict(struct pool *, uint64_t);

/* agent.c */
int	 agent_start(struct event_base *, struct config *);
size_t	 agent_reply_format(char *, size_t, enum pool_state, unsigned int,
	    const char *, enum admin_state);
size_t	 agent_reply_unknown(char *, size_t, const char *);
size_t	 agent_line_name(const char *, size_t, char *, size_t);
void	 agent_stop(void);
extern uint64_t agent_answers[];	/* by pool_state, then unknown pool */

/* control.c */
int	 control_start(struct event_base *, struct config *);
void	 control_stop(void);
int	 ctl_main(const char *, int, char **);
void	 state_load(struct config *);
int	 state_save(struct config *);
void	 marks_carry(struct config *, struct config *);
int	 state_line_parse(char *, enum pool_mark *, char **, char **);
void	 control_line_split(char *, char **, char **, char **);

/* httpd.c */
int	 httpd_start(struct event_base *, struct config *);
void	 httpd_stop(void);

/* metrics.c */
void	 latency_observe(struct check_status *, uint64_t);
void	 metrics_format(struct buf *, struct config *, uint64_t);
void	 metrics_write(struct buf *, struct config *, uint64_t,
	    enum exposition);
int	 metrics_negotiate(const char *, enum exposition *);
int	 metrics_sample_current(const struct pool *, uint64_t);
void	 metrics_partition(const struct pool_workers *,
	    struct worker_partition *);

/* report.c */
int	 report_exit_code(struct config *, struct pool **, size_t);
void	 report_text(struct buf *, struct config *, struct pool **, size_t);
void	 report_json(struct buf *, struct config *, struct pool **, size_t);

/* json.c */
void	 json_str(struct buf *, const char *);
void	 json_strn(struct buf *, const char *, size_t);

/* notify.c */
void	 notify_send(const char *);
int	 notify_watchdog_usec(uint64_t *);

/*
 * threshold.c: the Monitoring Plugins range, [@]start:end, and the
 * thresholds of --once (--warning, --critical) on the metrics below;
 * report.c compares them and writes them into the performance data.
 */
#define RANGE_TEXT_MAX		32

/* Alert when a value is outside start..end, or inside it with "@". */
struct range {
	int			 set;
	int			 inside;	/* "@" */
	double			 start;		/* -HUGE_VAL: "~" */
	double			 end;		/* HUGE_VAL: "start:" */
	char			 text[RANGE_TEXT_MAX];	/* as written */
};

enum metric {
	METRIC_WEIGHT,		/* a pool's weight, percent */
	METRIC_STUCK,		/* a pool's stuck workers */
	METRIC_LATENCY,		/* a check's latency, seconds */
	METRIC_COUNT
};

/* A warning and a critical range per metric, each optional. */
struct thresholds {
	struct range		 warn[METRIC_COUNT];
	struct range		 crit[METRIC_COUNT];
};

int	 range_parse(const char *, struct range *, char *, size_t);
int	 range_alert(const struct range *, double);
int	 thresholds_parse(struct thresholds *, int, const char *, char *,
	    size_t);
int	 thresholds_code(const struct thresholds *, enum metric, double,
	    const struct range **);
int	 thresholds_on(const struct thresholds *, enum metric);
const char *metric_str(enum metric);
void	 report_thresholds(const struct thresholds *);

#endif /* FPMPROBE_H */
