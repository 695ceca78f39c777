#!/usr/bin/env bash
# Pools as production runs them: pm = dynamic (Debian's packaged default)
# and pm = ondemand with max_children 10 learned from php-fpm's own
# configuration (fpmprobe's config sets none), Debian's packaged www pool
# on its unix socket, workers held by a client that never finishes its
# request, and a check whose timeout is longer than its interval.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 32

stack_init
fpm_start dyn pm=dynamic max_children=10 start_servers=2 min_spare_servers=1 \
	max_spare_servers=3 status_listen=1 || bail_out "php-fpm dyn"
fpm_start ond pm=ondemand max_children=10 status_listen=1 || bail_out "php-fpm ond"

conf=$STACK_DIR/pools.yml
cat >"$conf" <<YAML
pools:
  dyn:
    fastcgi: $FPM_DYN_ADDR
    status_path: /fpm-status
    status_listen: $FPM_DYN_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  ond:
    fastcgi: $FPM_OND_ADDR
    status_path: /fpm-status
    status_listen: $FPM_OND_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML

# Print "STATE WEIGHT STUCK" of each pool, one line: "up 90 1 up 90 1".
states() {
	"$FPMPROBE" --once --json -c "$conf" 2>/dev/null |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(" ".join("%s %s %s" % (p["state"], p["weight"], (p["workers"] or {}).get("stuck")) for p in j["pools"]))'
}

# Succeed when states() prints exactly $1.
states_are() {
	[ "$(states)" = "$1" ]
}

out=$("$FPMPROBE" --once --json -c "$conf"); rc=$?
is "$rc" 0 "idle dynamic and ondemand pools are OK"
is "$(json_get "$out" '[p["workers"]["max_children"] for p in j["pools"]]')" "[10, 10]" \
	"max_children 10 learned for both, with none in fpmprobe's config"
like "$(json_get "$out" 'j["pools"][0]["workers"]["max_children_source"]')" \
	"^php-fpm config $FPM_DYN_CONF:[0-9]+$" "dynamic: from php-fpm's file and line"
like "$(json_get "$out" 'j["pools"][1]["workers"]["max_children_source"]')" \
	"^php-fpm config $FPM_OND_CONF:[0-9]+$" "ondemand: from php-fpm's file and line"
is "$(json_get "$out" '[p["workers"]["pm"] for p in j["pools"]]')" "['dynamic', 'ondemand']" \
	"the process managers"
like "$("$FPMPROBE" --once -c "$conf")" "max_children 10 \\(php-fpm config $FPM_DYN_CONF:[0-9]+\\), pm dynamic" \
	"the readable report says where max_children came from"
is "$(json_get "$out" 'j["pools"][0]["workers"]["php_fpm_config"]["request_terminate_timeout_s"]')" 0 \
	"request_terminate_timeout read from the pool (0: never)"
is "$(json_get "$out" 'j["pools"][0]["workers"]["php_fpm_config"]["warning"]')" None \
	"no mismatch with php-fpm's pool"
# php-fpm has pm.status_listen, fpmprobe's config does not use it: say so.
# A dynamic pool may end the worker a sample names before fpmprobe asks
# it for its master, and one --once run then learns nothing: a few tries.
grep -v 'status_listen' "$conf" >"$STACK_DIR/nosl.yml"
nosl_warns() {
	nosl_out=$("$FPMPROBE" --once -c "$STACK_DIR/nosl.yml" dyn 2>&1)
	[[ $nosl_out =~ "WARNING: php-fpm's pm.status_listen is 127.0.0.1:"[0-9]+" ($FPM_DYN_CONF:"[0-9]+"): set status_listen" ]]
}
ok "a status_listen php-fpm has and fpmprobe does not use is a warning" poll_until 10 nosl_warns ||
	diag "last --once: $nosl_out"

# 1, 2, then 10 slow requests in each pool: a share of 10, never of the
# processes alive now.
fpm_occupy "$FPM_DYN_ADDR" 1 60
fpm_occupy "$FPM_OND_ADDR" 1 60
ok "1 slow request each: up 90% in both" poll_until 15 states_are 'up 90 1 up 90 1'
out=$("$FPMPROBE" --once --json -c "$conf"); rc=$?
is "$rc" 1 "one stuck worker is a WARNING, not CRITICAL"
like "$(json_get "$out" 'j["pools"][1]["reason"]')" '^1/10 workers stuck >1s' "ondemand: 1/10, not 1/1"
diag "1 slow: $(states)"

fpm_occupy "$FPM_DYN_ADDR" 1 60
fpm_occupy "$FPM_OND_ADDR" 1 60
ok "2 slow requests each: up 80% in both" poll_until 15 states_are 'up 80 2 up 80 2'
out=$("$FPMPROBE" --once --json -c "$conf")
like "$(json_get "$out" 'j["pools"][0]["reason"]')" '^2/10 workers stuck >1s' "dynamic: 2/10, not 2/3"
diag "2 slow: $(states)"

