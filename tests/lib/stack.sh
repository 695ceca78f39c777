# shellcheck shell=bash
# Private php-fpm pools, PostgreSQL and MariaDB on 127.0.0.1, inside one
# temporary directory, for the process tests, the demo and benchmarks.
# Everything started here is stopped, and the directory removed, when the
# calling shell exits, fails midway or is interrupted.  Needs root
# (php-fpm -R, runuser to the postgres user) and bash 4.3 or later.
# Diagnostics go to stderr only: stdout is the tests' TAP stream.
# Call the start functions from the main shell, not from a subshell or
# $(...): they set variables and record what they started.
#
# Set-up
#   stack_init              create $STACK_DIR (mode 755) and $STACK_WWW with
#                           the PHP scripts; install the EXIT/INT/TERM/HUP
#                           cleanup.  KEEP_STACK=1 keeps the directory (logs,
#                           configurations) after the processes are stopped.
#   stack_cleanup           stop everything now (the exit trap does it too)
#   stack_track_pid PID...  also stop these processes at cleanup.  Every
#                           descendant of the shell is stopped anyway; track
#                           what leaves the tree (a daemon that detaches).
#   stack_at_exit CMD       run the shell command CMD first at cleanup (use
#                           it rather than a trap of your own, which would
#                           replace the cleanup)
#
# Waiting: never sleep to synchronise, poll with a deadline
#   poll_until SECS CMD...  run CMD every 50 ms until it succeeds (0) or SECS
#                           (decimals allowed) pass (1)
#   wait_port HOST PORT [SECS=10]  until a TCP connect succeeds
#   wait_file PATH [SECS=10]       until PATH exists
#   free_port               print a free TCP port of 127.0.0.1, below the
#                           ephemeral range, reserved against other tests
#                           running at the same time
#
# PHP scripts in $STACK_WWW (readable by www-data)
#   status.php  200 "OK"            sleep.php?s=SECS  sleeps (default 60, max
#   fail.php    500 "db down"                         600), then "slept"
#   fatal.php   PHP fatal error (500, the message on FastCGI stderr)
#   pg.php      "OK <rows>" from SELECT count(*) FROM app_table on the private
#               PostgreSQL over TCP, no statement or lock timeout (hangs while
#               the table is locked); 500 "pg ... failed: ..." on an error.
#               Query parameters host, port, dbname, user, password,
#               connect_timeout override $STACK_DIR/pg.ini (from pg_start).
#   my.php      the same for MariaDB through mysqli ($STACK_DIR/my.ini,
#               parameters host, port, dbname, user, password, socket,
#               connect_timeout).
#   stack_fcgi ADDR SCRIPT [QUERY]  one GET through cgi-fcgi: prints the
#               response (headers, blank line, body); ADDR is HOST:PORT or
#               unix:/path; STACK_FCGI_TIMEOUT=SECS bounds it (exit 124)
#   stack_fcgi_status ADDR [QUERY]  the pool's /fpm-status page
#
# php-fpm
#   fpm_start NAME [key=value...]   one master per pool, as root with
#       `php-fpm8.2 -R -F -y CONF`, workers as www-data; waits until
#       status.php answers through the pool (15 s).  Keys:
#         listen=tcp|unix|HOST:PORT|PORT|/path   default tcp (a free port);
#                                   unix is $STACK_DIR/NAME.sock, mode 0666
#         pm=static|dynamic|ondemand             default static
#         max_children=N            pm.max_children, default 4
#         start_servers=N min_spare_servers=N max_spare_servers=N  (dynamic;
#                                   defaults 1, 1, max_children)
#         status_listen=1|unix|HOST:PORT|PORT    pm.status_listen on its own
#                                   free port (default: none)
#         request_terminate_timeout=T            default 0 (never)
#         user=U group=G            default www-data
#         any other key=value       written as-is into the pool section,
#                                   e.g. php_admin_value[memory_limit]=64M,
#                                   listen.backlog=8, pm.max_requests=100
#       pm.status_path is /fpm-status and ping.path /fpm-ping; worker output
#       and the master's log go to $STACK_DIR/fpm-NAME.log.
#       Exports (NAME upper-cased, other characters as _):
#         FPM_<NAME>_ADDR         127.0.0.1:PORT or unix:/path
#         FPM_<NAME>_STATUS_ADDR  when status_listen is set
#         FPM_<NAME>_PID          the master's pid
#         FPM_<NAME>_CONF, FPM_<NAME>_LOG
#   fpm_start_debian NAME   Debian's packaged php-fpm.conf and pool.d/www.conf
#       as they ship (the dynamic [www] pool, max_children 5, on a unix
#       socket of mode 0660), paths moved into $STACK_DIR/NAME and
#       pm.status_path (/status) uncommented.  Exports FPM_<NAME>_ADDR,
#       _PID, _CONF (php-fpm.conf), _POOLCONF (www.conf), _LOG.
#   fpm_stop NAME           SIGTERM the master, wait; SIGKILL what is left
#   fpm_pids NAME           the master and its workers, one pid a line
#
# PostgreSQL 15 (as user postgres, data in $STACK_DIR/pg)
#   pg_start                initdb, start on 127.0.0.1:free port (fsync off),
#                           role probe / probe-secret (scram-sha-256 over TCP),
#                           database app owned by probe, app_table(id int)
#                           with 3 rows.  Exports PG_HOST=127.0.0.1, PG_PORT,
#                           PG_DIR (also the unix socket directory), PG_DB=app,
#                           PG_USER=probe, PG_PASSWORD=probe-secret,
#                           PG_PASSWORD_FILE (mode 0600),
#                           PG_CONNINFO="host=127.0.0.1 port=PORT dbname=app user=probe"
#                           max_connections is $PG_MAX_CONNECTIONS, or 60
#   pg_psql SQL...          run each SQL as superuser in app (unix socket);
#                           prints rows unaligned, tuples only
#   pg_lock_table [TABLE]   a background session holds ACCESS EXCLUSIVE on
#                           TABLE (default app_table) in an open transaction;
#                           returns once the lock is granted
#   pg_unlock_table         end that session
#   pg_pids                 the postmaster and every backend, one a line
#   pg_stop                 fast shutdown (pg_ctl stop -m fast)
#
# MariaDB (as root, data in $STACK_DIR/my)
#   my_start                install a data directory and start mariadbd on
#                           127.0.0.1:free port and $STACK_DIR/my.sock; user
#                           probe@127.0.0.1 and probe@localhost identified by
#                           probe-secret with all rights on database app,
#                           table app.app_table(id int) with 3 rows.
#                           Exports MY_HOST=127.0.0.1, MY_PORT, MY_SOCK, MY_DIR,
#                           MY_DB=app, MY_USER=probe, MY_PASSWORD=probe-secret,
#                           MY_PASSWORD_FILE (mode 0600), MY_PID
#   my_sql SQL...           run the statements as root over the socket;
#                           prints rows tab-separated, no column names
#   my_lock_table [TABLE]   a background session holds LOCK TABLES ... WRITE
#                           on app.TABLE (default app_table): readers hang
#   my_unlock_table         end that session
#   my_pid                  mariadbd's pid
#   my_stop                 SIGTERM, wait for it; SIGKILL after 20 s
#
# nginx (master as root, workers as www-data)
#   nginx_start FPMADDR     start nginx on 127.0.0.1:free port and on
#                           $STACK_DIR/nginx.sock; PHP scripts of $STACK_WWW
#                           go to the php-fpm pool at FPMADDR.  Locations:
#                           /health 200 "OK"; /host 200 with the Host header;
#                           /redirect 302 to /health; *.php through FastCGI;
#                           anything else 404.  Exports NGINX_PORT,
#                           NGINX_SOCK, NGINX_PID.  Waits until it answers.

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PHP_FPM=${PHP_FPM:-php-fpm8.2}
STACK_PORTS_DIR=${STACK_PORTS_DIR:-/tmp/fpmprobe-stack-ports}

