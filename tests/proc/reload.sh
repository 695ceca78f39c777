#!/usr/bin/env bash
# SIGHUP: an invalid configuration is refused and the running one stays;
# a valid one keeps the state and history of unchanged checks (a pool that
# is down stays down, counters go on), starts new pools and stops removed
# ones, and the agent answers throughout.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"

stack_init
fpm_start web

hport=$(free_port)
own=$(free_port)
deadport=$(free_port)
conf=$STACK_DIR/reload.yml
# Write the configuration; $1 adds a pool "extra" when set.
write_conf() {
	cat >"$conf" <<YAML
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: 200ms
  timeout: 500ms
  rise: 3
  fall: 1
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  dead:
    fastcgi: 127.0.0.1:$deadport
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
	if [ -n "${1:-}" ]; then
		cat >>"$conf" <<YAML
  extra:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
	fi
}
status() {
	curl -s --max-time 5 "http://127.0.0.1:$hport/status"
}
probes_of() {
	json_get "$(status)" "[c['probes'] for p in j['pools'] if p['name'] == '$1' for c in p['checks']][0]"
}
state_of() {
	json_get "$(status)" "[p['state'] for p in j['pools'] if p['name'] == '$1'][0]"
}

write_conf
fp_daemon_start "$conf" "$own" || bail_out "the daemon did not start"
ok "the dead pool goes down" poll_until 5 sh -c "curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"name\": \"dead\", \"state\": \"down\"'"
poll_until 5 sh -c "[ \"\$(curl -s 'http://127.0.0.1:$hport/status' | python3 -c 'import json,sys; print([c[\"probes\"] for p in json.load(sys.stdin)[\"pools\"] if p[\"name\"] == \"web\" for c in p[\"checks\"]][0])')\" -ge 5 ]"
before=$(probes_of web)

# Sample the agent in the background across the reloads.
answers=$STACK_DIR/answers
touch "$STACK_DIR/sampling"
until_ms=$(( $(ms_now) + 30000 ))
( while [ -e "$STACK_DIR/sampling" ] && [ "$(ms_now)" -lt "$until_ms" ]; do
	"$AGENTC" -t 1000 "127.0.0.1:$own" >>"$answers" 2>&1 || echo "no answer" >>"$answers"
done ) &
sampler=$!
stack_track_pid "$sampler"

echo "pools: [ this is not valid" >"$conf"
kill -HUP "$FP_PID"
ok "an invalid configuration is refused" poll_until 5 grep -q 'reload refused' "$STACK_DIR/fpmprobe.log"
is "$(state_of dead)" down "the running configuration stays (dead is still down)"

write_conf extra
kill -HUP "$FP_PID"
ok "a valid configuration is taken" poll_until 5 grep -q 'configuration reloaded: 3 pools, 2 checks kept their state' "$STACK_DIR/fpmprobe.log"
is "$(state_of dead)" down "a down pool stays down right after the reload (no flap to up)"
after=$(probes_of web)
ok "an unchanged check keeps its history ($before probes before, $after after)" test "$after" -ge "$before"
ok "the new pool starts" poll_until 5 sh -c "curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"name\": \"extra\", \"state\": \"up\"'"

write_conf
kill -HUP "$FP_PID"
ok "a removed pool is gone" poll_until 5 sh -c "! curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"extra\"'"

rm -f "$STACK_DIR/sampling"
wait "$sampler" 2>/dev/null
diag "agent answers across three reloads: $(sort "$answers" | uniq -c | tr '\n' ';')"
ok "many answers sampled ($(grep -c . "$answers"))" test "$(grep -c . "$answers")" -ge 20
ok "the agent answered every time, always ready" sh -c "! grep -vq '^ready up 100%$' '$answers'"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop

done_testing
