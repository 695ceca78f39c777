#!/usr/bin/env bash
# The health endpoints for consumers that are not HAProxy (/health/POOL,
# /health, /live) against a real php-fpm pool: the status code, headers
# and body of each state (up, degraded, drained, in maintenance, down,
# unknown), HEAD, HTTP/1.0 without Host, a black hole on a PostgreSQL lock
# (down on time, the endpoint answering at once while every probe hangs),
# and every snippet of docs/consumers.md, each asked as its consumer asks.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R, private servers)"
python3 -c 'import yaml' 2>/dev/null || skip_all "needs python3-yaml (tools/deps.sh)"
plan 77
doc=${top_srcdir:-$here/../..}/docs/consumers.md
[ -f "$doc" ] || bail_out "no $doc"

stack_init
fpm_start www max_children=4 status_listen=1
pg_start || bail_out "PostgreSQL did not start"

# Requests over a raw socket, a latency run, and what each consumer of
# docs/consumers.md makes of an answer.
hc=$STACK_DIR/hc.py
cat >"$hc" <<'PY'
import json, re, socket, sys, time, urllib.parse

def raw(host, port, req, timeout=5.0):
    """Send req as is, read until the server closes; say what came."""
    t0 = time.monotonic()
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(req)
    data, closed = b'', True
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        closed = False
    s.close()
    us = int((time.monotonic() - t0) * 1e6)
    head, _, body = data.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(':')
        hdrs[k.strip().lower()] = v.strip()
    m = re.match(r'HTTP/\d\.\d (\d{3})', lines[0])
    return {'status_line': lines[0], 'code': int(m.group(1)) if m else 0,
            'headers': hdrs, 'body': body.decode('latin-1'),
            'closed': closed, 'us': us}

def get(host, port, target, method='GET'):
    req = f'{method} {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n'
    return raw(host, port, req.encode())

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]

def load(host, port, n, targets):
    """n requests, one connection each, cycling through targets."""
    codes, lat, errors = {}, [], 0
    for i in range(n):
        t = targets[i % len(targets)]
        try:
            r = get(host, port, t)
        except OSError:
            errors += 1
            continue
        if not r['closed']:
            errors += 1
        codes.setdefault(t, {}).setdefault(r['code'], 0)
        codes[t][r['code']] += 1
        lat.append(r['us'])
    return {'n': len(lat), 'errors': errors, 'codes': codes,
            'p50_us': pct(lat, 50), 'p99_us': pct(lat, 99), 'max_us': max(lat)}

def cap(host, port, n, targets):
    """Hold n keep-alive connections that each brought a request, then ask
    each target on a new connection; say what those answered."""
    held = []
    for i in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(f'GET /live HTTP/1.1\r\nHost: {host}\r\n\r\n'.encode())
        data = b''
        while not data.endswith(b'alive\n'):
            b = s.recv(4096)
            if not b:
                break
            data += b
        held.append(s)
    out = [(t, get(host, port, t)) for t in targets]
    closed = 0
    for s in held:
        s.settimeout(0.2)
        try:
            closed += s.recv(1) == b''
        except OSError:
            pass
        s.close()
    return [[t, r['code'], r['body']] for t, r in out] + [closed]

def snippets(path):
    """Every fenced block that follows a <!-- snippet: NAME --> line."""
    text = open(path, encoding='utf-8').read()
    return dict(re.findall(r'<!-- snippet: (\S+) -->\n```[a-z]*\n(.*?)\n```', text, re.S))

