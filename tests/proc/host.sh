#!/usr/bin/env bash
# Host pressure and fpmprobe's own lateness, with the real daemon and a
# real php-fpm pool: PSI and CPU steal in --once (text and JSON) and
# /metrics where the kernel has PSI; absent with a note where it does not
# (an empty /proc/pressure in a private mount namespace); and a real
# stall: the daemon stopped for 1.6 s shows a scheduling delay of a
# second or more, the pool stays up, and a probe whose deadline passed
# while fpmprobe was stopped blames fpmprobe, not the pool.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 23

stack_init
fpm_start www max_children=4 status_listen=1

conf=$STACK_DIR/host.yml
aport=$(free_port) hport=$(free_port)
# slow is in flight most of the time, so that a stop catches one.
cat >"$conf" <<YAML
http: { listen: [ "127.0.0.1:$hport" ] }
agent: { listen: [ "127.0.0.1:$aport" ] }
defaults:
  interval: 500ms
  timeout: 1000ms
  rise: 1
  fall: 1
pools:
  www:
    fastcgi: $FPM_WWW_ADDR
    status_path: /fpm-status
    status_listen: $FPM_WWW_STATUS_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - { name: slow, type: fastcgi, script: $STACK_WWW/sleep.php, query: "s=0.4" }
YAML

# --once where the kernel has PSI (it has here when /proc/pressure does).
have_psi=0
[ -r /proc/pressure/cpu ] && have_psi=1
js=$("$FPMPROBE" --once --json -c "$conf")
txt=$("$FPMPROBE" --once -c "$conf")
if [ "$have_psi" = 1 ]; then
	ok "--once --json: cpu, io and memory pressure with avg10 and total" \
		python3 -c 'import json,sys; p=json.loads(sys.argv[1])["host"]["pressure"]; assert all(isinstance(p[r]["some"]["avg10"], float) and isinstance(p[r]["some"]["total_us"], int) for r in ("cpu","io","memory"))' "$js"
	is "$(json_get "$js" 'j["host"]["pressure_note"]')" None "no note when PSI is there"
	like "$txt" $'\nhost: cpu pressure some [0-9.]+%' "--once text: the host line shows cpu pressure"
else
	skip "this kernel has no /proc/pressure" 3
fi
like "$(json_get "$js" 'j["host"]["cpu_steal_ratio"] if j["host"]["cpu_steal_ratio"] is not None else j["host"]["cpu_steal_note"]')" \
	'^(0\.[0-9]+|1\.0|CPU steal.*)$' "--once: CPU steal over the run, or a note why not"
like "$(json_get "$js" '[c["schedule_delay_us"] for c in j["pools"][0]["checks"]]')" '^\[[0-9]+, [0-9]+\]$' \
	"--once: each check's start delay after the run's start"
like "$txt" $'\n    schedule delay [0-9.]+ ms' "--once text: the schedule delay under each check"

# Where the kernel has no PSI: an empty /proc/pressure in a mount namespace.
if unshare -m true 2>/dev/null; then
	nopsi=$(unshare -m sh -c 'mount -t tmpfs none /proc/pressure && exec "$0" --once --json -c "$1"' "$FPMPROBE" "$conf")
	is "$(json_get "$nopsi" '[j["host"]["pressure"][r] for r in ("cpu","io","memory")]')" "[None, None, None]" \
		"without PSI: every resource is null"
	is "$(json_get "$nopsi" 'j["host"]["pressure_note"]')" \
		"PSI not available: /proc/pressure/cpu: No such file or directory" "with a note that says why"
	is "$(json_get "$nopsi" 'j["status"]')" OK "and the pools are judged as before"
	nopsi=$(unshare -m sh -c 'mount -t tmpfs none /proc/pressure && exec "$0" --once -c "$1"' "$FPMPROBE" "$conf")
	like "$nopsi" $'\nhost: PSI not available: /proc/pressure/cpu: No such file' "--once text: the note"
else
	skip "no mount namespaces here (unshare -m)" 4
fi

