#!/usr/bin/env bash
# fpmprobe in five minutes, on a fresh Debian 12, as root: install, build,
# start a private php-fpm pool and PostgreSQL on 127.0.0.1, and show what
# fpmprobe says while a table lock makes every PHP worker hang, and after.
# Exits 0 if every step behaved as narrated, 1 otherwise.  Leaves nothing
# running: the private servers live in one temporary directory that is
# removed at the end (KEEP_STACK=1 keeps it, with the logs).
# shellcheck source-path=SCRIPTDIR
# Functions run through poll_until look unreachable to shellcheck.
# shellcheck disable=SC2317
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

WORKERS=4
unexpected=0

if [ -t 1 ]; then
	B=$'\033[1m' R=$'\033[31m' G=$'\033[32m' N=$'\033[0m'
else
	B='' R='' G='' N=''
fi

heading() {
	printf '\n%s== %s%s\n' "$B" "$*" "$N"
}

say() {
	printf '   %s\n' "$@"
}

# Print a command's output indented.
indent() {
	sed 's/^/   | /'
}

# Record the outcome of one expectation.
check() {
	local what=$1
	shift
	if "$@"; then
		printf '   %s[as expected]%s %s\n' "$G" "$N" "$what"
	else
		printf '   %s[UNEXPECTED]%s %s\n' "$R" "$N" "$what"
		unexpected=$((unexpected + 1))
		return 1
	fi
}

ms() {
	date +%s%3N
}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run it as root: sudo tools/demo.sh" >&2
	exit 1
fi

heading "1. Dependencies (tools/deps.sh)"
bash tools/deps.sh || { echo "demo: installing the dependencies failed" >&2; exit 1; }

heading "2. Build"
if [ ! -f Makefile ]; then
	say "./autogen.sh && ./configure && make -j2"
	{ ./autogen.sh && ./configure; } >/dev/null || { echo "demo: configure failed" >&2; exit 1; }
else
	say "already configured: make -j2"
fi
make -j2 >/dev/null || { echo "demo: the build failed (run make to see why)" >&2; exit 1; }
FPMPROBE=$top/fpmprobe
say "$("$FPMPROBE" --version 2>&1 | head -n 1)"

# shellcheck source=../tests/lib/stack.sh
. "$top/tests/lib/stack.sh"

heading "3. A private php-fpm pool and PostgreSQL on 127.0.0.1"
stack_init || exit 1
fpm_start demo max_children=$WORKERS status_listen=1 || exit 1
pg_start || exit 1
# What lets fpmprobe's pgsql check name the session that blocks the
# workers (docs/operations.md, "The database session that blocks the
# workers").
pg_psql "GRANT pg_read_all_stats TO probe" >/dev/null || exit 1
say "php-fpm pool 'demo': $WORKERS static workers on $FPM_DEMO_ADDR," \
	"its status page also on $FPM_DEMO_STATUS_ADDR (pm.status_listen)" \
	"PostgreSQL 15 on 127.0.0.1:$PG_PORT, database app, table app_table" \
	"Its status script, $STACK_WWW/pg.php, runs SELECT count(*) FROM app_table" \
	"with no timeout, as many applications' health pages do." \
	"The check's role, probe, has pg_read_all_stats, to see other sessions." \
	"Everything lives in $STACK_DIR."

agent_port=$(free_port) || exit 1
conf=$STACK_DIR/fpmprobe.yml
cat >"$conf" <<EOF
agent:
  listen: [ "127.0.0.1:$agent_port" ]
control:
  socket: $STACK_DIR/fpmprobe.sock
  state_dir: $STACK_DIR/state
defaults:
  interval: 1s
  timeout: 1s
  rise: 2
  fall: 2
pools:
  demo:
    fastcgi: $FPM_DEMO_ADDR
    status_path: /fpm-status
    status_listen: $FPM_DEMO_STATUS_ADDR
    stuck_after: 3s
    checks:
      - name: app
        type: fastcgi
        script: $STACK_WWW/pg.php
        expect_body: "OK"
      - name: db
        type: pgsql
        conninfo: "$PG_CONNINFO"
        password_file: $PG_PASSWORD_FILE
        query: "SELECT 1"
EOF
mkdir -p "$STACK_DIR/state"

heading "4. The configuration ($conf)"
indent <"$conf"
t_out=$("$FPMPROBE" -t -c "$conf" 2>&1)
t_rc=$?
[ -z "$t_out" ] || indent <<<"$t_out"
check "fpmprobe -t accepts it" test "$t_rc" -eq 0

# Run --once; keep its output in $once_out and its status in $once_rc.
once() {
	once_out=$("$FPMPROBE" --once -c "$conf" 2>&1)
	once_rc=$?
}

# Succeed when --once exits with status $1.
once_is() {
	once
	[ "$once_rc" -eq "$1" ]
}

# Ask the agent port as HAProxy does (agent-send "demo\n"); the answer is
# left in $agent_answer.
agent_ask() {
	local fd line=
	agent_answer=
	exec {fd}<>"/dev/tcp/127.0.0.1/$agent_port" || return 1
	printf 'demo\n' >&"$fd"
	IFS= read -r -t 2 line <&"$fd"
	exec {fd}>&-
	agent_answer=$line
	[ -n "$line" ]
}

