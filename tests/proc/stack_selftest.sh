#!/usr/bin/env bash
# The test stack itself (tests/lib/stack.sh): php-fpm pools on TCP and on a
# unix socket answer real FastCGI requests, the status page answers on
# both listeners, pg.php hangs while PostgreSQL's table is locked and
# recovers after, MariaDB accepts the probe user, and nothing is left
# running afterwards, including when a test is killed midway.
# shellcheck source-path=SCRIPTDIR
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/tap.sh
. "$here/../lib/tap.sh"
# shellcheck source=../lib/stack.sh
. "$here/../lib/stack.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
for cmd in "$PHP_FPM" cgi-fcgi runuser mariadbd mariadb-install-db mariadb "$PG_BINDIR/initdb"; do
	command -v "$cmd" >/dev/null || skip_all "$cmd is not installed"
done

# The body of a cgi-fcgi response: what follows the first empty line.
body() {
	sed '1,/^\r\{0,1\}$/d'
}

# Succeed if none of the pids in the file $1 is a live process.
none_alive() {
	local p
	while read -r p; do
		[ -n "$p" ] || continue
		if _stack_alive "$p"; then
			echo "still running: $(ps -o pid=,user=,args= -p "$p")"
			return 1
		fi
	done <"$1"
	return 0
}
plan 51

stack_init
is "$(stat -c %a "$STACK_DIR")" 755 "the stack directory is world-traversable"

start=$(ms_now)
poll_until 0.3 false
rc=$? elapsed=$(($(ms_now) - start))
is "$rc" 1 "poll_until fails when the deadline passes"
ok "and waits that long (${elapsed} ms >= 250 ms)" test "$elapsed" -ge 250
within_ms "$elapsed" $((300 + LOAD_MARGIN_MS)) "but not much longer: 0.3 s + margin"

p1=$(free_port) p2=$(free_port)
ok "free_port gives distinct ports ($p1, $p2)" test -n "$p1" -a -n "$p2" -a "$p1" != "$p2"
ok "nobody listens on them" sh -c "! ss -Htln | grep -Eq ':($p1|$p2) '"

# php-fpm: one pool on TCP, one on a unix socket with status_listen.
start=$(ms_now)
fpm_start tcp || bail_out "php-fpm did not start on TCP"
fpm_start sock listen=unix status_listen=1 || bail_out "php-fpm did not start on a unix socket"
diag "two php-fpm pools up in $(($(ms_now) - start)) ms"
like "$FPM_TCP_ADDR" '^127\.0\.0\.1:[0-9]+$' "FPM_TCP_ADDR is HOST:PORT"
is "$FPM_SOCK_ADDR" "unix:$STACK_DIR/sock.sock" "FPM_SOCK_ADDR is unix:PATH"
like "$FPM_SOCK_STATUS_ADDR" '^127\.0\.0\.1:[0-9]+$' "FPM_SOCK_STATUS_ADDR is HOST:PORT"
ok "FPM_TCP_PID is the master" grep -q 'php-fpm: master process' "/proc/$FPM_TCP_PID/cmdline"
is "$(stat -c %a "$STACK_DIR/sock.sock")" 666 "the unix socket is mode 0666"
is "$(ps -o user= --ppid "$FPM_TCP_PID" | sort -u | tr -d ' ')" www-data "workers run as www-data"
is "$(fpm_pids tcp | wc -l)" 5 "fpm_pids: the master and 4 static workers"

out=$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/status.php")
is "$(body <<<"$out")" OK "status.php over TCP answers OK"
unlike "$out" '^Status:' "with status 200 (no Status header)"
out=$(stack_fcgi "$FPM_SOCK_ADDR" "$STACK_WWW/status.php" "deep=1")
is "$(body <<<"$out")" OK "status.php over the unix socket answers OK"

out=$(stack_fcgi_status "$FPM_TCP_ADDR")
like "$out" $'pool: +tcp\n' "the status page answers on the pool's listener"
out=$(stack_fcgi_status "$FPM_SOCK_STATUS_ADDR")
like "$out" $'pool: +sock\n.*total processes: +4\n' "and on pm.status_listen"

start=$(ms_now)
out=$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/sleep.php" "s=0.3")
elapsed=$(($(ms_now) - start))
is "$(body <<<"$out")" slept "sleep.php?s=0.3 answers slept"
ok "after sleeping (${elapsed} ms)" test "$elapsed" -ge 300

out=$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/fail.php")
like "$out" '^Status: 500' "fail.php: status 500"
is "$(body <<<"$out")" "db down" "fail.php: db down"

err=$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/fatal.php" 2>&1 >"$STACK_DIR/fatal.out")
like "$(cat "$STACK_DIR/fatal.out")" '^Status: 500' "fatal.php: status 500"
like "$err" 'PHP Fatal error: +Uncaught Error: Call to undefined function' \
	"fatal.php: the error arrives on FastCGI stderr"

# PostgreSQL, and a status script that hangs on its table lock.
start=$(ms_now)
pg_start || bail_out "PostgreSQL did not start"
diag "PostgreSQL up in $(($(ms_now) - start)) ms"
is "$PG_CONNINFO" "host=127.0.0.1 port=$PG_PORT dbname=app user=probe" "PG_CONNINFO"
is "$(PGPASSWORD=probe-secret psql -X -Atc 'SELECT 1' "$PG_CONNINFO" 2>&1)" 1 \
	"the probe role logs in over TCP with its password"
like "$(PGPASSWORD=wrong psql -X -Atc 'SELECT 1' "$PG_CONNINFO" 2>&1)" 'password authentication failed' \
	"a wrong password is refused"
