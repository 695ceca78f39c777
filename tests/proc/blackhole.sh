#!/usr/bin/env bash
# The black hole: every worker of a pool is busy on a long request.  The
# pool still completes a TCP handshake (what HAProxy's built-in check
# sees), but a real round trip cannot finish: --once must say CRITICAL,
# with a timeout reason, within its deadline.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 9

stack_init
fpm_start bh max_children=2 status_listen=1

timeout_ms=1000
conf=$STACK_DIR/bh.yml
cat >"$conf" <<YAML
pools:
  bh:
    fastcgi: $FPM_BH_ADDR
    status_path: /fpm-status
    status_listen: $FPM_BH_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK, timeout: ${timeout_ms}ms }
YAML

out=$("$FPMPROBE" --once -c "$conf"); rc=$?
is "$rc" 0 "healthy before the hang"

fpm_occupy "$FPM_BH_ADDR" 2 30
ok "both workers busy" poll_until 10 fpm_active_at_least "$FPM_BH_STATUS_ADDR" 2

port=${FPM_BH_ADDR##*:}
ok "a TCP connect to the pool still succeeds (what a handshake check sees)" \
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"

t0=$(ms_now)
out=$("$FPMPROBE" --once -c "$conf"); rc=$?
elapsed=$(( $(ms_now) - t0 ))
is "$rc" 2 "--once says CRITICAL"
like "$out" 'app: timeout after 1000ms' "with a timeout reason"
within_ms "$elapsed" $((timeout_ms + LOAD_MARGIN_MS)) "within timeout + margin, process start-up included"

# Past stuck_after the status page shows why: both workers stuck.
poll_until 5 sh -c "'$FPMPROBE' --once -c '$conf' | grep -q '2/2 workers stuck'"
out=$("$FPMPROBE" --once --json -c "$conf")
is "$(json_get "$out" 'j["pools"][0]["workers"]["stuck"]')" 2 "JSON: 2 stuck workers"
like "$(json_get "$out" 'j["pools"][0]["reason"]')" '2/2 workers stuck >1s' "the reason counts them"
like "$(json_get "$out" '[p["wait"]["syscall"] for p in j["pools"][0]["workers"]["processes"] if p["stuck"]]')" \
	'nanosleep|clock_nanosleep' "each stuck worker shows its syscall"

done_testing
