#!/usr/bin/env bash
# HTTP checks through a real nginx in front of a real php-fpm pool, and
# the daemon's status endpoint: /metrics as strict Prometheus text, and
# /status as the JSON of --once.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
require_checks http
plan 41

stack_init
fpm_start web
nginx_start "$FPM_WEB_ADDR" || bail_out "nginx did not start"

base=http://127.0.0.1:$NGINX_PORT
dead=$(free_port)
slow_timeout_ms=500	# the slow check's deadline
conf=$STACK_DIR/http.yml
cat >"$conf" <<YAML
defaults:
  timeout: 1s
pools:
  pass:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/health", expect_body: "OK" }
  php:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/status.php", expect_body: "OK" }
  head:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, method: HEAD, url: "$base/health" }
  status:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/nope" }
  body:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/health", expect_body: "NOPE" }
  refused:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "http://127.0.0.1:$dead/health" }
  slow:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/sleep.php?s=5", timeout: ${slow_timeout_ms}ms }
  unix:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "http://localhost/health", unix_socket: $NGINX_SOCK, expect_body: "OK" }
  host:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/host", headers: [ "Host: shop.example" ], expect_body: "host=shop.example" }
  redirect:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/redirect" }
  follow:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "$base/redirect", follow_redirects: true, expect_body: "OK" }
  dns:
    fastcgi: $FPM_WEB_ADDR
    checks:
      - { name: front, type: http, url: "http://no-such-host.invalid/" }
YAML

# Run --once on one pool; sets out, rc, elapsed (ms, fpmprobe alone) and
# err (the check's error).
once() {
	local t0
	t0=$(ms_now)
	out=$("$FPMPROBE" --once --json -c "$conf" "$1"); rc=$?
	elapsed=$(( $(ms_now) - t0 ))
	err=$(json_get "$out" 'j["pools"][0]["checks"][0]["error"]')
}

once pass;     is "$rc" 0 "a static page through nginx passes"
is "$(json_get "$out" 'j["pools"][0]["checks"][0]["type"]')" http "the check is of type http"
times=$(json_get "$out" '[j["pools"][0]["checks"][0][k] for k in ("connect_us", "first_byte_us", "latency_us")]')
ok "connect, first-byte and total times are measured ($times)" python3 -c "
import sys; c, f, t = eval(sys.argv[1]); sys.exit(not (0 < c <= f and 0 < t))" "$times"
once php;      is "$rc" 0 "a PHP script through nginx and php-fpm passes"
once head;     is "$rc" 0 "HEAD passes"
once status;   is "$rc" 2 "a 404 is CRITICAL"
like "$err" '^front: status 404' "the reason names the status"
once body;     is "$rc" 2 "a body mismatch is CRITICAL"
like "$err" '^front: body mismatch \(no "NOPE" in "OK' "the reason quotes the body"
once refused;  is "$rc" 2 "a closed port is CRITICAL"
is "$err" "front: connection refused (http://127.0.0.1:$dead/health)" "the reason says refused"
once unix;     is "$rc" 0 "an upstream on a unix socket passes"
once host;     is "$rc" 0 "configured headers are sent (Host)"
once redirect; is "$rc" 2 "a redirect is not followed by default"
like "$err" '^front: status 302' "and its status is the reason"
once follow;   is "$rc" 0 "follow_redirects: true follows it"
once dns
is "$rc" 2 "an unknown host is CRITICAL"
like "$err" '^front: (name resolution failed|cannot connect)' "the reason says the name did not resolve"

once slow
is "$rc" 2 "a slow URL is CRITICAL"
like "$err" '^front: timeout after 500ms in (request|response)' "with a timeout reason naming the phase"
lat=$(json_get "$out" 'j["pools"][0]["checks"][0]["latency_us"]')
ok "the timeout does not come early (${lat} us >= $slow_timeout_ms ms)" \
	test "$lat" -ge $((slow_timeout_ms * 1000))
