#!/usr/bin/env bash
# The FastCGI black hole, replayed through a real HAProxy.  Two php-fpm
# pools (a and b, 4 workers each) behind HAProxy speaking FastCGI
# directly; each pool's app.php reads its own table in a private
# PostgreSQL with no query timeout.  HAProxy runs the documented recipe,
# docs/haproxy-fcgi.cfg, with only its example addresses, docroot and
# pool names replaced (server web1 is pool a, web2 pool b), and the load
# is keep-alive HTTP/1.1 as browsers send it.  Every scenario runs with
# HAProxy's health checking configured three ways:
#   (a) tcp    `check` only (a TCP connect): the recipe without agent-check
#   (b) httpchk `option httpchk` over FastCGI on app.php (HAProxy's own
#              real-path check), also without agent-check
#   (c) agent  the recipe as written: `check` plus `agent-check` to fpmprobe
# Scenarios: 1 a table lock turns pool a into a black hole; 2 overload
# with nothing broken; 3 three of pool a's four workers stuck.  What
# fpmprobe must achieve is asserted; what the (a) and (b) runs measure is
# HAProxy's own checking, reported as "# " lines.  A table of failure
# shares, throughput, p99, time to DOWN and weights ends the run.
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
# Functions run through poll_until and ok look unreachable to shellcheck.
# shellcheck disable=SC2317
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
haproxy_available || skip_all "HAProxy 2.6 or later is not installed (tools/deps.sh installs it)"
command -v socat >/dev/null || skip_all "socat is not installed (tools/deps.sh installs it)"
plan 21
HTTPLOAD=${AGENTC%/agentc}/httpload
RECIPE=$here/../../docs/haproxy-fcgi.cfg
[ -r "$RECIPE" ] || bail_out "cannot read $RECIPE"
# The recipe's backend and servers.
BE=php SRV_A=web1 SRV_B=web2

# fpmprobe's timing, and the recipe's agent-inter: the detection bound
# below is made of them.
INTERVAL_MS=1000
TIMEOUT_MS=1000
FALL=2
AGENT_INTER_MS=$(haproxy_time_ms "$(sed -n '/^[[:space:]]*server /s/.* agent-inter \([^ ]*\).*/\1/p' "$RECIPE" | sort -u)") ||
	bail_out "the recipe's server lines do not have one agent-inter"
# Sampling (every 100 ms, through the stats socket) and scheduling on a
# machine that other tests share.
MARGIN_MS=1500
DOWN_LIMIT_MS=$((INTERVAL_MS * FALL + TIMEOUT_MS + AGENT_INTER_MS + MARGIN_MS))

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
  fall: $FALL
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

# Write HAProxy's configuration for MODE (tcp, httpchk or agent): the
# test's global and defaults, a frontend, then the recipe with this
# stack's addresses; tcp and httpchk drop the agent from its server lines.
hap_conf() {
	local mode=$1 rules
	rules=$(printf '%s\t%s\t%s\n' \
		'docroot /srv/www/public' "docroot $STACK_WWW" 1 \
		'10.0.0.1:9000' "$FPM_A_ADDR" 1 \
		'10.0.0.2:9000' "$FPM_B_ADDR" 1 \
		'agent-port 9777' "agent-port $AGENT_PORT" 2
	printf '%s\t%s\t%s\t%s\n' \
		'"www\n"' '"a\n"' 1 "server $SRV_A " \
		'"www\n"' '"b\n"' 1 "server $SRV_B ")
	haproxy_global
	cat <<EOF

frontend web
	bind 127.0.0.1:$WEB_PORT
	default_backend $BE

EOF
	if [ "$mode" = agent ]; then
		haproxy_edit "$RECIPE" "$rules"
		return
	fi
	haproxy_edit "$RECIPE" "$rules" |
		sed -E '/^[[:space:]]*server /s/ agent-(check|port [^ ]+|inter [^ ]+|send [^ ]+)//g' |
		awk -v chk="$([ "$mode" = httpchk ] && echo 1)" '
			{ print }
			chk && $1 == "use-fcgi-app" {
				print "    option httpchk GET /app.php"
				print "    http-check expect status 200"
			}'
	return "${PIPESTATUS[0]}"
}

# Write HAProxy's configuration for MODE to $STACK_DIR/haproxy-MODE.cfg.
hap_write() {
	local f=$STACK_DIR/haproxy-$1.cfg
	hap_conf "$1" >"$f" || bail_out "the test's edits no longer match $RECIPE"
	if [ "$1" = agent ]; then
		[ "$(grep -Ec '^[[:space:]]*server .* agent-check ' "$f")" = 2 ] ||
			bail_out "$f: not two servers with agent-check"
	else
		! grep -Eq '^[[:space:]]*server .* agent-' "$f" || bail_out "$f: agent keywords left"
	fi
}

