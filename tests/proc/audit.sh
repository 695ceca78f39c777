#!/usr/bin/env bash
# The bounded-blocking audit: which layer lets a PHP worker wait for
# ever.  A pool without request_terminate_timeout and databases at their
# defaults are reported with where each value comes from, without
# changing the exit status unless --audit is given; once the timeouts are
# set the findings are gone; a setting the check's role cannot read is
# said to be unreadable.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (private servers)"
[ -x "$PG_BINDIR/postgres" ] || skip_all "no PostgreSQL in $PG_BINDIR"
command -v mariadb-install-db >/dev/null || skip_all "no MariaDB server installed"

stack_init
require_checks pgsql mysql
plan 31

fpm_start open request_terminate_timeout=0 status_listen=1 || bail_out "php-fpm open"
fpm_start bounded request_terminate_timeout=30s request_slowlog_timeout=10s \
	slowlog="$STACK_DIR/bounded-slow.log" \
	status_listen=1 || bail_out "php-fpm bounded"
pg_start || bail_out "PostgreSQL did not start"
my_start || bail_out "MariaDB did not start"

# Debian's layout: php.ini next to php-fpm's main file.
cat >"$STACK_DIR/php.ini" <<'INI'
[PHP]
max_execution_time = 30
default_socket_timeout = 60
[mysqlnd]
mysqlnd.net_read_timeout = 31536000
INI
mkdir "$STACK_DIR/conf.d"
printf 'error_log = "/var/log/php\n' >"$STACK_DIR/conf.d/20-broken.ini"

conf=$STACK_DIR/audit.yml
for p in open bounded; do
	up=${p^^}
	addr=FPM_${up}_ADDR saddr=FPM_${up}_STATUS_ADDR
	cat <<YAML
  $p:
    fastcgi: ${!addr}
    status_path: /fpm-status
    status_listen: ${!saddr}
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", password_file: $PG_PASSWORD_FILE }
      - { name: my, type: mysql, host: 127.0.0.1, port: $MY_PORT, user: $MY_USER,
          password_file: $MY_PASSWORD_FILE, database: app }
YAML
done | { echo "defaults:"; echo "  timeout: 3s"; echo "pools:"; cat; } >"$conf"

out=$("$FPMPROBE" --once -c "$conf" open 2>&1); rc=$?
diag "$out"
is "$rc" 0 "audit findings leave the exit status of a healthy pool alone"
like "$out" "pool open: WARNING php-fpm request_terminate_timeout = 0 \\($FPM_OPEN_CONF:[0-9]+\\): a worker can be held forever" \
	"request_terminate_timeout = 0 is reported with its file and line"
like "$out" "pool open: php-fpm request_slowlog_timeout = 0 \\(default\\): no slow log" \
	"no request_slowlog_timeout: no slow log, php-fpm's default"
like "$out" "pool open: php max_execution_time = 30 \\($STACK_DIR/php.ini:2\\): on Linux .* does not bound a DB wait" \
	"php.ini's max_execution_time is said not to bound a DB wait"
like "$out" "pool open: php mysqlnd.net_read_timeout = 31536000 \\($STACK_DIR/php.ini:5\\)" \
	"mysqlnd.net_read_timeout, where set, is reported"
like "$out" "pool open: php php.ini = unreadable \\($STACK_DIR/conf.d/20-broken.ini\\): $STACK_DIR/conf.d/20-broken.ini:1: unterminated" \
	"a conf.d file that does not parse is a finding of its own"
unlike "$out" "audit: " "--once prints the findings, and does not log them too"
like "$out" "pool open: WARNING postgresql statement_timeout = 0 \\(pgsql 127.0.0.1:$PG_PORT, pg_settings source default\\): unbounded" \
	"PostgreSQL's statement_timeout 0 is reported with its source"
like "$out" "pool open: WARNING postgresql idle_in_transaction_session_timeout = 0 \\(pgsql 127.0.0.1:$PG_PORT, pg_settings source default\\)" \
	"idle_in_transaction_session_timeout 0 too"
like "$out" "pool open: postgresql max_connections - superuser_reserved_connections = [0-9]+ \\(pgsql" \
	"what the pools' roles may open is reported"
like "$out" "pool open: WARNING mariadb wait_timeout = 28800 \\(mysql 127.0.0.1:$MY_PORT\\)" \
	"MariaDB's wait_timeout at its default is reported"
like "$out" "pool open: WARNING mariadb max_statement_time = 0.000000" \
	"MariaDB's max_statement_time 0 is reported"

"$FPMPROBE" --once --audit -c "$conf" open >/dev/null 2>&1
is "$?" 1 "--audit makes the findings a WARNING"
json=$("$FPMPROBE" --once --json -c "$conf" open 2>/dev/null)
like "$json" '"audit": \[\{"pool": "open", "layer": "php-fpm", "setting": "request_terminate_timeout", "value": "0", "source": "[^"]+:[0-9]+", "why": "[^"]+", "safe": "[^"]+", "severity": "warning"\}' \
	"the JSON has an audit array"
is "$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')" OK \
	"the JSON is valid and its status unchanged"

pg_psql "ALTER ROLE probe SET statement_timeout = '5s'" \
	"ALTER ROLE probe SET idle_in_transaction_session_timeout = '10s'" ||
	bail_out "ALTER ROLE"