within_ms "$(us_to_ms "$lat")" $((slow_timeout_ms + LOAD_MARGIN_MS)) "nor late: timeout + margin"
within_ms "$elapsed" $((slow_timeout_ms + LOAD_MARGIN_MS)) \
	"and --once returns soon after, process start-up included: timeout + margin"

# The daemon's status endpoint.
aport=$(free_port)
hport=$(free_port)
own=$(free_port)
dconf=$STACK_DIR/http-daemon.yml
cat >"$dconf" <<YAML
agent:
  listen: [ "127.0.0.1:$aport" ]
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: 300ms
  timeout: 1s
  rise: 1
  fall: 1
pools:
  web:
    fastcgi: $FPM_WEB_ADDR
    status_path: /fpm-status
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - { name: front, type: http, url: "$base/health", expect_body: OK }
  dead-pool:
    fastcgi: 127.0.0.1:$dead
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php }
YAML
fp_daemon_start "$dconf" "$own" || bail_out "the daemon did not start"
curl_get() {
	curl -s --max-time 5 -o "$STACK_DIR/body" -w '%{http_code}' "$@"
}
probes_at_least() {
	curl_get "http://127.0.0.1:$hport/metrics" >/dev/null &&
		grep -q "^fpmprobe_check_probes_total{pool=\"web\",check=\"front\",type=\"http\"} $1" "$STACK_DIR/body"
}
ok "the daemon probes over HTTP" poll_until 10 probes_at_least '[3-9]'

is "$(curl_get "http://127.0.0.1:$hport/metrics")" 200 "GET /metrics: 200"
cp "$STACK_DIR/body" "$STACK_DIR/metrics.txt"
check=$(python3 - "$STACK_DIR/metrics.txt" <<'PY'
# A strict reader of the Prometheus text format (version 0.0.4).
import re, sys
name_re = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
label_re = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
sample = re.compile(r'^(' + name_re + r')(\{' + label_re + r'(?:,' + label_re + r')*\})? (\S+)$')
types, helps, seen_family, order = {}, set(), set(), []
hist = {}
errors = []
for n, line in enumerate(open(sys.argv[1], encoding='utf-8').read().split('\n'), 1):
    if line == '':
        continue
    if line.startswith('# HELP '):
        helps.add(line.split(' ')[2]); continue
    if line.startswith('# TYPE '):
        _, _, name, t = line.split(' ')
        if name in types: errors.append(f'{n}: TYPE {name} twice')
        if t not in ('counter', 'gauge', 'histogram', 'summary', 'untyped'): errors.append(f'{n}: bad type {t}')
        types[name] = t; order.append(name); continue
    if line.startswith('#'):
        continue
    m = sample.match(line)
    if not m:
        errors.append(f'{n}: not a sample: {line!r}'); continue
    name, labels, value = m.groups()
    float(value)
    family = re.sub(r'_(bucket|sum|count)$', '', name) if re.sub(r'_(bucket|sum|count)$', '', name) in types else name
    if family not in types: errors.append(f'{n}: {name} has no TYPE')
    elif order[-1] != family: errors.append(f'{n}: {name} outside its family block')
    if family not in helps: errors.append(f'{n}: {family} has no HELP')
    if types.get(family) == 'counter' and not name.endswith('_total'): errors.append(f'{n}: counter {name} without _total')
    if types.get(family) == 'histogram':
        key = re.sub(r',?le="[^"]*"', '', labels or '')
        h = hist.setdefault(key, {'buckets': [], 'count': None, 'sum': None})
        if name.endswith('_bucket'):
            le = re.search(r'le="([^"]*)"', labels).group(1)
            h['buckets'].append((float(le), float(value)))
        elif name.endswith('_count'): h['count'] = float(value)
        elif name.endswith('_sum'): h['sum'] = float(value)
for key, h in hist.items():
    b = h['buckets']
    if not b or b[-1][0] != float('inf'): errors.append(f'{key}: no +Inf bucket')
    if any(b[i][0] >= b[i+1][0] or b[i][1] > b[i+1][1] for i in range(len(b)-1)): errors.append(f'{key}: buckets not cumulative')
    if h['count'] != b[-1][1]: errors.append(f'{key}: _count {h["count"]} != +Inf bucket {b[-1][1]}')
    if h['sum'] is None or h['sum'] < 0: errors.append(f'{key}: bad _sum')
print('; '.join(errors) if errors else f'ok {len(types)} families {len(hist)} histograms')
PY
)
like "$check" '^ok ' "/metrics parses as strict Prometheus text ($check)"
like "$(cat "$STACK_DIR/metrics.txt")" 'fpmprobe_pool_state\{pool="web",state="up"\} 1' "pool state"
like "$(cat "$STACK_DIR/metrics.txt")" 'fpmprobe_pool_workers\{pool="web",state="idle"\} [0-9]+' "worker counts from the status sample"
like "$(cat "$STACK_DIR/metrics.txt")" 'fpmprobe_check_up\{pool="dead-pool",check="app",type="fastcgi"\} 0' "a failing check is 0"
like "$(cat "$STACK_DIR/metrics.txt")" 'fpmprobe_build_info\{version="[0-9.]+"\} 1' "build info"