# Succeed when both servers are UP at full weight.
both_up_full() {
	[ "$(haproxy_stat "$BE" "$SRV_A" status)" = UP ] &&
		[ "$(haproxy_stat "$BE" "$SRV_B" status)" = UP ] &&
		[ "$(haproxy_weight "$BE" "$SRV_A")" = 100 ] &&
		[ "$(haproxy_weight "$BE" "$SRV_B")" = 100 ]
}

# Succeed when server $1's status matches the regex $2.
server_is() {
	[[ $(haproxy_stat "$BE" "$1" status) =~ $2 ]]
}

# Succeed when HAProxy's weight of server $1 is below its initial 100.
weight_below_100() {
	local w
	w=$(haproxy_weight "$BE" "$1")
	[ -n "$w" ] && [ "$w" -lt 100 ]
}

# (Re)start HAProxy in MODE.
hap_restart() {
	haproxy_stop
	hap_write "$1"
	haproxy_start "$STACK_DIR/haproxy-$1.cfg" || bail_out "HAProxy ($1) did not start"
}

# (Re)start HAProxy in MODE and wait until both servers serve at weight 100.
hap_run() {
	hap_restart "$1"
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

# Start the load client in the background: load_start CONC SECS PATH
# [OPTION...]: CONC keep-alive clients, each request under a 10 s deadline.
load_start() {
	LOAD_OUT=$STACK_DIR/load.$RANDOM
	"$HTTPLOAD" -c "$1" -d "$2" -t 10000 -p "$3" "${@:4}" "127.0.0.1:$WEB_PORT" >"$LOAD_OUT" 2>&1 &
	LOAD_PID=$!
}

# Wait for the load client; its summary line goes to $LOAD ("" if none).
load_wait() {
	local rc
	wait "$LOAD_PID"
	rc=$?
	LOAD=$(grep '^total=' "$LOAD_OUT")
	if [ "$rc" != 0 ] || [ -z "$LOAD" ]; then
		diag "load client (exit $rc): $(cat "$LOAD_OUT")"
	fi
}

# One value of a summary line: lv LINE KEY.
lv() {
	sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1"
}

# Succeed when summary LINE counted requests and its failed share is
# numeric: a missing or empty summary measured nothing.
measured() {
	local total
	total=$(lv "$1" total)
	[[ $total =~ ^[0-9]+$ ]] && [ "$total" -gt 0 ] &&
		[[ $(lv "$1" failed_pct) =~ ^[0-9]+(\.[0-9]+)?$ ]]
}

# Succeed when summary LINE measured requests and under PCT % failed.
failed_below() {
	measured "$1" && awk -v p="$(lv "$1" failed_pct)" -v lim="$2" 'BEGIN { exit !(p + 0 < lim + 0) }'
}

# Succeed when both summaries measured requests and the second's failed
# share is at most POINTS above the first's: no_worse FIRST SECOND POINTS.
no_worse() {
	measured "$1" && measured "$2" &&
		awk -v a="$(lv "$1" failed_pct)" -v c="$(lv "$2" failed_pct)" -v m="$3" 'BEGIN { exit !(c + 0 <= a + m) }'
}

# Succeed when both summaries measured requests and the first's p99 is
# lower than the second's.
p99_lower() {
	measured "$1" && measured "$2" && [ "$(lv "$1" p99_us)" -lt "$(lv "$2" p99_us)" ]
}

# Succeed when summary LINE measured requests and none failed.
none_failed() {
	measured "$1" && [ "$(lv "$1" failed)" = 0 ]
}

# One sample of both servers, tab-separated: ms, then status|check|weight
# of a and of b ("DOWN (agent)|L4OK|100").  HAProxy marks a check under
# way with "* " before its last result ("* L4OK"): that mark is dropped.
# A server HAProxy did not report (the socket did not answer) is empty.
sample() {
	haproxy_cmd "show stat" | awk -F, -v ms="$(ms_now)" -v be="$BE" -v a="$SRV_A" -v b="$SRV_B" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == be && ($2 == a || $2 == b) {
			check = $(col["check_status"])
			sub(/^\* /, "", check)
			s[$2] = $(col["status"]) "|" check "|" $(col["weight"])
		}
		END { print ms "\t" s[a] "\t" s[b] }'
}

# Sample both servers every 100 ms for MS milliseconds into FILE.
watch_for() {
	local until=$(($(ms_now) + $1)) file=$2
	while [ "$(ms_now)" -lt "$until" ]; do
		sample >>"$file"
		sleep 0.1
	done
}

# The sample file's column of pool $1 (a or b).
col_of() {
	if [ "$1" = b ]; then echo 3; else echo 2; fi
}

# Sample into FILE until pool $2's server has a status matching $3, at
# most $1 milliseconds.
watch_until() {
	local until=$(($(ms_now) + $1)) re=$3 file=$4 line st f
	f=$(col_of "$2")
	while [ "$(ms_now)" -lt "$until" ]; do
		line=$(sample)
		echo "$line" >>"$file"
		st=$(cut -f"$f" <<<"$line")
		[[ ${st%%|*} =~ $re ]] && return 0
		sleep 0.1
	done
	return 1
}

# The distinct states pool $1's server went through in sample FILE $2.
states_of() {
	awk -F'\t' -v f="$(col_of "$1")" '{
		if ($f == "") st = "(no answer)"; else { split($f, s, "|"); st = s[1] " " s[2] }
		if (!(st in seen)) { seen[st] = 1; printf "%s%s", n++ ? ", " : "", st } }
		END { if (!n) printf "(no samples)" }' "$2"
}

