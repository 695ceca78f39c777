#!/usr/bin/env bash
# The database culprit: 4 php-fpm workers blocked behind a lock that an
# open transaction holds, on PostgreSQL (LOCK TABLE ... ACCESS
# EXCLUSIVE) and on MariaDB (a row lock of SELECT ... FOR UPDATE).  The
# pool's database check finds the workers' sessions by their sockets'
# local addresses and names the session that blocks them, in the reason,
# the text report and the JSON, long before stuck_after (10s); a check
# user without the privileges gets a report that says what is missing;
# the agent keeps answering at once while the lookups run.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
[ -x "$PG_BINDIR/postgres" ] || skip_all "no PostgreSQL in $PG_BINDIR"
command -v mariadb-install-db >/dev/null || skip_all "no MariaDB server installed"

stack_init
require_checks pgsql mysql
plan 53

# Run --once on CONF: out, rc and elapsed (ms); --json unless -t.
once() {
	local t0 json=--json
	[ "$1" = -t ] && { json=; shift; }
	t0=$(ms_now)
	out=$("$FPMPROBE" --once $json -c "$@" 2>"$STACK_DIR/once.err"); rc=$?
	elapsed=$(($(ms_now) - t0))
}

# The first line of the blocker session's output: its pid, once it holds
# the lock.
blocker_pid_of() {
	sed -n '1{/^[0-9][0-9]*$/p}' "$1" 2>/dev/null
}

# Start 4 requests of SCRIPT [QUERY] on the pool at ADDR; they hang
# behind the lock.
occupy() {
	local addr=$1 script=$2 query=${3:-} i
	for i in 1 2 3 4; do
		timeout 60 bash -c "$(declare -f fcgi_get); fcgi_get '$addr' '$script' '$query'" \
			>/dev/null 2>&1 &
		stack_track_pid $!
	done
}

# The pool configuration: one fastcgi check on the real path, one
# database check (its YAML in $2) on the server the workers use.
pool_conf() {
	local file=$1 db=$2 agent=${3:-}
	{
		[ -n "$agent" ] && printf 'agent:\n  listen: [ "127.0.0.1:%s" ]\n' "$agent"
		cat <<YAML
defaults:
  interval: 1s
  timeout: 1s
  rise: 1
  fall: 1
pools:
  app:
    fastcgi: $FPM_APP_ADDR
    status_path: /fpm-status
    status_listen: $FPM_APP_STATUS_ADDR
    stuck_after: 10s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - $db
YAML
	} >"$file"
}

# FPMPROBE_VALGRIND=1: the lookup under valgrind once, for the record.
valgrind_once() {
	[ "${FPMPROBE_VALGRIND:-0}" = 1 ] || return 0
	valgrind -q --leak-check=full --error-exitcode=1 "$FPMPROBE" --once --json -c "$1" \
		>/dev/null 2>"$STACK_DIR/valgrind.out"
	diag "valgrind --once --json -c $1: exit $? $(grep -c '==' "$STACK_DIR/valgrind.out") lines of report"
	diag "$(cat "$STACK_DIR/valgrind.out")"
}

# The pool with the database check $2 (NAME.yml), and with $3, the same
# check as a user without the privileges (NAME-np.yml).
pool_confs() {
	pool_conf "$STACK_DIR/$1.yml" "$2"
	pool_conf "$STACK_DIR/$1-np.yml" "$3"
}

# --once of CONF, whose check user lacks a privilege: the JSON and the
# text report name it (REGEX), the check passes, and the reason falls
# back to where the workers wait.
says_missing() {
	local conf=$1 want=$2
	once "$conf"
	diag "${conf##*/}: reason: $(json_get "$out" 'j["pools"][0]["reason"]')"
	like "$(json_get "$out" '[c["culprit"]["missing_privilege"] for c in j["pools"][0]["checks"] if c["name"] == "db"][0]')" \
		"^$want" "JSON: the missing privilege, and how to grant it"
	is "$(json_get "$out" '[c["ok"] for c in j["pools"][0]["checks"] if c["name"] == "db"][0]')" True \
		"the check itself still passes"
	like "$(json_get "$out" 'j["pools"][0]["reason"]')" \
		"4/4 workers (busy [0-9]+m?s in|stuck >10s, blocked in) poll\\(\\) on 127\\.0\\.0\\.1:[0-9]+ \\((PostgreSQL|MariaDB)\\)$" \
		"the reason falls back to where the workers wait"
	once -t "$conf"
	like "$out" "MISSING privilege: $want" "the text report says what is missing"
}

