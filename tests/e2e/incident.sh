#!/usr/bin/env bash
# The FastCGI black hole, replayed through a real HAProxy.  Two php-fpm
# pools (a and b, 4 workers each) behind HAProxy speaking FastCGI
# directly; each pool's app.php reads its own table in a private
# PostgreSQL with no query timeout.  Every scenario runs with HAProxy's
# health checking configured three ways:
#   (a) tcp    `check` only (a TCP connect)
#   (b) httpchk `option httpchk` over FastCGI on app.php (HAProxy's
#              own real-path check)
#   (c) agent  `check` plus `agent-check` to fpmprobe
# Scenarios: 1 a table lock turns pool a into a black hole; 2 overload
# with nothing broken; 3 three of pool a's four workers stuck.  What
# fpmprobe must achieve is asserted; the (a) and (b) runs are baselines,
# reported as "# " lines with only loose sanity checks.
# shellcheck source-path=SCRIPTDIR
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/tap.sh
. "$here/../lib/tap.sh"
# shellcheck source=../lib/stack.sh
. "$here/../lib/stack.sh"
# shellcheck source=../lib/probe.sh
. "$here/../lib/probe.sh"
# shellcheck source=../lib/haproxy.sh
. "$here/../lib/haproxy.sh"
# Functions run through poll_until look unreachable to shellcheck.
# shellcheck disable=SC2317
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
haproxy_available || skip_all "HAProxy 2.x is not installed (tools/deps.sh installs it)"
command -v socat >/dev/null || skip_all "socat is not installed (tools/deps.sh installs it)"
HTTPLOAD=${AGENTC%/agentc}/httpload

# fpmprobe's timing, which the detection bound below is made of.
INTERVAL_MS=1000
TIMEOUT_MS=1000
AGENT_INTER_MS=1000

stack_init
pg_start || bail_out "PostgreSQL did not start"
pg_psql "SET ROLE probe" \
	"CREATE TABLE table_a (id int)" "INSERT INTO table_a SELECT generate_series(1, 3)" \
	"CREATE TABLE table_b (id int)" "INSERT INTO table_b SELECT generate_series(1, 3)" >&2 ||
	bail_out "creating the tables failed"

# The application: one persistent connection per worker, an optional
# amount of work (s=SECS), then a read of the pool's own table with no
# statement or lock timeout, as in the incident.
cat >"$STACK_WWW/app.php" <<'PHP'
<?php
header('Content-Type: text/plain');
$cfg = @parse_ini_file(__DIR__ . '/../pg.ini') ?: [];
$table = getenv('APP_TABLE') ?: 'app_table';
$conninfo = '';
foreach ($cfg as $k => $v)
	$conninfo .= $k . "='" . addcslashes((string)$v, "'\\") . "' ";
$c = @pg_pconnect($conninfo);
if ($c === false) {
	http_response_code(500);
	echo "pg connect failed\n";
	exit;
}
if (isset($_GET['s']))
	usleep((int)round(max(0.0, min((float)$_GET['s'], 60.0)) * 1000000));
$r = @pg_query($c, "SELECT count(*) FROM $table");
if ($r === false) {
	http_response_code(500);
	echo "pg query failed: ", pg_last_error($c), "\n";
	exit;
}
echo "OK ", pg_fetch_result($r, 0, 0), "\n";
PHP

fpm_start a max_children=4 status_listen=1 'env[APP_TABLE]=table_a' || bail_out "pool a"
fpm_start b max_children=4 status_listen=1 'env[APP_TABLE]=table_b' || bail_out "pool b"

