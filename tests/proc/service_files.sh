#!/usr/bin/env bash
# The service files and the service manager protocol: the generated rc.d
# script passes sh -n and shellcheck, the generated systemd unit passes
# systemd-analyze verify and scores at most 3.5 in systemd-analyze
# security; the unit, the tmpfiles.d file, the rc.d script and the sample
# configuration name the same directories; the unit's ExecReload tests the
# configuration before it signals; and the daemon sends READY=1,
# WATCHDOG=1, RELOADING=1 (with MONOTONIC_USEC=) and STOPPING=1 to
# $NOTIFY_SOCKET as sd_notify(3) describes.  And fpmprobe(8)'s HAProxy
# example passes haproxy -c.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
plan 30

stack_init
rcd=$top_builddir/rc.d/fpmprobe
unit=$top_builddir/systemd/fpmprobe.service
tmpfiles=$top_builddir/systemd/tmpfiles.d/fpmprobe.conf
sysusers=$top_builddir/systemd/sysusers.d/fpmprobe.conf
sample=$top_builddir/etc/fpmprobe.yml.sample
# The installed paths the unit names.
sbin=$(sed -n 's|^ExecStart=\(/[^ ]*\)/fpmprobe .*|\1|p' "$unit")
unitconf=$(sed -n 's|^ExecStart=.* -c ||p' "$unit")

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
	mkdir -p "$STACK_DIR/unit"
	sed "s|$sbin/fpmprobe|$FPMPROBE|g" "$unit" >"$STACK_DIR/unit/fpmprobe.service"
	ok "unit: systemd-analyze verify" \
		systemd-analyze verify --man=no "$STACK_DIR/unit/fpmprobe.service"
	# The exposure score: 6.8 before the unit was hardened.
	out=$(systemd-analyze security --offline=true "$STACK_DIR/unit/fpmprobe.service" 2>&1)
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
	if [[ $score =~ ^[0-9]+\.[0-9]+$ ]] && awk -v s="$score" 'BEGIN { exit !(s <= 3.5) }'; then
		pass "unit: systemd-analyze security exposure $score, at most 3.5"
	else
		fail "unit: systemd-analyze security exposure ${score:-?}, at most 3.5"
		diag "$(grep '✗' <<<"$out")"
	fi
else
	skip "systemd-analyze is not installed" 2
fi

# One set of directories: what the sample configuration names is what the
# unit may write, what tmpfiles.d makes and what the rc.d script makes.
ctlsock=$(sed -n 's/^  socket: //p' "$sample")
sdir=$(sed -n 's/^  state_dir: //p' "$sample")
rwpaths=$(sed -n 's/^ReadWritePaths=//p' "$unit")
is "$rwpaths" "${ctlsock%/*} $sdir" "the unit may write the sample's socket directory and state_dir, nothing else"
is "$(awk '$1 == "d" { printf "%s%s", sep, $2; sep = " " }' "$tmpfiles")" "$rwpaths" \
	"the tmpfiles.d file makes those directories"
is "$(awk '$1 == "d" { print $3, $4, $5 }' "$tmpfiles" | sort -u)" "0770 root fpmprobe" \
	"owned by root, writable by group fpmprobe"
like "$(grep -v '^#' "$sysusers")" '^u fpmprobe ' "the sysusers.d file creates user fpmprobe"
like "$(grep 'for dir in' "$rcd")" "for dir in ${ctlsock%/*} $sdir;" "the rc.d script makes the same directories"
like "$(grep -c '^ConditionPathExists=.*/fpmprobe.yml$' "$unit")" '^1$' \
	"the unit does not start before fpmprobe.yml exists"

# ExecReload: `fpmprobe -t` first, so that a configuration the daemon
# would refuse fails the reload before any signal is sent.  The unit's
# commands run in order, as systemd runs them, against a daemon of ours.
mapfile -t reload < <(sed -n 's/^ExecReload=//p' "$unit")
like "${reload[0]:-}" '/fpmprobe -t -c ' "ExecReload tests the configuration first"
like "${reload[${#reload[@]}-1]:-}" 'kill -HUP \$MAINPID$' "then sends SIGHUP"

# fpmprobe(8)'s HAProxy example: one server line that HAProxy accepts
# (it has no line continuation).
if command -v haproxy >/dev/null; then
	line=$(sed -n '/^The HAProxy side/,/^\.Ed/{/^server /p}' "$top_builddir/man/fpmprobe.8" |
		sed 's/\\e/\\/g')
	cat >"$STACK_DIR/haproxy.cfg" <<EOF