# The blocker NAME (its output in $STACK_DIR/NAME.out) learns its id
# and LOCKED says it holds its lock; then 4 workers run SCRIPT and
# WAITING says their sessions wait behind it.  Sets blocker_id.
blocked_workers() {
	local name=$1 script=$2 locked=$3 waiting=$4
	ok "the blocker session learns its id" \
		poll_until 10 sh -c "sed -n 1p '$STACK_DIR/$name.out' | grep -qx '[0-9][0-9]*'"
	blocker_id=$(blocker_pid_of "$STACK_DIR/$name.out")
	ok "session $blocker_id holds the lock in an open transaction" poll_until 10 "$locked"
	occupy "$FPM_APP_ADDR" "$script"
	ok "all 4 workers hang on the lock" poll_until 10 fpm_active_at_least "$FPM_APP_STATUS_ADDR" 4
	ok "their 4 sessions wait behind $blocker_id" poll_until 20 "$waiting"
}

# --once --json of CONF with the lock held: CRITICAL at once, with the
# reason's short form ending in WANT, each worker behind $blocker_id.
detected() {
	local conf=$1 want=$2 id=$blocker_id
	valgrind_once "$conf"
	once "$conf"
	diag "${conf##*/}: --once --json in ${elapsed} ms: reason: $(json_get "$out" 'j["pools"][0]["reason"]')"
	is "$rc" 2 "--once: CRITICAL"
	like "$(json_get "$out" 'j["pools"][0]["reason"]')" \
		"^(app: timeout 1000ms; 4/4 workers wait on|4/4 workers stuck >10s on) $want$" \
		"the reason names the product, its port and the blocker"
	within_ms "$elapsed" $((2000 + LOAD_MARGIN_MS)) "within 2 s (+ margin), process start-up included"
	ok "the reason fits HAProxy's 128 bytes" test "$(json_get "$out" 'len(j["pools"][0]["agent"])')" -le 128
	is "$(json_get "$out" '[p["db_session"]["blocker"]["session_id"] for p in j["pools"][0]["workers"]["processes"] if "db_session" in p]')" \
		"[$id, $id, $id, $id]" "JSON: each worker's session waits behind the blocker"
}

# The daemon with the database check CHECK (NAME-daemon.yml): its agent
# comes to answer with the blocker (HOLDER), and answers every poll at
# once while the lookups run.
daemon_answers() {
	local name=$1 check=$2 holder=$3 agent stats
	agent=$(free_port)
	pool_conf "$STACK_DIR/$name-daemon.yml" "$check" "$agent"
	: >"$STACK_DIR/fpmprobe.log"
	FPMPROBE_ARGS=-v fp_daemon_start "$STACK_DIR/$name-daemon.yml" "$agent" ||
		bail_out "the daemon did not start"
	ok "the agent answers with the blocker" \
		poll_until 15 sh -c "'$AGENTC' -s app 127.0.0.1:$agent | grep -q '$holder'"
	diag "agent: $(agent_ask "$agent" app)"
	stats=$("$AGENTC" -n 300 -c 1 -s app "127.0.0.1:$agent")
	diag "agent during the $name lookups: $stats"
	like "$stats" 'errors=0 ' "the agent answers every time while the lookups run"
	within_ms "$(us_to_ms "$(sed -n 's/.*max_us=\([0-9]*\).*/\1/p' <<<"$stats")")" "$LOAD_MARGIN_MS" \
		"none waits for a lookup: the slowest answer within the margin"
	ok "the daemon stops cleanly" fp_daemon_stop
	is "$(grep -c 'pool app check db:' "$STACK_DIR/fpmprobe.log")" 0 \
		"the database check never failed while it looked up sessions"
}