AGENT_PORT=$(free_port)
WEB_PORT=$(free_port)
conf=$STACK_DIR/fpmprobe.yml
mkdir -p "$STACK_DIR/state"
{
	cat <<YAML
agent:
  listen: [ "127.0.0.1:$AGENT_PORT" ]
control:
  socket: $STACK_DIR/fpmprobe.sock
  state_dir: $STACK_DIR/state
defaults:
  interval: ${INTERVAL_MS}ms
  timeout: ${TIMEOUT_MS}ms
  rise: 2
  fall: 2
pools:
YAML
	for p in a b; do
		addr=FPM_${p^^}_ADDR saddr=FPM_${p^^}_STATUS_ADDR
		cat <<YAML
  $p:
    fastcgi: ${!addr}
    status_path: /fpm-status
    status_listen: ${!saddr}
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/app.php, expect_body: OK }
      - name: db
        type: pgsql
        conninfo: "$PG_CONNINFO"
        password_file: $PG_PASSWORD_FILE
        query: "SELECT count(*) FROM table_$p"
        fall: 1
YAML
	done
} >"$conf"
"$FPMPROBE" -t -c "$conf" >&2 || bail_out "fpmprobe rejects $conf"
# The port serves two pools and waits for a name: start the daemon here
# rather than with fp_daemon_start, which asks without one.
"$FPMPROBE" -f -c "$conf" 2>>"$STACK_DIR/fpmprobe.log" &
FP_PID=$!
stack_track_pid "$FP_PID"
poll_until 10 agent_ask "$AGENT_PORT" a >/dev/null || bail_out "the daemon did not start"

# Write HAProxy's configuration for MODE (tcp, httpchk or agent).
hap_conf() {
	local mode=$1 chk='' p addr agent
	[ "$mode" = httpchk ] && chk=$'\toption httpchk GET /app.php\n\thttp-check expect status 200'
	haproxy_global
	cat <<EOF

fcgi-app php
	docroot $STACK_WWW

frontend web
	bind 127.0.0.1:$WEB_PORT
	default_backend app

backend app
	balance roundrobin
	use-fcgi-app php
	# php-fpm reads a reused FastCGI connection with a blocking read:
	# without this, kept connections stall requests until a timeout.
	http-reuse never
$chk
EOF
	for p in a b; do
		addr=FPM_${p^^}_ADDR agent=''
		[ "$mode" = agent ] && agent=" agent-check agent-port $AGENT_PORT agent-inter ${AGENT_INTER_MS}ms agent-send \"$p\\n\""
		printf '\tserver %s %s proto fcgi weight 100 check%s\n' "$p" "${!addr}" "$agent"
	done
}

# Succeed when both servers are UP at full weight.
both_up_full() {
	[ "$(haproxy_stat app a status)" = UP ] && [ "$(haproxy_stat app b status)" = UP ] &&
		[ "$(haproxy_weight app a)" = 100 ] && [ "$(haproxy_weight app b)" = 100 ]
}

# Succeed when server $1's status matches the regex $2.
server_is() {
	[[ $(haproxy_stat app "$1" status) =~ $2 ]]
}

# Succeed when HAProxy's weight of server $1 is below its initial 100.
weight_below_100() {
	local w
	w=$(haproxy_weight app "$1")
	[ -n "$w" ] && [ "$w" -lt 100 ]
}

# (Re)start HAProxy in MODE and wait until both servers serve at weight 100.
hap_run() {
	haproxy_stop
	hap_conf "$1" >"$STACK_DIR/haproxy-$1.cfg"
	haproxy_start "$STACK_DIR/haproxy-$1.cfg" || bail_out "HAProxy ($1) did not start"
	poll_until 15 both_up_full || bail_out "HAProxy ($1): servers not UP at weight 100"
}

# Succeed when pool $1's status page shows 4 idle workers and no queue.
pool_quiet() {
	local saddr=FPM_${1^^}_STATUS_ADDR page
	page=$(stack_fcgi_status "${!saddr}" 2>/dev/null)
	[[ $page =~ idle\ processes:\ *4 ]] && [[ $page =~ listen\ queue:\ *0 ]]
}

# Succeed when both pools are healthy and idle: no request left over from
# the previous run still queued in php-fpm (it would skew the next run).
pools_idle() {
	[ "$(agent_ask "$AGENT_PORT" a)" = "ready up 100%" ] &&
		[ "$(agent_ask "$AGENT_PORT" b)" = "ready up 100%" ] &&
		pool_quiet a && pool_quiet b
}

