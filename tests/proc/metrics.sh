#!/usr/bin/env bash
# /metrics against a real php-fpm pool: the status page's counters under
# php-fpm_exporter's names and equal to the page's numbers; the worker
# partition (idle, active, stuck, held) adding up to the processes with a
# stuck worker; php-fpm stopped: sample_up 0 and no worker gauge served
# from the sample that is gone; both formats read by real parsers
# (prometheus_client, promtool) and by a Prometheus server scraping the
# daemon; Accept negotiation; and the status port's caps at accept:
# silent connections beyond them neither take descriptors nor keep /live
# from answering, a trickling client is closed at its deadline, and a
# source agent.allow denies is closed at once.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (php-fpm -R)"
# Debian's python3-prometheus-client is for Debian's python3.
PYPROM=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client.openmetrics.parser' 2>/dev/null; then
		PYPROM=$p
		break
	fi
done
[ -n "$PYPROM" ] || skip_all "needs python3-prometheus-client (tools/deps.sh)"
command -v promtool >/dev/null || skip_all "needs promtool (prometheus, tools/deps.sh)"
plan 56

stack_init
fpm_start www max_children=4 status_listen=1

aport=$(free_port)
hport=$(free_port)
interval_ms=500
conf=$STACK_DIR/metrics.yml
write_conf() {
	cat >"$conf" <<YAML
agent:
  listen: [ "127.0.0.1:$aport" ]
  ${1:-}
http:
  listen: [ "127.0.0.1:$hport" ]
defaults:
  interval: ${interval_ms}ms
  timeout: 400ms
pools:
  # The sampler every interval; the app check once an hour, so that only
  # the sampler's requests move the page's counters.
  www: { fastcgi: "$FPM_WWW_ADDR", status_path: /fpm-status, status_listen: "$FPM_WWW_STATUS_ADDR",
         stuck_after: 1s, checks: [ { name: app, type: fastcgi, script: "$STACK_WWW/status.php", interval: 1h } ] }
YAML
}
write_conf
base=http://127.0.0.1:$hport
OM_TYPE='application/openmetrics-text; version=1.0.0; charset=utf-8'
TEXT_TYPE='text/plain; version=0.0.4; charset=utf-8'
PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

# One scrape into $STACK_DIR/m.txt; its status code on stdout.
scrape() {
	http_ask "$base/metrics" "$@" >/dev/null
	cp "$STACK_DIR/http.body" "$STACK_DIR/m.txt"
}
# The value of one sample of the last scrape (the whole name{labels}).
val() {
	awk -v k="$1" '$1 == k { print $2; exit }' "$STACK_DIR/m.txt"
}
ctype() {
	sed -n 's/^Content-Type: //Ip' "$STACK_DIR/http.headers"
}
sample_up() {
	scrape && [ "$(val 'fpmprobe_pool_status_sample_up{pool="www"}')" = "$1" ]
}

fp_daemon_start "$conf" "$aport" || bail_out "the daemon did not start"
ok "the status page is sampled: sample_up 1" poll_until 10 sample_up 1

# The status page's numbers under php-fpm_exporter's names.  With the app
# check once an hour, nothing but the status listener's requests reaches
# the pool: a sample and the page read right after it agree.
page=$STACK_DIR/page.txt
counters_match() {
	local m p k
	fpm_status_page "$FPM_WWW_STATUS_ADDR" >"$page" 2>/dev/null || return 1
	scrape || return 1
	for k in "accepted conn:fpmprobe_pool_accepted_connections_total" \
		"max children reached:fpmprobe_pool_max_children_reached_total" \
		"slow requests:fpmprobe_pool_slow_requests_total" \
		"listen queue:fpmprobe_pool_listen_queue" \
		"max listen queue:fpmprobe_pool_max_listen_queue" \
		"listen queue len:fpmprobe_pool_listen_queue_length" \
		"max active processes:fpmprobe_pool_max_active_processes"; do
		p=$(sed -n "s/^${k%%:*}: *//p" "$page" | tr -d '\r')
		m=$(val "${k#*:}{pool=\"www\"}")
		[ -n "$p" ] && [ "$p" = "$m" ] || return 1
	done
}
if ok "the counters equal the status page's numbers" poll_until 10 counters_match; then
	diag "status page:" "$(grep -E '^(accepted conn|max children reached|slow requests|listen queue|max listen queue|listen queue len|max active processes|start since):' "$page")"
	diag "metrics:" "$(grep -E '^fpmprobe_pool_(accepted|max_children_reached|slow|listen|max_listen|max_active|start_since)' "$STACK_DIR/m.txt")"
