#!/usr/bin/env bash
# MariaDB checks against a private server: reads over TCP and the unix
# socket, the reasons of every kind of failure (the password never
# shown), a query held by a table lock, a hung server (the probe times
# out on time and the agent keeps answering at once), a kept connection
# the server kills, and the capacity numbers and warning.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (private servers)"
command -v mariadb-install-db >/dev/null || skip_all "no MariaDB server installed"

stack_init
require_checks mysql
plan 52
my_start || bail_out "MariaDB did not start"

# Nothing listens on the pools' FastCGI address: only the database is probed.
nofpm=127.0.0.1:$(free_port)
dead=$(free_port)
wrong_pw=Wrong-Zebra-4711
wrong_pw_file=$STACK_DIR/my-wrong.pw
(umask 077 && printf '%s\n' "$wrong_pw" >"$wrong_pw_file")
tcp="host: 127.0.0.1, port: $MY_PORT, user: probe"
pw="password_file: $MY_PASSWORD_FILE"

# The probes' one deadline, in both configurations below.
timeout_ms=500
conf=$STACK_DIR/mysql.yml
cat >"$conf" <<YAML
defaults:
  timeout: ${timeout_ms}ms
pools:
  my_read:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, database: app,
          query: "SELECT count(*) FROM app_table", expect: "3", expect_rows: 1 }
  my_socket:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, socket: $MY_SOCK, user: probe, password: "$MY_PASSWORD",
          database: app, expect: "1" }
  my_new_conn:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, reconnect: always }
  my_mismatch:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, query: "SELECT 'hello world'", expect: "bye" }
  my_rows:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, database: app,
          query: "SELECT id FROM app_table", expect_rows: 1 }
  my_bad_password:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, password_file: $wrong_pw_file, database: app }
  my_bad_inline_password:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, socket: $MY_SOCK, user: probe, password: "$wrong_pw" }
  my_unknown_db:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, database: nosuchdb }
  my_refused:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, host: 127.0.0.1, port: $dead, user: probe, $pw }
  my_query_error:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, $pw, database: app, query: "SELECT * FROM nosuchtable" }
YAML

# Run --once --json on one pool: sets out, rc and elapsed (ms).
once() {
	local t0
	t0=$(ms_now)
	out=$("$FPMPROBE" --once --json -c "$conf" "$@"); rc=$?
	elapsed=$(($(ms_now) - t0))
}

# A field of the first check of the first pool in $out.
check_field() {
	json_get "$out" "j['pools'][0]['checks'][0]$1"
}

once my_read
is "$rc" 0 "a read over TCP passes: exit 0"
is "$(check_field "['ok']")" True "the check is ok"
ok "latency and query time are measured" test "$(check_field "['latency_us'] > 0 and j['pools'][0]['checks'][0]['query_us'] > 0")" = True
is "$(check_field "['db']['max_connections']")" 60 "capacity: the server's max_connections"
ok "capacity: connections in use counted ($(check_field "['db']['connections']"))" \
	test "$(check_field "['db']['connections']")" -ge 1
unlike "$out" "$MY_PASSWORD" "the password is not in the report"

once my_socket
is "$rc" 0 "a read over the unix socket passes"
unlike "$out" "$MY_PASSWORD" "the inline password is not in the report"

once my_new_conn
is "$rc" 0 "reconnect: always passes"

once my_mismatch
is "$rc" 2 "an unexpected value is CRITICAL"
is "$(check_field "['error']")" 'db: unexpected value (got "hello world", want "bye")' \
	"the reason quotes both values"

once my_rows
is "$(check_field "['error']")" 'db: unexpected value (got 3 rows, want 1)' "expect_rows counts rows"

once my_bad_password
is "$rc" 2 "a wrong password is CRITICAL"
is "$(check_field "['error']")" "db: authentication failed errno 1045: Access denied for user 'probe'@'127.0.0.1' (using password: YES)" \
	"the reason says authentication failed, with the errno"
unlike "$out" "$wrong_pw" "the wrong password appears nowhere in the report"
once my_bad_inline_password
like "$(check_field "['error']")" "^db: authentication failed errno 1045" "a wrong inline password too"
unlike "$out" "$wrong_pw" "which appears nowhere in the report"
text=$("$FPMPROBE" --once -c "$conf" my_bad_password my_bad_inline_password 2>&1)
unlike "$text" "$wrong_pw" "nor in the text report"