# Start the load client in the background: load_start CONC SECS PATH.
load_start() {
	LOAD_OUT=$STACK_DIR/load.$RANDOM
	"$HTTPLOAD" -c "$1" -d "$2" -t 10000 -p "$3" "127.0.0.1:$WEB_PORT" >"$LOAD_OUT" 2>&1 &
	LOAD_PID=$!
}

# Wait for the load client; its summary line goes to $LOAD.
load_wait() {
	wait "$LOAD_PID"
	LOAD=$(grep '^total=' "$LOAD_OUT")
	[ -n "$LOAD" ] || diag "load client: $(cat "$LOAD_OUT")"
}

# One value of a summary line: lv LINE KEY.
lv() {
	sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1"
}

# One sample of both servers, tab-separated: ms, then status|check|weight
# of a and of b ("DOWN (agent)|L4OK|100").  HAProxy marks a check under
# way with "* " before its last result ("* L4OK"): that mark is dropped.
sample() {
	haproxy_cmd "show stat" | awk -F, -v ms="$(ms_now)" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == "app" && ($2 == "a" || $2 == "b") {
			check = $(col["check_status"])
			sub(/^\* /, "", check)
			s[$2] = $(col["status"]) "|" check "|" $(col["weight"])
		}
		END { print ms "\t" s["a"] "\t" s["b"] }'
}

# Sample both servers every 100 ms for SECS seconds into FILE.
watch_for() {
	local until=$(($(ms_now) + $1 * 1000)) file=$2
	while [ "$(ms_now)" -lt "$until" ]; do
		sample >>"$file"
		sleep 0.1
	done
}

# Sample into FILE until server $2 has status matching $3, at most $1 s.
watch_until() {
	local until=$(($(ms_now) + $1 * 1000)) srv=$2 re=$3 file=$4 line st
	while [ "$(ms_now)" -lt "$until" ]; do
		line=$(sample)
		echo "$line" >>"$file"
		if [ "$srv" = a ]; then st=$(cut -f2 <<<"$line"); else st=$(cut -f3 <<<"$line"); fi
		[[ ${st%%|*} =~ $re ]] && return 0
		sleep 0.1
	done
	return 1
}

# The distinct states server $1 went through in sample FILE $2.
states_of() {
	local f=2
	[ "$1" = b ] && f=3
	awk -F'\t' -v f="$f" '{ split($f, s, "|"); if (!(s[1] "|" s[2] in seen)) { seen[s[1] "|" s[2]] = 1; printf "%s%s", n++ ? ", " : "", s[1] " " s[2] } }' "$2"
}

# Milliseconds from T0 to the first sample where server $1's status matches $2.
first_match_ms() {
	local f=2
	[ "$1" = b ] && f=3
	awk -F'\t' -v f="$f" -v re="$2" -v t0="$4" '{ split($f, s, "|"); if ($1 >= t0 && s[1] ~ re) { print $1 - t0; exit } }' "$3"
}