def extract(doc, outdir):
    """Parse every snippet; write the files the shell checks and the spec
    of how each consumer asks and reads."""
    import yaml
    sn = snippets(doc)
    want = {'kubernetes', 'consul', 'alb', 'envoy', 'nginx-upstream-check', 'nginx-plus', 'traefik'}
    if set(sn) != want:
        sys.exit(f'snippets: {sorted(sn)}, expected {sorted(want)}')
    for name, text in sn.items():
        open(f'{outdir}/snippet.{name}', 'w').write(text + '\n')
    spec = {}
    # Kubernetes: the ConfigMap's fpmprobe.yml, and the probes as the pod asks them.
    cm, pod = list(yaml.safe_load_all(sn['kubernetes']))
    assert cm['kind'] == 'ConfigMap' and pod['kind'] == 'Pod', 'ConfigMap, then Pod'
    open(f'{outdir}/k8s-fpmprobe.yml', 'w').write(cm['data']['fpmprobe.yml'])
    cs = {c['name']: c for c in pod['spec']['containers']}
    fp = cs['fpmprobe']
    vols = {v['name']: v for v in pod['spec']['volumes']}
    mounts = {m['name']: m['mountPath'] for m in fp['volumeMounts']}
    conf = fp['command'][fp['command'].index('-c') + 1]
    cmvol = [n for n, v in vols.items() if v.get('configMap', {}).get('name') == cm['metadata']['name']][0]
    assert conf == mounts[cmvol] + '/fpmprobe.yml', f'-c {conf} is not the ConfigMap mounted at {mounts[cmvol]}'
    assert '-f' in fp['command'], 'fpmprobe stays in the foreground'
    sock_dir = '/run/php'
    for c in ('php', 'fpmprobe'):
        m = {m['name']: m['mountPath'] for m in cs[c]['volumeMounts']}
        assert m['php-run'] == sock_dir, f'{c} mounts the socket directory at {sock_dir}'
    assert 'emptyDir' in vols['php-run'], 'the socket is in an emptyDir'
    assert f'unix:{sock_dir}/php8.2-fpm.sock' in cm['data']['fpmprobe.yml'], "Debian's socket"
    rp, lp = fp['readinessProbe']['httpGet'], fp['livenessProbe']['httpGet']
    port = fp['ports'][0]['containerPort']
    assert rp['port'] == lp['port'] == port, 'both probes ask the http.listen port'
    assert f':{port}"' in cm['data']['fpmprobe.yml'], 'the port is http.listen'
    spec['kubelet'] = {'target': rp['path'], 'live': lp['path']}
    # Consul: the check's URL.
    c = json.loads(sn['consul'])['service']['checks'][0]
    u = urllib.parse.urlsplit(c['http'])
    spec['consul'] = {'target': u.path + ('?' + u.query if u.query else ''), 'method': c.get('method', 'GET')}
    # ALB: the path and the matcher.
    a = json.loads(sn['alb'])
    assert a['HealthCheckProtocol'] == 'HTTP'
    spec['alb'] = {'target': a['HealthCheckPath'], 'matcher': a['Matcher']['HttpCode']}
    # Envoy: the health check's path, sent to health_check_config's port.
    e = yaml.safe_load(sn['envoy'])['static_resources']['clusters'][0]
    for ep in e['load_assignment']['endpoints'][0]['lb_endpoints']:
        assert ep['endpoint']['health_check_config']['port_value'] == 9779, 'Envoy checks fpmprobe\'s port'
    hc = e['health_checks'][0]
    assert hc['http_health_check'].get('expected_statuses') is None, 'the default: 200 only'
    spec['envoy'] = {'target': hc['http_health_check']['path']}
    # Traefik: the path, sent to healthCheck's port.
    t = yaml.safe_load(sn['traefik'])['http']['services']['php']['loadBalancer']['healthCheck']
    assert t['port'] == 9779
    spec['traefik'] = {'target': t['path']}
    # nginx upstream check module: the request it sends, byte for byte.
    n = sn['nginx-upstream-check']
    send = re.search(r'check_http_send\s+"((?:[^"\\]|\\.)*)";', n).group(1)
    alive = re.search(r'check_http_expect_alive\s+([^;]+);', n).group(1).split()
    assert re.search(r'\bcheck\b[^;]*\btype=http\b[^;]*\bport=9779\b', n), 'check type=http port=9779'
    spec['nginx-check'] = {'send': send.encode().decode('unicode_escape'), 'alive': alive}
    # nginx Plus: health_check's uri and its match block's status range.
    p = sn['nginx-plus']
    hcl = re.search(r'health_check\s+([^;]+);', p).group(1)
    args = dict(x.split('=', 1) for x in hcl.split())
    assert args['port'] == '9779'
    mblock = re.search(r'match\s+' + re.escape(args['match']) + r'\s*\{(.*?)\}', p, re.S).group(1)
    lo, hi = re.search(r'status\s+(\d+)-(\d+);', mblock).groups()
    spec['nginx-plus'] = {'target': args['uri'], 'status': [int(lo), int(hi)]}
    json.dump(spec, open(f'{outdir}/consumers.json', 'w'), indent=1)
    print(json.dumps(spec))