# MariaDB tells a user without rights on a database no more than that.
once my_unknown_db
is "$(check_field "['error']")" "db: unknown database errno 1044: Access denied for user 'probe'@'127.0.0.1' to database 'nosuchdb'" \
	"an unknown database"

once my_refused
is "$rc" 2 "a closed port is CRITICAL"
is "$(check_field "['error']")" "db: connection refused (127.0.0.1:$dead)" "refused, with the address"

once my_query_error
is "$(check_field "['error']")" "db: query error errno 1146: Table 'app.nosuchtable' doesn't exist" \
	"a query error with its errno"

# The capacity audit adds up max_children over the pools that use the
# same server, and compares it with max_connections less a margin.
capacity_conf() {
	local name size
	echo "pools:"
	for name; do
		size=${name#*=}
		cat <<YAML
  ${name%=*}:
    fastcgi: $nofpm
    max_children: $size
    checks:
      - { name: db, type: mysql, $tcp, $pw }
YAML
	done
}
capacity_conf my_small=20 >"$STACK_DIR/capacity-fits.yml"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/capacity-fits.yml"); rc=$?
is "$rc" 0 "capacity: 20 workers fit in 60 connections"
is "$(check_field "['db']['capacity_ok']")" True "capacity_ok is true"
capacity_conf my_web=30 my_api=30 >"$STACK_DIR/capacity-over.yml"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/capacity-over.yml"); rc=$?
is "$rc" 1 "capacity: 2 x 30 workers against 60 connections is a WARNING"
is "$(check_field "['db']['capacity_ok']")" False "capacity_ok is false"
is "$(check_field "['db']['pools_max_children']")" 60 "both pools' max children are counted"

# A lock holds the query: a timeout in the query phase, on time.
my_lock_table app_table || bail_out "could not lock app_table"
once my_read
my_unlock_table
is "$(check_field "['error']")" "db: timeout after 500ms in query" "a locked table: timeout in the query phase"
within_ms "$(us_to_ms "$(check_field "['latency_us']")")" $((timeout_ms + LOAD_MARGIN_MS)) \
	"the lock timeout comes on time: timeout + margin"
within_ms "$elapsed" $((timeout_ms + LOAD_MARGIN_MS)) \
	"and --once returns soon after, process start-up included: timeout + margin"

# Too many connections: ten sessions of the probe user, then
# max_connections lowered to its minimum, 10, under them.  (Lowered
# first, the test's own root sessions could take a slot.)
probe_sessions() {
	[ "$(my_sql "SELECT count(*) FROM information_schema.processlist WHERE user = 'probe'")" -eq "$1" ]
}
kill_probe_sessions() {
	local id
	for id in $(my_sql "SELECT id FROM information_schema.processlist WHERE user = 'probe'"); do
		my_sql "KILL $id" 2>/dev/null
	done
}
poll_until 10 probe_sessions 0 || diag "sessions of earlier probes linger"
for _ in $(seq 1 10); do
	MYSQL_PWD=$MY_PASSWORD mariadb --no-defaults -uprobe -h127.0.0.1 -P"$MY_PORT" \
		-e "SELECT SLEEP(120)" >/dev/null 2>&1 &
done
poll_until 10 probe_sessions 10 || diag "the ten sessions did not all show up"
stack_at_exit 'my_sql "SET GLOBAL max_connections = 60" >/dev/null 2>&1; true'
my_sql "SET GLOBAL max_connections = 10" || bail_out "cannot lower max_connections"
once my_read
is "$(check_field "['error']")" "db: too many connections errno 1040: Too many connections" \
	"every slot taken: too many connections"
my_sql "SET GLOBAL max_connections = 60"
kill_probe_sessions
once my_read
is "$rc" 0 "slots free again: the read passes"

# The daemon: a kept connection, an agent port, the server hung.
port=$(free_port)
own=$(free_port)
dconf=$STACK_DIR/mysql-daemon.yml
cat >"$dconf" <<YAML
agent:
  listen: [ "127.0.0.1:$port" ]
defaults:
  interval: 1s
  timeout: ${timeout_ms}ms
  rise: 1
  fall: 1
pools:
  my_hang:
    fastcgi: $nofpm
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: db, type: mysql, $tcp, $pw, database: app }
  my_bad_password:
    fastcgi: $nofpm
    checks:
      - { name: db, type: mysql, $tcp, password_file: $wrong_pw_file, database: app }