# ---------------------------------------------------------------------
# Scenario 1: the black hole.  8 clients on app.php for 10 s; pool a's
# table is locked 1 s into the run and released when the load ends.
declare -A S1
for mode in tcp httpchk agent; do
	poll_until 30 pools_idle || diag "pools not idle before scenario 1 ($mode)"
	hap_run "$mode"
	samples=$STACK_DIR/s1-$mode.samples
	load_start 8 10 /app.php
	t_start=$(ms_now)
	watch_for 1 "$samples"
	pg_lock_table table_a || bail_out "could not lock table_a"
	t_lock=$(ms_now)
	if [ "$mode" = agent ]; then
		watch_until 10 a '^DOWN' "$samples"
		down_ms=$(first_match_ms a '^DOWN' "$samples" "$t_lock")
		down_line=$(awk -F'\t' -v t="$((t_lock + ${down_ms:-0}))" '$1 == t { print $2; exit }' "$samples")
	fi
	watch_for $(((t_start + 10000 - $(ms_now)) / 1000)) "$samples"
	load_wait
	S1[$mode]=$LOAD
	pg_unlock_table
	t_unlock=$(ms_now)
	up_ms=
	if [ "$mode" != tcp ]; then
		watch_until 20 a '^UP' "$samples"
		up_ms=$(first_match_ms a '^UP' "$samples" "$t_unlock")
	fi
	diag "scenario 1 ($mode): $LOAD" \
		"  a went through: $(states_of a "$samples")" \
		"  b went through: $(states_of b "$samples")"
	case $mode in
	tcp)
		ok "1 (tcp): a stays UP L4OK during the lock" \
			test "$(states_of a "$samples")" = "UP L4OK"
		ok "1 (tcp): b stays UP L4OK" test "$(states_of b "$samples")" = "UP L4OK"
		ok "1 (tcp): requests fail (baseline, $(lv "$LOAD" failed_pct)%)" \
			test "$(lv "$LOAD" failed)" -gt 0
		;;
	httpchk)
		ok "1 (httpchk): a goes DOWN" grep -q '^DOWN' <(cut -f2 "$samples")
		if grep -q '^DOWN' <(cut -f3 "$samples"); then
			diag "  b went DOWN too"
		else
			diag "  b stayed up"
		fi
		diag "  a DOWN $(first_match_ms a '^DOWN' "$samples" "$t_lock") ms after the lock," \
			"  UP again ${up_ms:-never} ms after the unlock"
		;;
	agent)
		limit=$((INTERVAL_MS + TIMEOUT_MS + 1000))
		like "${down_line:-none}" "^DOWN \\(agent\\)\\|L4OK\\|" \
			"1 (agent): a is DOWN (agent) while its built-in check says L4OK"
		ok "1 (agent): within interval + timeout + 1 s (${down_ms:-never} ms <= $limit ms)" \
			test "${down_ms:-999999}" -le "$limit"
		ok "1 (agent): b stays UP" test -z "$(cut -f3 "$samples" | grep -v '^UP|')"
		ok "1 (agent): under 1% of requests fail ($(lv "$LOAD" failed) of $(lv "$LOAD" total))" \
			awk -v f="$(lv "$LOAD" failed_pct)" 'BEGIN { exit !(f < 1.0) }'
		ok "1 (agent): a comes back after the unlock (${up_ms:-never} ms)" test -n "$up_ms"
		;;
	esac
done

# ---------------------------------------------------------------------
# Scenario 2: overload, nothing broken.  64 clients, 200 ms requests,
# 8 workers in all (40 requests/s at most).
declare -A S2
for mode in tcp httpchk agent; do
	poll_until 30 pools_idle || diag "pools not idle before scenario 2 ($mode)"
	haproxy_stop
	poll_until 30 pools_idle || diag "pools not idle after stopping HAProxy ($mode)"
	hap_run "$mode"
	samples=$STACK_DIR/s2-$mode.samples
	load_start 64 10 '/app.php?s=0.2'
	watch_for 10 "$samples"
	load_wait
	S2[$mode]=$LOAD
	diag "scenario 2 ($mode): $LOAD" \
		"  a went through: $(states_of a "$samples")" \
		"  b went through: $(states_of b "$samples")"
	case $mode in
	httpchk)
		ok "2 (httpchk): a pool goes DOWN under mere load (baseline)" \
			grep -q 'DOWN' <(cut -f2,3 "$samples")
		;;
	agent)
		ok "2 (agent): no pool is ever DOWN, DRAIN or MAINT" \
			test -z "$(cut -f2,3 "$samples" | tr '\t' '\n' | grep -v '^UP|')"
		weights=$(awk -F'\t' '{ split($2, a, "|"); split($3, b, "|"); print a[3] "/" b[3] }' "$samples" | sort -u | tr '\n' ' ')
		diag "  weights a/b seen: $weights"
		;;
	esac
