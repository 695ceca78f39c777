#!/usr/bin/env bash
# fpmprobe --once as a Nagios/Icinga plugin: the first line says why,
# performance data labels never collide, a probe that did not finish
# reports U, --timeout caps the whole run against a FastCGI peer that
# never answers, and a usage error is UNKNOWN on one line of stdout.
# Thresholds (--warning, --critical) on weight, stuck workers and latency
# in the Monitoring Plugins range syntax, with their ranges in the
# performance data; the same as check_fpmprobe (-w, -c, -t, -C).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 65

stack_init
fpm_start web || bail_out "php-fpm web"

# Pools a_b (checks c and weight) and a (check b_c): joined with "_", as
# labels once were, a_b_weight and a_b_c each stood for two things.
conf=$STACK_DIR/collide.yml
cat >"$conf" <<YAML
pools:
  a_b:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: c, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - { name: weight, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  a:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: b_c, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
out=$("$FPMPROBE" --once -c "$conf"); rc=$?
is "$rc" 0 "healthy pools: OK"
first=${out%%$'\n'*}
like "$first" '^FPMPROBE OK - 2 pools up \|' "the first line says all pools are up"
twice=$("$FPMPROBE" --once -c "$conf" a_b a_b)
is "$(grep -o "'a_b weight'" <<<"${twice%%$'\n'*}" | wc -l) ${twice%% |*}" "1 FPMPROBE OK - 1 pool up" \
	"a pool named twice is probed and reported once"
labels=$(grep -o "'[^']*'=" <<<"$first" | tr -d "'=" | sort)
is "$(tr '\n' ',' <<<"$labels")" "a weight,a/b_c,a_b weight,a_b/c,a_b/weight," "one quoted label per pool weight and per check"
is "$(uniq -d <<<"$labels" | wc -l)" 0 "no two labels are the same"
like "$first" "'a_b weight'=100%;;;0;100" "the weight carries %"
like "$first" "'a_b/c'=[0-9.]+s;;;0" "a latency in seconds"

# A pool that is down: the first line names it and says why.
closed=$(free_port)
cat >"$STACK_DIR/down.yml" <<YAML
pools:
  ok:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  gone:
    fastcgi: 127.0.0.1:$closed
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
out=$("$FPMPROBE" --once -c "$STACK_DIR/down.yml"); rc=$?
is "$rc" 2 "a pool down: CRITICAL"
like "${out%%$'\n'*}" "^FPMPROBE CRITICAL - gone down: app: connection refused \\(127\\.0\\.0\\.1:$closed\\); 1 of 2 pools down \\|" \
	"the first line says which pool and why"

# A FastCGI peer that accepts and never answers, a check timeout of 10 s,
# and --timeout 1s: the run ends at the cap, the probe as aborted (its own
# timeout did not pass), its latency unknown.
fake_start hang || bail_out "fcgi_fake hang"
cat >"$STACK_DIR/hang.yml" <<YAML
pools:
  www:
    fastcgi: $FAKE_ADDR
    checks:
      - { name: app, type: fastcgi, script: /status.php, timeout: 10s }
YAML
t0=$(ms_now)
out=$("$FPMPROBE" --once --timeout 1s -c "$STACK_DIR/hang.yml" 2>/dev/null); rc=$?
elapsed=$(( $(ms_now) - t0 ))
within_ms "$elapsed" $((1000 + LOAD_MARGIN_MS)) "--timeout 1s ends the run within the cap + margin"
is "$rc" 2 "a probe cut by --timeout: CRITICAL"
like "${out%%$'\n'*}" "www down: app: aborted \\(--timeout 1000ms reached\\)" "and the first line says so"
like "${out%%$'\n'*}" "'www/app'=U( |$)" "its latency is U, not the cap"

# perf LINE [LABEL]: with a label, its value, unit, warn, crit, min and
# max ("-" for an empty field); without, "ok" when every item of the
# performance data is label=value[UOM];warn;crit;min;max with warn and
# crit in the range syntax, or what does not parse.
perf() {
	python3 - "$@" <<'PY'
import re, sys
line = sys.argv[1]
label = sys.argv[2] if len(sys.argv) > 2 else None
perf = line.split(' | ', 1)[1] if ' | ' in line else ''
item = re.compile(r"'((?:[^']|'')+)'=(U|-?[0-9]+(?:\.[0-9]+)?)([a-zA-Z%]*)((?:;[^; ]*){0,4})(?: +|$)")
rng = re.compile(r'^(@?(~|[-+]?[0-9]+(\.[0-9]+)?)?(:([-+]?[0-9]+(\.[0-9]+)?)?)?)?$')
num = re.compile(r'^(-?[0-9]+(\.[0-9]+)?)?$')
rest, found = perf.strip(), {}
while rest:
    m = item.match(rest)
    if m is None:
        sys.exit('unparseable: ' + rest)
    f = (m.group(4).split(';')[1:] + ['', '', '', ''])[:4]
    if not (rng.match(f[0]) and rng.match(f[1]) and num.match(f[2]) and num.match(f[3])):
        sys.exit('bad fields: ' + m.group(0))
    found[m.group(1)] = [m.group(2), m.group(3)] + f
    rest = rest[m.end():]
if label is None:
    print('ok %d' % len(found))
elif label in found:
    print(' '.join(x if x != '' else '-' for x in found[label]))
else:
    print('no label ' + label)
PY
}

# Thresholds on a pool with 2 of its 4 workers stuck.
fpm_start busy max_children=4 status_listen=1 || bail_out "php-fpm busy"
busy=$STACK_DIR/busy.yml
cat >"$busy" <<YAML
pools:
  busy:
    fastcgi: $FPM_BUSY_ADDR
    status_path: /fpm-status
    status_listen: $FPM_BUSY_STATUS_ADDR
    stuck_after: 1s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
out=$("$FPMPROBE" --once --warning weight=90:,stuck=0 --critical weight=50:,stuck=1 -c "$busy"); rc=$?
first=${out%%$'\n'*}
is "$rc" 0 "idle pool within every threshold: OK ($first)"
is "$(perf "$first" 'busy weight')" "100 % 90: 50: 0 100" "perfdata: the weight's warn and crit ranges"
is "$(perf "$first" 'busy stuck')" "0 - 0 1 0 -" "perfdata: stuck workers' warn and crit ranges"

fpm_occupy "$FPM_BUSY_ADDR" 2 60
ok "2 of 4 workers stuck: weight 50%" \
	poll_until 20 sh -c "'$FPMPROBE' --once -c '$busy' | grep -q 'pool busy: up 50%'"
out=$("$FPMPROBE" --once --warning weight=90: -c "$busy"); rc=$?
first=${out%%$'\n'*}
is "$rc" 1 "--warning weight=90: at 50%: WARNING"
like "$first" '^FPMPROBE WARNING - busy weight 50% outside 90: \(warning\); busy up 50%: 2/4 workers stuck' \
	"the first line says which threshold fired, then the pool"
out=$("$FPMPROBE" --once --critical weight=90: -c "$busy"); rc=$?
first=${out%%$'\n'*}
is "$rc" 2 "--critical weight=90: at 50%: CRITICAL"
like "$first" '^FPMPROBE CRITICAL - busy weight 50% outside 90: \(critical\); ' "and says so"
is "$(perf "$first")" "ok 7" "every perfdata item parses, ranges included"
"$FPMPROBE" --once --warning weight=25: -c "$busy" >/dev/null; rc=$?
is "$rc" 0 "--warning weight=25: at 50%: OK, the threshold replaces the WARNING of any weight under 100%"
"$FPMPROBE" --once -c "$busy" >/dev/null; rc=$?
is "$rc" 1 "without thresholds a weight of 50% stays a WARNING"
out=$("$FPMPROBE" --once --critical stuck=1 -c "$busy"); rc=$?
is "$rc" 2 "--critical stuck=1 with 2 stuck: CRITICAL"
like "${out%%$'\n'*}" '^FPMPROBE CRITICAL - busy stuck 2 outside 1 \(critical\); busy up 50%' "the first line names it"
out=$("$FPMPROBE" --once --warning stuck=@1:3 -c "$busy"); rc=$?
is "$rc" 1 "--warning stuck=@1:3 with 2 stuck: WARNING (alert inside)"
like "${out%%$'\n'*}" '^FPMPROBE WARNING - busy stuck 2 inside @1:3 \(warning\); ' "inside the range"
out=$("$FPMPROBE" --once --warning weight=90:,stuck=3 --critical weight=40:,stuck=5 -c "$busy"); rc=$?
first=${out%%$'\n'*}
is "$rc" 1 "the worse of two: weight WARNING, stuck OK"
like "$first" 'busy weight 50% outside 90: \(warning\)' "the weight's warning fired, not the stuck workers'"
is "$(perf "$first" 'busy weight') / $(perf "$first" 'busy stuck')" "50 % 90: 40: 0 100 / 2 - 3 5 0 -" \
	"perfdata: weight and stuck with their own warn;crit"

# Latency in seconds, per check.
out=$("$FPMPROBE" --once --critical latency=0.000001 -c "$conf"); rc=$?
first=${out%%$'\n'*}
is "$rc" 2 "--critical latency=0.000001: CRITICAL"
like "$first" '^FPMPROBE CRITICAL - a_b/c latency [0-9]+\.[0-9]{6}s outside 0\.000001 \(critical, \+2 more\); 2 pools up \|' \
	"the first line names the first check over it and counts the others"
like "$(perf "$first" 'a_b/c')" '^[0-9.]+ s - 0\.000001 0 -$' "perfdata: the latency's crit range, in seconds"
cat >"$STACK_DIR/slow.yml" <<YAML
pools:
  slow:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: sleep, type: fastcgi, script: $STACK_WWW/sleep.php, query: s=0.5, expect_body: slept, interval: 20s, timeout: 10s }