# A client session, NAME, that reads its statements from a fifo and
# keeps its transaction open between them: the command is the client.
# Sets BLOCKER_FD and BLOCKER_PID; its output goes to $STACK_DIR/NAME.out.
blocker_start() {
	local name=$1 fifo=$STACK_DIR/$1.fifo
	shift
	mkfifo -m 600 "$fifo" || return 1
	exec {BLOCKER_FD}<>"$fifo"
	"$@" <"$fifo" >"$STACK_DIR/$name.out" 2>&1 &
	BLOCKER_PID=$!
}

# Send the session STATEMENTS and say it is the end; wait for it to quit.
blocker_end() {
	printf '%s\n' "$1" >&"$BLOCKER_FD"
	exec {BLOCKER_FD}>&-
	poll_until 10 _stack_all_dead "$BLOCKER_PID"
}

fpm_start app max_children=4 status_listen=1 || bail_out "php-fpm did not start"

# --- PostgreSQL -----------------------------------------------------------
pg_start || bail_out "PostgreSQL did not start"
pg_psql "GRANT pg_read_all_stats TO probe" \
	"CREATE ROLE nightly LOGIN PASSWORD 'nightly-secret'" \
	"GRANT ALL ON app_table TO nightly" \
	"CREATE ROLE probe_np LOGIN PASSWORD 'np-secret'" >&2 ||
	bail_out "PostgreSQL roles"
(umask 077 && echo np-secret >"$STACK_DIR/pg-np.pw")
pg_db="{ name: db, type: pgsql, conninfo: \"$PG_CONNINFO\", password_file: $PG_PASSWORD_FILE }"
pg_db_np="{ name: db, type: pgsql, conninfo: \"host=127.0.0.1 port=$PG_PORT dbname=app user=probe_np\", password_file: $STACK_DIR/pg-np.pw }"
pool_confs pg "$pg_db" "$pg_db_np"

# The blocker: a session over TCP, as another role, that learns its own
# pid and holds ACCESS EXCLUSIVE in a transaction it leaves open.
blocker_start pg-blocker env PGPASSWORD=nightly-secret PGAPPNAME=nightly-report \
	"$PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U nightly -d app
printf 'SELECT pg_backend_pid();\nBEGIN;\nLOCK TABLE app_table IN ACCESS EXCLUSIVE MODE;\n' >&"$BLOCKER_FD"
_pg_locked() {
	[ "$(pg_psql "SELECT count(*) FROM pg_locks WHERE pid = ${blocker_id:-0} AND mode = 'AccessExclusiveLock' AND granted")" -ge 1 ]
}
_pg_waiting() {
	[ "$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND ${blocker_id:-0} = ANY (pg_blocking_pids(pid))")" -ge 4 ]
}
blocked_workers pg-blocker "$STACK_WWW/pg.php" _pg_locked _pg_waiting
pgpid=$blocker_id
detected "$STACK_DIR/pg.yml" "a PostgreSQL lock at (127\\.0\\.0\\.1)?:$PG_PORT held by pid $pgpid \\(idle in transaction [0-9]+s\\)"
is "$(json_get "$out" 'sorted(set((p["db_session"]["blocker"]["state"], p["db_session"]["blocker"]["application_name"], p["db_session"]["blocker"]["user"], p["db_session"]["session"]["wait"], p["db_session"]["session"]["waits_on"]) for p in j["pools"][0]["workers"]["processes"] if "db_session" in p))')" \
	"[('idle in transaction', 'nightly-report', 'nightly', 'Lock/relation', 'app_table')]" \
	"JSON: the blocker's state, application_name, user; the workers' wait event and table"
like "$(json_get "$out" '[p["db_session"]["blocker"]["client"] for p in j["pools"][0]["workers"]["processes"] if "db_session" in p][0]')" \
	'^127\.0\.0\.1:[0-9]+$' "JSON: the blocker's client address"
