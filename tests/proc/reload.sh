#!/usr/bin/env bash
# SIGHUP: an invalid configuration is refused and the running one stays;
# a valid one keeps the state and history of unchanged checks (a pool that
# is down stays down, counters go on), starts new pools and stops removed
# ones, and the agent answers throughout.
#
# Then the listeners: a port whose address stays is never closed, whatever
# it serves after the reload (one pool -> two, two -> one, a pool's port
# moved to another pool), polled every ~20 ms from before each SIGHUP to
# after its "configuration reloaded"; a port that cannot be bound is
# logged, reported by /status and `ctl show`, and costs no other port; an
# old socket stays open in place of one that cannot replace it; keep-alive
# status connections survive a reload.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 68

stack_init
fpm_start web

hport=$(free_port)
own=$(free_port)
deadport=$(free_port)
conf=$STACK_DIR/reload.yml
# Write the configuration; $1 adds a pool "extra" when set.
write_conf() {
	cat >"$conf" <<YAML
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: 200ms
  timeout: 500ms
  rise: 3
  fall: 1
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  dead:
    fastcgi: 127.0.0.1:$deadport
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
	if [ -n "${1:-}" ]; then
		cat >>"$conf" <<YAML
  extra:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
	fi
}
status() {
	curl -s --max-time 5 "http://127.0.0.1:$hport/status"
}
probes_of() {
	json_get "$(status)" "[c['probes'] for p in j['pools'] if p['name'] == '$1' for c in p['checks']][0]"
}
state_of() {
	json_get "$(status)" "[p['state'] for p in j['pools'] if p['name'] == '$1'][0]"
}

write_conf
fp_daemon_start "$conf" "$own" || bail_out "the daemon did not start"
ok "the dead pool goes down" poll_until 5 sh -c "curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"name\": \"dead\", \"state\": \"down\"'"
poll_until 5 sh -c "[ \"\$(curl -s 'http://127.0.0.1:$hport/status' | python3 -c 'import json,sys; print([c[\"probes\"] for p in json.load(sys.stdin)[\"pools\"] if p[\"name\"] == \"web\" for c in p[\"checks\"]][0])')\" -ge 5 ]"
before=$(probes_of web)

# Sample the agent in the background across the reloads.
answers=$STACK_DIR/answers
touch "$STACK_DIR/sampling"
until_ms=$(( $(ms_now) + 30000 ))
( while [ -e "$STACK_DIR/sampling" ] && [ "$(ms_now)" -lt "$until_ms" ]; do
	"$AGENTC" -t 1000 "127.0.0.1:$own" >>"$answers" 2>&1 || echo "no answer" >>"$answers"
done ) &
sampler=$!
stack_track_pid "$sampler"

echo "pools: [ this is not valid" >"$conf"
kill -HUP "$FP_PID"
ok "an invalid configuration is refused" poll_until 5 grep -q 'reload refused' "$STACK_DIR/fpmprobe.log"
is "$(state_of dead)" down "the running configuration stays (dead is still down)"

write_conf extra
kill -HUP "$FP_PID"
ok "a valid configuration is taken" poll_until 5 grep -q 'configuration reloaded: 3 pools, 2 checks kept their state' "$STACK_DIR/fpmprobe.log"
is "$(state_of dead)" down "a down pool stays down right after the reload (no flap to up)"
after=$(probes_of web)
ok "an unchanged check keeps its history ($before probes before, $after after)" test "$after" -ge "$before"
ok "the new pool starts" poll_until 5 sh -c "curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"name\": \"extra\", \"state\": \"up\"'"

write_conf
kill -HUP "$FP_PID"
ok "a removed pool is gone" poll_until 5 sh -c "! curl -s 'http://127.0.0.1:$hport/status' | grep -q '\"extra\"'"

rm -f "$STACK_DIR/sampling"
wait "$sampler" 2>/dev/null
diag "agent answers across three reloads: $(sort "$answers" | uniq -c | tr '\n' ';')"
ok "many answers sampled ($(grep -c . "$answers"))" test "$(grep -c . "$answers")" -ge 20
ok "the agent answered every time, always ready" sh -c "! grep -vq '^ready up 100%$' '$answers'"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop

