#!/usr/bin/env bash
# Daemon mode: fpmprobe detaches, the pid file holds the daemon's pid and
# is locked as soon as the starting command returns (a second instance is
# refused, and says so in its exit status), and it is removed at exit, a
# refused start-up included.  What can refuse start-up does so before the
# starting command returns.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R)"
plan 26

stack_init
fpm_start www

port=$(free_port)
pidfile=$STACK_DIR/fpmprobe.pid
conf=$STACK_DIR/daemon.yml
cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$port" ]
control:
  socket: $STACK_DIR/ctl.sock
defaults:
  interval: 200ms
pools:
  www:
    fastcgi: $FPM_WWW_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
# Succeed once the process is gone.
gone() { ! kill -0 "$1" 2>/dev/null; }
# Succeed once the process has exited: gone, or a zombie that init has yet
# to reap (in a container that may take a second).
exited() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}
busy=()

"$FPMPROBE" -c "$conf" -p "$pidfile" 2>"$STACK_DIR/start.err"
is "$?" 0 "fpmprobe detaches and exits 0"
pid=$(cat "$pidfile" 2>/dev/null)
[ -n "$pid" ] && stack_track_pid "$pid"
like "$pid" '^[0-9]+$' "the pid file holds a pid"
is "$(cat "/proc/$pid/comm" 2>/dev/null)" fpmprobe "it is the running fpmprobe"
is "$(awk '{ print $6 }' "/proc/$pid/stat")" "$pid" "in a session of its own"
ok "the agent answers" poll_until 5 sh -c "'$AGENTC' 127.0.0.1:$port | grep -q '^ready up 100%'"

out=$("$FPMPROBE" -c "$conf" -p "$pidfile" 2>&1); rc=$?
is "$rc" 1 "a second instance with the same pid file exits 1"
like "$out" 'another fpmprobe is running' "and says why"
is "$(cat "$pidfile")" "$pid" "the pid file still names the first"

kill -TERM "$pid"
ok "SIGTERM stops the daemon" poll_until 10 gone "$pid"
ok "the pid file is removed at exit" test ! -e "$pidfile"
ok "so is the control socket" test ! -e "$STACK_DIR/ctl.sock"

# Started with standard input, output and error closed (as some init
# scripts do), the daemon still holds its pid file's lock: the descriptor
# must not be one that detaching points at /dev/null.
"$FPMPROBE" -c "$conf" -p "$pidfile" <&- >&- 2>&-
pid=$(cat "$pidfile" 2>/dev/null)
[ -n "$pid" ] && stack_track_pid "$pid"
ok "started with stdio closed, the agent answers" poll_until 5 sh -c "'$AGENTC' 127.0.0.1:$port | grep -q '^ready up 100%'"
out=$("$FPMPROBE" -c "$conf" -p "$pidfile" 2>&1); rc=$?
ok "and its pid file is still locked: a second instance is refused (exit $rc)" \
	sh -c "[ $rc = 1 ] && printf '%s' '$out' | grep -qF '$pidfile: another fpmprobe is running'"
kill -TERM "$pid" 2>/dev/null
ok "SIGTERM stops it" poll_until 10 gone "$pid"

# The pid file is written before the parent returns: read by another
# process the moment the parent exits, it names the running daemon and is
# locked (what rc.subr and systemd's PIDFile= rely on), also while two
# busy loops load the machine.  50 starts and stops, each polled, none
# slept.
rpid=$STACK_DIR/race.pid
for _ in 1 2; do
	( while :; do :; done ) &
	stack_track_pid $!
	busy+=("$!")
done
runs=0 good=0 bad=()
for ((i = 1; i <= 50; i++)); do
	runs=$i
	"$FPMPROBE" -c "$conf" -p "$rpid" 2>>"$STACK_DIR/race.err"; rc=$?
	got=$(cat "$rpid" 2>/dev/null)
	if [ "$rc" = 0 ] && [[ $got =~ ^[0-9]+$ ]] &&
	    [ "$(cat "/proc/$got/comm" 2>/dev/null)" = fpmprobe ] &&
	    ! flock -n "$rpid" true; then
		good=$((good + 1))
	else
		bad+=("run $i: exit $rc, pid file \"$got\"$(flock -n "$rpid" true && echo ', unlocked')")
		# Find the daemon anyway, so that none is left behind.
		poll_until 5 grep -q . "$rpid" && got=$(cat "$rpid")
	fi
	[[ $got =~ ^[0-9]+$ ]] || break
	stack_track_pid "$got"
	kill -TERM "$got"
	poll_until 10 exited "$got" || break
done
kill "${busy[@]}" 2>/dev/null
is "$good/$runs" 50/50 "the pid file names the daemon as soon as the parent exits, under load"
[ ${#bad[@]} -eq 0 ] || diag "${bad[@]:0:10}"
ok "no daemon of these runs is left" sh -c "! pgrep -f '^$FPMPROBE -c $conf' >/dev/null"

# A failure after the fork, in the child: the starting command waits for
# it, exits with its status and shows its message.  The pid file is on a
# private tmpfs that is full, so writing the pid fails (ENOSPC).
fullfs=$STACK_DIR/fullfs
mkdir -p "$fullfs"
if mount -t tmpfs -o size=64k,nr_inodes=16 fpmprobe-full "$fullfs" 2>/dev/null; then
	stack_at_exit "umount '$fullfs'"
	dd if=/dev/zero of="$fullfs/fill" bs=4k 2>/dev/null
	out=$("$FPMPROBE" -c "$conf" -p "$fullfs/fpmprobe.pid" 2>&1); rc=$?
	is "$rc" 1 "the pid file cannot be written: the starting command exits 1"
	like "$out" "$fullfs/fpmprobe.pid: write" "and says why"
else
	skip "cannot mount a tmpfs" 2
fi
# A pid file is removed at exit, so it must be a regular file.
out=$("$FPMPROBE" -c "$conf" -p /dev/null 2>&1); rc=$?
is "$rc" 1 "-p /dev/null: refused"
like "$out" '/dev/null: not a regular file' "and says why; /dev/null is still there: $(test -c /dev/null && echo yes)"

sed -i '1i user: no-such-user-fpmprobe' "$conf"
out=$("$FPMPROBE" -c "$conf" -p "$pidfile" 2>&1); rc=$?
is "$rc" 1 "an unknown user: exit 1 before detaching"
like "$out" 'no such user' "and says why"
ok "no daemon was left behind" sh -c "! pgrep -f '^$FPMPROBE -c $conf' >/dev/null"
ok "nor the pid file it had created" test ! -e "$pidfile"

# An agent port that cannot be bound (php-fpm holds it).
sed -i -e '/^user: /d' -e "s/127.0.0.1:$port/$FPM_WWW_ADDR/" "$conf"
out=$("$FPMPROBE" -c "$conf" -p "$pidfile" 2>&1); rc=$?
is "$rc" 1 "an agent port in use: exit 1 before detaching"
ok "and the pid file is removed" test ! -e "$pidfile"

done_testing
