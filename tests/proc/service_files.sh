#!/usr/bin/env bash
# The service files and the service manager protocol: the generated rc.d
# script passes sh -n and shellcheck, the generated systemd unit passes
# systemd-analyze verify, and the daemon sends READY=1, WATCHDOG=1,
# RELOADING=1 (with MONOTONIC_USEC=) and STOPPING=1 to $NOTIFY_SOCKET as
# sd_notify(3) describes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"

stack_init
rcd=$top_builddir/rc.d/fpmprobe
unit=$top_builddir/systemd/fpmprobe.service

# rc.d/fpmprobe
ok "rc.d script: sh -n" sh -n "$rcd"
if command -v shellcheck >/dev/null; then
	ok "rc.d script: shellcheck -s sh" shellcheck -s sh "$rcd"
else
	skip "shellcheck is not installed"
fi

# systemd/fpmprobe.service.  verify insists that the binary exists, so it
# checks a copy whose commands name the one just built; the rest of the
# unit is the generated one.
if command -v systemd-analyze >/dev/null; then
	sbin=$(sed -n 's|^ExecStart=\(/[^ ]*\)/fpmprobe .*|\1|p' "$unit")
	mkdir -p "$STACK_DIR/unit"
	sed "s|$sbin/fpmprobe|$FPMPROBE|g" "$unit" >"$STACK_DIR/unit/fpmprobe.service"
	ok "unit: systemd-analyze verify" \
		systemd-analyze verify --man=no "$STACK_DIR/unit/fpmprobe.service"
else
	skip "systemd-analyze is not installed"
fi

# The notify protocol, against a datagram listener of our own that writes
# each message it receives as one line.
command -v python3 >/dev/null || { skip "python3 is not installed" 7; done_testing; exit 0; }
sock=$STACK_DIR/notify.sock
msgs=$STACK_DIR/notify.log
: >"$msgs"
# One line per datagram: its lines joined by spaces, a tab, and when it
# arrived on CLOCK_MONOTONIC in microseconds.
python3 - "$sock" "$msgs" <<'PY' 2>>"$STACK_DIR/listener.log" &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        msg = " ".join(s.recv(4096).decode().splitlines())
        now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        out.write("%s\t%d\n" % (msg, now))
        out.flush()
PY
stack_track_pid $!
poll_until 5 test -S "$sock" || bail_out "the notify listener did not start"

port=$(free_port) || bail_out "no free port"
closed=$(free_port) || bail_out "no free port"
conf=$STACK_DIR/notify.yml
cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$port" ]
pools:
  www:
    fastcgi: 127.0.0.1:$closed
    checks:
      - { name: app, type: fastcgi, script: /status.php }
YAML

# Succeed once a datagram matching the regular expression RE has arrived
# at least N times.
arrived() {
	[ "$(cut -f1 "$msgs" | grep -Ecx "$1")" -ge "$2" ]
}

# Succeed once the process has exited (gone, or a zombie to be reaped).
exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 \
	"$FPMPROBE" -f -c "$conf" 2>>"$STACK_DIR/fpmprobe.log" &
pid=$!
stack_track_pid "$pid"

ok "READY=1 once started" poll_until 10 arrived READY=1 1
ok "WATCHDOG=1 at half of WATCHDOG_USEC, repeatedly" \
	poll_until 5 arrived WATCHDOG=1 2
kill -HUP "$pid"
ok "SIGHUP: RELOADING=1 with MONOTONIC_USEC=" \
	poll_until 5 arrived 'RELOADING=1 MONOTONIC_USEC=[0-9]+' 1
read -r mono recv < <(sed -n 's/^RELOADING=1 MONOTONIC_USEC=\([0-9]*\)\t\([0-9]*\)$/\1 \2/p' "$msgs")
if [ -n "${mono:-}" ] && [ "$mono" -le "$recv" ] && [ $((recv - mono)) -lt 5000000 ]; then
	pass "MONOTONIC_USEC is the daemon's CLOCK_MONOTONIC when the reload began"
else
	fail "MONOTONIC_USEC is the daemon's CLOCK_MONOTONIC when the reload began"
	diag "MONOTONIC_USEC=${mono:-none}, received at ${recv:-?}"
fi
ok "then READY=1 again" poll_until 5 arrived READY=1 2
kill -TERM "$pid"
ok "SIGTERM: STOPPING=1" poll_until 5 arrived STOPPING=1 1
if poll_until 10 exited "$pid"; then
	wait "$pid"
	is "$?" 0 "the daemon exits 0"
else
	fail "the daemon exits 0"
	diag "it was still running 10 s after SIGTERM"
fi
diag "$(cat "$msgs")"
grep -q . "$STACK_DIR/fpmprobe.log" && diag "$(tail -n 20 "$STACK_DIR/fpmprobe.log")"

done_testing
