#!/usr/bin/env bash
# Make the fuzzers' seed corpora (tests/fuzz/corpus/NAME/) from what real
# peers send: a php-fpm 8.2 pool started with tests/lib/stack.sh (its
# FastCGI records, CGI responses, status pages plain, full and JSON, of an
# idle and of a busy pool, fatal errors, 404s, its configuration files)
# and the tests' fake app (tests/unit/fcgi_fake), plus hand-written lines
# and values.  Needs root and a built tree; run from the top directory:
#   bash tests/fuzz/corpus.sh
# shellcheck source-path=SCRIPTDIR
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
top_builddir=${top_builddir:-$top}
# shellcheck source=../lib/tap.sh
. "$top/tests/lib/tap.sh"
# shellcheck source=../lib/stack.sh
. "$top/tests/lib/stack.sh"
# shellcheck source=../lib/probe.sh
. "$top/tests/lib/probe.sh"
out=$top/tests/fuzz/corpus

stack_init
fpm_start www max_children=4 status_listen=1

# The raw bytes a FastCGI peer answers to fpmprobe's request (request id
# 1, the parameters check_fcgi.c sends), four bytes of split seed first.
fcgi_raw() {
	python3 - "$@" <<'PY'
import socket, struct, sys, os
addr, script, query, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rec(t, content):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBB", 1, t, 1, len(content), pad, 0) + content + b"\0" * pad
def nv(n, v):
    def l(x):
        return bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
    return l(n) + l(v) + n + v
uri = "/" + os.path.basename(script)
params = [("GATEWAY_INTERFACE", "CGI/1.1"), ("SERVER_PROTOCOL", "HTTP/1.1"),
          ("REQUEST_METHOD", "GET"), ("SCRIPT_FILENAME", script),
          ("SCRIPT_NAME", uri), ("REQUEST_URI", uri + ("?" + query if query else "")),
          ("DOCUMENT_URI", uri), ("QUERY_STRING", query), ("REMOTE_ADDR", "127.0.0.1"),
          ("CONTENT_LENGTH", "0")]
body = b"".join(nv(n.encode(), v.encode()) for n, v in params)
if addr.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX); s.connect(addr[5:])
else:
    h, p = addr.rsplit(":", 1); s = socket.create_connection((h, int(p)))
s.settimeout(5)
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, body) + rec(4, b"") + rec(5, b""))
data = b""
try:
    while True:
        c = s.recv(65536)
        if not c:
            break
        data += c
except OSError:
    pass
sys.stdout.buffer.write(struct.pack("<I", seed) + data)
PY
}

# The body of a CGI response (after the blank line).
cgi_body() {
	python3 -c 'import sys; d = sys.stdin.buffer.read(); i = d.find(b"\r\n\r\n"); sys.stdout.buffer.write(d[i + 4:] if i >= 0 else d)'
}