def matcher_ok(code, m):
    for part in m.split(','):
        lo, _, hi = part.partition('-')
        if int(lo) <= code <= int(hi or lo):
            return True
    return False

def consumers(specfile, host, port):
    """What each consumer of docs/consumers.md makes of the answers now."""
    s = json.load(open(specfile))
    out = []
    r = get(host, port, s['kubelet']['target'])
    out.append('kubelet=' + ('ready' if 200 <= r['code'] < 400 else 'unready'))
    r = get(host, port, s['kubelet']['live'])
    out.append('kubelet-live=' + ('alive' if 200 <= r['code'] < 400 else 'restart'))
    r = get(host, port, s['consul']['target'], s['consul']['method'])
    out.append('consul=' + ('passing' if 200 <= r['code'] < 300 else 'warning' if r['code'] == 429 else 'critical'))
    r = get(host, port, s['alb']['target'])
    out.append('alb=' + ('healthy' if matcher_ok(r['code'], s['alb']['matcher']) else 'unhealthy'))
    r = get(host, port, s['envoy']['target'])
    out.append('envoy=' + ('unhealthy' if r['code'] != 200 else 'degraded' if 'x-envoy-degraded' in r['headers'] else 'healthy'))
    r = raw(host, port, s['nginx-check']['send'].encode())
    ok = f'http_{r["code"] // 100}xx' in s['nginx-check']['alive'] and r['closed']
    out.append('nginx-check=' + ('up' if ok else 'down'))
    r = get(host, port, s['nginx-plus']['target'])
    lo, hi = s['nginx-plus']['status']
    out.append('nginx-plus=' + ('up' if lo <= r['code'] <= hi else 'down'))
    r = get(host, port, s['traefik']['target'])
    out.append('traefik=' + ('healthy' if 200 <= r['code'] < 400 else 'unhealthy'))
    print(' '.join(out))

cmd = sys.argv[1]
if cmd == 'raw':
    r = raw(sys.argv[2], int(sys.argv[3]), sys.argv[4].encode().decode('unicode_escape').encode('latin-1'))
    print(json.dumps(r))
elif cmd == 'load':
    print(json.dumps(load(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(','))))
elif cmd == 'cap':
    print(json.dumps(cap(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split(','))))
elif cmd == 'extract':
    try:
        extract(sys.argv[2], sys.argv[3])
    except (AssertionError, KeyError, IndexError, AttributeError, ValueError) as e:
        sys.exit(f'{type(e).__name__}: {e}')
elif cmd == 'consumers':
    consumers(sys.argv[2], sys.argv[3], int(sys.argv[4]))
PY

# The snippets of docs/consumers.md: parse them first, so that each
# state below is asked as every consumer asks it.
spec=$(python3 "$hc" extract "$doc" "$STACK_DIR" 2>&1); rc=$?
ok "docs/consumers.md: every snippet parses (YAML, JSON, nginx) and names fpmprobe's port and paths" test "$rc" = 0
diag "consumers: $spec"
[ "$rc" = 0 ] || bail_out "the snippets cannot be read: $spec"
consumers() {
	python3 "$hc" consumers "$STACK_DIR/consumers.json" 127.0.0.1 "$hport"
}

aport=$(free_port)
own=$(free_port)
hport=$(free_port)
sock=$STACK_DIR/fpmprobe.sock
mkdir -p "$STACK_DIR/state"
interval_ms=500
timeout_ms=400
fall=2
conf=$STACK_DIR/health.yml
cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$aport" ]
control:
  socket: $sock
  state_dir: $STACK_DIR/state
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: ${interval_ms}ms
  timeout: ${timeout_ms}ms
  rise: 1
  fall: $fall
