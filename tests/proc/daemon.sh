#!/usr/bin/env bash
# Daemon mode: fpmprobe detaches, the pid file holds the daemon's pid and
# is locked (a second instance is refused, and says so in its exit
# status), and it is removed at exit, a refused start-up included.  What
# can refuse start-up does so before detaching.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R)"
plan 17

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