# The daemon: /metrics.
fp_daemon_start "$conf" "$aport" || bail_out "the daemon did not start"
base=http://127.0.0.1:$hport
status_json() {
	curl -s --max-time 5 "$base/status"
}
metric() {
	curl -s --max-time 5 "$base/metrics" | grep -E "^$1" | head -n 1
}
steal_seen() {
	[ -n "$(metric fpmprobe_host_cpu_steal_ratio)" ]
}
if [ "$have_psi" = 1 ]; then
	like "$(metric 'fpmprobe_host_pressure_avg10_ratio\{resource="cpu",kind="some"\}')" \
		'^fpmprobe_host_pressure_avg10_ratio\{resource="cpu",kind="some"\} [0-9.]+$' "/metrics: cpu pressure avg10"
	like "$(metric 'fpmprobe_host_pressure_seconds_total\{resource="io",kind="full"\}')" \
		' [0-9]+\.[0-9]+$' "/metrics: io pressure total, in seconds"
else
	skip "this kernel has no /proc/pressure" 2
fi
# Steal comes from two readings a second or more apart.
if grep -qE '^cpu +([0-9]+ +){7}[0-9]+' /proc/stat; then
	ok "/metrics: CPU steal share once two readings were made" poll_until 10 steal_seen
else
	skip "no steal column in /proc/stat" 1
fi
ok "/metrics: each check's scheduling delay" poll_until 10 sh -c \
	"curl -s --max-time 5 '$base/metrics' | grep -qE '^fpmprobe_check_schedule_delay_seconds\\{pool=\"www\",check=\"app\",type=\"fastcgi\"\\} [0-9.]+\$'"

# A real stall: stop the daemon while slow is in flight, a few times
# until one of its probes had its deadline pass while fpmprobe was
# stopped (slow runs 0.4 s of every 0.5 s), and read /status as soon as
# it runs again.
max_delay() {
	json_get "$1" 'max(c["schedule_delay_max_us"] or 0 for c in j["pools"][0]["checks"])'
}
stalled_in() {
	[ "$(json_get "$1" 'sum(c["self_late"] == "stalled" for c in j["pools"][0]["checks"])')" -ge 1 ]
}
downs_before=$(grep -c 'pool www: up -> down' "$STACK_DIR/fpmprobe.log")
tries=0 answers= st=
while [ "$tries" -lt 5 ]; do
	tries=$((tries + 1))
	kill -STOP "$FP_PID"
	sleep 1.6
	kill -CONT "$FP_PID"
	st=$(status_json)
	# What HAProxy would read right after.
	answers+=" $(agent_ask "$aport" www)"
	stalled_in "$st" && break
	sleep 0.7
done
diag "stops: $tries; agent answers after each:$answers"
diag "checks (result, schedule_delay_us, deadline_overrun_us, self_late, error): $(json_get "$st" '[(c["name"], c["result"], c["schedule_delay_us"], c["deadline_overrun_us"], c["self_late"], c["error"]) for c in j["pools"][0]["checks"]]')"
diag "pool: $(json_get "$st" '(j["pools"][0]["state"], j["pools"][0]["agent"], j["pools"][0]["reason"])')"
delay=$(max_delay "$st")
ok "after a stop of 1.6 s, /status shows a scheduling delay of 1 s or more ($delay us)" 	test "$delay" -ge 1000000
ok "a probe had its deadline pass while fpmprobe was stopped" stalled_in "$st"
is "$(json_get "$st" 'j["pools"][0]["state"]')" up "the pool was not taken down (fall 1)"
is "$(grep -c 'pool www: up -> down' "$STACK_DIR/fpmprobe.log")" "$downs_before" "never, not even for a moment" || diag "$(grep "pool www" "$STACK_DIR/fpmprobe.log")"
unlike "$answers" 'down' "the agent never answered down"
is "$(json_get "$st" 'all("; fpmprobe itself ran " in c["error"] for c in j["pools"][0]["checks"] if c["result"] == "timeout")')" 	True "every timeout's reason says fpmprobe itself ran late"
like "$(json_get "$st" 'j["pools"][0]["reason"]')" '^(app|slow): timeout after 1000ms in [a-z]+.*; fpmprobe itself ran [0-9]+ms late' 	"the pool's reason names fpmprobe's lateness, not the pool"
like "$(metric 'fpmprobe_check_self_late_total\{pool="www",check="slow"')" ' [1-9][0-9]*$' \
	"/metrics counts the probes fpmprobe itself was late for"

fp_daemon_stop
is "$?" 0 "the daemon stops on SIGTERM"
