#!/usr/bin/env bash
# Worker-state sampling against real php-fpm pools (static and dynamic,
# TCP and unix): weights from stuck workers, what they wait on, a pool
# whose every worker hangs on a PostgreSQL lock, status_listen under
# saturation, and overload that must never turn into down.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 28

stack_init
fpm_start half max_children=4 status_listen=1
fpm_start dyn pm=dynamic max_children=4 listen=unix
pg_start

conf=$STACK_DIR/workers.yml
cat >"$conf" <<YAML
pools:
  half:
    fastcgi: $FPM_HALF_ADDR
    status_path: /fpm-status
    status_listen: $FPM_HALF_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  dyn:
    fastcgi: $FPM_DYN_ADDR
    status_path: /fpm-status
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML

out=$("$FPMPROBE" --once --json -c "$conf"); rc=$?
is "$rc" 0 "idle pools are OK"
is "$(json_get "$out" '[p["weight"] for p in j["pools"]]')" "[100, 100]" "idle pools: weight 100"
is "$(json_get "$out" 'j["pools"][0]["workers"]["max_children"]')" 4 "static pool: max_children 4"
like "$(json_get "$out" 'j["pools"][0]["workers"]["max_children_source"]')" "^php-fpm config $FPM_HALF_CONF:[0-9]+$" \
	"learned from php-fpm's configuration, local pools of every kind"
is "$(json_get "$out" 'j["pools"][1]["workers"]["max_children"]')" 4 "dynamic pool: max_children learned"
like "$(json_get "$out" 'j["pools"][1]["workers"]["max_children_source"]')" "^php-fpm config $FPM_DYN_CONF:[0-9]+$" \
	"from php-fpm's own configuration, not the status page's 1 process"

# 2 of 4 workers busy past stuck_after: weight about 50.
fpm_occupy "$FPM_HALF_ADDR" 2 20
fpm_occupy "$FPM_DYN_ADDR" 2 20
ok "2 workers busy in each pool" poll_until 10 fpm_active_at_least "$FPM_HALF_STATUS_ADDR" 2
poll_until 10 sh -c "'$FPMPROBE' --once -c '$conf' | grep -q 'pool dyn: up 50%'"
poll_until 10 sh -c "'$FPMPROBE' --once -c '$conf' | grep -q 'pool half: up 50%'"
out=$("$FPMPROBE" --once --json -c "$conf"); rc=$?
is "$rc" 1 "stuck workers are a WARNING"
is "$(json_get "$out" '[p["weight"] for p in j["pools"]]')" "[50, 50]" "2 of 4 stuck: weight 50 in both pools"
is "$(json_get "$out" 'j["pools"][0]["agent"]')" "ready up 50%" "the agent answer carries it"
is "$(json_get "$out" 'j["pools"][0]["workers"]["stuck"]')" 2 "JSON: 2 stuck workers"
like "$(json_get "$out" '[p["wait"]["syscall"] for p in j["pools"][0]["workers"]["processes"] if p["stuck"]]')" \
	"^\['(clock_)?nanosleep', '(clock_)?nanosleep'\]$" "each with its syscall"
like "$(json_get "$out" '[p["request_uri"] for p in j["pools"][0]["workers"]["processes"] if p["stuck"]]')" \
	'sleep.php' "and its URI"
txt=$("$FPMPROBE" --once -c "$conf" half)
like "$txt" 'stuck pid [0-9]+ Running [0-9.]+s GET /sleep.php' "the readable report lists stuck workers"

# 4 of 4 stuck on a PostgreSQL table lock: down, naming the database.
fpm_start locked max_children=4 status_listen=1
cat >"$STACK_DIR/locked.yml" <<YAML
pools:
  locked:
    fastcgi: $FPM_LOCKED_ADDR
    status_path: /fpm-status
    status_listen: $FPM_LOCKED_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
pg_lock_table
for i in 1 2 3 4; do
	timeout 30 bash -c "$(declare -f fcgi_get); fcgi_get '$FPM_LOCKED_ADDR' '$STACK_WWW/pg.php'" >/dev/null 2>&1 &
	stack_track_pid $!
done
ok "all 4 workers hang on the lock" poll_until 10 fpm_active_at_least "$FPM_LOCKED_STATUS_ADDR" 4
# At once, long before stuck_after (10s here): the timeout says where the
# busy workers wait, and what listens there.
sed 's/stuck_after: 1s/stuck_after: 10s/' "$STACK_DIR/locked.yml" >"$STACK_DIR/locked10.yml"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/locked10.yml")
like "$(json_get "$out" 'j["pools"][0]["reason"]')" \
	"^app: timeout after 1000ms in response; 4/4 workers busy [0-9]+m?s in p?poll\\(\\) on 127\\.0\\.0\\.1:$PG_PORT \\(PostgreSQL\\)$" \
	"before stuck_after, the timeout names PostgreSQL and its port"