# --- Listeners across reloads ---
aport=$(free_port)	# agent.listen
oport=$(free_port)	# a pool's agent_listen, moved between pools
lhport=$(free_port)	# http.listen
busy=$(free_port)	# held by another process: an agent port
hbusy=$(free_port)	# the same for http.listen
log=$STACK_DIR/fpmprobe.log
lconf=$STACK_DIR/listen.yml
L_AGENT="\"127.0.0.1:$aport\"" L_HTTP="\"127.0.0.1:$lhport\""
L_CTL=$STACK_DIR/ctl.sock L_DEAD=0 L_OWNER=web L_EXTRA=
POLL_COUNTS=

# Write the listener scenario's configuration from L_AGENT (agent.listen),
# L_HTTP (http.listen), L_CTL (control.socket), L_DEAD (1: a second pool,
# "dead"), L_OWNER (the pool whose agent_listen is $oport) and L_EXTRA
# (more addresses for that agent_listen), into $lconf or FILE.
write_listen() {
	{
		cat <<YAML
agent:
  listen: [ $L_AGENT ]
http:
  listen: [ $L_HTTP ]
control:
  socket: $L_CTL
defaults:
  interval: 200ms
  timeout: 500ms
  rise: 2
  fall: 1
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
YAML
		[ "$L_OWNER" = web ] && echo "    agent_listen: [ \"127.0.0.1:$oport\"$L_EXTRA ]"
		echo "    checks:"
		echo "      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }"
		if [ "$L_DEAD" = 1 ]; then
			echo "  dead:"
			echo "    fastcgi: 127.0.0.1:$deadport"
			[ "$L_OWNER" = dead ] && echo "    agent_listen: [ \"127.0.0.1:$oport\" ]"
			echo "    checks:"
			echo "      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }"
		fi
	} >"${1:-$lconf}"
}
lstatus() {
	curl -s --max-time 5 "http://127.0.0.1:$lhport/status"
}
lctl() {
	"$FPMPROBE" ctl -c "$lconf" "$@"
}
# The daemon's log from line $1 + 1 on.
log_since() {
	tail -n +"$(($1 + 1))" "$log"
}
# Count the polls in FILE begun after T (ms) whose answer is not WANT
# (an extended regex of the whole answer); prints "COUNT WRONG".
polls_after() {
	awk -v t="$2" -v want="^($3)\$" '$1 > t { n++; a = $0; sub(/^[0-9]+ [0-9]+ /, "", a); if (a !~ want) w++ }
		END { printf "%d %d\n", n, w }' "$1"
}
# The same for the polls that ended before T: one begun just before the
# SIGHUP may be answered after the reload, by the new configuration.
polls_before() {
	awk -v t="$2" -v want="^($3)\$" '$2 < t { n++; a = $0; sub(/^[0-9]+ [0-9]+ /, "", a); if (a !~ want) w++ }
		END { printf "%d %d\n", n, w }' "$1"
}

# Poll the agent on PORT, sending LINE, every ~20 ms into FILE: one line
# "BEGIN_MS END_MS ANSWER" a poll, ANSWER "FAIL" when it was refused or
# nothing came within 1 s.  Stops when FILE.run goes, after 1500 polls
# or after 60 s.
poller_start() {
	local port=$1 line=$2 file=$3
	: >"$file"
	touch "$file.run"
	(
		i=0 until_ms=$(($(ms_now) + 60000))
		while [ -e "$file.run" ] && [ "$i" -lt 1500 ] && [ "$(ms_now)" -lt "$until_ms" ]; do
			t0=$(ms_now)
			ans=$("$AGENTC" -t 1000 -s "$line" "127.0.0.1:$port" 2>/dev/null) || ans=FAIL
			[ -n "$ans" ] || ans=FAIL
			echo "$t0 $(ms_now) $ans" >>"$file"
			i=$((i + 1))
			sleep 0.02
		done
	) &
	POLLER=$!
	stack_track_pid "$POLLER"
}