defaults
  mode http
  timeout connect 1s
  timeout client 1s
  timeout server 1s
frontend www
  bind 127.0.0.1:$(free_port)
  default_backend php
fcgi-app php
  docroot /srv/www
backend php
  use-fcgi-app php
  $line
EOF
	like "$line" '^server web1 .* agent-send "www\\n"$' "fpmprobe(8): the HAProxy example is one server line"
	ok "and haproxy -c accepts it" haproxy -q -c -f "$STACK_DIR/haproxy.cfg"
else
	skip "haproxy is not installed" 2
fi

# The notify protocol, against a datagram listener of our own that writes
# each message it receives as one line, with the time it arrived.
command -v python3 >/dev/null || { skip "python3 is not installed" 13; done_testing; exit 0; }
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

# The mean interval between the first and the last of N WATCHDOG=1, in ms.
watchdog_interval() {
	awk -F'\t' -v n="$1" '$1 == "WATCHDOG=1" && ++k <= n { if (k == 1) first = $2; last = $2 }
		END { if (k >= n) print int((last - first) / (n - 1) / 1000) }' "$msgs"
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
diag "WATCHDOG=1 arrived at (ms): $(awk -F'\t' '$1 == "WATCHDOG=1" { printf "%d ", $2 / 1000 }' "$msgs")"
ok "at half of WATCHDOG_USEC: every ${interval:-?} ms, within $((half_ms * 7 / 10))..$((half_ms * 3 / 2)) ms of $half_ms" \
	test "${interval:--1}" -ge $((half_ms * 7 / 10)) -a "${interval:--1}" -le $((half_ms * 3 / 2))
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

# The unit's ExecReload, with a configuration the daemon would refuse:
# the test fails, the reload stops there, and no signal reaches it.
# Run the unit's ExecReload commands in order, as systemd does, for our
# daemon and its configuration; the status of the first that fails.
exec_reload() {
	local cmd
	for cmd in "${reload[@]}"; do
		cmd=${cmd//\$MAINPID/$pid}
		cmd=${cmd//$sbin\/fpmprobe/$FPMPROBE}
		cmd=${cmd//$unitconf/$conf}
		sh -c "$cmd" >>"$STACK_DIR/reload.out" 2>&1 || return
	done
}
cp "$conf" "$conf.good"
echo "pools: [ broken" >>"$conf"
exec_reload
is "$?" 1 "ExecReload with an invalid configuration fails (fpmprobe -t exits 1)"
poll_until 0.5 arrived 'RELOADING=1 .*' 2
is "$(cut -f1 "$msgs" | grep -c '^RELOADING=1')" 1 "and the daemon got no SIGHUP"
cp "$conf.good" "$conf"
exec_reload
is "$?" 0 "ExecReload with a valid configuration succeeds"
ok "and the daemon reloads" poll_until 5 arrived 'RELOADING=1 .*' 2
ok "and is ready again" poll_until 5 arrived READY=1 3
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

# Messages on stderr start with "fpmprobe: ", except when stderr is the
# journal (JOURNAL_STREAM names it), which names the program itself.
printf 'pools:\n  www:\n    fastcgi: 127.0.0.1:9\n    bogus: 1\n' >"$STACK_DIR/bad.yml"
err=$STACK_DIR/bad.err
"$FPMPROBE" -t -c "$STACK_DIR/bad.yml" 2>"$err"
is "$(grep -c "^fpmprobe: $STACK_DIR/bad.yml:[0-9]*:[0-9]*: " "$err") of $(wc -l <"$err")" "2 of 2" \
	"configuration errors on a terminal: fpmprobe: FILE:LINE:COL: what"
JOURNAL_STREAM=$(stat -c '%d:%i' "$err") "$FPMPROBE" -t -c "$STACK_DIR/bad.yml" 2>"$err"
is "$(grep -c "^$STACK_DIR/bad.yml:[0-9]*:[0-9]*: " "$err") of $(wc -l <"$err")" "2 of 2" \
	"into the journal: without the prefix"
JOURNAL_STREAM=1:1 "$FPMPROBE" -t -c "$STACK_DIR/bad.yml" 2>"$err"
like "$(cat "$err")" "^fpmprobe: " "a JOURNAL_STREAM of another stream changes nothing"

done_testing