fi
is "$(grep '^# TYPE fpmprobe_pool_accepted_connections_total ' "$STACK_DIR/m.txt")" \
	'# TYPE fpmprobe_pool_accepted_connections_total counter' "accepted connections is a counter, named _total"
like "$(grep '^# TYPE fpmprobe_pool_max_listen_queue ' "$STACK_DIR/m.txt")" 'gauge$' \
	"max listen queue is a gauge (a high-water mark, not a count)"
like "$(val 'fpmprobe_pool_start_since_seconds{pool="www"}')" '^[0-9]+$' "start since, in seconds"
like "$(val 'fpmprobe_pool_status_sample_age_seconds{pool="www"}')" '^[0-9]+\.[0-9]{3}$' \
	"the sample's age, in seconds"
is "$(val 'fpmprobe_pool_max_children{pool="www"}')" 4 "max_children 4"

# The partition: one worker sleeps past stuck_after (1 s).
workers() {
	local s v
	for s in idle active stuck held; do
		v=$(val "fpmprobe_pool_workers{pool=\"www\",state=\"$s\"}")
		printf '%s=%s ' "$s" "${v:-none}"
	done
	echo
}
stuck_is() {
	scrape && [ "$(val 'fpmprobe_pool_workers{pool="www",state="stuck"}')" = "$1" ]
}
sum_workers() {
	awk '/^fpmprobe_pool_workers\{pool="www"/ { s += $2 } END { print s + 0 }' "$STACK_DIR/m.txt"
}
fpm_occupy "$FPM_WWW_ADDR" 1 8
if ok "one worker sleeps past stuck_after: stuck 1" poll_until 10 stuck_is 1; then
	parts=$(workers)
	diag "partition with a stuck worker: $parts"
	fpm_status_page "$FPM_WWW_STATUS_ADDR" >"$page" 2>/dev/null
	nproc=$(env -i SCRIPT_FILENAME=/fpm-status SCRIPT_NAME=/fpm-status \
		REQUEST_URI=/fpm-status REQUEST_METHOD=GET QUERY_STRING=full \
		cgi-fcgi -bind -connect "$FPM_WWW_STATUS_ADDR" | grep -c '^pid:')
	diag "the status page: $(grep -E '^(idle|active|total) processes:' "$page" | tr '\n' ' ')- $nproc processes listed"
	is "$(sum_workers)" 4 "idle + active + stuck + held = 4, the pool's processes"
	is "$nproc" 4 "the status page lists 4 processes"
	like "$parts" '^idle=[0-9]+ active=[0-9]+ stuck=1 held=0 $' "every state is served, held 0"
	a=$(val 'fpmprobe_pool_workers{pool="www",state="active"}')
	ok "active ($a) does not count the stuck worker again" test "$a" -le 3
else
	skip "no stuck worker seen" 4
fi

# Both formats, read by the real parsers.
scrape
is "$(ctype)" "$TEXT_TYPE" "no Accept: $TEXT_TYPE"
cp "$STACK_DIR/m.txt" "$STACK_DIR/text.txt"
lint=$(promtool check metrics <"$STACK_DIR/text.txt" 2>&1); rc=$?
diag "promtool: rc $rc${lint:+, $lint}"
is "$rc:$lint" "0:" "promtool check metrics reads the text format without a lint finding"
scrape -H "Accept: application/openmetrics-text"
is "$(ctype)" "$OM_TYPE" "Accept: application/openmetrics-text: $OM_TYPE"
cp "$STACK_DIR/m.txt" "$STACK_DIR/om.txt"
is "$(tail -n 1 "$STACK_DIR/om.txt")" "# EOF" "OpenMetrics ends with # EOF"
parsed=$("$PYPROM" - "$STACK_DIR/text.txt" "$STACK_DIR/om.txt" <<'PY' 2>&1
import sys
from prometheus_client.parser import text_string_to_metric_families as text
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om
t = {f.name: f for f in text(open(sys.argv[1]).read())}
o = {f.name: f for f in om(open(sys.argv[2]).read())}
# The text parser names a counter's family without _total too.
assert set(t) == set(o), (sorted(set(t) ^ set(o)))
assert o['fpmprobe_pool_accepted_connections'].type == 'counter'
assert o['fpmprobe_check_probes'].type == 'counter'
assert o['fpmprobe_check_latency_seconds'].type == 'histogram'
assert o['fpmprobe_check_latency_seconds'].unit == 'seconds'
assert o['fpmprobe_pool_status_sample_age_seconds'].unit == 'seconds'
names = {s.name for f in o.values() for s in f.samples}
assert 'fpmprobe_pool_accepted_connections_total' in names
ws = [s for s in o['fpmprobe_pool_workers'].samples]
print(len(t), 'families;', 'workers', sorted((s.labels['state'], s.value) for s in ws))
PY
)
rc=$?
diag "parsers: $parsed"
ok "prometheus_client reads both formats: the same families, typed and with units" test "$rc" = 0