is "$(json_get "$out" '[c["culprit"]["sessions_found"] for c in j["pools"][0]["checks"] if c["name"] == "db"][0]')" 4 \
	"JSON: the check found 4 sessions"
once -t "$STACK_DIR/pg.yml"
diag "$out"
like "$out" "blocked by pid $pgpid: idle in transaction, transaction [0-9]+s, client 127\\.0\\.0\\.1:[0-9]+, application_name \"nightly-report\", user nightly: LOCK TABLE app_table" \
	"the text report names the blocker, its state, age, client and application"
like "$out" "PostgreSQL session pid [0-9]+ active, waiting for Lock/relation on app_table, client 127\\.0\\.0\\.1:[0-9]+, user probe: SELECT count" \
	"and each worker's own session"

# A check user without pg_read_all_stats does not see the workers'
# sessions (another user's): the report says what is missing.
says_missing "$STACK_DIR/pg-np.yml" 'pg_read_all_stats \(GRANT pg_read_all_stats TO probe_np\)'

# The application's own role without the privilege: its sessions are
# found, the blocker's (another role's) details are hidden.
pg_psql "REVOKE pg_read_all_stats FROM probe" >&2
once -t "$STACK_DIR/pg.yml"
like "$out" "(workers wait on|stuck >10s on) a PostgreSQL lock at [0-9.]*:$PG_PORT held by pid $pgpid; 1 of 1 pool down" \
	"same role, no privilege: the blocker's pid, without its state"
like "$out" "blocked by pid $pgpid \\(its details are hidden from the check's user\\)" \
	"the text report says its details are hidden"
like "$out" "MISSING privilege: pg_read_all_stats \\(GRANT pg_read_all_stats TO probe\\)" \
	"and what is missing"
pg_psql "GRANT pg_read_all_stats TO probe" >&2

# The daemon: the reason comes, and the agent never waits for a lookup.
daemon_answers pg "$pg_db" "held by pid $pgpid"

blocker_end 'ROLLBACK;
\q'
ok "the workers are free once the lock is released" \
	poll_until 15 sh -c "! '$FPMPROBE' --once -c '$STACK_DIR/pg.yml' | grep -q 'held by'"
poll_until 15 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/pg.yml' >/dev/null"

# --- MariaDB --------------------------------------------------------------
my_start || bail_out "MariaDB did not start"
my_sql "CREATE USER 'nightly'@'127.0.0.1' IDENTIFIED BY 'nightly-secret'" \
	"GRANT ALL ON app.* TO 'nightly'@'127.0.0.1'" \
	"GRANT PROCESS ON *.* TO 'probe'@'127.0.0.1'" \
	"GRANT SELECT ON performance_schema.* TO 'probe'@'127.0.0.1'" \
	"CREATE USER 'probe_np'@'127.0.0.1' IDENTIFIED BY 'np-secret'" \
	"GRANT SELECT ON app.* TO 'probe_np'@'127.0.0.1'" >&2 || bail_out "MariaDB users"
is "$(my_sql "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app' AND TABLE_NAME = 'app_table'")" \
	InnoDB "app_table is InnoDB (row locks)"
# The workers' query takes the row lock too, and waits for it.
cat >"$STACK_WWW/my_lock.php" <<'PHP'
<?php
header('Content-Type: text/plain');
mysqli_report(MYSQLI_REPORT_OFF);
$cfg = @parse_ini_file(__DIR__ . '/../my.ini') ?: [];
$m = mysqli_init();
if (!@mysqli_real_connect($m, '127.0.0.1', 'probe', 'probe-secret', 'app', (int)$cfg['port'])) {
	http_response_code(500);
	echo "mysql connect failed: ", mysqli_connect_error(), "\n";
	exit;
}
mysqli_query($m, 'SET SESSION innodb_lock_wait_timeout = 120');
mysqli_query($m, 'BEGIN');
$r = mysqli_query($m, 'SELECT id FROM app_table WHERE id = 1 FOR UPDATE');
echo $r ? "OK\n" : "mysql query failed: " . mysqli_error($m) . "\n";
PHP
chmod 644 "$STACK_WWW/my_lock.php"
(umask 077 && echo np-secret >"$STACK_DIR/my-np.pw")
my_db="{ name: db, type: mysql, host: 127.0.0.1, port: $MY_PORT, user: probe, password_file: $MY_PASSWORD_FILE, database: app }"
my_db_np="{ name: db, type: mysql, host: 127.0.0.1, port: $MY_PORT, user: probe_np, password_file: $STACK_DIR/my-np.pw, database: app }"
pool_confs my "$my_db" "$my_db_np"

