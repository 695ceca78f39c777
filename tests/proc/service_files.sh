#!/usr/bin/env bash
# The service files and the service manager protocol: the generated rc.d
# script passes sh -n and shellcheck, the generated systemd unit passes
# systemd-analyze verify, and the daemon sends READY=1, WATCHDOG=1,
# RELOADING=1 and STOPPING=1 to $NOTIFY_SOCKET as sd_notify(3) describes.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
plan 10

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
# each message it receives as one line, and again with the time it
# arrived (monotonic, in ms) into a second file.
command -v python3 >/dev/null || { skip "python3 is not installed" 7; done_testing; exit 0; }
sock=$STACK_DIR/notify.sock
msgs=$STACK_DIR/notify.log
times=$STACK_DIR/notify.times
: >"$msgs"
python3 - "$sock" "$msgs" "$times" <<'PY' 2>>"$STACK_DIR/listener.log" &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out, open(sys.argv[3], "a") as timed:
    while True:
        data = s.recv(4096)
        now = int(time.monotonic() * 1000)
        for line in data.decode().splitlines():
            timed.write("%d %s\n" % (now, line))
            timed.flush()
            out.write(line + "\n")
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

# Succeed once MSG has arrived at least N times.
arrived() {
	[ "$(grep -cx "$1" "$msgs")" -ge "$2" ]
}

# Succeed once the process has exited (gone, or a zombie to be reaped).
exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

# The mean interval between the first and the last of N WATCHDOG=1, in ms.
watchdog_interval() {
	awk -v n="$1" '$2 == "WATCHDOG=1" && ++k <= n { if (k == 1) first = $1; last = $1 }
		END { if (k >= n) print int((last - first) / (n - 1)) }' "$times"
}

# WATCHDOG=1 every half of WATCHDOG_USEC: every 500 ms for 1 s.  The bound
# tells half from the whole (1000) and from a quarter (250), and leaves a
# loaded machine room either side.
watchdog_usec=1000000
half_ms=$((watchdog_usec / 2000))
beats=5
NOTIFY_SOCKET=$sock WATCHDOG_USEC=$watchdog_usec \
	"$FPMPROBE" -f -c "$conf" 2>>"$STACK_DIR/fpmprobe.log" &
pid=$!
stack_track_pid "$pid"

ok "READY=1 once started" poll_until 10 arrived READY=1 1
ok "WATCHDOG=1 repeatedly ($beats times)" poll_until 15 arrived WATCHDOG=1 "$beats"
interval=$(watchdog_interval "$beats")
diag "WATCHDOG=1 arrived at (ms): $(awk '$2 == "WATCHDOG=1" { printf "%s ", $1 }' "$times")"
ok "at half of WATCHDOG_USEC: every ${interval:-?} ms, within $((half_ms * 7 / 10))..$((half_ms * 3 / 2)) ms of $half_ms" \
	test "${interval:--1}" -ge $((half_ms * 7 / 10)) -a "${interval:--1}" -le $((half_ms * 3 / 2))
kill -HUP "$pid"
ok "SIGHUP: RELOADING=1" poll_until 5 arrived RELOADING=1 1
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