# Accept negotiation.
negotiate() {
	local code
	code=$(http_ask "$base/metrics" -H "Accept: $1")
	if [ "$code" = 200 ]; then
		ctype
	else
		echo "$code $(head -n 1 "$STACK_DIR/http.body")"
	fi
}
is "$(negotiate "$PROM_ACCEPT")" "$OM_TYPE" "Prometheus 2's Accept: OpenMetrics"
is "$(negotiate 'application/openmetrics-text; version=1.0.0; q=0.2, text/plain; q=0.9')" "$TEXT_TYPE" \
	"text/plain weighs more: text"
is "$(negotiate 'text/plain;q=0, */*;q=0.1')" "$OM_TYPE" "text/plain refused, */* left: OpenMetrics"
is "$(negotiate '*/*')" "$TEXT_TYPE" "*/*: text, the default"
is "$(negotiate 'text/*, application/*;q=0.5')" "$TEXT_TYPE" "text/* over application/*"
is "$(negotiate 'APPLICATION/OpenMetrics-Text;Version="1.0.0"')" "$OM_TYPE" \
	"type and parameter names case-insensitive, a quoted version"
is "$(negotiate 'application/openmetrics-text;version=2.0.0')" \
	"406 /metrics serves text/plain; version=0.0.4 and application/openmetrics-text; version=1.0.0" \
	"only an unknown OpenMetrics version: 406, saying what is served"
is "$(negotiate 'application/json')" "406 /metrics serves text/plain; version=0.0.4 and application/openmetrics-text; version=1.0.0" \
	"application/json: 406"
is "$(negotiate 'text/plain;q=2')" "400 malformed Accept header" "q=2: 400"
is "$(negotiate 'text/plain;q=0.5;')" "$TEXT_TYPE" "a dangling ; is an empty parameter (RFC 9110): text"
is "$(negotiate 'text')" "400 malformed Accept header" "no subtype: 400"
is "$(negotiate '*/plain')" "400 malformed Accept header" "*/plain: 400"
is "$(negotiate 'text/plain;version=0.0.4;charset=utf-8;q=0.3, application/openmetrics-text;q=0.3')" "$OM_TYPE" \
	"equal weights: OpenMetrics when named"
code=$(http_ask "$base/metrics" -H 'Accept: text/plain;q=0.1' -H 'Accept: application/openmetrics-text')
is "$code $(ctype)" "200 $OM_TYPE" "two Accept lines are one list"
big=$(head -c 9000 /dev/zero | tr '\0' 'a')
code=$(http_ask "$base/metrics" -H "Accept: text/plain, $big/x")
like "$code" '^(400|413|431|000)$' "an Accept header over the 8 KiB cap: refused ($code)"
is "$(http_ask "$base/live")" 200 "and /live still answers"
is "$(grep -c '^Vary: Accept' "$STACK_DIR/http.headers")" 0 "/live does not vary by Accept"
http_ask "$base/metrics" >/dev/null
is "$(grep -c '^Vary: Accept$' "$STACK_DIR/http.headers")" 1 "/metrics says Vary: Accept"