pools:
  www:
    fastcgi: $FPM_WWW_ADDR
    status_path: /fpm-status
    status_listen: $FPM_WWW_STATUS_ADDR
    stuck_after: 1s
    agent_listen: [ "127.0.0.1:$own" ]
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
  api:
    fastcgi: $FPM_WWW_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
YAML
ctl() {
	"$FPMPROBE" ctl -c "$conf" "$@" >/dev/null
}
base=http://127.0.0.1:$hport
hdr() {
	sed -n "s/^$1: //Ip" "$STACK_DIR/http.headers"
}
body() {
	cat "$STACK_DIR/http.body"
}
raw() {
	python3 "$hc" raw 127.0.0.1 "$hport" "$1"
}
code_is() {
	[ "$(http_ask "$base$1")" = "$2" ]
}
probed() {
	[ "$(json_get "$(curl -s --max-time 5 "$base/status")" \
		'min(c["probes"] for p in j["pools"] for c in p["checks"])')" -ge 2 ]
}

fp_daemon_start "$conf" "$own" || bail_out "the daemon did not start"
ok "the pools are probed" poll_until 15 probed

# Up.
is "$(http_ask "$base/health/www")" 200 "up: GET /health/www is 200"
is "$(body)" "ready up 100%" "the body is the agent's answer"
is "$(hdr X-Fpmprobe-State)" up "X-Fpmprobe-State: up"
is "$(hdr X-Fpmprobe-Weight)" 100 "X-Fpmprobe-Weight: 100"
is "$(hdr x-envoy-degraded)" "" "no x-envoy-degraded at weight 100"
is "$(hdr Cache-Control)" no-store "Cache-Control: no-store"
getlen=$(stat -c %s "$STACK_DIR/http.body")
r=$(raw 'HEAD /health/www HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
is "$(json_get "$r" '[j["code"], j["headers"]["x-fpmprobe-state"], j["headers"]["x-fpmprobe-weight"], j["body"]]')" \
	"[200, 'up', '100', '']" "HEAD: the same status and headers, no body"
is "$(json_get "$r" 'j["headers"].get("content-length")')" "$getlen" "HEAD: Content-Length is the GET body's ($getlen)"
is "$(http_ask "$base/health")" 200 "GET /health: 200 while every pool is up"
is "$(body)" $'www ready up 100%\napi ready up 100%' "one line per pool"
is "$(http_ask "$base/live")" 200 "GET /live: 200"
is "$(body)" alive "it says alive"
is "$(consumers)" "kubelet=ready kubelet-live=alive consul=passing alb=healthy envoy=healthy nginx-check=up nginx-plus=up traefik=healthy" \
	"up: what each consumer of docs/consumers.md makes of it"

# 64 kept-alive connections from one host, idle after their request: the
# host may hold 16 (HTTPD_SOURCE_MAX), each new connection taking the
# place of the one idle longest, so new clients are still answered.
r=$(python3 "$hc" cap 127.0.0.1 "$hport" 64 /health/www,/live)
is "${r%, *}]" '[["/health/www", 200, "ready up 100%\n"], ["/live", 200, "alive\n"]]' \
	"64 idle connections held: /health/www and /live on new ones still answered"
closed=${r##*, }
closed=${closed%]}
ok "the server closed the ones idle longest: $closed of 64, at least 64 - 16" test "$closed" -ge 48
ok "once they close, 200 again" poll_until 5 code_is /health/www 200

# Unknown pools, methods and arguments.
is "$(http_ask "$base/health/nope")" 404 "an unknown pool: 404"
is "$(body)" 'down #unknown pool "nope"' "the body says so, as the agent does"
is "$(http_ask "$base/health/www" -X POST)" 405 "POST: 405"
is "$(http_ask "$base/health/www?degraded=bogus")" 400 "?degraded= takes 200, 429 or ignore: 400 otherwise"
is "$(http_ask "$base/health/www?degraded=429")" 200 "?degraded=429 at weight 100: 200"

# HTTP/1.0 without a Host header, as nginx's upstream check module sends it.
r=$(raw 'GET /health/www HTTP/1.0\r\n\r\n')
is "$(json_get "$r" '[j["status_line"], j["body"], j["closed"]]')" \
	"['HTTP/1.0 200 OK', 'ready up 100%\\n', True]" "HTTP/1.0, no Host: 200, the body, and the server closes"
r=$(raw 'GET / HTTP/1.0\r\n\r\n')
is "$(json_get "$r" '[j["code"], j["body"].splitlines()]')" "[200, ['www ready up 100%', 'api ready up 100%']]" \
	"GET / HTTP/1.0 (the module's default request) is /health"
r=$(raw 'HEAD /health/www HTTP/1.0\r\n\r\n')
is "$(json_get "$r" '[j["code"], j["body"], j["closed"]]')" "[200, '', True]" "HEAD over HTTP/1.0: no body, closed"

# Drained by the operator.
ctl drain www deploy 42
ok "drained: /health/www answers 503" poll_until 5 code_is /health/www 503
is "$(body)" "drain up 100% #deploy 42" "with the operator's reason"
is "$(hdr X-Fpmprobe-State)" drain "X-Fpmprobe-State: drain"
is "$(http_ask "$base/health")" 503 "GET /health: 503 when one pool is not up"
is "$(body)" $'www drain up 100% #deploy 42\napi ready up 100%' "the pool that is not up comes first"
is "$(http_ask "$base/health/api")" 200 "the other pool is still 200"
is "$(http_ask "$base/live")" 200 "/live: still 200"
is "$(consumers)" "kubelet=unready kubelet-live=alive consul=critical alb=unhealthy envoy=unhealthy nginx-check=down nginx-plus=down traefik=unhealthy" \
	"drained: every consumer takes the pool out, none restarts fpmprobe"
ctl ready www
ok "ready again: 200" poll_until 5 code_is /health/www 200

# In maintenance.
ctl maint www
ok "maintenance: /health/www answers 503" poll_until 5 code_is /health/www 503
is "$(body)" "maint #maintenance" "maint #maintenance"
is "$(hdr X-Fpmprobe-State)" maint "X-Fpmprobe-State: maint"
r=$(raw 'HEAD /health/www HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
is "$(json_get "$r" '[j["code"], j["headers"]["x-fpmprobe-state"], j["body"]]')" "[503, 'maint', '']" "HEAD: 503, maint, no body"
ctl ready www
ok "ready again: 200" poll_until 5 code_is /health/www 200

# Degraded: 2 of 4 workers sleep past stuck_after, weight 50.
weight_is() {
	http_ask "$base/health/www" >/dev/null && [ "$(hdr X-Fpmprobe-Weight)" = "$1" ]
}
fpm_occupy "$FPM_WWW_ADDR" 2 8
if ok "2 of 4 workers stuck: weight 50" poll_until 10 weight_is 50; then
	is "$(http_ask "$base/health/www")" 200 "degraded: still 200 by default"
	is "$(hdr x-envoy-degraded)" true "with x-envoy-degraded"
	like "$(body)" '^ready up 50% #2/4 workers stuck >1s' "the body gives the reason"
	is "$(http_ask "$base/health/www?degraded=429")" 429 "?degraded=429: 429 (Consul's warning)"
	is "$(http_ask "$base/health/www?degraded=ignore")" 200 "?degraded=ignore: 200"
	is "$(hdr x-envoy-degraded)" "" "and no x-envoy-degraded"
	is "$(http_ask "$base/health")" 200 "GET /health: 200, every pool is up"
	is "$(hdr x-envoy-degraded)" true "x-envoy-degraded, one pool is degraded"
	is "$(http_ask "$base/health?degraded=429")" 429 "GET /health?degraded=429: 429"
	is "$(consumers)" "kubelet=ready kubelet-live=alive consul=warning alb=healthy envoy=degraded nginx-check=up nginx-plus=up traefik=healthy" \
		"degraded: Consul warns, Envoy degrades, the others keep it"
else
	skip "the pool did not reach weight 50" 10
fi
ok "the sleeps end: weight 100 again" poll_until 20 weight_is 100

# The black hole: every worker hangs on a PostgreSQL table lock; the app
# check's requests queue behind them and time out.  The pool goes down at
# the latest when, after the workers were taken, a sample sees them make
# no progress and `fall` probes have timed out: interval x fall + timeout
# after that sample, and 4/4 stuck past stuck_after (1 s) takes it down
# sooner.  The margin covers the sampling interval and a loaded machine.
margin_ms=2500
bound_ms=$(( interval_ms * fall + timeout_ms + margin_ms ))
diag "black hole bound: interval ${interval_ms}ms x fall $fall + timeout ${timeout_ms}ms + margin ${margin_ms}ms = ${bound_ms}ms"
pg_lock_table || bail_out "no table lock"
t0=$(ms_now)
for _ in 1 2 3 4; do
	timeout 60 bash -c "$(declare -f fcgi_get); fcgi_get '$FPM_WWW_ADDR' '$STACK_WWW/pg.php'" >/dev/null 2>&1 &
	stack_track_pid $!
done
down_ms=
while [ $(( $(ms_now) - t0 )) -lt 15000 ]; do
	if [ "$(http_ask "$base/health/www")" = 503 ]; then
		down_ms=$(( $(ms_now) - t0 ))
		break
	fi
	sleep 0.05
done
ok "black hole: 503 within ${bound_ms} ms (after ${down_ms:-never} ms)" test -n "$down_ms" -a "${down_ms:-0}" -le "$bound_ms"
like "$(body)" '^down #' "the body says down, with the reason ($(body))"
is "$(hdr X-Fpmprobe-State)" down "X-Fpmprobe-State: down"
ok "every worker hangs on the lock" fpm_active_at_least "$FPM_WWW_STATUS_ADDR" 4
st=$(curl -s --max-time 5 "$base/status")
is "$(json_get "$st" '[c["result"] for p in j["pools"] for c in p["checks"] if c["type"] == "fastcgi"]')" \
	"['timeout', 'timeout']" "and every probe times out"
load=$(python3 "$hc" load 127.0.0.1 "$hport" 200 /health/www,/health,/live,/health/api)
diag "200 requests while every probe hangs: $load"
is "$(json_get "$load" '[j["n"], j["errors"]]')" "[200, 0]" "200 requests during the hang, each answered and closed"
is "$(json_get "$load" 'sorted((t, sorted(int(k) for k in c)) for t, c in j["codes"].items())')" \
	"[('/health', [503]), ('/health/api', [503]), ('/health/www', [503]), ('/live', [200])]" \
	"/health/POOL and /health 503, /live 200"
p50=$(json_get "$load" 'j["p50_us"]')
p99=$(json_get "$load" 'j["p99_us"]')
max=$(json_get "$load" 'j["max_us"]')
diag "endpoint latency while probes hang: p50 ${p50} us, p99 ${p99} us, max ${max} us"
ok "every answer within 1 s while probes hang (max ${max} us)" test "$max" -lt 1000000
is "$(consumers)" "kubelet=unready kubelet-live=alive consul=critical alb=unhealthy envoy=unhealthy nginx-check=down nginx-plus=down traefik=unhealthy" \
	"down: every consumer takes the pool out, fpmprobe stays alive"
pg_unlock_table
ok "the lock released: 200 again" poll_until 30 code_is /health/www 200
ok "the daemon stops cleanly" fp_daemon_stop

# nginx: what stock nginx parses of the two snippets.
for name in nginx-upstream-check nginx-plus; do
	d=$STACK_DIR/nginx-t-$name
	mkdir -p "$d/tmp"
	python3 - "$STACK_DIR/snippet.$name" "$d/snippet.conf" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text, n1 = re.subn(r'^\s*(check|check_http_send|check_http_expect_alive|health_check)\s[^;]*;\n', '', text, flags=re.M)
text, n2 = re.subn(r'^match\s+\S+\s*\{.*?^\}\n', '', text, flags=re.M | re.S)
open(sys.argv[2], 'w').write(text)
PY
	cat >"$d/nginx.conf" <<CONF
pid $d/nginx.pid;
error_log $d/error.log;
events {}
http {
	access_log off;
	client_body_temp_path $d/tmp;
	proxy_temp_path $d/tmp;
	fastcgi_temp_path $d/tmp;
	uwsgi_temp_path $d/tmp;
	scgi_temp_path $d/tmp;
	include $d/snippet.conf;
}
CONF
	ok "$name: nginx -t passes without the lines stock nginx does not know" \
		nginx -t -q -p "$d" -c "$d/nginx.conf"
	ok "$name: and those lines were there to remove" \
		sh -c "! cmp -s '$STACK_DIR/snippet.$name' '$d/snippet.conf'"
done

# Kubernetes: the ConfigMap's fpmprobe.yml passes -t as written, then
# runs against Debian's packaged php-fpm with the Pod's paths moved into
# the test directory; the kubelet's probes are asked as it asks them.
kconf=$STACK_DIR/k8s-fpmprobe.yml
like "$("$FPMPROBE" -t -c "$kconf" 2>&1)" 'configuration OK' "kubernetes: the ConfigMap's fpmprobe.yml passes fpmprobe -t"
fpm_start_debian deb || bail_out "Debian's php-fpm did not start"
is "$(sed -n 's/^pm.max_children = //p' "$FPM_DEB_POOLCONF")" \
	"$(sed -n 's/^ *max_children: \([0-9]*\).*/\1/p' "$kconf")" \
	"kubernetes: max_children is Debian's pm.max_children"
kport=$(free_port)
mkdir -p "$STACK_DIR/k8s-run"
sed -e "s|unix:/run/php/php8.2-fpm.sock|$FPM_DEB_ADDR|" \
	-e "s|\"\*:9779\"|\"127.0.0.1:$kport\"|" \
	-e "s|/run/fpmprobe|$STACK_DIR/k8s-run|g" \
	-e "s|/var/www/html/health.php|$STACK_WWW/status.php|" \
	"$kconf" >"$STACK_DIR/k8s-run.yml"
"$FPMPROBE" -f -c "$STACK_DIR/k8s-run.yml" 2>>"$STACK_DIR/fpmprobe.log" &
FP_PID=$!
stack_track_pid "$FP_PID"
kubelet() {
	http_ask "http://127.0.0.1:$kport$1" -H "User-Agent: kube-probe/1.29" -H "Connection: close"
}
kready=$(json_get "$(cat "$STACK_DIR/consumers.json")" 'j["kubelet"]["target"]')
klive=$(json_get "$(cat "$STACK_DIR/consumers.json")" 'j["kubelet"]["live"]')
kprobed() {
	[ "$(json_get "$(curl -s --max-time 5 "http://127.0.0.1:$kport/status")" \
		'all(c["probes"] >= 2 and c["ok"] for c in j["pools"][0]["checks"])')" = True ]
}
ok "kubernetes: fpmprobe probes Debian's pool through the socket" poll_until 20 kprobed
is "$(kubelet "$kready")" 200 "kubernetes: readinessProbe $kready: 200"
is "$(kubelet "$klive")" 200 "kubernetes: livenessProbe $klive: 200"
st=$(curl -s --max-time 5 "http://127.0.0.1:$kport/status")
is "$(json_get "$st" '[j["pools"][0]["workers"]["max_children"], j["pools"][0]["workers"]["pm"]]')" "[5, 'dynamic']" \
	"kubernetes: the status page is sampled (pm dynamic, max_children 5)"
"$FPMPROBE" ctl -c "$STACK_DIR/k8s-run.yml" drain www "node maintenance" >/dev/null
is "$(kubelet "$kready")" 503 "kubernetes: drained, the readiness probe fails"
is "$(kubelet "$klive")" 200 "kubernetes: and the liveness probe passes"
"$FPMPROBE" ctl -c "$STACK_DIR/k8s-run.yml" ready www >/dev/null
is "$(kubelet "$kready")" 200 "kubernetes: ready again"
ok "the daemon stops cleanly" fp_daemon_stop

done_testing
