#!/usr/bin/env bash
# Operator maintenance: `fpmprobe ctl` over the control socket changes
# what the agent answers, marks survive a reload and a restart, and the
# control socket survives hostile requests.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 31

stack_init
fpm_start web

port=$(free_port)
sock=$STACK_DIR/fpmprobe.sock
state=$STACK_DIR/state
mkdir -p "$state"
conf=$STACK_DIR/ctl.yml
cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$port" ]
control:
  socket: $sock
  state_dir: $state
defaults:
  interval: 300ms
  rise: 1
  fall: 1
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
ctl() {
	"$FPMPROBE" ctl -c "$conf" "$@"
}

fp_daemon_start "$conf" "$port" || bail_out "the daemon did not start"
is "$(stat -c %a "$sock")" 600 "the control socket is mode 0600"
is "$(agent_ask "$port")" "ready up 100%" "healthy before"
like "$(ctl show)" '^web	up	ready up 100%$' "ctl show lists the pool and its answer"

out=$(ctl maint web deploy 4711); rc=$?
is "$rc" 0 "ctl maint: exit 0"
is "$out" 'ok: pool web answers "maint #deploy 4711"' "it says what the pool answers now"
is "$(agent_ask "$port")" "maint #deploy 4711" "the agent answers maint with the reason"
like "$(ctl show)" 'maint #deploy 4711	\(maint by the operator\)' "ctl show says who set it"
is "$(cat "$state/marks")" "maint	web	deploy 4711" "the mark is saved in state_dir"

ctl drain web >/dev/null
is "$(agent_ask "$port")" "drain up 100% #drain" "ctl drain without a reason"

# The reload gives the pool a port of its own: once it answers, the new
# configuration is the one running.
own=$(free_port)
sed -i "s|^    fastcgi: $FPM_WEB_ADDR\$|&\n    agent_listen: [ \"127.0.0.1:$own\" ]|" "$conf"
reloads() {
	grep -c 'configuration reloaded' "$STACK_DIR/fpmprobe.log"
}
reloaded() {
	[ "$(reloads)" -gt "$1" ]
}
before=$(reloads)
kill -HUP "$FP_PID"
ok "SIGHUP: the reload is logged" poll_until 10 reloaded "$before"
is "$(agent_ask "$own" 2>&1)" "drain up 100% #drain" "the pool's new port answers, with the mark"
is "$(agent_ask "$port")" "drain up 100% #drain" "a reload keeps the mark"

ok "the daemon stops" fp_daemon_stop
fp_daemon_start "$conf" "$port" || bail_out "the daemon did not start again"
is "$(agent_ask "$port")" "drain up 100% #drain" "a restart keeps the mark"

out=$(ctl ready web); rc=$?
is "$rc" 0 "ctl ready: exit 0"
is "$(agent_ask "$port")" "ready up 100%" "ready ends the drain"
is "$(wc -c <"$state/marks")" 0 "and the saved mark is gone"

out=$(ctl maint nosuch x 2>&1); rc=$?
is "$rc" 1 "an unknown pool: exit 1"
is "$out" 'fpmprobe ctl: unknown pool "nosuch"' "with a clear error, as ctl says its own"
out=$(ctl ready 2>&1); rc=$?
is "$rc" 2 "ctl ready without a pool: usage, exit 2"

# Hostile requests on the socket itself.
raw() {
	python3 - "$sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode('latin-1'))
data = b''
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode('latin-1'), end='')
PY
}
is "$(raw "explode web"$'\n')" "error: expected maint, drain, ready or show" "an unknown verb is refused"
is "$(raw "$(head -c 10000 /dev/zero | tr '\0' m)")" "error: request longer than 512 bytes" "a long line is refused"
like "$(raw "maint web $(printf 'a\001b\033[31m')"$'\n')" '^ok: pool web answers "maint #a.b.\[31m"$' \
	"control characters in a reason are neutralised"
# A request without a line end: nothing, then a close at the deadline,
# counted from before the bytes are sent (the daemon's clock starts when
# it reads them).
deadline_ms=2000
held=$(python3 - "$sock" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
t0 = time.monotonic()
s.sendall(b'maint web')
data = s.recv(4096)
print(repr(data), int((time.monotonic() - t0) * 1000))
PY
)
like "$held" "^b'' " "a request without a line end gets nothing"
ok "and is not closed before the ${deadline_ms} ms deadline (${held#* } ms)" \
	test "${held#* }" -ge $((deadline_ms - 100))
within_ms "${held#* }" $((deadline_ms + LOAD_MARGIN_MS)) "but at it: deadline + margin"
ctl ready web >/dev/null
is "$(agent_ask "$port")" "ready up 100%" "the daemon still answers after all that"

ok "the daemon stops" fp_daemon_stop
ok "the control socket is removed at exit" test ! -e "$sock"
out=$(ctl show 2>&1); rc=$?
is "$rc" 1 "ctl with no daemon: exit 1"
like "$out" "cannot reach the daemon at $sock" "with a clear error"

done_testing