mkdir -p "$out"/{fcgi,cgi,status,fpm_conf,config,lines,util}
rm -f "$out"/*/*

# FastCGI records and CGI responses from php-fpm.
fcgi_raw "$FPM_WWW_ADDR" "$STACK_WWW/status.php" "" 1 >"$out/fcgi/php-ok"
fcgi_raw "$FPM_WWW_ADDR" "$STACK_WWW/fatal.php" "" 2 >"$out/fcgi/php-fatal"
fcgi_raw "$FPM_WWW_ADDR" "$STACK_WWW/fail.php" "" 3 >"$out/fcgi/php-500"
fcgi_raw "$FPM_WWW_ADDR" "$STACK_WWW/missing.php" "" 4 >"$out/fcgi/php-404"
fcgi_raw "$FPM_WWW_STATUS_ADDR" /fpm-status full 5 >"$out/fcgi/php-status-full"
fcgi_raw "$FPM_WWW_STATUS_ADDR" /fpm-status json 6 >"$out/fcgi/php-status-json"
stack_fcgi "$FPM_WWW_ADDR" "$STACK_WWW/status.php" >"$out/cgi/php-ok"
stack_fcgi "$FPM_WWW_ADDR" "$STACK_WWW/fatal.php" >"$out/cgi/php-fatal" 2>/dev/null
stack_fcgi "$FPM_WWW_ADDR" "$STACK_WWW/missing.php" >"$out/cgi/php-404" 2>/dev/null
stack_fcgi_status "$FPM_WWW_STATUS_ADDR" json >"$out/cgi/php-status-json"
# A PARAMS stream's pairs, as fpmprobe sends them: the pairs walk.
python3 -c 'import sys, struct
def nv(n, v):
    l = lambda x: bytes([len(x)]) if len(x) < 128 else struct.pack(">I", len(x) | 0x80000000)
    return l(n) + l(v) + n + v
sys.stdout.buffer.write(nv(b"SCRIPT_FILENAME", b"/srv/www/status.php") + nv(b"QUERY_STRING", b"") +
    nv(b"HTTP_USER_AGENT", b"fpmprobe/0.1.0") + nv(b"X" * 130, b"v" * 200))' >"$out/cgi/params"

# Status pages (one settings byte first): idle, then a busy pool.
n=0
for q in "" full json "json&full"; do
	for how in 0 7 22; do
		n=$((n + 1))
		{ printf "\\x$(printf %02x $((how + n)))"; stack_fcgi_status "$FPM_WWW_STATUS_ADDR" "$q" | cgi_body; } \
			>"$out/status/idle-$n"
	done
done
fpm_occupy "$FPM_WWW_ADDR" 3 20
poll_until 10 fpm_active_at_least "$FPM_WWW_STATUS_ADDR" 3
poll_until 3 false
{ printf '\x12'; stack_fcgi_status "$FPM_WWW_STATUS_ADDR" full | cgi_body; } >"$out/status/busy-full"
{ printf '\x02'; stack_fcgi_status "$FPM_WWW_STATUS_ADDR" | cgi_body; } >"$out/status/busy-plain"
fcgi_raw "$FPM_WWW_STATUS_ADDR" /fpm-status full 7 >"$out/fcgi/php-status-busy"

# The fake app's faults.
for mode in ok stderr overloaded close badversion garbage trickle; do
	fake_start "$mode"
	STACK_FCGI_TIMEOUT=5 fcgi_raw "$FAKE_ADDR" /srv/status.php "" 9 >"$out/fcgi/fake-$mode"
done

# php-fpm's configuration: Debian's and the stack's.
cp /etc/php/8.2/fpm/php-fpm.conf "$out/fpm_conf/debian-php-fpm.conf"
grep -v '^;' /etc/php/8.2/fpm/pool.d/www.conf | grep -v '^$' >"$out/fpm_conf/debian-www.conf"
for f in "$STACK_DIR"/*.conf; do
	cp "$f" "$out/fpm_conf/stack-$(basename "$f")"
done
printf '[global]\ninclude = /etc/php/8.2/fpm/pool.d/*.conf\n[$pool]\n[www]\nlisten = "/run/php/$pool.sock"\npm.max_children = 5\nrequest_terminate_timeout = 2m\nphp_value[memory_limit] = 64M\n' \
	>"$out/fpm_conf/sections"

# fpmprobe's configuration.
cp "$top/etc/fpmprobe.yml.sample" "$out/config/sample.yml"
cat >"$out/config/many.yml" <<YAML
agent:
  listen: [ "127.0.0.1:9999", "[::1]:9998" ]
  allow: [ 127.0.0.0/8, "::1/128" ]
  admin_state: leave
control:
  socket: /run/fpmprobe/ctl.sock
  state_dir: /var/lib/fpmprobe
http:
  listen: [ "127.0.0.1:9100" ]
defaults:
  interval: 2s
  timeout: 1s
  rise: 2
  fall: 3
pools:
  www:
    fastcgi: unix:/run/php/php8.2-fpm.sock
    status_path: /fpm-status
    status_listen: 127.0.0.1:9001
    stuck_after: 10s
    max_children: 8
    agent_listen: [ "127.0.0.1:9997" ]
    checks:
      - { name: app, type: fastcgi, script: /srv/www/status.php, expect_body: OK }
      - name: db
        type: pgsql
        conninfo: "host=127.0.0.1 port=5432 dbname=app user=app"
        password_file: /etc/fpmprobe/pg.pw
        query: "SELECT 1"
      - { name: my, type: mysql, host: 127.0.0.1, port: 3306, user: app, database: app }
      - { name: web, type: http, url: "http://127.0.0.1/health", headers: [ "Host: x" ] }
YAML
printf 'pools:\n  a:\n    fastcgi: 127.0.0.1:9000\n    checks: [ { name: app, type: fastcgi, script: /x.php, interval: 250ms } ]\n' >"$out/config/small.yml"
printf 'pools:\n  a: &p\n    fastcgi: 127.0.0.1:9000\n  b: *p\n  c: !!str x\n' >"$out/config/anchors.yml"

# Lines: the first byte picks the parser (0 agent, 1 control, 2 state).
printf '\0www\n' >"$out/lines/agent"
printf '\0 \twww \t\r\n' >"$out/lines/agent-blanks"
printf '\0%s\n' "$(printf 'p%.0s' $(seq 1 64))" >"$out/lines/agent-64"
printf '\1maint www deploy of 1.2\n' >"$out/lines/control-maint"
printf '\1show\n' >"$out/lines/control-show"
printf '\2drain\twww\tdeploy\n' >"$out/lines/state-drain"
printf '\2maint\tapi\t\n' >"$out/lines/state-maint"

# Values: the first byte picks the function (0 duration, 1 address,
# 2 CIDR, 3 sanitize_text, 4 quote_value, 5 text with a NUL).
printf '\x00250ms' >"$out/util/duration"
printf '\x0024h' >"$out/util/duration-day"
printf '\x01127.0.0.1:9000' >"$out/util/address-v4"
printf '\x01[::1]:9000' >"$out/util/address-v6"
printf '\x01unix:/run/php/php8.2-fpm.sock' >"$out/util/address-unix"
printf '\x01*:9100' >"$out/util/address-any"
printf '\x0210.0.0.0/8' >"$out/util/cidr-v4"
printf '\x02fe80::/10' >"$out/util/cidr-v6"
printf '\x8bPHP Fatal error:  Uncaught Error\tin /srv/x.php:3\n\x01\x7f\xc3\xa9' >"$out/util/sanitize"
printf '\x44a value that is far too long to be quoted whole in a reason' >"$out/util/quote"
printf '\x2dtext\0after' >"$out/util/nul"

du -sh "$out"
find "$out" -type f | wc -l
