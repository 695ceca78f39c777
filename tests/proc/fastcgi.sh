#!/usr/bin/env bash
# FastCGI round trips against a real php-fpm and against a misbehaving
# FastCGI app: what --once reports, its exit codes, and its deadlines.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 34

stack_init
fpm_start tcp
fpm_start sock listen=unix

conf=$STACK_DIR/fastcgi.yml
cat >"$conf" <<YAML
defaults:
  timeout: 1s
pools:
  tcp:
    fastcgi: $FPM_TCP_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: "OK" }
  sock:
    fastcgi: $FPM_SOCK_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, query: "deep=1" }
  missing:
    fastcgi: $FPM_TCP_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/nonexistent.php }
  wrongbody:
    fastcgi: $FPM_TCP_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: "NOPE" }
  fatal:
    fastcgi: $FPM_TCP_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/fatal.php }
  refused:
    fastcgi: 127.0.0.1:$(free_port)
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML

out=$("$FPMPROBE" --once -c "$conf" tcp); rc=$?
is "$rc" 0 "tcp pool: status script passes (exit 0)"
like "$out" '^FPMPROBE OK' "Nagios-style first line"
like "$out" 'check app \(fastcgi\): ok' "the check line says ok"

out=$("$FPMPROBE" --once -c "$conf" sock); rc=$?
is "$rc" 0 "unix-socket pool passes"

out=$("$FPMPROBE" --once -c "$conf" missing); rc=$?
is "$rc" 2 "a missing script is CRITICAL"
like "$out" 'app: status 404: Primary script unknown' "404 with php-fpm's reason"

out=$("$FPMPROBE" --once -c "$conf" wrongbody); rc=$?
is "$rc" 2 "expect_body mismatch is CRITICAL"
like "$out" 'app: body mismatch' "the reason says body mismatch"

out=$("$FPMPROBE" --once -c "$conf" fatal); rc=$?
is "$rc" 2 "a PHP fatal error is CRITICAL"
like "$out" 'app: status 500: .*(Fatal|undefined)' "the reason carries PHP's error"

out=$("$FPMPROBE" --once -c "$conf" refused); rc=$?
is "$rc" 2 "a closed port is CRITICAL"
like "$out" 'app: connection refused' "the reason says refused"

out=$("$FPMPROBE" --once -c "$conf" nosuchpool); rc=$?
is "$rc" 3 "an unknown pool name is UNKNOWN"

out=$("$FPMPROBE" --once --json -c "$conf" tcp missing); rc=$?
is "$rc" 2 "JSON: worst pool decides the exit code"
is "$(json_get "$out" 'j["status"]')" CRITICAL "JSON status"
is "$(json_get "$out" '[p["state"] for p in j["pools"]]')" "['up', 'down']" "JSON pool states"
is "$(json_get "$out" 'j["pools"][0]["agent"]')" "ready up 100%" "JSON agent answer"
is "$(json_get "$out" 'j["pools"][0]["checks"][0]["ok"] and j["pools"][0]["checks"][0]["latency_us"] > 0')" True "JSON check ok with a latency"
like "$(json_get "$out" 'j["pools"][1]["reason"]')" '^app: status 404' "JSON reason"

# Faults a real php-fpm cannot produce on demand.
fake_timeout_ms=1000
fake_check() {
	local mode=$1
	fake_start "$mode" || return 1
	cat >"$STACK_DIR/fake.yml" <<YAML
pools:
  fake:
    fastcgi: $FAKE_ADDR
    checks:
      - { name: app, type: fastcgi, script: /x.php, timeout: ${fake_timeout_ms}ms }
YAML
	local t0 t1
	t0=$(ms_now)
	out=$("$FPMPROBE" --once -c "$STACK_DIR/fake.yml"); rc=$?
	t1=$(ms_now)
	elapsed=$((t1 - t0))
}

fake_check ok;         is "$rc" 0 "fake ok: passes"
fake_check garbage;    is "$rc" 2 "garbage records: CRITICAL"; like "$out" 'app: protocol error' "garbage: protocol error"
fake_check badversion; like "$out" 'app: protocol error.*version' "bad version named"
fake_check overloaded; like "$out" 'OVERLOADED' "protocolStatus OVERLOADED named"
fake_check huge;       like "$out" 'app: response too large' "a 10 MiB answer is cut at the cap"
fake_check close;      like "$out" 'app: (connection closed|protocol error)' "closed mid-record"
fake_check stderr;     like "$out" 'app: status 500: PHP Fatal error: boom' "STDERR text in the reason"
fake_check hang
is "$rc" 2 "a peer that never answers: CRITICAL"
like "$out" 'app: timeout after 1000ms in response' "timeout in the response phase"
within_ms "$elapsed" $((fake_timeout_ms + LOAD_MARGIN_MS)) "hang: deadline honoured, timeout + margin"
fake_check trickle
like "$out" 'app: timeout after 1000ms in response' "a trickling peer still times out"
within_ms "$elapsed" $((fake_timeout_ms + LOAD_MARGIN_MS)) "trickle: deadline honoured, timeout + margin"
fake_check noaccept
is "$rc" 2 "a listener that never accepts: CRITICAL"
within_ms "$elapsed" $((fake_timeout_ms + LOAD_MARGIN_MS)) "noaccept: deadline honoured, timeout + margin"

done_testing