done
a_pct=$(lv "${S2[tcp]}" failed_pct)
c_pct=$(lv "${S2[agent]}" failed_pct)
# The machine is shared: allow 5 points of noise between the two runs.
ok "2 (agent): failed share no worse than tcp-only ($c_pct% vs $a_pct%, margin 5 points)" \
	awk -v a="$a_pct" -v c="$c_pct" 'BEGIN { exit !(c <= a + 5) }'

# ---------------------------------------------------------------------
# Scenario 3: partial loss.  3 of pool a's 4 workers stuck on long
# requests; 16 clients on 50 ms requests.
poll_until 30 pools_idle || diag "pools not idle before scenario 3"
fpm_occupy "$FPM_A_ADDR" 3 90
ok "3: three of a's workers are busy" poll_until 10 fpm_active_at_least "$FPM_A_STATUS_ADDR" 3
ok "3: fpmprobe sees them stuck (ready up 25%)" \
	poll_until 10 sh -c "'$AGENTC' -s a 127.0.0.1:$AGENT_PORT | grep -qx 'ready up 25%'"
declare -A S3
for mode in tcp agent; do
	haproxy_stop
	hap_conf "$mode" >"$STACK_DIR/haproxy-$mode.cfg"
	haproxy_start "$STACK_DIR/haproxy-$mode.cfg" || bail_out "HAProxy ($mode) did not start"
	poll_until 15 server_is b '^UP' || diag "b is not UP ($mode)"
	if [ "$mode" = agent ]; then
		poll_until $((AGENT_INTER_MS / 1000 + 5)) weight_below_100 a
		w=$(haproxy_weight app a)
		ok "3 (agent): HAProxy's weight of a is about 25 ($w)" test "${w:-0}" -ge 20 -a "${w:-0}" -le 30
	fi
	samples=$STACK_DIR/s3-$mode.samples
	load_start 16 8 '/app.php?s=0.05'
	watch_for 8 "$samples"
	load_wait
	S3[$mode]=$LOAD
	answer=$(agent_ask "$AGENT_PORT" a)
	diag "scenario 3 ($mode): $LOAD" \
		"  fpmprobe answers for a after the load: $answer" \
		"  $("$FPMPROBE" --once -c "$conf" a 2>&1 | grep -E 'workers|pool a')" \
		"  weights a/b seen: $(awk -F'\t' '{ split($2, a, "|"); split($3, b, "|"); print a[3] "/" b[3] }' "$samples" | sort -u | tr '\n' ' ')"
done
a_p99=$(lv "${S3[tcp]}" p99_us)
c_p99=$(lv "${S3[agent]}" p99_us)
ok "3 (agent): p99 latency lower than tcp-only ($c_p99 us vs $a_p99 us)" \
	test "${c_p99:-999999999}" -lt "${a_p99:-0}"

# ---------------------------------------------------------------------
# An operator's mark reaches HAProxy (still running with the agent).
"$FPMPROBE" ctl -c "$conf" maint b deploy 4711 >&2
t0=$(ms_now)
ok "ctl maint b: HAProxy puts b in MAINT" poll_until 10 server_is b '^MAINT'
diag "  b is '$(haproxy_stat app b status)' $(($(ms_now) - t0)) ms after ctl maint"
"$FPMPROBE" ctl -c "$conf" ready b >&2
ok "ctl ready b: b is UP again" poll_until 10 server_is b '^UP'

haproxy_stop
ok "SIGTERM stops fpmprobe cleanly" fp_daemon_stop

# The numbers, side by side.
for mode in tcp httpchk agent; do
	diag "$(printf 'summary 1 black hole %-8s %s' "$mode" "${S1[$mode]}")"
done
for mode in tcp httpchk agent; do
	diag "$(printf 'summary 2 overload   %-8s %s' "$mode" "${S2[$mode]}")"
done
for mode in tcp agent; do
	diag "$(printf 'summary 3 3/4 stuck  %-8s %s' "$mode" "${S3[$mode]}")"
done

done_testing