# Succeed when FILE holds samples and pool $1's server matched the regex
# $2 in every one.  No samples, or one HAProxy did not answer, fails.
always_in() {
	awk -F'\t' -v f="$(col_of "$1")" -v re="$2" '
		{ n++; if ($f == "" || $f !~ re) bad++ }
		END { printf "%d samples, %d not matching %s\n", n, bad, re; exit !(n > 0 && bad == 0) }' "$3"
}

# Milliseconds from T0 to the first sample where pool $1's server's status
# matches $2 (nothing if none): first_match_ms POOL RE FILE T0.
first_match_ms() {
	awk -F'\t' -v f="$(col_of "$1")" -v re="$2" -v t0="$4" '
		{ split($f, s, "|"); if ($1 >= t0 && s[1] ~ re) { print $1 - t0; exit } }' "$3"
}

# The distinct weights a/b in sample FILE, in the order first seen.
weights_of() {
	awk -F'\t' '{ split($2, a, "|"); split($3, b, "|")
		w = (a[3] == "" ? "?" : a[3]) "/" (b[3] == "" ? "?" : b[3])
		if (!(w in seen)) { seen[w] = 1; printf "%s%s", n++ ? " " : "", w } }' "$1"
}

# Keep one run's numbers for the summary: note SCENARIO MODE SAMPLES DOWN_MS.
declare -A RUN_LOAD RUN_DOWN RUN_WEIGHTS
note() {
	RUN_LOAD[$1,$2]=$LOAD
	RUN_DOWN[$1,$2]=${4:-never}
	RUN_WEIGHTS[$1,$2]=$(weights_of "$3")
}

# One run's diagnostics: run_diag TITLE SAMPLES.
run_diag() {
	diag "$1: ${LOAD:-no load summary}" \
		"  $SRV_A (a) went through: $(states_of a "$2")" \
		"  $SRV_B (b) went through: $(states_of b "$2")" \
		"  weights a/b seen: $(weights_of "$2")"
}

# ---------------------------------------------------------------------
# The recipe itself: keep-alive clients, and clients that close after
# every request, are served without a request failing.
poll_until 30 pools_idle || diag "pools not idle before the recipe check"
hap_run agent
for kind in keep-alive close; do
	opt=()
	[ "$kind" = close ] && opt=(-C)
	load_start 16 3 /status.php "${opt[@]}"
	load_wait
	ok "recipe: 16 $kind clients on status.php for 3 s, none fails ($(lv "$LOAD" total) requests, $(lv "$LOAD" per_s)/s, $(lv "$LOAD" conns) connections)" \
		none_failed "$LOAD"
done