# A Prometheus server scrapes the daemon (OpenMetrics first, as it asks),
# and a recorder on another port shows the Accept header it sends.
if command -v prometheus >/dev/null; then
	pport=$(free_port)
	rport=$(free_port)
	"$PYPROM" - "$rport" "$STACK_DIR/accept.seen" <<'PY' 2>>"$STACK_DIR/recorder.log" &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        open(sys.argv[2], 'w').write(self.headers.get('Accept', ''))
        body = b'# TYPE rec gauge\nrec 1\n# EOF\n'
        self.send_response(200)
        self.send_header('Content-Type', 'application/openmetrics-text; version=1.0.0; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
	stack_track_pid $!
	mkdir -p "$STACK_DIR/prom"
	cat >"$STACK_DIR/prom.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: fpmprobe
    static_configs:
      - targets: [ "127.0.0.1:$hport" ]
  - job_name: recorder
    static_configs:
      - targets: [ "127.0.0.1:$rport" ]
YAML
	prometheus --config.file="$STACK_DIR/prom.yml" --storage.tsdb.path="$STACK_DIR/prom" \
		--web.listen-address="127.0.0.1:$pport" >"$STACK_DIR/prometheus.log" 2>&1 &
	stack_track_pid $!
	papi() {
		curl -s --max-time 5 "http://127.0.0.1:$pport/api/v1/$1"
	}
	scraped() {
		[ -s "$STACK_DIR/accept.seen" ] &&
		[ "$(json_get "$(papi targets)" '" ".join(sorted(t["labels"]["job"] + "=" + t["health"] + ":" + t["lastError"] for t in j["data"]["activeTargets"]))' 2>/dev/null)" = "fpmprobe=up: recorder=up:" ] &&
		[ "$(json_get "$(papi 'query?query=fpmprobe_pool_status_sample_up')" 'j["data"]["result"][0]["value"][1]' 2>/dev/null)" = 1 ]
	}
	if ok "Prometheus scrapes the daemon: target up, no scrape error, sample_up 1" poll_until 30 scraped; then
		seen=$(cat "$STACK_DIR/accept.seen")
		diag "Prometheus sends Accept: $seen"
		is "$(negotiate "$seen")" "$OM_TYPE" "what Prometheus asks for is OpenMetrics"
		is "$(json_get "$(papi 'query?query=sum(fpmprobe_pool_workers)')" 'j["data"]["result"][0]["value"][1]')" 4 \
			"in Prometheus, sum(fpmprobe_pool_workers) is 4"
	else
		diag "$(tail -n 5 "$STACK_DIR/prometheus.log")"
		skip "Prometheus did not scrape" 2
	fi
else
	skip "no prometheus server" 3
fi

# php-fpm stops.  The sampler's next attempt fails: from the scrape that
# says sample_up 0 on, no worker gauge and no counter of the page is
# served, and none is ever served beside sample_up 0.
ok "the sleep ends: stuck 0 again" poll_until 15 stuck_is 0
scrape
diag "before php-fpm stops:" "$(grep -E '^fpmprobe_pool_(status_sample|workers|accepted)' "$STACK_DIR/m.txt")"
fpm_stop www
t0=$(ms_now)
lies=0 failed_at="" scrapes=0
while [ $(( $(ms_now) - t0 )) -lt 10000 ]; do
	scrape
	scrapes=$((scrapes + 1))
	up=$(val 'fpmprobe_pool_status_sample_up{pool="www"}')
	n=$(grep -c '^fpmprobe_pool_\(workers\|accepted_connections_total\|listen_queue\){' "$STACK_DIR/m.txt")
	if [ "$up" = 0 ] && [ -z "$failed_at" ]; then
		failed_at=$(( $(ms_now) - t0 ))
		cp "$STACK_DIR/m.txt" "$STACK_DIR/after.txt"
	fi
	if [ -n "$failed_at" ] && [ "$n" != 0 ]; then
		lies=$((lies + 1))
		diag "a scrape after the failure serves the sample:" "$(grep -E '^fpmprobe_pool_(status_sample|workers)' "$STACK_DIR/m.txt")"
	fi
	# Past the staleness bound (3 intervals) after the failure: done.
	[ -n "$failed_at" ] && [ $(( $(ms_now) - t0 - failed_at )) -gt $((3 * interval_ms + 500)) ] && break
	sleep 0.05
done
diag "after php-fpm stopped (${failed_at:-never} ms, $scrapes scrapes):" \
	"$(grep -E '^fpmprobe_pool_(status_sample|workers|accepted)' "$STACK_DIR/after.txt" 2>/dev/null)"
ok "sample_up 0 within 10 s of php-fpm stopping (after ${failed_at:-never} ms)" test -n "$failed_at"
is "$lies" 0 "no scrape from then on serves a worker gauge or a counter of the gone sample"
is "$(grep -c '^fpmprobe_pool_workers' "$STACK_DIR/m.txt")" 0 "no fpmprobe_pool_workers at all now"
like "$(val 'fpmprobe_pool_status_sample_age_seconds{pool="www"}')" '^[0-9]+\.[0-9]{3}$' \
	"the age of the last good sample is still served"
age=$(val 'fpmprobe_pool_status_sample_age_seconds{pool="www"}')
ok "and it grows past the staleness bound ($age s > $((3 * interval_ms)) ms)" \
	awk -v a="$age" -v b="$((3 * interval_ms))" 'BEGIN { exit !(a * 1000 > b) }'
ok "the text format still passes promtool" sh -c "promtool check metrics <'$STACK_DIR/m.txt'"
scrape -H "Accept: $PROM_ACCEPT"
ok "and OpenMetrics still parses" "$PYPROM" -c 'import sys; from prometheus_client.openmetrics.parser import text_string_to_metric_families as p; list(p(open(sys.argv[1]).read()))' "$STACK_DIR/m.txt"

# The status port's caps, at accept.  300 connections from 127.0.0.1 that
# send nothing: the source may hold HTTPD_SOURCE_MAX (16) of them, each
# newer one taking the place of the one silent longest, so descriptors
# stay bounded and a client with a request is still heard.
fds() {
	find "/proc/$FP_PID/fd" -mindepth 1 -maxdepth 1 | wc -l
}
fd0=$(fds)
silent=$STACK_DIR/silent.py
cat >"$silent" <<'PY'
import socket, sys, time, select
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port), timeout=5)
    socks.append(s)