is "$(json_get "$out" '[p["wait"]["peer_process"] for p in j["pools"][0]["workers"]["processes"] if p.get("wait")]')" \
	"['PostgreSQL', 'PostgreSQL', 'PostgreSQL', 'PostgreSQL']" "JSON: each busy worker's peer_process"
like "$("$FPMPROBE" --once -c "$STACK_DIR/locked10.yml")" \
	"busy pid [0-9]+ Running [0-9.]+s GET /pg.php, waiting in p?poll\\(\\) on 127\\.0\\.0\\.1:$PG_PORT \\(PostgreSQL\\)" \
	"the readable report lists the busy workers and where they wait"
poll_until 10 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/locked.yml' | grep -q '4/4 workers stuck'"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/locked.yml"); rc=$?
is "$rc" 2 "every worker stuck: CRITICAL"
is "$(json_get "$out" 'j["pools"][0]["state"]')" down "state down"
like "$(json_get "$out" 'j["pools"][0]["agent"]')" "^down #4/4 workers stuck >1s, blocked in (poll|ppoll)\(\) on 127.0.0.1:$PG_PORT" \
	"the reason names the database the workers wait on"
pg_unlock_table
ok "workers free again after the lock" poll_until 15 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/locked.yml' >/dev/null"

# Overload, nothing broken: more clients than workers on short requests.
fpm_start busy max_children=2 status_listen=1
agentport=$(free_port)
cat >"$STACK_DIR/busy.yml" <<YAML
agent:
  listen: [ "127.0.0.1:$agentport" ]
pools:
  busy:
    fastcgi: $FPM_BUSY_ADDR
    status_path: /fpm-status
    status_listen: $FPM_BUSY_STATUS_ADDR
    stuck_after: 5s
    interval: 500ms
    timeout: 300ms
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
FPMPROBE_ARGS=-v fp_daemon_start "$STACK_DIR/busy.yml" "$agentport" || bail_out "daemon"
# The load lasts while answers are sampled: at least 8 s and 40 answers,
# at most 30 s (a loaded machine samples slower).
loading=$STACK_DIR/busy.loading
touch "$loading"
hard_until=$(( $(date +%s) + 30 ))
for i in $(seq 1 12); do
	( while [ -e "$loading" ] && [ "$(date +%s)" -lt "$hard_until" ]; do
		timeout 10 bash -c "$(declare -f fcgi_get); fcgi_get '$FPM_BUSY_ADDR' '$STACK_WWW/sleep.php' 's=0.2'" >/dev/null 2>&1
	done ) &
	stack_track_pid $!
done
answers=$STACK_DIR/busy.answers
: >"$answers"
min_until=$(( $(date +%s) + 8 ))
while [ "$(date +%s)" -lt "$hard_until" ] &&
	{ [ "$(date +%s)" -lt "$min_until" ] || [ "$(grep -c . "$answers")" -lt 40 ]; }; do
	agent_ask "$agentport" >>"$answers" || echo "no answer" >>"$answers"
	sleep 0.1
done
# --once under the same load: its probe queues and times out, its second
# sample sees requests complete, so the pool is saturated, not down.
once_rcs=
once_sat=0
for i in 1 2 3 4 5; do
	[ "$(date +%s)" -lt "$hard_until" ] || break
	o=$("$FPMPROBE" --once -c "$STACK_DIR/busy.yml" 2>/dev/null); r=$?
	once_rcs+="$r "
	[[ $o == *saturated* ]] && once_sat=$((once_sat + 1))
done
rm -f "$loading"
diag "--once exit codes under overload: $once_rcs($once_sat saturated)"
ok "--once under overload never says CRITICAL ($once_rcs)" sh -c "! echo '$once_rcs' | grep -q 2"
ok "and says saturated at least once" test "$once_sat" -ge 1
wait_for_load=$(grep -c . "$answers")
diag "answers during overload: $(sort "$answers" | uniq -c | tr '\n' ';')"
ok "many answers sampled during overload ($wait_for_load)" test "$wait_for_load" -ge 20
ok "never down, drain or maint under overload" sh -c "! grep -vq '^ready up [0-9]*%$' '$answers'"
ok "the weight never fell below 1%" sh -c "! grep -q '^ready up 0%' '$answers'"
ok "real-path probes did time out in the queue (saturated, not broken)" \
	grep -q 'app: timeout after 300ms' "$STACK_DIR/fpmprobe.log"
fp_daemon_stop

done_testing