# The blocker: a row lock of SELECT ... FOR UPDATE in an open transaction.
blocker_start my-blocker mariadb --no-defaults -n -N -B -h 127.0.0.1 -P "$MY_PORT" \
	-u nightly -pnightly-secret app
printf 'SELECT CONNECTION_ID();\nBEGIN;\nSELECT id FROM app_table WHERE id = 1 FOR UPDATE;\n' >&"$BLOCKER_FD"
_my_locked() {
	[ "$(my_sql "SELECT count(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ${blocker_id:-0}")" -ge 1 ]
}
# InnoDB refreshes INNODB_TRX only after 100 ms without a reader: a
# faster poll would read the same stale rows for ever.
_my_waiting() {
	sleep 0.15
	[ "$(my_sql "SELECT count(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")" -ge 4 ]
}
blocked_workers my-blocker "$STACK_WWW/my_lock.php" _my_locked _my_waiting
mythread=$blocker_id
detected "$STACK_DIR/my.yml" "a MariaDB row lock at (127\\.0\\.0\\.1)?:$MY_PORT held by thread $mythread( \\(idle in transaction( [0-9]+s)?\\))?"
is "$(json_get "$out" 'sorted(set((p["db_session"]["blocker"]["state"], p["db_session"]["blocker"]["user"], p["db_session"]["session"]["user"]) for p in j["pools"][0]["workers"]["processes"] if "db_session" in p))')" \
	"[('idle in transaction', 'nightly', 'probe')]" "JSON: the blocker idle in its transaction, both users"
once -t "$STACK_DIR/my.yml"
diag "$out"
like "$out" "blocked by thread $mythread: idle in transaction, transaction [0-9]+s, client 127\\.0\\.0\\.1:[0-9]+, user nightly" \
	"the text report names the blocking thread, its transaction's age and client"

says_missing "$STACK_DIR/my-np.yml" "PROCESS \\(GRANT PROCESS ON \\*\\.\\* TO 'probe_np'@"

daemon_answers my "$my_db" "held by thread $mythread"

blocker_end 'ROLLBACK;
quit'
ok "the workers are free once the row lock is released" \
	poll_until 15 sh -c "! '$FPMPROBE' --once -c '$STACK_DIR/my.yml' | grep -q 'held by'"

# A metadata lock (LOCK TABLES ... WRITE): the workers' wait is named;
# its holder only where performance_schema has it, and the report says
# it does not here.
my_lock_table || bail_out "LOCK TABLES"
occupy "$FPM_APP_ADDR" "$STACK_WWW/my.php"
ok "all 4 workers wait for the metadata lock" poll_until 10 fpm_active_at_least "$FPM_APP_STATUS_ADDR" 4
poll_until 10 sh -c "[ \"\$(mariadb --no-defaults -uroot --socket='$MY_SOCK' -N -B -e \"SELECT count(*) FROM information_schema.PROCESSLIST WHERE STATE = 'Waiting for table metadata lock'\")\" -ge 4 ]"
once -t "$STACK_DIR/my.yml"
like "$out" "MariaDB session thread [0-9]+ Query, waiting for table metadata lock, client 127\\.0\\.0\\.1:[0-9]+, user probe: SELECT count" \
	"the text report: each worker waits for a table metadata lock"
like "$out" "sessions lookup: metadata lock holders not known: performance_schema is off" \
	"and says why its holder is not known"
my_unlock_table
ok "the workers are free once the table is unlocked" \
	poll_until 15 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/my.yml' >/dev/null"

done_testing