YAML
FPMPROBE_ARGS=-v fp_daemon_start "$dconf" "$own" || bail_out "the daemon did not start"
ok "the daemon says ready" poll_until 5 sh -c "'$AGENTC' -s my_hang 127.0.0.1:$port | grep -q '^ready up 100%'"
ok "and down for the wrong password" poll_until 5 sh -c "'$AGENTC' -s my_bad_password 127.0.0.1:$port | grep -q '^down #db: authentication failed'"

# The server kills the kept connection: the next probe connects again.
kept_session() {
	[ "$(my_sql "SELECT count(*) FROM information_schema.processlist
		WHERE user = 'probe' AND db = 'app'")" -ge 1 ]
}
ok "the check keeps its connection between probes" poll_until 5 kept_session
old=$(my_sql "SELECT GROUP_CONCAT(id) FROM information_schema.processlist WHERE user = 'probe' AND db = 'app'")
kill_probe_sessions
new_session_idle() {
	[ "$(my_sql "SELECT count(*) FROM information_schema.processlist WHERE user = 'probe'
		AND db = 'app' AND id NOT IN (${old:-0}) AND command = 'Sleep'")" -ge 1 ]
}
ok "a new connection replaces the one the server killed" poll_until 5 new_session_idle ||
	diag "before: $old" "$(my_sql "SELECT id, user, db, command, time FROM information_schema.processlist")"
is "$(agent_ask "$port" my_hang)" "ready up 100%" "without a failure"
is "$(grep -c 'pool my_hang check db:' "$STACK_DIR/fpmprobe.log")" 0 "no probe failed on the killed connection"

# SIGSTOP the server.
stack_at_exit "kill -CONT $MY_PID 2>/dev/null; true"
kill -STOP "$MY_PID"
ok "hung: the agent says down with a timeout" \
	poll_until 5 sh -c "'$AGENTC' -s my_hang 127.0.0.1:$port | grep -Eq '^down #db: timeout after 500ms in (query|auth)'"
stats=$("$AGENTC" -n 200 -c 1 "127.0.0.1:$own")
diag "agent while MariaDB is stopped: $stats"
like "$stats" 'errors=0 ' "the agent answers every time while the server hangs"
within_ms "$(us_to_ms "$(sed -n 's/.*max_us=\([0-9]*\).*/\1/p' <<<"$stats")")" "$LOAD_MARGIN_MS" \
	"none waits for the hung server: the slowest answer within the margin"
once my_read
is "$(check_field "['error']")" "db: timeout after 500ms in auth" "a new connection times out in auth"
within_ms "$(us_to_ms "$(check_field "['latency_us']")")" $((timeout_ms + LOAD_MARGIN_MS)) \
	"on time: timeout + margin"
once my_socket
is "$(check_field "['error']")" "db: timeout after 500ms in auth" "over the socket too"
kill -CONT "$MY_PID"
ok "the server back: ready again" poll_until 5 sh -c "'$AGENTC' -s my_hang 127.0.0.1:$port | grep -q '^ready up 100%'"

ok "SIGTERM stops the daemon cleanly" fp_daemon_stop
log=$(cat "$STACK_DIR/fpmprobe.log")
like "$log" "authentication failed" "the daemon logged the failures"
unlike "$log" "$wrong_pw" "the wrong password is not in the daemon's log"
unlike "$log" "$MY_PASSWORD" "nor the right one"

# The server stopped: refused over TCP and over the socket.
my_stop
once my_read
is "$rc" 2 "a stopped server is CRITICAL"
is "$(check_field "['error']")" "db: connection refused (127.0.0.1:$MY_PORT)" "and refused"
once my_socket
is "$(check_field "['error']")" "db: connection refused (unix:$MY_SOCK)" "the socket too"

done_testing