is "$(pg_psql 'SELECT count(*) FROM app_table')" 3 "pg_psql runs SQL in app"
is "$(cat "$PG_PASSWORD_FILE")" probe-secret "PG_PASSWORD_FILE holds the password"
is "$(stat -c %a "$PG_PASSWORD_FILE")" 600 "with mode 0600"
is "$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/pg.php" | body)" "OK 3" "pg.php answers OK 3"

pg_lock_table app_table
ok "pg_lock_table holds the lock" _stack_pg_locked app_table
start=$(ms_now)
STACK_FCGI_TIMEOUT=2 stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/pg.php" >/dev/null
rc=$? elapsed=$(($(ms_now) - start))
is "$rc" 124 "pg.php does not finish within 2 s while the table is locked (${elapsed} ms)"
out=$(stack_fcgi_status "$FPM_TCP_ADDR" "full")
like "$out" 'request URI: +/pg\.php' "the hung request shows in the status page"
ok "pg_pids: the postmaster and its processes" test "$(pg_pids | wc -l)" -ge 5
pg_unlock_table
if _stack_pg_locked app_table; then fail "pg_unlock_table ends the lock"; else pass "pg_unlock_table ends the lock"; fi
out=$(STACK_FCGI_TIMEOUT=5 stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/pg.php")
is "$(body <<<"$out")" "OK 3" "pg.php answers again after pg_unlock_table"

# MariaDB.
start=$(ms_now)
my_start || bail_out "MariaDB did not start"
diag "MariaDB up in $(($(ms_now) - start)) ms"
is "$(mariadb --no-defaults -h127.0.0.1 -P"$MY_PORT" -uprobe -pprobe-secret app -N -e 'select 1' 2>&1)" 1 \
	"the probe user logs in over TCP"
like "$(mariadb --no-defaults -h127.0.0.1 -P"$MY_PORT" -uprobe -pwrong app -e 'select 1' 2>&1)" 'Access denied' \
	"a wrong password is refused"
is "$(mariadb --no-defaults --socket="$MY_SOCK" -uprobe -pprobe-secret app -N -e 'select 1' 2>&1)" 1 \
	"and over the unix socket"
is "$(my_sql 'SELECT count(*) FROM app.app_table;')" 3 "my_sql runs SQL as root"
is "$(stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/my.php" | body)" "OK 3" "my.php answers OK 3"
my_lock_table app_table
STACK_FCGI_TIMEOUT=2 stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/my.php" >/dev/null
is "$?" 124 "my.php does not finish within 2 s while the table is locked"
my_unlock_table
out=$(STACK_FCGI_TIMEOUT=5 stack_fcgi "$FPM_TCP_ADDR" "$STACK_WWW/my.php")
is "$(body <<<"$out")" "OK 3" "my.php answers again after my_unlock_table"

# Stopping one pool.
fpm_pids sock >"$STACK_DIR/sock.pids"
fpm_stop sock
ok "fpm_stop ends the master and its workers" none_alive "$STACK_DIR/sock.pids"

# A test killed midway, holding a table lock with a request hanging on it:
# its trap stops everything and removes its directory.
child=$STACK_DIR/child
cat >"$child.sh" <<EOF
. '$here/../lib/tap.sh'
. '$here/../lib/stack.sh'
stack_init
fpm_start w max_children=2 || exit 1
pg_start || exit 1
my_start || exit 1
pg_lock_table || exit 1
STACK_FCGI_TIMEOUT=300 stack_fcgi "\$FPM_W_ADDR" "\$STACK_WWW/pg.php" >/dev/null 2>&1 &
waiting() { [ "\$(pg_psql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")" = 1 ]; }
poll_until 10 waiting || exit 1
{ fpm_pids w; pg_pids; my_pid; jobs -p; } >'$child.pids'
echo "\$STACK_DIR" >'$child.dir'
sleep 600 &
wait
EOF
start=$(ms_now)
bash "$child.sh" >&2 &
cpid=$!
if poll_until 60 test -s "$child.dir"; then
	kill -TERM "$cpid"
	wait "$cpid"
	rc=$?
	diag "killed stack (php-fpm, PostgreSQL with a lock, MariaDB): up and down in $(($(ms_now) - start)) ms"
	is "$rc" 143 "SIGTERM: the test exits 143 after its cleanup"
	ok "every process it started is gone ($(wc -l <"$child.pids") pids)" none_alive "$child.pids"
	ok "its directory is removed" test ! -e "$(cat "$child.dir")"
	ok "its port reservations are released" sh -c "! grep -rqx '$cpid' '$STACK_PORTS_DIR'"
else
	kill -TERM "$cpid" 2>/dev/null
	wait "$cpid"
	fail "the child stack did not start"
	skip "the child stack did not start" 3
fi

# This stack's own cleanup.
{ fpm_pids tcp; pg_pids; my_pid; } >"$STACK_DIR/all.pids"
cp "$STACK_DIR/all.pids" /tmp/fpmprobe-selftest.$$.pids
dir=$STACK_DIR
start=$(ms_now)
stack_cleanup
diag "stack_cleanup took $(($(ms_now) - start)) ms"
ok "stack_cleanup stops every process ($(wc -l </tmp/fpmprobe-selftest.$$.pids) pids)" \
	none_alive /tmp/fpmprobe-selftest.$$.pids
ok "and removes the directory" test ! -e "$dir"
rm -f /tmp/fpmprobe-selftest.$$.pids

done_testing
