#!/usr/bin/env bash
# The daemon's agent port: what it answers while the pool is healthy,
# how soon it says down once every worker hangs, that it keeps answering
# quickly while every probe hangs, and that it comes back after `rise`.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 29

stack_init
fpm_start www max_children=2 status_listen=1
fpm_start spare

any=$(free_port)
own=$(free_port)
interval_ms=500 timeout_ms=500 fall=2
# The longest pool name the configuration accepts.
long=$(printf 'p%.0s' $(seq 1 64))
conf=$STACK_DIR/agent.yml
cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$any" ]
defaults:
  interval: ${interval_ms}ms
  timeout: ${timeout_ms}ms
  rise: 2
  fall: $fall
pools:
  www:
    fastcgi: $FPM_WWW_ADDR
    status_path: /fpm-status
    status_listen: $FPM_WWW_STATUS_ADDR
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  spare:
    fastcgi: $FPM_SPARE_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
  $long:
    fastcgi: $FPM_SPARE_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML

# Room for more agent connections than the daemon holds at once (1024).
ulimit -n 4096 2>/dev/null && wide_fds=1
fp_daemon_start "$conf" "$own" || bail_out "the daemon did not start"
is "$(agent_ask "$any" www)" "ready up 100%" "agent-send names the pool"
is "$(agent_ask "$any" spare)" "ready up 100%" "the other pool"
is "$(agent_ask "$own")" "ready up 100%" "a pool's own port answers without a name"
is "$(agent_ask "$any" "$long")" "ready up 100%" "a pool name of 64 characters"
is "$(agent_ask "$any" nope)" 'down #unknown pool "nope"' "an unknown pool"
is "$(agent_ask "$any" "$(printf 'x%.0s' $(seq 1 400))" | cut -c1-22)" 'down #unknown pool "xx' \
	"an over-long line is cut, not trusted"

# The close is a FIN after reading what HAProxy sent, never a RST.
fin=$(python3 - "$own" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"www\n")
data = b""
try:
    while True:
        chunk = s.recv(512)
        if not chunk:
            break
        data += chunk
    print("fin", data.decode().strip())
except ConnectionResetError:
    print("rst")
PY
)
is "$fin" "fin ready up 100%" "answer, then a clean close (FIN)"

# Every worker hangs.  The first probe after that starts within an
# interval; each probe takes its timeout and the tick that falls due
# meanwhile is skipped, so failures come an interval + timeout apart; the
# first timeout may rightly count as saturation (requests completed since
# the last sample), so fall + 1 of them may be needed.
t0=$(ms_now)
fpm_occupy "$FPM_WWW_ADDR" 2 8
ok "the agent says down" poll_until 8 sh -c "'$AGENTC' -s www 127.0.0.1:$any | grep -q '^down #app: timeout after 500ms'"
elapsed=$(( $(ms_now) - t0 ))
within_ms "$elapsed" $((interval_ms + (fall + 1) * (interval_ms + timeout_ms) + LOAD_MARGIN_MS)) \
	"down within interval + (fall + 1) x (interval + timeout) + margin"
like "$(agent_ask "$any" spare)" '^ready up 100%' "the other pool stays up"

# Answers keep arriving while every probe hangs, and none waits on a
# probe: one that did would take up to a probe's timeout, so the bound is
# half of it (the slowest answer is well under a millisecond unloaded;
# how fast they are is for make bench).
stats=$("$AGENTC" -n 400 -c 8 -s www "127.0.0.1:$any")
diag "agent under hang: $stats"
like "$stats" 'errors=0 ' "400 answers, no error"
within_ms "$(us_to_ms "$(sed -n 's/.*max_us=\([0-9]*\).*/\1/p' <<<"$stats")")" $((timeout_ms / 2)) \
	"none waits on a hung probe: the slowest answer within half the probe timeout"

# The sleeping requests end by themselves; rise successes bring it back.
ok "ready up again after the hang" poll_until 15 sh -c "'$AGENTC' -s www 127.0.0.1:$any | grep -q '^ready up 100%'"

# 1100 pollers at once that send nothing: the port serving every pool
# waits a second for each one's name, so 1024 are held open; the others
# wait in the listen backlog and are answered too, not closed unanswered.
if [ -n "${wide_fds:-}" ]; then
	stats=$("$AGENTC" -a -n 1100 -c 1100 -t 10000 "127.0.0.1:$any")
	diag "1100 silent pollers: $stats"
	like "$stats" '^n=1100 errors=0 ' "1100 silent pollers at once: every one answered"
	like "$(agent_ask "$any" spare)" '^ready up 100%' "and the port answers at once after them"
	# One host holding 1100 connections that send one byte each: it gets
	# its share of the slots, the pollers from other addresses theirs.
	"$AGENTC" -H 1100 -d 8 "127.0.0.1:$any" >"$STACK_DIR/holder.out" &
	holder=$!
	poll_until 2 false
	stats=$("$AGENTC" -a -n 300 -c 8 -r 50 -t 2000 -s spare "127.0.0.1:$any")
	diag "pollers beside 1100 slow connections from one host: $stats"
	like "$stats" '^n=300 errors=0 ' "beside one host's 1100 slow connections, every poll answered within 2 s"
	wait "$holder"
	diag "the slow host: $(cat "$STACK_DIR/holder.out")"
	like "$(cat "$STACK_DIR/fpmprobe.log")" 'agent: 127\.0\.0\.1 holds 64 connections, the most one source may' \
		"the log names the host over its share"