# Reload the configuration just written while PORT is polled with LINE
# into FILE: 20 polls before the SIGHUP, then until 20 polls have begun
# after the log said "configuration reloaded".  Sets T_HUP, T_DONE (ms) and
# LOG_AT (the log's length before the SIGHUP).
reload_polled() {
	local port=$1 line=$2 file=$3 n
	LOG_AT=$(wc -l <"$log")
	n=$(grep -c 'configuration reloaded' "$log")
	poller_start "$port" "$line" "$file"
	poll_until 20 sh -c "[ \$(wc -l <'$file') -ge 20 ]"
	T_HUP=$(ms_now)
	kill -HUP "$FP_PID"
	poll_until 10 sh -c "[ \$(grep -c 'configuration reloaded' '$log') -gt $n ]" ||
		diag "no 'configuration reloaded' after the SIGHUP"
	T_DONE=$(ms_now)
	poll_until 20 sh -c "[ \$(awk -v t=$T_DONE '\$1 > t' '$file' | wc -l) -ge 20 ]"
	rm -f "$file.run"
	wait "$POLLER" 2>/dev/null
}

# Reload the configuration just written; the test point DESC passes once
# the log says "configuration reloaded".  Sets LOG_AT.
reload_plain() {
	local n
	LOG_AT=$(wc -l <"$log")
	n=$(grep -c 'configuration reloaded' "$log")
	kill -HUP "$FP_PID"
	ok "$1" poll_until 10 sh -c "[ \$(grep -c 'configuration reloaded' '$log') -gt $n ]"
}

# The test points of one polled reload NAME: every poll answered, those
# ended before the SIGHUP answered BEFORE and those begun after the reload
# answered AFTER (extended regexes of the whole answer).
polls_check() {
	local name=$1 file=$2 before=$3 after=$4 total answered during
	total=$(grep -c . "$file")
	answered=$(grep -vc ' FAIL$' "$file")
	during=$(awk -v a="$T_HUP" -v b="$T_DONE" '$2 >= a && $1 <= b' "$file" | wc -l)
	read -r b_n b_w < <(polls_before "$file" "$T_HUP" "$before")
	read -r a_n a_w < <(polls_after "$file" "$T_DONE" "$after")
	diag "$name: $answered/$total polls answered ($b_n ended before the SIGHUP, $during under way during the reload, $a_n begun after it; $(cut -d' ' -f3- "$file" | sort | uniq -c | tr -s ' ' | tr '\n' ';'))"
	POLL_COUNTS+="$name: $answered/$total; "
	ok "$name: polled throughout ($total polls)" test "$total" -ge 40
	is "$answered" "$total" "$name: every poll was answered"
	ok "$name: the $b_n polls before the SIGHUP answered \"$before\"" test "$b_n" -gt 0 -a "$b_w" -eq 0
	ok "$name: the $a_n polls after the reload answer \"$after\"" test "$a_n" -gt 0 -a "$a_w" -eq 0
}

write_listen
fp_daemon_start "$lconf" "$aport" || bail_out "the daemon did not start (listener scenario)"
ok "one pool: up" poll_until 10 sh -c "[ \"\$('$AGENTC' -s web 127.0.0.1:$aport)\" = 'ready up 100%' ]"
is "$(agent_ask "$aport" nope)" "ready up 100%" "one pool: agent.listen answers for it, whatever the name"

# One pool -> two pools on the same agent.listen port: the port stays
# open and now reads the pool's name.
L_DEAD=1 write_listen
reload_polled "$aport" web "$STACK_DIR/poll.1to2"
polls_check "one pool -> two" "$STACK_DIR/poll.1to2" "ready up 100%" "ready up 100%"
is "$(agent_ask "$aport" nope)" 'down #unknown pool "nope"' "two pools: the port reads the name (an unknown one is said so)"
ok "two pools: the new pool answers by name on the same port" poll_until 5 sh -c "'$AGENTC' -s dead 127.0.0.1:$aport | grep -q '^down #'"
unlike "$(log_since "$LOG_AT")" 'cannot listen|no longer listening' "one pool -> two: no port was closed or bound again"