YAML
out=$("$FPMPROBE" --once --warning latency=0.2 --critical latency=30 -c "$STACK_DIR/slow.yml"); rc=$?
is "$rc" 1 "a 0.5 s script against --warning latency=0.2: WARNING"
like "${out%%$'\n'*}" '^FPMPROBE WARNING - slow/sleep latency [0-9.]+s outside 0\.2 \(warning\); 1 pool up \|' \
	"the first line says which check was slow"
out=$("$FPMPROBE" --once --timeout 1s --critical latency=5 -c "$STACK_DIR/hang.yml" 2>/dev/null)
unlike "${out%%$'\n'*}" ' latency ' "a probe that did not finish raises no latency threshold"
like "${out%%$'\n'*}" "'www/app'=U;;5( |\$)" "its perfdata stays U, with the ranges"

# The plugin conventions under the name check_fpmprobe.
chk=$STACK_DIR/check_fpmprobe
ln -s "$FPMPROBE" "$chk"
out=$("$chk" -C "$busy" -w weight=90: -c weight=40: busy); rc=$?
is "$rc" 1 "check_fpmprobe -C -w -c: WARNING"
like "${out%%$'\n'*}" '^FPMPROBE WARNING - busy weight 50% outside 90: \(warning\); ' "with the same first line"
"$chk" -C "$busy" -c stuck=1 >/dev/null; rc=$?
is "$rc" 2 "check_fpmprobe -c stuck=1: CRITICAL"
out=$("$chk" -C "$conf"); rc=$?
like "$rc ${out%%$'\n'*}" '^0 FPMPROBE OK - 2 pools up \|' "check_fpmprobe without thresholds: OK"
t0=$(ms_now)
out=$("$chk" -t 1 -C "$STACK_DIR/hang.yml" 2>/dev/null); rc=$?
elapsed=$(( $(ms_now) - t0 ))
within_ms "$elapsed" $((1000 + LOAD_MARGIN_MS)) "check_fpmprobe -t 1 ends the run within 1 s + margin"
like "$rc ${out%%$'\n'*}" '^2 FPMPROBE CRITICAL - www down: app: aborted \(--timeout 1000ms reached\)' \
	"-t takes seconds; a probe cut by it is CRITICAL"