print('open', n, flush=True)
# Wait for the go (a line on stdin), then count the ones the server closed.
sys.stdin.readline()
t0 = time.monotonic()
closed = set()
while time.monotonic() - t0 < hold and len(closed) < n:
    r, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.1)
    for s in r:
        try:
            if s.recv(1) == b'':
                closed.add(s)
        except OSError:
            closed.add(s)
print('closed', len(closed), 'after', round(time.monotonic() - t0, 2), flush=True)
PY
coproc SILENT { python3 "$silent" "$hport" 300 12; }
read -r -t 30 line <&"${SILENT[0]}"
is "$line" "open 300" "300 silent connections opened"
fd_max=0
settled() {
	local n
	n=$(fds)
	[ "$n" -gt "$fd_max" ] && fd_max=$n
	[ "$n" -le $((fd0 + 16)) ]
}
ok "the daemon holds at most 16 of them" poll_until 5 settled
fd1=$(fds)
diag "daemon descriptors: $fd0 before, $fd1 with 300 silent connections (most seen $fd_max)"
ok "descriptors: $fd1 <= $fd0 + 16" test "$fd1" -le $((fd0 + 16))
t1=$(ms_now)
is "$(http_ask "$base/live")" 200 "/live answers beside them"
within_ms $(( $(ms_now) - t1 )) "$LOAD_MARGIN_MS" "at once"
is "$(http_ask "$base/metrics")" 200 "and so does /metrics"
echo go >&"${SILENT[1]}"
read -r -t 30 line <&"${SILENT[0]}"
diag "silent client: $line"
like "$line" '^closed 300 after ([0-6]\.|7\.[0-4])' "every silent connection is closed, the last at its 5 s deadline"
wait "$SILENT_PID" 2>/dev/null

# A client that trickles a header, a byte a second: its deadline is fixed,
# the bytes do not move it.
trickle=$("$PYPROM" - "$hport" <<'PY'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1)
t0 = time.monotonic()
req = b'GET /live HTTP/1.1\r\nHost: x\r\nX-Slow: ' + b'a' * 100
for b in req:
    try:
        s.send(bytes([b]))
        time.sleep(0.5)
        s.setblocking(False)
        try:
            if s.recv(1) == b'':
                break
        except BlockingIOError:
            pass
        s.setblocking(True)
    except OSError:
        break
    if time.monotonic() - t0 > 15:
        break
print(round(time.monotonic() - t0, 1))
PY
)
diag "a trickling client was closed after $trickle s"
ok "a trickling client is closed at its deadline (5 s), not kept by its bytes ($trickle s)" \
	awk -v t="$trickle" 'BEGIN { exit !(t >= 4.5 && t < 7.5) }'

# A source agent.allow does not allow: closed at once, before any byte.
write_conf 'allow: [ "10.0.0.0/8" ]'
"$FPMPROBE" -t -c "$conf" >/dev/null 2>&1 || diag "$(cat "$conf")"
kill -HUP "$FP_PID"
denied() {
	"$PYPROM" - "$hport" <<'PY'
import socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=2)
t0 = time.monotonic()
try:
    data = s.recv(100)
except OSError:
    data = b''
print(len(data), round((time.monotonic() - t0) * 1000))
PY
}
denied_now() {
	r=$(denied)
	[ "${r%% *}" = 0 ] && [ "${r#* }" -lt 500 ]
}
ok "after a reload denying 127.0.0.1, a connection is closed at once, unanswered" poll_until 10 denied_now
diag "denied: bytes and ms until the close: $r"
ok "the daemon stops cleanly" fp_daemon_stop

done_testing