# A pool's agent_listen moved to the other pool: the same socket now
# answers for "dead", whatever name is sent.
L_DEAD=1 L_OWNER=dead write_listen
reload_polled "$oport" web "$STACK_DIR/poll.move"
polls_check "agent_listen moved web -> dead" "$STACK_DIR/poll.move" "ready up 100%" "down #.*"
unlike "$(log_since "$LOG_AT")" 'cannot listen|no longer listening' "moved: no port was closed or bound again"

# Two pools -> one, with agent.listen spelt "localhost:PORT" (the same
# address: the socket is kept) and the moved port back on web.
L_AGENT="\"localhost:$aport\"" L_DEAD=0 L_OWNER=web write_listen
reload_polled "$aport" web "$STACK_DIR/poll.2to1"
polls_check "two pools -> one" "$STACK_DIR/poll.2to1" "ready up 100%" "ready up 100%"
is "$(agent_ask "$aport" nope)" "ready up 100%" "one pool again: agent.listen answers for it without reading a name"
is "$(agent_ask "$oport")" "ready up 100%" "the moved port answers for web again"
unlike "$(log_since "$LOG_AT")" 'cannot listen|no longer listening' "two pools -> one, localhost for 127.0.0.1: no port was closed or bound again"

# New addresses that another process holds: they are reported, the others
# stay, and a keep-alive status connection survives the reload.
python3 -c '
import socket, sys, time
held = []
for p in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", int(p)))
    s.listen()
    held.append(s)
print("holding", flush=True)
time.sleep(600)
' "$busy" "$hbusy" >"$STACK_DIR/holder.out" 2>&1 &
holder=$!
stack_track_pid "$holder"
poll_until 5 grep -q holding "$STACK_DIR/holder.out" || bail_out "cannot hold ports $busy and $hbusy"
rm -f "$STACK_DIR/go"
python3 - "$lhport" "$STACK_DIR/go" >"$STACK_DIR/keepalive.out" 2>&1 <<'PY' &
import http.client, os, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/status")
r = c.getresponse()
r.read()
port = c.sock.getsockname()[1] if c.sock is not None else None
print("first", r.status, flush=True)
deadline = time.monotonic() + 4
while not os.path.exists(sys.argv[2]) and time.monotonic() < deadline:
    time.sleep(0.02)
try:
    c.request("GET", "/status")
    r = c.getresponse()
    r.read()
    same = c.sock is not None and c.sock.getsockname()[1] == port
    print("second", r.status, "same connection" if same else "new connection", flush=True)
except Exception as e:
    print("second failed:", type(e).__name__, flush=True)
PY
keepalive=$!
poll_until 5 grep -q '^first 200' "$STACK_DIR/keepalive.out" || diag "keep-alive client: $(cat "$STACK_DIR/keepalive.out")"
L_EXTRA=", \"127.0.0.1:$busy\"" L_HTTP="\"127.0.0.1:$lhport\", \"127.0.0.1:$hbusy\"" write_listen
reload_polled "$aport" web "$STACK_DIR/poll.busy"
touch "$STACK_DIR/go"
poll_until 5 grep -q '^second' "$STACK_DIR/keepalive.out"
wait "$keepalive" 2>/dev/null
polls_check "a new address is held elsewhere" "$STACK_DIR/poll.busy" "ready up 100%" "ready up 100%"
since=$(log_since "$LOG_AT")
like "$since" "agent: cannot listen on 127.0.0.1:$busy: Address already in use" "the agent port that cannot be bound is logged, with the reason"
like "$since" "http: cannot listen on 127.0.0.1:$hbusy: Address already in use" "so is the status port"
unlike "$since" 'no longer listening' "no other port was closed"
is "$(agent_ask "$oport")" "ready up 100%" "the pool's other agent port still answers"
is "$(grep '^second' "$STACK_DIR/keepalive.out")" "second 200 same connection" "a keep-alive status connection survives a reload that changes http.listen"
st=$(lstatus)
is "$(json_get "$st" "[(e['service'], e['address'], e['error'], e['kept_open']) for e in j.get('listen_errors', [])]")" \
	"[('agent', '127.0.0.1:$busy', 'Address already in use', None), ('http', '127.0.0.1:$hbusy', 'Address already in use', None)]" \
	"/status lists both ports as listen_errors"