out=$("$chk" -V); rc=$?
is "$rc $out" "3 check_fpmprobe ($("$FPMPROBE" -V))" "-V prints the version, exit 3 as plugins do"
out=$("$chk" -h); rc=$?
like "$rc $out" '^3 check_fpmprobe .*-w, --warning LIST.*-t, --timeout SECS.*default 10' "-h: the help, exit 3"
out=$("$chk" -C "$STACK_DIR/none.yml" 2>/dev/null); rc=$?
like "$rc $out" "^3 FPMPROBE UNKNOWN - invalid configuration $STACK_DIR/none.yml\$" "a missing -C file: UNKNOWN"

# Usage errors: UNKNOWN, exit 3, one line on stdout that says what is wrong.
usage_error() {
	local want=$1 out rc args
	shift
	args=("${@#"$STACK_DIR/"}")
	args=("${args[@]#"$top_builddir/"}")
	out=$("$@" 2>/dev/null); rc=$?
	if [ "$rc" = 3 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ $out == "FPMPROBE UNKNOWN - "* ]] &&
		[[ $out == *"$want"* ]]; then
		pass "${args[*]}: exit 3, one line: ${out%%; usage:*}"
	else
		fail "${args[*]}: exit 3, one line with \"$want\""
		diag "exit $rc: $out"
	fi
}
usage_error "write weight=RANGE, stuck=RANGE or latency=RANGE" "$chk" -C "$conf" -w 80
usage_error "-w weight=abc: expected [@]start:end" "$chk" -C "$conf" -w weight=abc
usage_error "unknown metric \"load\" (weight, stuck or latency)" "$chk" -C "$conf" -c load=5
usage_error "(the configuration file is -C FILE)" "$chk" -c "$conf"
usage_error "-t takes whole seconds" "$chk" -C "$conf" -t 0
usage_error "-t takes whole seconds" "$chk" -C "$conf" -t 1.5
usage_error "-t needs an argument" "$chk" -C "$conf" -t
usage_error "unknown option -x" "$chk" -C "$conf" -x
usage_error "no pool named \"nosuch\"" "$chk" -C "$conf" nosuch
usage_error "--warning \"80\" names no metric" "$FPMPROBE" --once -c "$conf" --warning 80
usage_error "latency=0.5s: a range takes plain numbers, without a unit" "$FPMPROBE" --once -c "$conf" --critical latency=0.5s
usage_error "weight is given twice" "$FPMPROBE" --once -c "$conf" --warning weight=1: --warning weight=2:
usage_error "-w weight=1e3: a range takes plain decimal numbers, without an exponent or hex" "$chk" -C "$conf" -w weight=1e3
usage_error "-c stuck=0x10: a range takes plain decimal numbers" "$chk" -C "$conf" -c stuck=0x10
out=$("$chk" -C "$conf" -w "$(printf 'weight=a\001\033[31mb')" 2>/dev/null)
is "$(printf '%s' "$out" | tr -d '\040-\176' | wc -c)" 0 \
	"control bytes of an argument are not echoed on the plugin's line"
"$FPMPROBE" --warning weight=1: -c "$conf" >/dev/null 2>&1; rc=$?
is "$rc" 1 "--warning without --once: a usage error of the daemon's, exit 1"

# Usage errors in --once: UNKNOWN, one line on stdout, whatever comes first.
out=$("$FPMPROBE" -w 80 --once -c "$conf" 2>/dev/null); rc=$?
is "$rc" 3 "an unknown option before --once: exit 3 (UNKNOWN), not 1 (WARNING)"
ok "one line on stdout, FPMPROBE UNKNOWN ($out)" test "$(wc -l <<<"$out")" = 1 -a "${out#FPMPROBE UNKNOWN - }" != "$out"

done_testing