# Succeed when the agent's answer matches the regex $1.
agent_matches() {
	local re=$1
	agent_ask 2>/dev/null && [[ $agent_answer =~ $re ]]
}

daemon_log() {
	say "fpmprobe's log ($STACK_DIR/fpmprobe.log), last lines:"
	tail -n 15 "$STACK_DIR/fpmprobe.log" 2>/dev/null | indent
}

heading "5. fpmprobe --once: probe the pool once, as a person or Nagios would"
say "\$ fpmprobe --once -c $conf"
once
indent <<<"$once_out"
check "exit status 0 (OK): the script ran and PostgreSQL answered" test "$once_rc" -eq 0

heading "6. The daemon and its HAProxy agent port"
say "\$ fpmprobe -f -c $conf &"
"$FPMPROBE" -f -c "$conf" 2>>"$STACK_DIR/fpmprobe.log" &
daemon=$!
stack_track_pid "$daemon"
if ! check "the agent port 127.0.0.1:$agent_port accepts connections" wait_port 127.0.0.1 "$agent_port" 10; then
	daemon_log
fi
say "HAProxy's server line would be:" \
	"  server web1 $FPM_DEMO_ADDR proto fcgi weight 100 check agent-check agent-port $agent_port agent-inter 1s agent-send \"demo\\n\""
poll_until 10 agent_matches '^ready up 100%$'
say "agent answers: \"$agent_answer\""
check "the pool is ready, at full weight" test "$agent_answer" = "ready up 100%"

heading "7. A table lock: every PHP worker hangs on PostgreSQL"
say "A session takes LOCK TABLE app_table IN ACCESS EXCLUSIVE MODE and keeps it;" \
	"$WORKERS requests to pg.php (one per worker) now wait on it. php-fpm still" \
	"accepts connections, so a handshake check (proto fcgi ... check) stays green."
pg_lock_table app_table || exit 1
locked_at=$(ms)
for _ in $(seq 1 "$WORKERS"); do
	STACK_FCGI_TIMEOUT=300 stack_fcgi "$FPM_DEMO_ADDR" "$STACK_WWW/pg.php" >/dev/null 2>&1 &
	stack_track_pid $!
done
busy() {
	local active
	active=$(stack_fcgi_status "$FPM_DEMO_STATUS_ADDR" 2>/dev/null | sed -n 's/^active processes: *//p')
	[ "${active:-0}" -ge "$WORKERS" ]
}
check "all $WORKERS workers are busy (pool status page)" poll_until 10 busy
port=${FPM_DEMO_ADDR##*:}
if [[ $FPM_DEMO_ADDR != unix:* ]]; then
	check "a TCP handshake to the pool still succeeds" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
fi

heading "8. fpmprobe --once says CRITICAL"
say "\$ fpmprobe --once -c $conf"
poll_until 20 once_is 2
# Past stuck_after (3 s) the report also names what the workers wait on.
if [ "$once_rc" -eq 2 ] && ! [[ $once_out == *stuck* ]]; then
	poll_until 8 bash -c "'$FPMPROBE' --once -c '$conf' 2>&1 | grep -q stuck"
	once
fi
indent <<<"$once_out"
check "exit status 2 (CRITICAL)" test "$once_rc" -eq 2

heading "9. The agent tells HAProxy to stop sending traffic"
poll_until 30 agent_matches '^down #'
say "agent answers: \"$agent_answer\"  ($(($(ms) - locked_at)) ms after the lock)"
check "the answer is down #<reason>" agent_matches '^down #'
[[ $agent_answer =~ ^down\ # ]] || daemon_log

heading "10. The lock is released: recovery"
pg_unlock_table
unlocked_at=$(ms)
say "ROLLBACK: the waiting requests finish, the workers are free again."
poll_until 30 agent_matches '^ready up 100%$'
say "agent answers: \"$agent_answer\"  ($(($(ms) - unlocked_at)) ms after the unlock, rise: 2)"
check "ready up 100% again" test "$agent_answer" = "ready up 100%"
poll_until 10 once_is 0
indent <<<"$once_out"
check "fpmprobe --once exits 0 (OK) again" test "$once_rc" -eq 0

heading "11. Stop"
kill -TERM "$daemon" 2>/dev/null
if poll_until 10 bash -c "! kill -0 $daemon 2>/dev/null"; then
	wait "$daemon"
	rc=$?
else
	rc=timeout
fi
check "SIGTERM stops the daemon cleanly (exit $rc)" test "$rc" = 0 || daemon_log
dir=$STACK_DIR
stack_cleanup
leftover=$(pgrep -a -f -- "$dir" || true)
check "php-fpm and PostgreSQL are stopped" test -z "$leftover" || indent <<<"$leftover"
if [ "${KEEP_STACK:-0}" != 1 ]; then
	check "$dir is removed" test ! -e "$dir"
fi

echo
if [ "$unexpected" -eq 0 ]; then
	printf '%sdemo: every step behaved as described.%s\n' "$G" "$N"
	exit 0
fi
printf '%sdemo: %d step(s) did not behave as described.%s\n' "$R" "$unexpected" "$N"
exit 1
