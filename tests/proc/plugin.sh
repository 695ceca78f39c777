#!/usr/bin/env bash
# fpmprobe --once as a Nagios/Icinga plugin: the first line says why,
# performance data labels never collide, a probe that did not finish
# reports U, --timeout caps the whole run against a FastCGI peer that
# never answers, and a usage error is UNKNOWN on one line of stdout.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
plan 14

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

# Usage errors in --once: UNKNOWN, one line on stdout, whatever comes first.
out=$("$FPMPROBE" -w 80 --once -c "$conf" 2>/dev/null); rc=$?
is "$rc" 3 "an unknown option before --once: exit 3 (UNKNOWN), not 1 (WARNING)"
ok "one line on stdout, FPMPROBE UNKNOWN ($out)" test "$(wc -l <<<"$out")" = 1 -a "${out#FPMPROBE UNKNOWN - }" != "$out"

done_testing