"$AGENTC" -s web 127.0.0.1:"$aport" >/dev/null
curl_get "http://127.0.0.1:$hport/metrics" >/dev/null
like "$(cat "$STACK_DIR/body")" 'fpmprobe_agent_answers_total\{answer="up"\} [1-9]' "agent answers are counted"

is "$(curl_get "http://127.0.0.1:$hport/status")" 200 "GET /status: 200"
status=$(cat "$STACK_DIR/body")
once_json=$("$FPMPROBE" --once --json -c "$dconf")
same=$(python3 -c "
import json, sys
def shape(d):
    # CPU steal needs a clock tick between two readings, which a short
    # --once run may not see: a number or null with a note, by timing.
    if isinstance(d, dict): return {k: shape(v) for k, v in d.items() if k not in ('reason', 'error', 'processes', 'progress', 'cpu_steal_ratio', 'cpu_steal_window_ms', 'cpu_steal_note')}
    if isinstance(d, list): return [shape(x) for x in d]
    return 'num' if isinstance(d, (int, float)) and not isinstance(d, bool) else type(d).__name__
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print('same' if shape(a) == shape(b) else 'differ:\n' + json.dumps(shape(a)) + '\n' + json.dumps(shape(b)))
" "$status" "$once_json")
is "$same" same "/status has the shape of --once --json"
is "$(json_get "$status" '[p["state"] for p in j["pools"]]')" "['up', 'down']" "/status: the daemon's states"
win=$(json_get "$status" '[(c["probes"], c["latency_p50_us"], c["latency_p99_us"], c["latency_max_us"]) for c in j["pools"][0]["checks"] if c["name"] == "front"][0]')
ok "/status: p50 <= p99 <= max over the recent window (probes, p50, p99, max: $win)" python3 -c "
import sys; n, a, b, c = eval(sys.argv[1]); sys.exit(not (n > 1 and 0 < a <= b <= c))" "$win"

is "$(curl_get "http://127.0.0.1:$hport/nope")" 404 "an unknown path: 404"
is "$(curl_get -X POST "http://127.0.0.1:$hport/metrics")" 405 "POST: 405"
is "$(curl_get -H "X-Big: $(head -c 10000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$hport/metrics")" 400 "oversized headers are refused"
is "$(curl_get "http://127.0.0.1:$hport/metrics?x=1")" 200 "a query string does not change the path"
ok "the daemon still answers the agent" sh -c "'$AGENTC' -s web 127.0.0.1:$aport | grep -q '^ready up'"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop

done_testing