show=$(lctl show)
like "$show" "listen error: agent 127.0.0.1:$busy: Address already in use" "ctl show reports the agent port"
like "$show" "listen error: http 127.0.0.1:$hbusy: Address already in use" "and the status port"
like "$show" "^web	up	ready up 100%" "ctl show still lists the pool first"

# Once the other process lets go, a reload binds them and the report clears.
kill "$holder"
wait "$holder" 2>/dev/null
reload_plain "reloaded again"
is "$(agent_ask "$busy")" "ready up 100%" "the freed agent port is bound and answers"
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$hbusy/status")" 200 "the freed status port is bound and answers"
is "$(json_get "$(lstatus)" "'listen_errors' in j")" False "/status has no listen_errors any more"
unlike "$(lctl show)" 'listen error' "nor has ctl show"

# agent.listen 127.0.0.1:PORT -> *:PORT: the wildcard cannot be bound
# while the old socket holds the port, so the old one stays in its place.
L_AGENT="\"*:$aport\"" write_listen
reload_polled "$aport" web "$STACK_DIR/poll.wild"
polls_check "127.0.0.1 -> * on the same port" "$STACK_DIR/poll.wild" "ready up 100%" "ready up 100%"
like "$(log_since "$LOG_AT")" "agent: cannot listen on \\*:$aport: Address already in use; 127.0.0.1:$aport stays open in its place" "the port that cannot be replaced is logged, and kept"
is "$(json_get "$(lstatus)" "[(e['service'], e['address'], e['kept_open']) for e in j.get('listen_errors', [])]")" \
	"[('agent', '*:$aport', '127.0.0.1:$aport')]" "/status says which socket stays open in its place"
like "$(lctl show)" "listen error: agent \\*:$aport: Address already in use \\(127.0.0.1:$aport stays open in its place\\)" "so does ctl show"
L_AGENT="\"127.0.0.1:$aport\"" write_listen
reload_plain "back to 127.0.0.1"
is "$(json_get "$(lstatus)" "'listen_errors' in j")" False "the socket that stood in serves its own address again, no error"

# The control socket: a path that cannot be bound leaves the old socket
# open, which says why; a path that can moves it, and the old file goes.
L_CTL=$STACK_DIR/nodir/ctl.sock write_listen
reload_plain "reloaded with an unbindable control.socket"
like "$(log_since "$LOG_AT")" "control: cannot listen on $STACK_DIR/nodir/ctl.sock: No such file or directory; $STACK_DIR/ctl.sock stays open in its place" "the control socket that cannot be bound is logged"
# ctl with a configuration that names the old socket.
L_CTL=$STACK_DIR/ctl.sock write_listen "$STACK_DIR/old-ctl.yml"
like "$("$FPMPROBE" ctl -c "$STACK_DIR/old-ctl.yml" show)" "listen error: control $STACK_DIR/nodir/ctl.sock: No such file or directory \\($STACK_DIR/ctl.sock stays open in its place\\)" "the old control socket still answers, and says why"
L_CTL=$STACK_DIR/ctl2.sock write_listen
reload_plain "reloaded with a new control.socket"
like "$(lctl show)" "^web	up	ready up 100%" "ctl reaches the daemon on the new path"
ok "the new socket is mode 0600" test "$(stat -c %a "$STACK_DIR/ctl2.sock")" = 600
ok "the old socket's file is removed" test ! -e "$STACK_DIR/ctl.sock"
is "$(json_get "$(lstatus)" "'listen_errors' in j")" False "no listen error left"

diag "polls answered per reload: $POLL_COUNTS"
ok "SIGTERM stops the daemon cleanly (listener scenario)" fp_daemon_stop

done_testing
