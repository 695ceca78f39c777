#!/usr/bin/env bash
# PostgreSQL checks against a private server: a read that passes, the
# reasons of every kind of failure (the password never shown), a query
# held by a table lock, a hung server (the probe times out on time and
# the agent keeps answering at once), a kept connection the server
# closes, and the capacity numbers and warning.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (private servers)"
[ -x "$PG_BINDIR/postgres" ] || skip_all "no PostgreSQL in $PG_BINDIR"

stack_init
require_checks pgsql
plan 50
pg_start || bail_out "PostgreSQL did not start"

# Nothing listens on the pools' FastCGI address: only the database is probed.
nofpm=127.0.0.1:$(free_port)
dead=$(free_port)
wrong_pw=Wrong-Zebra-4711
wrong_pw_file=$STACK_DIR/pg-wrong.pw
(umask 077 && printf '%s\n' "$wrong_pw" >"$wrong_pw_file")
pw="password_file: $PG_PASSWORD_FILE"

# The probes' one deadline, in both configurations below.
timeout_ms=500
conf=$STACK_DIR/pgsql.yml
cat >"$conf" <<YAML
defaults:
  timeout: ${timeout_ms}ms
pools:
  pg_read:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw,
          query: "SELECT count(*) FROM app_table", expect: "3", expect_rows: 1 }
  pg_new_conn:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw, reconnect: always }
  pg_mismatch:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw,
          query: "SELECT 'hello world'", expect: "bye" }
  pg_rows:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw,
          query: "SELECT id FROM app_table", expect_rows: 1 }
  pg_bad_password:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", password_file: $wrong_pw_file }
  pg_unknown_db:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "host=127.0.0.1 port=$PG_PORT dbname=nosuchdb user=probe", $pw }
  pg_refused:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "host=127.0.0.1 port=$dead dbname=app user=probe", $pw }
  pg_query_error:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw, query: "SELECT * FROM nosuchtable" }
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

once pg_read
is "$rc" 0 "a read that passes: exit 0"
is "$(check_field "['ok']")" True "the check is ok"
ok "latency and query time are measured" test "$(check_field "['latency_us'] > 0 and j['pools'][0]['checks'][0]['query_us'] > 0")" = True
is "$(check_field "['db']['max_connections']")" 60 "capacity: the server's max_connections"
ok "capacity: connections in use counted ($(check_field "['db']['connections']"))" \
	test "$(check_field "['db']['connections']")" -ge 1
unlike "$out" "$PG_PASSWORD" "the password is not in the report"

once pg_new_conn
is "$rc" 0 "reconnect: always passes"

once pg_mismatch
is "$rc" 2 "an unexpected value is CRITICAL"
is "$(check_field "['error']")" 'db: unexpected value (got "hello world", want "bye")' \
	"the reason quotes both values"

once pg_rows
is "$(check_field "['error']")" 'db: unexpected value (got 3 rows, want 1)' "expect_rows counts rows"

once pg_bad_password
is "$rc" 2 "a wrong password is CRITICAL"
like "$(check_field "['error']")" '^db: authentication failed SQLSTATE 28P01: password authentication failed for user "probe"$' \
	"the reason says authentication failed, with the SQLSTATE"
unlike "$out" "$wrong_pw" "the wrong password appears nowhere in the report"
text=$("$FPMPROBE" --once -c "$conf" pg_bad_password 2>&1)
unlike "$text" "$wrong_pw" "nor in the text report"

once pg_unknown_db
is "$(check_field "['error']")" 'db: unknown database SQLSTATE 3D000: database "nosuchdb" does not exist' \
	"an unknown database"

once pg_refused
is "$rc" 2 "a closed port is CRITICAL"
is "$(check_field "['error']")" "db: connection refused (127.0.0.1:$dead)" "refused, with the address"

once pg_query_error
is "$(check_field "['error']")" 'db: query error SQLSTATE 42P01: relation "nosuchtable" does not exist' \
	"a query error with its SQLSTATE"

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
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw }
YAML
	done
}
capacity_conf pg_small=20 >"$STACK_DIR/capacity-fits.yml"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/capacity-fits.yml"); rc=$?
is "$rc" 0 "capacity: 20 workers fit in 60 connections"
is "$(check_field "['db']['capacity_ok']")" True "capacity_ok is true"
capacity_conf pg_web=30 pg_api=30 >"$STACK_DIR/capacity-over.yml"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/capacity-over.yml"); rc=$?
is "$rc" 1 "capacity: 2 x 30 workers against 60 connections is a WARNING"
is "$(check_field "['db']['capacity_ok']")" False "capacity_ok is false"
is "$(check_field "['db']['pools_max_children']")" 60 "both pools' max children are counted"

# A lock holds the query: a timeout in the query phase, on time.
pg_lock_table app_table || bail_out "could not lock app_table"
once pg_read
pg_unlock_table
is "$(check_field "['error']")" "db: timeout after 500ms in query" "a locked table: timeout in the query phase"
within_ms "$(us_to_ms "$(check_field "['latency_us']")")" $((timeout_ms + LOAD_MARGIN_MS)) \
	"the lock timeout comes on time: timeout + margin"
within_ms "$elapsed" $((timeout_ms + LOAD_MARGIN_MS)) \
	"and --once returns soon after, process start-up included: timeout + margin"