# ---------------------------------------------------------------------
# Scenario 1: the black hole.  8 clients on app.php for 10 s; pool a's
# table is locked 1 s into the run and released when the load ends.
for mode in tcp httpchk agent; do
	poll_until 30 pools_idle || diag "pools not idle before scenario 1 ($mode)"
	hap_run "$mode"
	samples=$STACK_DIR/s1-$mode.samples
	: >"$samples"
	load_start 8 10 /app.php
	t_start=$(ms_now)
	watch_for 1000 "$samples"
	pg_lock_table table_a || bail_out "could not lock table_a"
	t_lock=$(ms_now)
	watch_until $((t_start + 10000 - $(ms_now))) a '^DOWN' "$samples"
	watch_for $((t_start + 10000 - $(ms_now))) "$samples"
	load_wait
	pg_unlock_table
	t_unlock=$(ms_now)
	down_ms=$(first_match_ms a '^DOWN' "$samples" "$t_lock")
	up_ms=
	if [ -n "$down_ms" ]; then
		watch_until 20000 a '^UP' "$samples"
		up_ms=$(first_match_ms a '^UP' "$samples" "$t_unlock")
	fi
	note 1 "$mode" "$samples" "$down_ms"
	run_diag "scenario 1 ($mode)" "$samples"
	diag "  $SRV_A DOWN ${down_ms:-never} ms after the lock, UP again ${up_ms:-never} ms after the unlock"
	[ "$mode" = agent ] || continue
	down_line=
	[ -n "$down_ms" ] &&
		down_line=$(awk -F'\t' -v t="$((t_lock + down_ms))" '$1 == t { print $2; exit }' "$samples")
	like "${down_line:-none}" "^DOWN \\(agent\\)\\|L4OK\\|" \
		"1 (agent): a is DOWN (agent) while its built-in check says L4OK"
	ok "1 (agent): a DOWN within interval*fall + timeout + agent-inter + margin = $INTERVAL_MS*$FALL + $TIMEOUT_MS + $AGENT_INTER_MS + $MARGIN_MS = $DOWN_LIMIT_MS ms (${down_ms:-never} ms)" \
		test "${down_ms:-999999}" -le "$DOWN_LIMIT_MS"
	ok "1 (agent): b stays UP" always_in b '^UP[|]' "$samples"
	ok "1 (agent): under 1% of requests fail ($(lv "$LOAD" failed) of $(lv "$LOAD" total))" \
		failed_below "$LOAD" 1
	ok "1 (agent): a comes back after the unlock (${up_ms:-never} ms)" test -n "$up_ms"
done

# ---------------------------------------------------------------------
# Scenario 2: overload, nothing broken.  64 clients, 200 ms requests,
# 8 workers in all (40 requests/s at most).
for mode in tcp httpchk agent; do
	poll_until 30 pools_idle || diag "pools not idle before scenario 2 ($mode)"
	haproxy_stop
	poll_until 30 pools_idle || diag "pools not idle after stopping HAProxy ($mode)"
	hap_run "$mode"
	samples=$STACK_DIR/s2-$mode.samples
	: >"$samples"
	t_start=$(ms_now)
	load_start 64 10 '/app.php?s=0.2'
	watch_for 10000 "$samples"
	load_wait
	down_ms=$({ first_match_ms a '^DOWN' "$samples" "$t_start"
		first_match_ms b '^DOWN' "$samples" "$t_start"; } | sort -n | head -n 1)
	note 2 "$mode" "$samples" "$down_ms"
	run_diag "scenario 2 ($mode)" "$samples"
	diag "  first DOWN ${down_ms:-never} ms after the load started"
	[ "$mode" = agent ] || continue
	ok "2 (agent): a is never DOWN, DRAIN or MAINT" always_in a '^UP[|]' "$samples"
	ok "2 (agent): b is never DOWN, DRAIN or MAINT" always_in b '^UP[|]' "$samples"
done
a_pct=$(lv "${RUN_LOAD[2,tcp]}" failed_pct)
c_pct=$(lv "${RUN_LOAD[2,agent]}" failed_pct)
# The machine is shared: allow 5 points of noise between the two runs.
ok "2 (agent): failed share no worse than tcp-only (${c_pct:-none}% vs ${a_pct:-none}%, margin 5 points)" \
	no_worse "${RUN_LOAD[2,tcp]}" "${RUN_LOAD[2,agent]}" 5

# ---------------------------------------------------------------------
# Scenario 3: partial loss.  3 of pool a's 4 workers stuck on long
# requests; 16 clients on 50 ms requests.
poll_until 30 pools_idle || diag "pools not idle before scenario 3"
fpm_occupy "$FPM_A_ADDR" 3 90
ok "3: three of a's workers are busy" poll_until 10 fpm_active_at_least "$FPM_A_STATUS_ADDR" 3
ok "3: fpmprobe sees them stuck (ready up 25%)" \
	poll_until 10 sh -c "'$AGENTC' -s a 127.0.0.1:$AGENT_PORT | grep -qx 'ready up 25%'"