else
	skip "cannot raise the descriptor limit to 4096" 4
fi

ok "SIGTERM stops the daemon cleanly" fp_daemon_stop

# Hostile or large peers: END_REQUEST with no STDOUT, records for another
# request id, and the status page of a pool of 1000 processes all stuck
# (about 480 KiB, more than the 256 KiB any script's answer may take).
fake_start noout; noout=$FAKE_ADDR
fake_start otherid; otherid=$FAKE_ADDR
fake_start bigstatus; big=$FAKE_ADDR
port2=$(free_port)
own2=$(free_port)
http2=$(free_port)
conf2=$STACK_DIR/hostile.yml
cat >"$conf2" <<YAML
agent:
  listen: [ "127.0.0.1:$port2" ]
http:
  listen: [ "127.0.0.1:$http2" ]
defaults:
  interval: 500ms
  timeout: 500ms
  rise: 1
  fall: 1
pools:
  noout:
    fastcgi: $noout
    agent_listen: [ "127.0.0.1:$own2" ]
    checks: [ { name: app, type: fastcgi, script: /srv/status.php } ]
  otherid:
    fastcgi: $otherid
    checks: [ { name: app, type: fastcgi, script: /srv/status.php } ]
  big:
    fastcgi: $big
    status_path: /fpm-status
    stuck_after: 10s
    checks: [ { name: app, type: fastcgi, script: /srv/status.php } ]
  bigcapped:
    fastcgi: $big
    status_path: /fpm-status
    stuck_after: 10s
    max_children: 10
    checks: [ { name: app, type: fastcgi, script: /srv/status.php } ]
YAML
# Started as systemd starts a service without LimitNOFILE=: soft 256 here.
FPMPROBE_REAL=$FPMPROBE
FPMPROBE=$STACK_DIR/fpmprobe-soft-limit
printf '#!/bin/sh\nulimit -Sn 256 && exec "%s" "$@"\n' "$FPMPROBE_REAL" >"$FPMPROBE"
chmod 755 "$FPMPROBE"
fp_daemon_start "$conf2" "$own2" || bail_out "the daemon did not start"
FPMPROBE=$FPMPROBE_REAL
is "$(awk '/^Max open files/ { print ($4 == $5) ? "raised" : $4 "/" $5 }' "/proc/$FP_PID/limits")" \
	raised "the soft descriptor limit is raised to the hard one at start"
ok "no STDOUT at all: down, empty CGI response" poll_until 5 sh -c \
	"'$AGENTC' -s noout 127.0.0.1:$port2 | grep -q '^down #app: protocol error empty CGI response'"
ok "records for another request id: down, protocol error" poll_until 5 sh -c \
	"'$AGENTC' -s otherid 127.0.0.1:$port2 | grep -q '^down #app: protocol error record type 6 for request id 7, not 1'"
ok "1000 of 1000 workers stuck on a 480 KiB status page: down" poll_until 5 sh -c \
	"'$AGENTC' -s big 127.0.0.1:$port2 | grep -q '^down #1000/1000 workers stuck >10s'"
ok "a page over what max_children allows: sample_up 0 in /metrics" poll_until 5 sh -c \
	"curl -s --max-time 2 http://127.0.0.1:$http2/metrics | grep -qx 'fpmprobe_pool_status_sample_up{pool=\"bigcapped\"} 0'"
like "$(curl -s --max-time 2 "http://127.0.0.1:$http2/metrics")" \
	'fpmprobe_pool_status_sample_up\{pool="big"\} 1' "and 1 for the pool whose page was read"
# 30 connections that sent no name yet when SIGTERM comes: the stop
# releases them (the sanitizer pass reports any leak).
python3 -c 'import socket, sys, time
s = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for i in range(30)]
print("open", flush=True)
time.sleep(5)' "$port2" >"$STACK_DIR/inflight.out" &
inflight=$!
poll_until 5 grep -q open "$STACK_DIR/inflight.out"
ok "SIGTERM with 30 connections in flight stops the second daemon cleanly" fp_daemon_stop
kill "$inflight" 2>/dev/null; wait "$inflight" 2>/dev/null
once=$("$FPMPROBE" --once -c "$conf2" bigcapped); rc=$?
is "$rc" 1 "--once: a pool without its status sample is a WARNING"
like "$once" 'pool bigcapped: up 100% \(no status sample: status: response too large \(over 262144 bytes\)\)' \
	"and its reason says why"

# php-fpm answers 503 while its scoreboard is locked: the page is asked
# for once more, and --once has its sample.
fake_start busystatus; busy=$FAKE_ADDR
cat >"$STACK_DIR/busy.yml" <<YAML
pools:
  busy:
    fastcgi: $busy
    status_path: /fpm-status
    checks: [ { name: app, type: fastcgi, script: /srv/status.php } ]
YAML
once=$("$FPMPROBE" --once --json -c "$STACK_DIR/busy.yml"); rc=$?
is "$rc" 0 "a status page that answers 503 once: asked again, OK"
is "$(json_get "$once" 'j["pools"][0]["workers"]["idle"]')" 2 "and its sample is the second answer's"

done_testing
