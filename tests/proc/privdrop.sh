#!/usr/bin/env bash
# user:/group: the daemon binds its ports as root, then runs as the
# configured user for good; what it still needs (the agent, the control
# socket, saving marks, learning max_children from php-fpm's own files
# and /proc) keeps working, and the pid file it can no longer remove is
# left empty.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (to start as root and drop to nobody)"
getent passwd nobody >/dev/null && getent group nogroup >/dev/null ||
	skip_all "no user nobody or group nogroup"
plan 13

stack_init
fpm_start web pm=dynamic max_children=6

port=$(free_port)
hport=$(free_port)
state=$STACK_DIR/state
mkdir -p "$state"
chown nobody:nogroup "$state"
conf=$STACK_DIR/priv.yml
cat >"$conf" <<YAML
user: nobody
group: nogroup
agent:
  listen: [ "127.0.0.1:$port" ]
http:
  listen: [ "127.0.0.1:$hport" ]
control:
  socket: $STACK_DIR/priv.sock
  state_dir: $state
defaults:
  interval: 300ms
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    status_path: /fpm-status
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
pidfile=$STACK_DIR/priv.pid
FPMPROBE_ARGS="-p $pidfile" fp_daemon_start "$conf" "$port" || bail_out "the daemon did not start"
uid=$(id -u nobody)
gid=$(getent group nogroup | cut -d: -f3)
is "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$FP_PID/status")" "$uid $uid $uid $uid" \
	"real, effective, saved and file uid are nobody's"
is "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$FP_PID/status")" "$gid $gid $gid $gid" \
	"and every gid is nogroup's"
is "$(awk '/^CapEff:/ { print $2 }' "/proc/$FP_PID/status")" 0000000000000000 "no capability is left"
like "$(cat "$STACK_DIR/fpmprobe.log")" "running as user nobody \\(uid $uid, gid $gid\\)" "it says so in the log"
ok "the agent answers from the port bound as root" poll_until 5 sh -c "'$AGENTC' 127.0.0.1:$port | grep -q '^ready up 100%'"
# Read as nobody: the master's title in /proc and php-fpm's files.
max_of() {
	curl -s --max-time 2 "http://127.0.0.1:$hport/status" |
		python3 -c 'import json,sys; w=json.load(sys.stdin)["pools"][0]["workers"] or {}; print(w.get("max_children"), w.get("max_children_source"))'
}
ok "max_children learned after the drop" poll_until 10 sh -c "$(declare -f max_of); hport=$hport max_of | grep -q '^6 '"
like "$(max_of)" "^6 php-fpm config $FPM_WEB_CONF:[0-9]+$" "from php-fpm's own file, read as nobody"
is "$("$FPMPROBE" ctl -c "$conf" maint web moving)" 'ok: pool web answers "maint #moving"' "ctl works"
is "$(cat "$state/marks")" "maint	web	moving" "marks are saved as nobody"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop
# The pid file's directory is root's: nobody cannot remove it, only empty it.
ok "the pid file it may not remove is left empty" test -f "$pidfile" -a ! -s "$pidfile"

sed -i 's/^user: nobody$/user: no-such-user-fpmprobe/' "$conf"
out=$("$FPMPROBE" -f -c "$conf" 2>&1); rc=$?
isnt "$rc" 0 "an unknown user: the daemon refuses to start"
like "$out" 'user no-such-user-fpmprobe: no such user' "and says why"

done_testing