for mode in tcp httpchk agent; do
	hap_restart "$mode"
	poll_until 15 server_is "$SRV_B" '^UP' || diag "$SRV_B is not UP ($mode)"
	if [ "$mode" = agent ]; then
		poll_until $((AGENT_INTER_MS / 1000 + 5)) weight_below_100 "$SRV_A"
		w=$(haproxy_weight "$BE" "$SRV_A")
		ok "3 (agent): HAProxy's weight of a is about 25 ($w)" test "${w:-0}" -ge 20 -a "${w:-0}" -le 30
	else
		poll_until 15 server_is "$SRV_A" '^UP' || diag "$SRV_A is not UP ($mode)"
	fi
	samples=$STACK_DIR/s3-$mode.samples
	: >"$samples"
	t_start=$(ms_now)
	load_start 16 8 '/app.php?s=0.05'
	watch_for 8000 "$samples"
	load_wait
	note 3 "$mode" "$samples" "$(first_match_ms a '^DOWN' "$samples" "$t_start")"
	run_diag "scenario 3 ($mode)" "$samples"
	diag "  fpmprobe answers for a after the load: $(agent_ask "$AGENT_PORT" a)" \
		"  $("$FPMPROBE" --once -c "$conf" a 2>&1 | grep -E 'workers|pool a')"
done
a_p99=$(lv "${RUN_LOAD[3,tcp]}" p99_us)
c_p99=$(lv "${RUN_LOAD[3,agent]}" p99_us)
ok "3 (agent): p99 latency lower than tcp-only (${c_p99:-none} us vs ${a_p99:-none} us)" \
	p99_lower "${RUN_LOAD[3,agent]}" "${RUN_LOAD[3,tcp]}"

# ---------------------------------------------------------------------
# An operator's mark reaches HAProxy (still running with the agent).
"$FPMPROBE" ctl -c "$conf" maint b deploy 4711 >&2
t0=$(ms_now)
ok "ctl maint b: HAProxy puts $SRV_B in MAINT" poll_until 10 server_is "$SRV_B" '^MAINT'
diag "  $SRV_B is '$(haproxy_stat "$BE" "$SRV_B" status)' $(($(ms_now) - t0)) ms after ctl maint"
"$FPMPROBE" ctl -c "$conf" ready b >&2
ok "ctl ready b: $SRV_B is UP again" poll_until 10 server_is "$SRV_B" '^UP'
# A drained pool that breaks must leave HAProxy's UP (a DRAIN server still
# serves its sticky sessions), and come back when it recovers: the drain
# answer carries the health word ("drain down #...", "drain up 100% #...").
"$FPMPROBE" ctl -c "$conf" drain b moving >&2
ok "ctl drain b: HAProxy shows $SRV_B in DRAIN" poll_until 10 server_is "$SRV_B" '^DRAIN'
pg_lock_table table_b || bail_out "could not lock table_b"
ok "b breaks while drained: $SRV_B goes DOWN, still drained" poll_until 15 server_is "$SRV_B" '^DOWN'
diag "  $SRV_B drained and broken: '$(haproxy_stat "$BE" "$SRV_B" status)', agent says '$(agent_ask "$AGENT_PORT" b)'"
pg_unlock_table
ok "b recovers while drained: DRAIN again, not DOWN" poll_until 15 server_is "$SRV_B" '^DRAIN'
"$FPMPROBE" ctl -c "$conf" ready b >&2
ok "ctl ready b: $SRV_B is UP" poll_until 10 server_is "$SRV_B" '^UP'

haproxy_stop
ok "SIGTERM stops fpmprobe cleanly" fp_daemon_stop

# The numbers, side by side.  DOWN: scenario 1 from the lock to a's DOWN;
# 2 from the load's start to the first DOWN; 3 from the load's start to
# a's DOWN.
diag "$(printf 'summary %-12s %-8s %8s %8s %9s %8s  %s' scenario check failed req/s p99_ms DOWN_ms 'weights a/b seen')"
for s in 1 2 3; do
	case $s in 1) title='1 black hole' ;; 2) title='2 overload' ;; 3) title='3 3/4 stuck' ;; esac
	for mode in tcp httpchk agent; do
		l=${RUN_LOAD[$s,$mode]}
		if measured "$l"; then
			diag "$(printf 'summary %-12s %-8s %7s%% %8s %9s %8s  %s' "$title" "$mode" \
				"$(lv "$l" failed_pct)" "$(lv "$l" per_s)" \
				"$(awk -v u="$(lv "$l" p99_us)" 'BEGIN { printf "%.1f", u / 1000 }')" \
				"${RUN_DOWN[$s,$mode]}" "${RUN_WEIGHTS[$s,$mode]:0:60}")"
		else
			diag "$(printf 'summary %-12s %-8s no load summary' "$title" "$mode")"
		fi
	done
done
for s in 1 2 3; do
	for mode in tcp httpchk agent; do
		diag "load $s $mode: ${RUN_LOAD[$s,$mode]:-none}"
	done
done

done_testing
