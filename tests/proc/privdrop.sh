#!/usr/bin/env bash
# user:/group: the daemon binds its ports as root, then runs as the
# configured user for good; what it still needs (the agent, the control
# socket, saving marks) keeps working.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (to start as root and drop to nobody)"
getent passwd nobody >/dev/null && getent group nogroup >/dev/null ||
	skip_all "no user nobody or group nogroup"

stack_init
fpm_start web

port=$(free_port)
state=$STACK_DIR/state
mkdir -p "$state"
chown nobody:nogroup "$state"
conf=$STACK_DIR/priv.yml
cat >"$conf" <<YAML
user: nobody
group: nogroup
agent:
  listen: [ "127.0.0.1:$port" ]
control:
  socket: $STACK_DIR/priv.sock
  state_dir: $state
defaults:
  interval: 300ms
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
fp_daemon_start "$conf" "$port" || bail_out "the daemon did not start"
uid=$(id -u nobody)
gid=$(getent group nogroup | cut -d: -f3)
is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$FP_PID/status")" "$uid $uid $uid $uid" \
	"real, effective, saved and file uid are nobody's"
is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$FP_PID/status")" "$gid $gid $gid $gid" \
	"and every gid is nogroup's"
is "$(awk '/^CapEff:/ { print $2 }' "/proc/$FP_PID/status")" 0000000000000000 "no capability is left"
like "$(cat "$STACK_DIR/fpmprobe.log")" "running as user nobody \\(uid $uid, gid $gid\\)" "it says so in the log"
ok "the agent answers from the port bound as root" poll_until 5 sh -c "'$AGENTC' 127.0.0.1:$port | grep -q '^ready up 100%'"
is "$("$FPMPROBE" ctl -c "$conf" maint web moving)" 'ok: pool web answers "maint #moving"' "ctl works"
is "$(cat "$state/marks")" "maint	web	moving" "marks are saved as nobody"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop

sed -i 's/^user: nobody$/user: no-such-user-fpmprobe/' "$conf"
out=$("$FPMPROBE" -f -c "$conf" 2>&1); rc=$?
isnt "$rc" 0 "an unknown user: the daemon refuses to start"
like "$out" 'user no-such-user-fpmprobe: no such user' "and says why"

done_testing