fpm_occupy "$FPM_DYN_ADDR" 8 60
fpm_occupy "$FPM_OND_ADDR" 8 60
ok "10 slow requests each: down in both" poll_until 20 states_are 'down 0 10 down 0 10'
out=$("$FPMPROBE" --once --json -c "$conf"); rc=$?
is "$rc" 2 "every worker the pools may have is stuck: CRITICAL"
like "$(json_get "$out" 'j["pools"][0]["agent"]')" '^down #10/10 workers stuck >1s' "dynamic: down #10/10"
like "$(json_get "$out" 'j["pools"][1]["agent"]')" '^down #10/10 workers stuck >1s' "ondemand: down #10/10"
diag "10 slow: $(states)"
fpm_stop dyn
fpm_stop ond

# Debian's packaged www pool, on its unix socket, status page enabled as
# its comment says; max_children (5) comes from pool.d/www.conf.
fpm_start_debian deb || bail_out "Debian's packaged php-fpm configuration does not start"
cat >"$STACK_DIR/deb.yml" <<YAML
pools:
  www:
    fastcgi: $FPM_DEB_ADDR
    status_path: /status
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/deb.yml"); rc=$?
is "$rc" 0 "Debian's www pool is OK"
is "$(json_get "$out" 'j["pools"][0]["workers"]["max_children"]')" 5 "max_children 5 from www.conf"
like "$(json_get "$out" 'j["pools"][0]["workers"]["max_children_source"]')" \
	"^php-fpm config $FPM_DEB_POOLCONF:[0-9]+$" "found through php-fpm.conf's include="
fpm_occupy "$FPM_DEB_ADDR" 2 60
ok "2 slow requests of 5: up 60%" poll_until 15 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/deb.yml' | grep -q 'pool www: up 60%'"
fpm_stop deb

# A client that connects and never finishes its request holds a worker in
# "Reading headers": that worker is not working, and the reason says who.
fpm_start held max_children=4 status_listen=1 || bail_out "php-fpm held"
cat >"$STACK_DIR/held.yml" <<YAML
pools:
  held:
    fastcgi: $FPM_HELD_ADDR
    status_path: /fpm-status
    status_listen: $FPM_HELD_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK, timeout: 500ms }
YAML
python3 - "$FPM_HELD_ADDR" 4 30 >"$STACK_DIR/held.out" 2>&1 <<'PY' &
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
held = []
for _ in range(int(sys.argv[2])):
    s = socket.create_connection((host, int(port)), timeout=5)
    # BEGIN_REQUEST (responder, request id 1), then nothing more.
    s.sendall(bytes([1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]))
    held.append(s)
print("held", flush=True)
time.sleep(float(sys.argv[3]))
PY
holder=$!
stack_track_pid "$holder"
ok "4 connections hold the 4 workers" poll_until 10 grep -q held "$STACK_DIR/held.out"
ok "the pool is down: its workers are held" poll_until 15 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/held.yml' | grep -q 'workers held'"
out=$("$FPMPROBE" --once --json -c "$STACK_DIR/held.yml"); rc=$?
is "$rc" 2 "CRITICAL"
like "$(json_get "$out" 'j["pools"][0]["agent"]')" \
	'^down #4/4 workers held >1s reading a request from 127\.0\.0\.1:[0-9]+$' \
	"the reason says they are held, and by whom"
is "$(json_get "$out" 'j["pools"][0]["workers"]["held"]')" 4 "JSON: 4 held"
like "$("$FPMPROBE" --once -c "$STACK_DIR/held.yml")" 'held pid [0-9]+ Reading headers [0-9.]+s, by 127\.0\.0\.1:[0-9]+' \
	"the readable report lists each held worker and its client"
kill "$holder" 2>/dev/null
ok "free once the client lets go" poll_until 10 sh -c "'$FPMPROBE' --once -c '$STACK_DIR/held.yml' >/dev/null"

# timeout longer than interval: a 0.5 s round trip under interval 300ms,
# timeout 1500ms is never cut short, nor reported as a timeout.
agentport=$(free_port)
cat >"$STACK_DIR/slowcheck.yml" <<YAML
agent:
  listen: [ "127.0.0.1:$agentport" ]
pools:
  held:
    fastcgi: $FPM_HELD_ADDR
    interval: 300ms
    timeout: 1500ms
    checks:
      - { name: slow, type: fastcgi, script: $STACK_WWW/sleep.php, query: "s=0.5", expect_body: slept }
YAML
like "$("$FPMPROBE" -t -c "$STACK_DIR/slowcheck.yml" 2>&1)" 'warning: check slow: timeout 1500ms is longer than interval 300ms' \
	"-t warns about it"
FPMPROBE_ARGS=-v fp_daemon_start "$STACK_DIR/slowcheck.yml" "$agentport" || bail_out "daemon"
answers=$STACK_DIR/slowcheck.answers
: >"$answers"
for i in $(seq 1 30); do
	agent_ask "$agentport" >>"$answers" || echo "no answer" >>"$answers"
	sleep 0.1
done
diag "answers: $(sort "$answers" | uniq -c | tr '\n' ';')"
is "$(grep -c '^ready up 100%$' "$answers")" 30 "the pool stays up through 3 s of 0.5 s probes"
ok "no probe was reported as a timeout (-v logs every failure)" \
	sh -c "! grep -q 'check slow: slow: timeout' '$STACK_DIR/fpmprobe.log'"
fp_daemon_stop

done_testing