# Too many connections: the role may open two, and two are open.  (The
# server-wide max_connections takes a restart to lower; its error has
# the same SQLSTATE, 53300.)
pg_psql "ALTER ROLE probe CONNECTION LIMIT 2" || bail_out "ALTER ROLE failed"
for _ in 1 2; do
	PGPASSWORD=$PG_PASSWORD "$PG_BINDIR/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U probe -d app \
		-c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
done
probe_sessions() {
	[ "$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'probe'")" -ge "$1" ]
}
poll_until 10 probe_sessions 2 || diag "the two sessions did not show up"
once pg_read
is "$(check_field "['error']")" 'db: too many connections SQLSTATE 53300: too many connections for role "probe"' \
	"every slot taken: too many connections"
pg_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'probe'" >/dev/null
pg_psql "ALTER ROLE probe CONNECTION LIMIT -1"
once pg_read
is "$rc" 0 "slots free again: the read passes"

# The daemon: a kept connection, an agent port, the server hung.
port=$(free_port)
own=$(free_port)
dconf=$STACK_DIR/pgsql-daemon.yml
cat >"$dconf" <<YAML
agent:
  listen: [ "127.0.0.1:$port" ]
defaults:
  interval: 1s
  timeout: ${timeout_ms}ms
  rise: 1
  fall: 1
pools:
  pg_hang:
    fastcgi: $nofpm
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", $pw }
  pg_bad_password:
    fastcgi: $nofpm
    checks:
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", password_file: $wrong_pw_file }
YAML
FPMPROBE_ARGS=-v fp_daemon_start "$dconf" "$own" || bail_out "the daemon did not start"
ok "the daemon says ready" poll_until 5 sh -c "'$AGENTC' -s pg_hang 127.0.0.1:$port | grep -q '^ready up 100%'"
ok "and down for the wrong password" poll_until 5 sh -c "'$AGENTC' -s pg_bad_password 127.0.0.1:$port | grep -q '^down #db: authentication failed'"

# The server ends the kept connection: the next probe connects again.
old=$(pg_psql "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE usename = 'probe'")
pg_psql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'probe'" >/dev/null
new_backend_idle() {
	[ "$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE usename = 'probe'
		AND pid NOT IN (${old:-0}) AND state = 'idle'")" -ge 1 ]
}
ok "a new connection replaces the one the server closed" poll_until 5 new_backend_idle
is "$(agent_ask "$port" pg_hang)" "ready up 100%" "without a failure"
is "$(grep -c 'pool pg_hang check db:' "$STACK_DIR/fpmprobe.log")" 0 "no probe failed on the closed connection"

# SIGSTOP every server process.
mapfile -t pids < <(pg_pids)
stack_at_exit "kill -CONT ${pids[*]} 2>/dev/null; true"
kill -STOP "${pids[@]}"
ok "hung: the agent says down with a timeout" \
	poll_until 5 sh -c "'$AGENTC' -s pg_hang 127.0.0.1:$port | grep -Eq '^down #db: timeout after 500ms in (query|auth)'"
# A login that outlasts its probe goes on in the background, and the
# next probes take it over: no new connection piles up in the stopped
# server's accept queue each interval.
backlog() {
	ss -Hltn "sport = :$PG_PORT" | awk '{ print $2; exit }'
}
failures() {
	grep -c 'pool pg_hang check db:' "$STACK_DIR/fpmprobe.log"
}
# Each check's first login after the stop takes a place in the queue.
after_failures() {
	[ "$(failures)" -ge "$1" ]
}
ok "pg_hang's probes fail while the server is stopped (2 failures logged)" \
	poll_until 10 after_failures 2
q0=$(backlog) f0=$(failures)
ok "then 3 more fail (from $f0 failures logged)" poll_until 10 after_failures $((f0 + 3))
q1=$(backlog)
ok "3 more failed probes add no connection to the server's queue ($q0 -> $q1)" \
	test -n "$q1" -a "${q1:-99}" -le "${q0:-0}"
stats=$("$AGENTC" -n 200 -c 1 "127.0.0.1:$own")
diag "agent while PostgreSQL is stopped: $stats"
like "$stats" 'errors=0 ' "the agent answers every time while the server hangs"
within_ms "$(us_to_ms "$(sed -n 's/.*max_us=\([0-9]*\).*/\1/p' <<<"$stats")")" "$LOAD_MARGIN_MS" \
	"none waits for the hung server: the slowest answer within the margin"
once pg_read
is "$(check_field "['error']")" "db: timeout after 500ms in auth" "a new connection times out in auth"
within_ms "$(us_to_ms "$(check_field "['latency_us']")")" $((timeout_ms + LOAD_MARGIN_MS)) \
	"on time: timeout + margin"
kill -CONT "${pids[@]}"
ok "the server back: ready again" poll_until 5 sh -c "'$AGENTC' -s pg_hang 127.0.0.1:$port | grep -q '^ready up 100%'"

ok "SIGTERM stops the daemon cleanly" fp_daemon_stop
log=$(cat "$STACK_DIR/fpmprobe.log")
like "$log" "authentication failed" "the daemon logged the failures"
like "$log" "pool pg_hang: up -> down: db: timeout after 500ms" "and pg_hang going down, with the reason"
like "$log" "pool pg_hang: down -> up" "and coming back"
unlike "$log" "$wrong_pw" "the wrong password is not in the daemon's log"
unlike "$log" "$PG_PASSWORD" "nor the right one"

# The server stopped: refused.
pg_stop
once pg_read
is "$rc" 2 "a stopped server is CRITICAL"
is "$(check_field "['error']")" "db: connection refused (127.0.0.1:$PG_PORT)" "and refused"

done_testing