my_sql "SET GLOBAL wait_timeout = 300" "SET GLOBAL max_statement_time = 5" \
	"SET GLOBAL innodb_lock_wait_timeout = 10" ||
	bail_out "SET GLOBAL"
out=$("$FPMPROBE" --once --audit -c "$conf" bounded 2>/dev/null); rc=$?
diag "$out"
is "$rc" 0 "with every wait bounded --audit finds no WARNING"
unlike "$out" "php-fpm request_terminate_timeout|php-fpm request_slowlog_timeout" \
	"request_terminate_timeout = 30s and a slow log are no finding"
unlike "$out" "postgresql (statement_timeout|idle_in_transaction_session_timeout)" \
	"statement_timeout 5s and idle_in_transaction_session_timeout 10s are no finding"
unlike "$out" "mariadb (wait_timeout|max_statement_time|innodb_lock_wait_timeout)" \
	"wait_timeout 300, max_statement_time 5 and innodb_lock_wait_timeout 10 are no finding"
pg_psql "ALTER ROLE probe SET statement_timeout = '60s'" || bail_out "ALTER ROLE"
out=$("$FPMPROBE" --once -c "$conf" bounded 2>/dev/null)
like "$out" "WARNING postgresql statement_timeout = 60000ms .*: longer than request_terminate_timeout.*below the pool's request_terminate_timeout \\(30s\\)" \
	"a statement_timeout above request_terminate_timeout is a finding"

# Told HAProxy's timeout server, the audit compares the pool's timeout with it.
sed "s|^  bounded:|&\\n    haproxy_timeout_server: 20s|" "$conf" >"$STACK_DIR/audit-haproxy.yml"
out=$("$FPMPROBE" --once -c "$STACK_DIR/audit-haproxy.yml" bounded 2>/dev/null)
like "$out" "WARNING php-fpm request_terminate_timeout = 30s \\($FPM_BOUNDED_CONF:[0-9]+\\): not below HAProxy's timeout server.*\\(20000ms\\)" \
	"request_terminate_timeout 30s against HAProxy's timeout server 20s is a finding"

# A role that may not read pg_settings: said so, the probe still passes.
pg_psql "REVOKE SELECT ON pg_settings FROM PUBLIC" || bail_out "REVOKE"
out=$("$FPMPROBE" --once -c "$conf" bounded 2>/dev/null); rc=$?
diag "$out"
is "$rc" 0 "a setting the role cannot read does not fail the probe"
like "$out" "check db \\(pgsql\\): ok" "the check's query still passes"
like "$out" "postgresql pg_settings = unreadable \\(pgsql 127.0.0.1:$PG_PORT\\): SQLSTATE 42501: permission denied for view pg_settings" \
	"the audit says pg_settings is unreadable, and why"
unlike "$out" "postgresql statement_timeout" "and guesses no value"
json=$("$FPMPROBE" --once --json -c "$conf" bounded 2>/dev/null)
like "$json" '"type": "pgsql", .*"db": \{"max_connections": [1-9][0-9]*, "connections": [1-9]' \
	"the capacity audit still reads its numbers"
pg_psql "GRANT SELECT ON pg_settings TO PUBLIC" || bail_out "GRANT"

# The daemon: each finding on /metrics, logged once, and again after a
# reload, which audits anew.
pg_psql "ALTER ROLE probe RESET statement_timeout" || bail_out "ALTER ROLE"
aport=$(free_port) hport=$(free_port)
dconf=$STACK_DIR/audit-daemon.yml
cat >"$dconf" <<YAML
agent:
  listen: [ "127.0.0.1:$aport" ]
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: 200ms
  timeout: 3s
pools:
  open:
    fastcgi: $FPM_OPEN_ADDR
    status_path: /fpm-status
    status_listen: $FPM_OPEN_STATUS_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - { name: db, type: pgsql, conninfo: "$PG_CONNINFO", password_file: $PG_PASSWORD_FILE }
YAML
fp_daemon_start "$dconf" "$aport" || bail_out "fpmprobe did not start"
metrics_have() {
	curl -s --max-time 5 "http://127.0.0.1:$hport/metrics" | grep -qF "$1"
}
ok "/metrics: a gauge for request_terminate_timeout" poll_until 15 metrics_have \
	'fpmprobe_audit_finding{pool="open",layer="php-fpm",setting="request_terminate_timeout",severity="warning"} 1'
ok "/metrics: a gauge for statement_timeout" poll_until 15 metrics_have \
	'fpmprobe_audit_finding{pool="open",layer="postgresql",setting="statement_timeout",severity="warning"} 1'
logged() { grep -c "pool open: audit: WARNING $1" "$STACK_DIR/fpmprobe.log"; }
sleep 2	# ten intervals
is "$(logged "php-fpm request_terminate_timeout")/$(logged "postgresql statement_timeout")" 1/1 \
	"each finding is logged once, not every interval"
kill -HUP "$FP_PID"
ok "a reload audits again: the findings are logged anew" poll_until 15 \
	sh -c "[ \"\$(grep -c 'pool open: audit: WARNING postgresql statement_timeout' '$STACK_DIR/fpmprobe.log')\" = 2 ]"
fp_daemon_stop
is "$?" 0 "the daemon stops cleanly"