declare -gA _STACK_FPM=()
_STACK_INIT=
_STACK_CLEANED=
_STACK_PIDS=()
_STACK_HOOKS=()
_STACK_PG=
_STACK_MY_PID=
_STACK_PGLOCK_PID=
_STACK_PGLOCK_FD=
_STACK_MYLOCK_PID=
_STACK_MYLOCK_FD=
_STACK_NOW=0

# Diagnostics, on stderr.
_stack_say() {
	printf 'stack: %s\n' "$*" >&2
}

# Report a failed start with the tail of its logs; returns 1.
_stack_fail() {
	local what=$1 f
	shift
	_stack_say "$what"
	for f; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 30 lines)\n' "$f" >&2
		tail -n 30 "$f" >&2
	done
	return 1
}

# Set _STACK_NOW to the current time in milliseconds.
_stack_now() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		_STACK_NOW=$((10#$t / 1000))
	else
		_STACK_NOW=$(date +%s%3N)
	fi
}

# Print a duration in seconds ("10", "1.5") as milliseconds.
_stack_secs_ms() {
	local s=$1 int frac=
	int=${s%%.*}
	[[ $s == *.* ]] && frac=${s#*.}
	frac=${frac}000
	echo $((10#${int:-0} * 1000 + 10#${frac:0:3}))
}

# Run CMD every 50 ms until it succeeds or the deadline passes.
poll_until() {
	local ms deadline
	ms=$(_stack_secs_ms "$1")
	shift
	_stack_now
	deadline=$((_STACK_NOW + ms))
	while :; do
		"$@" && return 0
		_stack_now
		[ "$_STACK_NOW" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# Succeed if a TCP connection to HOST PORT is accepted.
_stack_port_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# Wait until HOST PORT accepts connections.
wait_port() {
	poll_until "${3:-10}" _stack_port_open "$1" "$2"
}

# Wait until PATH exists.
wait_file() {
	poll_until "${2:-10}" test -e "$1"
}

# Succeed if any socket of this host uses local TCP port $1.
_stack_port_used() {
	local out
	if out=$(ss -Htan "( sport = :$1 )" 2>/dev/null); then
		[ -n "$out" ]
	else
		_stack_port_open 127.0.0.1 "$1"
	fi
}

# Print a free TCP port, reserved (a directory in $STACK_PORTS_DIR owned by
# this shell's pid) so that tests running in parallel never share one.
free_port() {
	local lo hi min max p i owner
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range || { lo=32768 hi=60999; }
	if [ "$lo" -gt 12000 ]; then
		min=10000 max=$((lo - 1))
	else
		min=$((hi + 1)) max=65535
	fi
	mkdir -p "$STACK_PORTS_DIR" || return 1
	for ((i = 0; i < 500; i++)); do
		p=$((min + (RANDOM * 32768 + RANDOM) % (max - min + 1)))
		_stack_port_used "$p" && continue
		if ! mkdir "$STACK_PORTS_DIR/$p" 2>/dev/null; then
			# Reclaim a reservation whose owner is gone.
			owner=$(cat "$STACK_PORTS_DIR/$p/owner" 2>/dev/null)
			if [ -z "$owner" ] || kill -0 "$owner" 2>/dev/null; then
				continue
			fi
			rm -rf "${STACK_PORTS_DIR:?}/$p"
			mkdir "$STACK_PORTS_DIR/$p" 2>/dev/null || continue
		fi
		echo "$$" >"$STACK_PORTS_DIR/$p/owner"
		echo "$p"
		return 0
	done
	_stack_say "free_port: no free port found"
	return 1
}

# Release the ports this shell reserved.
_stack_release_ports() {
	local f
	for f in "$STACK_PORTS_DIR"/*/owner; do
		[ -f "$f" ] || continue
		[ "$(cat "$f" 2>/dev/null)" = "$$" ] && rm -rf "${f%/owner}"
	done
	return 0
}

# Succeed if PID exists and is not a zombie.
_stack_alive() {
	local stat
	[ -n "$1" ] || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Print each PID given and all of its descendants, one a line.
_stack_tree() {
	[ $# -gt 0 ] || return 0
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		{ kids[$2] = kids[$2] " " $1 }
		END {
			n = split(roots, q, " ")
			for (i = 1; i <= n; i++) {
				print q[i]
				m = split(kids[q[i]], k, " ")
				for (j = 1; j <= m; j++)
					q[++n] = k[j]
			}
		}'
}

# Succeed if none of the PIDs is alive.
_stack_all_dead() {
	local p
	for p; do
		_stack_alive "$p" && return 1
	done
	return 0
}

# Send SIG to every PID (and SIGCONT, so that stopped ones act on it), wait
# up to SECS for them to go, SIGKILL the rest, reap our children.
_stack_stop_pids() {
	local secs=$1 sig=$2 p
	shift 2
	[ $# -gt 0 ] || return 0
	kill "-$sig" "$@" 2>/dev/null
	kill -CONT "$@" 2>/dev/null
	if ! poll_until "$secs" _stack_all_dead "$@"; then
		_stack_say "still running after SIG$sig, killing: $*"
		kill -KILL "$@" 2>/dev/null
		poll_until 5 _stack_all_dead "$@"
	fi
	for p; do
		_stack_alive "$p" || wait "$p" 2>/dev/null
	done
	return 0
}

# Stop ROOT and its descendants: SIG to ROOT only (a master stops its own
# children), wait up to SECS for the whole tree, then SIGKILL what is left.
_stack_stop_tree() {
	local secs=$1 sig=$2 root=$3 pids=()
	mapfile -t pids < <(_stack_tree "$root")
	kill "-$sig" "$root" 2>/dev/null
	kill -CONT "${pids[@]}" 2>/dev/null
	poll_until "$secs" _stack_all_dead "${pids[@]}" && { wait "$root" 2>/dev/null; return 0; }
	mapfile -t pids < <(_stack_tree "$root" "${pids[@]}")
	_stack_say "still running after SIG$sig, killing: ${pids[*]}"
	_stack_stop_pids 5 KILL "${pids[@]}"
}

# Create the directory and the scripts, install the cleanup trap.
stack_init() {
	if [ -n "$_STACK_INIT" ]; then
		_stack_say "stack_init: already initialised ($STACK_DIR)"
		return 1
	fi
	STACK_DIR=$(mktemp -d /tmp/fpmprobe-stack.XXXXXX) || return 1
	chmod 755 "$STACK_DIR"
	STACK_WWW=$STACK_DIR/www
	export STACK_DIR STACK_WWW
	_STACK_INIT=1
	trap '_stack_cleanup' EXIT
	trap '_stack_on_signal 129' HUP
	trap '_stack_on_signal 130' INT
	trap '_stack_on_signal 143' TERM
	_stack_write_www
}

# A signal: clean up and exit with 128 + its number.
_stack_on_signal() {
	_stack_cleanup
	trap - EXIT
	exit "$1"
}

# Stop these processes too at cleanup.
stack_track_pid() {
	_STACK_PIDS+=("$@")
}

# Run a shell command first at cleanup.
stack_at_exit() {
	_STACK_HOOKS+=("$1")
}

# Public name of the cleanup, for tests that want it before they exit.
stack_cleanup() {
	_stack_cleanup
}

# Stop everything this shell started, remove the directory.  Idempotent.
_stack_cleanup() {
	local rc=$? h pids=() pgpids=() p round
	[ -n "$_STACK_INIT" ] && [ -z "$_STACK_CLEANED" ] || return "$rc"
	_STACK_CLEANED=1
	set +e
	for h in "${_STACK_HOOKS[@]}"; do
		eval "$h" || _stack_say "at-exit hook failed: $h"
	done
	[ -n "$_STACK_PGLOCK_FD" ] && exec {_STACK_PGLOCK_FD}>&-
	[ -n "$_STACK_MYLOCK_FD" ] && exec {_STACK_MYLOCK_FD}>&-
	_STACK_PGLOCK_FD='' _STACK_MYLOCK_FD=''
	# The data of both databases is thrown away: no clean shutdown.
	[ -n "$_STACK_MY_PID" ] && kill -KILL "$_STACK_MY_PID" 2>/dev/null
	if [ -n "$_STACK_PG" ]; then
		mapfile -t pgpids < <(pg_pids)
		[ ${#pgpids[@]} -gt 0 ] && kill -CONT "${pgpids[@]}" 2>/dev/null
		_stack_as_postgres "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop \
			>>"$PG_DIR/pg_ctl.log" 2>&1
	fi
	# Then every descendant of this shell (pools, PostgreSQL, clients, the
	# daemon under test) and the tracked pids: SIGTERM first, SIGKILL for
	# what survives it.
	for round in TERM KILL; do
		mapfile -t pids < <(_stack_tree $$ "${_STACK_PIDS[@]}" "${pgpids[@]}" | grep -vx "$$")
		for p in "${!pids[@]}"; do
			_stack_alive "${pids[p]}" || unset "pids[p]"
		done
		[ ${#pids[@]} -gt 0 ] || break
		_stack_stop_pids 10 "$round" "${pids[@]}"
	done
	_STACK_FPM=() _STACK_PG='' _STACK_MY_PID='' _STACK_PIDS=()
	_STACK_PGLOCK_PID='' _STACK_MYLOCK_PID=''
	_stack_release_ports
	if [ "${KEEP_STACK:-0}" = 1 ]; then
		_stack_say "kept $STACK_DIR"
	elif [[ $STACK_DIR == /tmp/fpmprobe-stack.* ]]; then
		rm -rf "$STACK_DIR"
	fi
	return "$rc"
}

# Write the PHP scripts the pools run.
_stack_write_www() {
	mkdir -p "$STACK_WWW"
	cat >"$STACK_WWW/status.php" <<'PHP'
<?php
header('Content-Type: text/plain');
echo "OK\n";
PHP
	cat >"$STACK_WWW/sleep.php" <<'PHP'
<?php
header('Content-Type: text/plain');
$s = isset($_GET['s']) ? (float)$_GET['s'] : 60.0;
$s = max(0.0, min($s, 600.0));
usleep((int)round($s * 1000000));
echo "slept\n";
PHP
	cat >"$STACK_WWW/fail.php" <<'PHP'
<?php
header('Content-Type: text/plain');
http_response_code(500);
echo "db down\n";
PHP
	cat >"$STACK_WWW/fatal.php" <<'PHP'
<?php
header('Content-Type: text/plain');
fpmprobe_this_function_does_not_exist();
PHP
	cat >"$STACK_WWW/pg.php" <<'PHP'
<?php
/* SELECT count(*) FROM app_table on the private PostgreSQL, with no
 * statement or lock timeout, as an application's status script would. */
header('Content-Type: text/plain');
$cfg = @parse_ini_file(__DIR__ . '/../pg.ini') ?: [];
foreach (['host', 'port', 'dbname', 'user', 'password', 'connect_timeout'] as $k)
	if (isset($_GET[$k]))
		$cfg[$k] = $_GET[$k];
$conninfo = '';
foreach ($cfg as $k => $v)
	$conninfo .= $k . "='" . addcslashes((string)$v, "'\\") . "' ";
$c = @pg_connect($conninfo, PGSQL_CONNECT_FORCE_NEW);
if ($c === false) {
	http_response_code(500);
	echo "pg connect failed: ", error_get_last()['message'] ?? 'unknown', "\n";
	exit;
}
$r = @pg_query($c, 'SELECT count(*) FROM app_table');
if ($r === false) {
	http_response_code(500);
	echo "pg query failed: ", pg_last_error($c), "\n";
	exit;
}
echo "OK ", pg_fetch_result($r, 0, 0), "\n";
PHP
	cat >"$STACK_WWW/my.php" <<'PHP'
<?php
/* SELECT count(*) FROM app_table on the private MariaDB through mysqli. */
header('Content-Type: text/plain');
mysqli_report(MYSQLI_REPORT_OFF);
$cfg = @parse_ini_file(__DIR__ . '/../my.ini') ?: [];
foreach (['host', 'port', 'dbname', 'user', 'password', 'socket', 'connect_timeout'] as $k)
	if (isset($_GET[$k]))
		$cfg[$k] = $_GET[$k];
$m = mysqli_init();
if (isset($cfg['connect_timeout']))
	mysqli_options($m, MYSQLI_OPT_CONNECT_TIMEOUT, (int)$cfg['connect_timeout']);
if (!@mysqli_real_connect($m, $cfg['host'] ?? '127.0.0.1', $cfg['user'] ?? 'probe',
    $cfg['password'] ?? '', $cfg['dbname'] ?? 'app', (int)($cfg['port'] ?? 3306),
    $cfg['socket'] ?? null)) {
	http_response_code(500);
	echo "mysql connect failed: ", mysqli_connect_error(), "\n";
	exit;
}
$r = mysqli_query($m, 'SELECT count(*) FROM app_table');
if ($r === false) {
	http_response_code(500);
	echo "mysql query failed: ", mysqli_error($m), "\n";
	exit;
}
echo "OK ", mysqli_fetch_row($r)[0], "\n";
PHP
	chmod 755 "$STACK_WWW"
	chmod 644 "$STACK_WWW"/*.php
}

# One FastCGI GET through cgi-fcgi, printing the response.  cgi-fcgi sends
# its whole environment as parameters, hence env -i.
stack_fcgi() {
	local addr=${1#unix:} script=$2 query=${3:-} uri t=()
	uri=/${script##*/}
	[ -n "${STACK_FCGI_TIMEOUT:-}" ] && t=(timeout "$STACK_FCGI_TIMEOUT")
	env -i PATH="$PATH" SCRIPT_FILENAME="$script" SCRIPT_NAME="$uri" \
		REQUEST_URI="$uri${query:+?$query}" DOCUMENT_URI="$uri" \
		REQUEST_METHOD=GET QUERY_STRING="$query" SERVER_PROTOCOL=HTTP/1.1 \
		GATEWAY_INTERFACE=CGI/1.1 REMOTE_ADDR=127.0.0.1 SERVER_NAME=localhost \
		SERVER_ADDR=127.0.0.1 SERVER_PORT=80 \
		"${t[@]}" cgi-fcgi -bind -connect "$addr" </dev/null
}

# The pool's status page.
stack_fcgi_status() {
	stack_fcgi "$1" /fpm-status "${2:-}"
}

# Succeed once CMD succeeds, or once PID is gone (the caller tells which).
_stack_ready_or_dead() {
	local pid=$1
	shift
	_stack_alive "$pid" || return 0
	"$@" >/dev/null 2>&1
}

# Succeed if status.php answers OK through ADDR.
_stack_fpm_answers() {
	local out
	out=$(STACK_FCGI_TIMEOUT=2 stack_fcgi "$1" "$STACK_WWW/status.php" 2>/dev/null)
	[[ $out == *$'\n'OK* ]]
}

# Resolve a listen= value to "conf-value address" for fpm_start.
_stack_fpm_listen() {
	local name=$1 val=$2 port
	case $val in
	tcp | 1 | yes)
		port=$(free_port) || return 1
		echo "127.0.0.1:$port 127.0.0.1:$port" ;;
	unix)
		echo "$STACK_DIR/$name.sock unix:$STACK_DIR/$name.sock" ;;
	unix:/*)
		echo "${val#unix:} $val" ;;
	/*)
		echo "$val unix:$val" ;;
	*[!0-9]*)
		echo "$val $val" ;;
	*)
		echo "127.0.0.1:$val 127.0.0.1:$val" ;;
	esac
}

# Start a private php-fpm pool; see the top of the file.
fpm_start() {
	local name=$1 up kv key val
	local listen=tcp pm=static max=4 start=1 minspare=1 maxspare='' status_listen=''
	local rtt=0 user=www-data group=www-data extra=
	local conf log pid lconf addr sconf='' saddr='' spath='' i
	shift
	if ! [[ $name =~ ^[A-Za-z0-9_-]+$ ]]; then
		_stack_say "fpm_start: bad pool name '$name'"
		return 2
	fi
	[ -n "$_STACK_INIT" ] || { _stack_say "fpm_start: call stack_init first"; return 2; }
	if [ -n "${_STACK_FPM[$name]:-}" ]; then
		_stack_say "fpm_start: pool $name already running"
		return 2
	fi
	for kv; do
		if [[ $kv != *=* ]]; then
			_stack_say "fpm_start: expected key=value, got '$kv'"
			return 2
		fi
		key=${kv%%=*} val=${kv#*=}
		case $key in
		listen) listen=$val ;;
		pm) pm=$val ;;
		max_children | pm.max_children) max=$val ;;
		start_servers | pm.start_servers) start=$val ;;
		min_spare_servers | pm.min_spare_servers) minspare=$val ;;
		max_spare_servers | pm.max_spare_servers) maxspare=$val ;;
		status_listen | pm.status_listen) status_listen=$val ;;
		request_terminate_timeout) rtt=$val ;;
		user) user=$val ;;
		group) group=$val ;;
		*) extra+="$key = $val"$'\n' ;;
		esac
	done
	up=${name^^}
	up=${up//[^A-Z0-9_]/_}

	read -r lconf addr < <(_stack_fpm_listen "$name" "$listen") || return 1
	[ -n "$addr" ] || return 1
	case $status_listen in
	'' | 0 | no) ;;
	unix)
		spath=$STACK_DIR/$name-status.sock
		sconf=$spath saddr=unix:$spath ;;
	*)
		read -r sconf saddr < <(_stack_fpm_listen "$name-status" "$status_listen") || return 1
		case $saddr in unix:*) spath=${saddr#unix:} ;; esac ;;
	esac

	conf=$STACK_DIR/fpm-$name.conf
	log=$STACK_DIR/fpm-$name.log
	{
		cat <<EOF
[global]
pid = $STACK_DIR/fpm-$name.pid
error_log = $log
log_level = notice
daemonize = no
process_control_timeout = 2s

[$name]
user = $user
group = $group
listen = $lconf
listen.mode = 0666
pm = $pm
pm.max_children = $max
pm.status_path = /fpm-status
ping.path = /fpm-ping
request_terminate_timeout = $rtt
catch_workers_output = yes
decorate_workers_output = no
clear_env = yes
php_admin_flag[display_errors] = off
php_admin_flag[log_errors] = on
EOF
		if [ "$pm" = dynamic ]; then
			printf 'pm.start_servers = %s\npm.min_spare_servers = %s\npm.max_spare_servers = %s\n' \
				"$start" "$minspare" "${maxspare:-$max}"
		fi
		[ -n "$sconf" ] && printf 'pm.status_listen = %s\n' "$sconf"
		printf '%s' "$extra"
	} >"$conf"

	if [ -n "$saddr" ]; then
		declare -gx "FPM_${up}_STATUS_ADDR=$saddr"
	else
		unset "FPM_${up}_STATUS_ADDR"
	fi
	_stack_fpm_launch "$name" "$conf" "$addr" "$log" -R || return 1
	if [ -n "$saddr" ]; then
		if [ -n "$spath" ]; then
			wait_file "$spath" 5 && i=0 || i=1
		else
			wait_port "${saddr%:*}" "${saddr##*:}" 5 && i=0 || i=1
		fi
		if [ "$i" != 0 ]; then
			_stack_fail "php-fpm pool $name: status_listen $saddr not ready" "$log"
			fpm_stop "$name"
			return 1
		fi
	fi
	return 0
}

# Start the master of pool NAME with CONF (extra php-fpm flags after LOG),
# export FPM_<NAME>_{ADDR,PID,CONF,LOG} and wait until status.php answers
# through ADDR.
_stack_fpm_launch() {
	local name=$1 conf=$2 addr=$3 log=$4 up pid
	shift 4
	up=${name^^}
	up=${up//[^A-Z0-9_]/_}
	"$PHP_FPM" "$@" -F -y "$conf" </dev/null >>"$STACK_DIR/fpm-$name.out" 2>&1 &
	pid=$!
	_STACK_FPM[$name]=$pid
	declare -gx "FPM_${up}_ADDR=$addr" "FPM_${up}_PID=$pid" \
		"FPM_${up}_CONF=$conf" "FPM_${up}_LOG=$log"
	poll_until 15 _stack_ready_or_dead "$pid" _stack_fpm_answers "$addr"
	if ! _stack_alive "$pid" || ! _stack_fpm_answers "$addr"; then
		_stack_fail "php-fpm pool $name did not answer on $addr" \
			"$STACK_DIR/fpm-$name.out" "$log"
		fpm_stop "$name"
		return 1
	fi
}

# Start Debian's packaged php-fpm configuration as it ships (php-fpm.conf
# including pool.d/*.conf, the dynamic www pool on a unix socket, owner
# www-data, mode 0660), with only its paths moved into $STACK_DIR/NAME
# and pm.status_path uncommented, as a user enabling it would.
fpm_start_debian() {
	local name=$1 etc=${FPM_DEBIAN_ETC:-/etc/php/8.2/fpm} dir sock
	[ -n "$_STACK_INIT" ] || { _stack_say "fpm_start_debian: call stack_init first"; return 2; }
	[ -f "$etc/php-fpm.conf" ] && [ -f "$etc/pool.d/www.conf" ] ||
		{ _stack_say "fpm_start_debian: no $etc/php-fpm.conf or pool.d/www.conf"; return 1; }
	dir=$STACK_DIR/$name
	sock=$dir/php8.2-fpm.sock
	mkdir -p "$dir/pool.d" && chmod 755 "$dir" || return 1
	sed -e "s|^pid = .*|pid = $dir/php-fpm.pid|" \
		-e "s|^error_log = .*|error_log = $dir/php-fpm.log|" \
		-e "s|^include=.*|include=$dir/pool.d/*.conf|" \
		"$etc/php-fpm.conf" >"$dir/php-fpm.conf" || return 1
	sed -e "s|^listen = .*|listen = $sock|" \
		-e "s|^;pm.status_path = |pm.status_path = |" \
		"$etc/pool.d/www.conf" >"$dir/pool.d/www.conf" || return 1
	declare -gx "FPM_${name^^}_POOLCONF=$dir/pool.d/www.conf"
	_stack_fpm_launch "$name" "$dir/php-fpm.conf" "unix:$sock" "$dir/php-fpm.log"
}

# Stop one pool: SIGTERM to the master, which ends its workers.
fpm_stop() {
	local name=$1 pid
	pid=${_STACK_FPM[$name]:-}
	[ -n "$pid" ] || { _stack_say "fpm_stop: no pool $name"; return 1; }
	_stack_stop_tree 10 TERM "$pid"
	unset "_STACK_FPM[$name]"
	return 0
}

# The master and the workers of a pool.
fpm_pids() {
	local pid=${_STACK_FPM[$1]:-}
	[ -n "$pid" ] || return 1
	_stack_tree "$pid"
}

# Run a command as postgres from a directory it can read.
_stack_as_postgres() {
	(cd "${PG_DIR:-/}" && runuser -u postgres -- "$@")
}

# Run SQL statements as superuser in database DB over the unix socket.
_stack_psql_db() {
	local db=$1 s args=()
	shift
	for s; do
		args+=(-c "$s")
	done
	_stack_as_postgres "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h "$PG_DIR" -p "$PG_PORT" -U postgres -d "$db" "${args[@]}"
}

# Run SQL statements as superuser in database app.
pg_psql() {
	_stack_psql_db app "$@"
}

# Start the private PostgreSQL; see the top of the file.
pg_start() {
	[ -n "$_STACK_INIT" ] || { _stack_say "pg_start: call stack_init first"; return 2; }
	[ -z "$_STACK_PG" ] || { _stack_say "pg_start: already running"; return 2; }
	PG_DIR=$STACK_DIR/pg
	PG_HOST=127.0.0.1
	PG_PORT=$(free_port) || return 1
	mkdir -p "$PG_DIR" && chown postgres:postgres "$PG_DIR" && chmod 700 "$PG_DIR" || return 1
	if ! _stack_as_postgres "$PG_BINDIR/initdb" -D "$PG_DIR/data" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 -N -E UTF8 --locale=C \
		>"$PG_DIR/initdb.log" 2>&1; then
		_stack_fail "initdb failed" "$PG_DIR/initdb.log"
		return 1
	fi
	cat >>"$PG_DIR/data/postgresql.conf" <<EOF

# private test instance
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = ${PG_MAX_CONNECTIONS:-60}
EOF
	# The postmaster runs in the background of this shell rather than
	# detached by pg_ctl, so that it is reaped here and stopped with the
	# other descendants whatever happens.
	_stack_as_postgres "$PG_BINDIR/postgres" -D "$PG_DIR/data" \
		</dev/null >>"$PG_DIR/postgres.log" 2>&1 &
	_STACK_PG=$!
	poll_until 30 _stack_ready_or_dead "$_STACK_PG" \
		"$PG_BINDIR/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT" -d postgres
	if ! _stack_alive "$_STACK_PG" ||
		! "$PG_BINDIR/pg_isready" -q -h "$PG_DIR" -p "$PG_PORT" -d postgres; then
		_stack_fail "PostgreSQL did not start" "$PG_DIR/postgres.log"
		pg_stop
		return 1
	fi
	if ! _stack_psql_db postgres "CREATE ROLE probe LOGIN PASSWORD 'probe-secret'" \
		"CREATE DATABASE app OWNER probe" >&2 ||
		! pg_psql "SET ROLE probe" "CREATE TABLE app_table (id int)" \
			"INSERT INTO app_table SELECT generate_series(1, 3)" >&2; then
		_stack_fail "PostgreSQL: creating role probe and database app failed" \
			"$PG_DIR/postgres.log"
		return 1
	fi
	PG_DB=app PG_USER=probe PG_PASSWORD=probe-secret
	PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=app user=probe"
	PG_PASSWORD_FILE=$STACK_DIR/pg.pw
	(umask 077 && printf '%s\n' "$PG_PASSWORD" >"$PG_PASSWORD_FILE")
	cat >"$STACK_DIR/pg.ini" <<EOF
host = "127.0.0.1"
port = "$PG_PORT"
dbname = "app"
user = "probe"
password = "probe-secret"
EOF
	chmod 644 "$STACK_DIR/pg.ini"
	export PG_DIR PG_HOST PG_PORT PG_DB PG_USER PG_PASSWORD PG_CONNINFO PG_PASSWORD_FILE
}

# The postmaster and its children.
pg_pids() {
	local pm
	[ -n "$_STACK_PG" ] || return 1
	read -r pm 2>/dev/null <"$PG_DIR/data/postmaster.pid" || return 1
	_stack_alive "$pm" || return 1
	_stack_tree "$pm"
}

# Succeed once the lock session holds its lock on TABLE.
_stack_pg_locked() {
	[ "$(pg_psql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = '$1' AND l.mode = 'AccessExclusiveLock' AND l.granted
		AND l.pid <> pg_backend_pid()" 2>/dev/null)" = 1 ]
}

# Hold ACCESS EXCLUSIVE on a table from a background session.
pg_lock_table() {
	local table=${1:-app_table} fifo=$PG_DIR/lock.fifo
	[ -n "$_STACK_PG" ] || { _stack_say "pg_lock_table: PostgreSQL not started"; return 2; }
	[ -z "$_STACK_PGLOCK_PID" ] || { _stack_say "pg_lock_table: already locked"; return 2; }
	rm -f "$fifo"
	mkfifo -m 600 "$fifo" || return 1
	# Opened read-write: neither this open nor psql's blocks, and psql sees
	# no end of file until the session is told to quit.
	exec {_STACK_PGLOCK_FD}<>"$fifo"
	_stack_as_postgres "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		-h "$PG_DIR" -p "$PG_PORT" -U postgres -d app \
		<"$fifo" >"$PG_DIR/lock.log" 2>&1 &
	_STACK_PGLOCK_PID=$!
	printf 'BEGIN;\nLOCK TABLE %s IN ACCESS EXCLUSIVE MODE;\n' "$table" >&"$_STACK_PGLOCK_FD"
	if ! poll_until 10 _stack_pg_locked "$table"; then
		_stack_fail "pg_lock_table: the lock was not granted" "$PG_DIR/lock.log"
		pg_unlock_table
		return 1
	fi
}

# End the lock session (ROLLBACK, quit).
pg_unlock_table() {
	[ -n "$_STACK_PGLOCK_PID" ] || { _stack_say "pg_unlock_table: no lock held"; return 1; }
	printf 'ROLLBACK;\n\\q\n' >&"$_STACK_PGLOCK_FD"
	exec {_STACK_PGLOCK_FD}>&-
	_STACK_PGLOCK_FD=
	poll_until 10 _stack_all_dead "$_STACK_PGLOCK_PID" ||
		_stack_stop_tree 5 TERM "$_STACK_PGLOCK_PID"
	wait "$_STACK_PGLOCK_PID" 2>/dev/null
	_STACK_PGLOCK_PID=
	rm -f "$PG_DIR/lock.fifo"
	return 0
}

# Fast shutdown of the private PostgreSQL.
pg_stop() {
	local pids=()
	[ -n "$_STACK_PG" ] || { _stack_say "pg_stop: not running"; return 1; }
	[ -z "$_STACK_PGLOCK_PID" ] || pg_unlock_table
	mapfile -t pids < <(pg_pids)
	[ ${#pids[@]} -gt 0 ] && kill -CONT "${pids[@]}" 2>/dev/null
	if ! _stack_as_postgres "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop \
		>>"$PG_DIR/pg_ctl.log" 2>&1; then
		_stack_say "pg_ctl stop failed, killing"
		_stack_stop_pids 5 KILL "${pids[@]}"
	fi
	_stack_stop_tree 10 TERM "$_STACK_PG"
	_STACK_PG=''
	return 0
}

# The mariadb client as root over the private socket.
_stack_mariadb() {
	mariadb --no-defaults -uroot --socket="$MY_SOCK" "$@"
}

# Run SQL statements as root; one ';' is added to each.
my_sql() {
	local s sql=
	for s; do
		s=${s%"${s##*[![:space:]]}"}
		sql+="${s%;};"$'\n'
	done
	_stack_mariadb -N -B -e "$sql"
}

# Start the private MariaDB; see the top of the file.
my_start() {
	local mariadbd
	[ -n "$_STACK_INIT" ] || { _stack_say "my_start: call stack_init first"; return 2; }
	[ -z "$_STACK_MY_PID" ] || { _stack_say "my_start: already running"; return 2; }
	mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
	MY_DIR=$STACK_DIR/my
	MY_SOCK=$STACK_DIR/my.sock
	MY_HOST=127.0.0.1
	MY_PORT=$(free_port) || return 1
	mkdir -p "$MY_DIR" || return 1
	if ! mariadb-install-db --no-defaults --datadir="$MY_DIR/data" --user=root \
		--auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
		>"$MY_DIR/install.log" 2>&1; then
		_stack_fail "mariadb-install-db failed" "$MY_DIR/install.log"
		return 1
	fi
	"$mariadbd" --no-defaults --datadir="$MY_DIR/data" --user=root \
		--port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_SOCK" \
		--pid-file="$MY_DIR/mariadbd.pid" --log-error="$MY_DIR/error.log" \
		--skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=16M \
		--innodb-flush-log-at-trx-commit=0 --max-connections=60 \
		</dev/null >>"$MY_DIR/mariadbd.out" 2>&1 &
	_STACK_MY_PID=$!
	MY_PID=$_STACK_MY_PID
	poll_until 30 _stack_ready_or_dead "$_STACK_MY_PID" \
		mariadb-admin --no-defaults -uroot --socket="$MY_SOCK" ping
	if ! _stack_alive "$_STACK_MY_PID" ||
		! mariadb-admin --no-defaults -uroot --socket="$MY_SOCK" ping >/dev/null 2>&1; then
		_stack_fail "MariaDB did not start" "$MY_DIR/mariadbd.out" "$MY_DIR/error.log"
		my_stop
		return 1
	fi
	if ! my_sql "CREATE USER 'probe'@'127.0.0.1' IDENTIFIED BY 'probe-secret'" \
		"CREATE USER 'probe'@'localhost' IDENTIFIED BY 'probe-secret'" \
		"CREATE DATABASE app" \
		"GRANT ALL ON app.* TO 'probe'@'127.0.0.1'" \
		"GRANT ALL ON app.* TO 'probe'@'localhost'" \
		"CREATE TABLE app.app_table (id int)" \
		"INSERT INTO app.app_table VALUES (1), (2), (3)" >&2; then
		_stack_fail "MariaDB: creating user probe and database app failed" "$MY_DIR/error.log"
		return 1
	fi
	MY_DB=app MY_USER=probe MY_PASSWORD=probe-secret
	MY_PASSWORD_FILE=$STACK_DIR/my.pw
	(umask 077 && printf '%s\n' "$MY_PASSWORD" >"$MY_PASSWORD_FILE")
	cat >"$STACK_DIR/my.ini" <<EOF
host = "127.0.0.1"
port = "$MY_PORT"
dbname = "app"
user = "probe"
password = "probe-secret"
EOF
	chmod 644 "$STACK_DIR/my.ini"
	export MY_DIR MY_SOCK MY_HOST MY_PORT MY_DB MY_USER MY_PASSWORD MY_PASSWORD_FILE MY_PID
}

# mariadbd's pid.
my_pid() {
	[ -n "$_STACK_MY_PID" ] || return 1
	echo "$_STACK_MY_PID"
}

# Succeed once a session other than ours holds a table lock in app.
_stack_my_locked() {
	[ "$(my_sql "SHOW OPEN TABLES FROM app WHERE \`Table\` = '$1' AND In_use > 0" 2>/dev/null)" != "" ]
}

# Hold LOCK TABLES ... WRITE on app.TABLE from a background session.
my_lock_table() {
	local table=${1:-app_table} fifo=$MY_DIR/lock.fifo
	[ -n "$_STACK_MY_PID" ] || { _stack_say "my_lock_table: MariaDB not started"; return 2; }
	[ -z "$_STACK_MYLOCK_PID" ] || { _stack_say "my_lock_table: already locked"; return 2; }
	rm -f "$fifo"
	mkfifo -m 600 "$fifo" || return 1
	exec {_STACK_MYLOCK_FD}<>"$fifo"
	_stack_mariadb -n app <"$fifo" >"$MY_DIR/lock.log" 2>&1 &
	_STACK_MYLOCK_PID=$!
	printf 'LOCK TABLES %s WRITE;\n' "$table" >&"$_STACK_MYLOCK_FD"
	if ! poll_until 10 _stack_my_locked "$table"; then
		_stack_fail "my_lock_table: the lock was not taken" "$MY_DIR/lock.log"
		my_unlock_table
		return 1
	fi
}

# End the lock session.
my_unlock_table() {
	[ -n "$_STACK_MYLOCK_PID" ] || { _stack_say "my_unlock_table: no lock held"; return 1; }
	printf 'UNLOCK TABLES;\nquit\n' >&"$_STACK_MYLOCK_FD"
	exec {_STACK_MYLOCK_FD}>&-
	_STACK_MYLOCK_FD=
	poll_until 10 _stack_all_dead "$_STACK_MYLOCK_PID" ||
		_stack_stop_tree 5 TERM "$_STACK_MYLOCK_PID"
	wait "$_STACK_MYLOCK_PID" 2>/dev/null
	_STACK_MYLOCK_PID=
	rm -f "$MY_DIR/lock.fifo"
	return 0
}

# Stop MariaDB: SIGTERM, then SIGKILL after 20 s.
my_stop() {
	[ -n "$_STACK_MY_PID" ] || { _stack_say "my_stop: not running"; return 1; }
	[ -z "$_STACK_MYLOCK_PID" ] || my_unlock_table
	_stack_stop_tree 20 TERM "$_STACK_MY_PID"
	_STACK_MY_PID=
	return 0
}

# Start a private nginx in front of the php-fpm pool at $1.
nginx_start() {
	local fpm=$1 dir=$STACK_DIR/nginx
	[ -n "$_STACK_INIT" ] || { _stack_say "nginx_start: call stack_init first"; return 2; }
	NGINX_PORT=$(free_port) || return 1
	NGINX_SOCK=$STACK_DIR/nginx.sock
	mkdir -p "$dir/logs" "$dir/tmp"
	cat >"$dir/nginx.conf" <<CONF
user www-data;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir/tmp/body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	server {
		listen 127.0.0.1:$NGINX_PORT;
		listen unix:$NGINX_SOCK;
		root $STACK_WWW;
		location = /health { default_type text/plain; return 200 "OK\n"; }
		location = /host { default_type text/plain; return 200 "host=\$host\n"; }
		location = /redirect { return 302 /health; }
		location ~ \.php\$ {
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
			fastcgi_pass $fpm;
			fastcgi_read_timeout 600s;
		}
		location / { return 404; }
	}
}
CONF
	nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/nginx.out" 2>&1 &
	NGINX_PID=$!
	stack_track_pid "$NGINX_PID"
	export NGINX_PORT NGINX_SOCK NGINX_PID
	if ! poll_until 10 _stack_ready_or_dead "$NGINX_PID" _stack_port_open 127.0.0.1 "$NGINX_PORT" ||
		! _stack_alive "$NGINX_PID"; then
		_stack_fail "nginx did not start" "$dir/nginx.out" "$dir/logs/error.log"
		return 1
	fi
	return 0
}
