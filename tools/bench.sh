#!/usr/bin/env bash
# fpmprobe's benchmark (`make bench`): prints a table.
#   1. agent answers while every probe of the daemon hangs: p50, p99, max
#      and answers/s at 1, 16 and 256 pollers, first as fast as they can
#      (a closed loop: throughput), then paced as HAProxy polls (an open
#      loop: latency), against a fork-per-connection shell agent under
#      socat on the same machine;
#   2. CPU time per real-path probe (a FastCGI round trip to a real
#      php-fpm pool) in the daemon, against a cgi-fcgi check script (fork
#      and exec per check) doing the same round trip;
#   4. slow clients: 1,100 connections from one host that each send one
#      byte and never a whole line, against a port serving several pools,
#      the daemon started under the default descriptor limit (soft
#      1,024): a paced poller from other addresses meanwhile, its
#      p50/p99, and the daemon's "Too many open files" log lines;
#   3. scale: 100 pools x 3 checks (fastcgi, pgsql, status sample) at 1 s
#      intervals against real php-fpm and PostgreSQL: the daemon's CPU %,
#      RSS and agent latency meanwhile, then the time from a table lock to
#      each pool's agent turning down (fault detection).
# Needs root and a built tree (make && make check builds the tools).
# Everything runs on 127.0.0.1 in a private directory (tests/lib/stack.sh).
# shellcheck source-path=SCRIPTDIR
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
top_builddir=${top_builddir:-$top}
export top_builddir
# shellcheck source=../tests/lib/stack.sh
. "$top/tests/lib/stack.sh"
# shellcheck source=../tests/lib/probe.sh
. "$top/tests/lib/probe.sh"

[ "$(id -u)" = 0 ] || { echo "bench: run it as root" >&2; exit 1; }
for f in "$FPMPROBE" "$AGENTC" "$FCGI_FAKE"; do
	[ -x "$f" ] || { echo "bench: $f is missing: run make check first" >&2; exit 1; }
done
command -v socat >/dev/null || { echo "bench: socat is missing (tools/deps.sh)" >&2; exit 1; }

# BENCH_PARTS selects parts (default "1 2 3 4").
PARTS=${BENCH_PARTS:-1 2 3 4}
SLOW_CLIENTS=${BENCH_SLOW_CLIENTS:-1100}
POOLS=${BENCH_POOLS:-100}
# How php-fpm listens in parts 2 and 3: unix (Debian's default) or tcp.
LISTEN=${BENCH_LISTEN:-unix}
case $LISTEN in
unix | tcp) ;;
*) echo "bench: BENCH_LISTEN is unix or tcp" >&2; exit 1 ;;
esac
SCALE_SECS=${BENCH_SCALE_SECS:-30}
PROBE_SECS=${BENCH_PROBE_SECS:-10}

# Time PID has spent on a CPU, in nanoseconds (the scheduler's count,
# finer than the clock ticks of /proc/PID/stat).
cpu_ns() {
	awk '{ print $1 }' "/proc/$1/schedstat"
}

# What of PID's memory is its own: "RSS N, private N (anon N), PSS N".
# Shared library pages count in the RSS of every process that maps them;
# the private part and the proportional set size are the daemon's own.
mem_kib() {
	awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } /^Anonymous:/ { a = $2 }
		/^Private_(Clean|Dirty):/ { v += $2 }
		END { printf "RSS %d, private %d (anon %d), PSS %d", r, v, a, p }' \
		"/proc/$1/smaps_rollup"
}

# Milliseconds since the epoch.
ms_now() {
	date +%s%3N
}

# Resident set size of PID in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# One value of an agentc summary line: kv LINE KEY.
kv() {
	sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" <<<"$1"
}

# A table row: name, then agentc's summary.
agent_row() {
	printf '%-34s %6s %9s %9s %9s %10s\n' "$1" "$2" "$(kv "$3" p50_us)" \
		"$(kv "$3" p99_us)" "$(kv "$3" max_us)" "$(kv "$3" per_s)"
}

# Start the daemon on CONF and wait until the single-pool PORT answers.
daemon_start() {
	"$FPMPROBE" -f -c "$1" 2>>"$STACK_DIR/fpmprobe.log" &
	FP_PID=$!
	stack_track_pid "$FP_PID"
	poll_until 20 "$AGENTC" -t 500 -s "$3" "127.0.0.1:$2" >/dev/null ||
		{ echo "bench: fpmprobe did not answer" >&2; tail "$STACK_DIR/fpmprobe.log" >&2; exit 1; }
}

stack_init || exit 1
echo "fpmprobe bench: $(uname -sr), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), php-fpm on $LISTEN sockets"
echo

# ---------------------------------------------------------------------
# 1. Agent answers while every probe hangs.
if [[ " $PARTS " == *" 1 "* ]]; then
fake_start hang || exit 1
agent_port=$(free_port)
cat >"$STACK_DIR/hang.yml" <<EOF
agent:
  listen: [ "127.0.0.1:$agent_port" ]
defaults:
  interval: 500ms
  timeout: 2s
pools:
  www:
    fastcgi: $FAKE_ADDR
    checks:
      - { name: app, type: fastcgi, script: /srv/status.php }
EOF
daemon_start "$STACK_DIR/hang.yml" "$agent_port" www
poll_until 10 sh -c "'$AGENTC' -s www 127.0.0.1:$agent_port | grep -q '^down'" ||
	echo "bench: the hanging pool never turned down" >&2

# The hand-made agent: a shell script per connection, answering from a
# state file, as a cron job or a sidecar would keep it.
echo "ready up 100%" >"$STACK_DIR/agent.state"
cat >"$STACK_DIR/agent.sh" <<EOF
#!/bin/sh
read -r pool
cat "$STACK_DIR/agent.state"
EOF
chmod 755 "$STACK_DIR/agent.sh"
script_port=$(free_port)
socat "TCP-LISTEN:$script_port,bind=127.0.0.1,fork,reuseaddr,backlog=1024" \
	"EXEC:$STACK_DIR/agent.sh" 2>/dev/null &
stack_track_pid $!
wait_port 127.0.0.1 "$script_port" 10 || exit 1

echo "1. Agent answers while every probe of the daemon hangs (microseconds)"
echo "1a. As fast as the pollers can (closed loop): throughput"
printf '%-34s %6s %9s %9s %9s %10s\n' agent pollers p50 p99 max answers/s
for c in 1 16 256; do
	n=$((c == 1 ? 5000 : 40000))
	out=$("$AGENTC" -a -n "$n" -c "$c" -t 5000 -s www "127.0.0.1:$agent_port")
	agent_row "fpmprobe" "$c" "$out"
	n=$((c == 1 ? 300 : 1000))
	out=$("$AGENTC" -a -n "$n" -c "$c" -t 10000 -s www "127.0.0.1:$script_port")
	agent_row "shell script under socat (fork)" "$c" "$out"
done
echo
echo "1b. Paced like HAProxy's agent-inter (open loop): latency from when due"
printf '%-34s %6s %9s %9s %9s %10s\n' agent pollers p50 p99 max answers/s
# Pollers each polling every MS, for SECS: paced_row NAME PORT C MS SECS.
paced_row() {
	local rate=$((1000 * $3 / $4)) out
	out=$("$AGENTC" -a -n $((rate * $5)) -c "$3" -r "$rate" -t 10000 -s www \
		"127.0.0.1:$2")
	agent_row "$1, every $4 ms" "$3" "$out"
}
paced_row fpmprobe "$agent_port" 1 10 5
paced_row fpmprobe "$agent_port" 16 10 5
paced_row fpmprobe "$agent_port" 256 100 5
paced_row "socat script" "$script_port" 1 100 10
paced_row "socat script" "$script_port" 16 1000 10
kill "$FP_PID" 2>/dev/null
wait "$FP_PID" 2>/dev/null
echo
fi

# ---------------------------------------------------------------------
# 4. Slow clients on a port that serves several pools.
if [[ " $PARTS " == *" 4 "* ]]; then
fake_start ok || exit 1
slow_port=$(free_port)
slow_own=$(free_port)
cat >"$STACK_DIR/slow.yml" <<EOF
agent:
  listen: [ "127.0.0.1:$slow_port" ]
defaults:
  interval: 1s
  timeout: 500ms
pools:
  www:
    fastcgi: $FAKE_ADDR
    agent_listen: [ "127.0.0.1:$slow_own" ]
    checks:
      - { name: app, type: fastcgi, script: /srv/status.php }
  api:
    fastcgi: $FAKE_ADDR
    checks:
      - { name: app, type: fastcgi, script: /srv/status.php }
EOF
# The daemon as systemd starts it without LimitNOFILE=: soft 1,024.
: >"$STACK_DIR/slow.log"
(ulimit -Sn 1024 && exec "$FPMPROBE" -f -c "$STACK_DIR/slow.yml" 2>>"$STACK_DIR/slow.log") &
FP_PID=$!
stack_track_pid "$FP_PID"
poll_until 20 "$AGENTC" -t 500 "127.0.0.1:$slow_own" >/dev/null ||
	{ echo "bench: fpmprobe did not answer" >&2; tail "$STACK_DIR/slow.log" >&2; exit 1; }
echo "4. Slow clients: $SLOW_CLIENTS connections from 127.0.0.1 sending one byte each"
echo "   (reopened 100 ms after the daemon closes one), a port serving 2 pools,"
echo "   the daemon started at soft RLIMIT_NOFILE 1,024 (microseconds)"
printf '%-34s %6s %9s %9s %9s %10s\n' poller pollers p50 p99 max answers/s
out=$("$AGENTC" -a -n 1000 -c 16 -r 100 -t 10000 -s www "127.0.0.1:$slow_port")
agent_row "alone, 100/s" 16 "$out"
(ulimit -n $((SLOW_CLIENTS + 256)) && exec "$AGENTC" -H "$SLOW_CLIENTS" -d 20 \
	"127.0.0.1:$slow_port") >"$STACK_DIR/slow.holder" &
holder=$!
poll_until 3 false
t0=$(ms_now)
out=$("$AGENTC" -a -n 1000 -c 16 -r 100 -t 10000 -s www "127.0.0.1:$slow_port")
agent_row "with the slow clients, 100/s" 16 "$out"
wait "$holder"
printf '%-34s %s\n' "slow clients" "$(cat "$STACK_DIR/slow.holder")"
printf '%-34s %s in %d s\n' '"Too many open files" log lines' \
	"$(grep -c 'Too many open files' "$STACK_DIR/slow.log")" $((($(ms_now) - t0) / 1000 + 3))
printf '%-34s %s\n' "daemon's RLIMIT_NOFILE soft/hard" \
	"$(awk '/Max open files/ { print $4 "/" $5 }' "/proc/$FP_PID/limits")"
kill "$FP_PID" 2>/dev/null
wait "$FP_PID" 2>/dev/null
echo
fi

# ---------------------------------------------------------------------
# 2. CPU time per real-path probe.
if [[ " $PARTS " == *" 2 "* ]]; then
fpm_start probe listen="$LISTEN" max_children=4 status_listen="$LISTEN" || exit 1
probe_port=$(free_port)
http_port=$(free_port)
# 10 pools probed every 100 ms: 100 probes a second.
{
	cat <<EOF
agent:
  listen: [ "127.0.0.1:$probe_port" ]
http:
  listen: [ "127.0.0.1:$http_port" ]
defaults:
  interval: 100ms
  timeout: 1s
pools:
EOF
	for i in $(seq 1 10); do
		cat <<EOF
  probe$i:
    fastcgi: $FPM_PROBE_ADDR
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
EOF
	done
} >"$STACK_DIR/probe.yml"
daemon_start "$STACK_DIR/probe.yml" "$probe_port" probe1

# Probes run so far, from the status endpoint.
probes_done() {
	python3 - "$http_port" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
print(sum(int(float(l.split()[-1])) for l in body.splitlines()
          if l.startswith("fpmprobe_check_probes_total")))
PY
}
poll_until 2 false
p0=$(probes_done) t0=$(cpu_ns "$FP_PID")
poll_until "$PROBE_SECS" false
p1=$(probes_done) t1=$(cpu_ns "$FP_PID")
probes=$((p1 - p0))
daemon_us=$(((t1 - t0) / 1000 / (probes > 0 ? probes : 1)))
MEM10=$(mem_kib "$FP_PID")
kill "$FP_PID" 2>/dev/null
wait "$FP_PID" 2>/dev/null

# The common check script: cgi-fcgi per check, grep the body.
cat >"$STACK_DIR/check.sh" <<EOF
#!/bin/sh
env -i SCRIPT_FILENAME=$STACK_WWW/status.php SCRIPT_NAME=/status.php \\
	REQUEST_METHOD=GET QUERY_STRING= cgi-fcgi -bind -connect ${FPM_PROBE_ADDR#unix:} | grep -q '^OK'
EOF
chmod 755 "$STACK_DIR/check.sh"
n=300
script_out=$(bash -c "for i in \$(seq 1 $n); do '$STACK_DIR/check.sh' || exit 1; done; times" | tail -n 1)
# "0m0.123s 0m0.456s": the children's user and system time.
script_us=$(awk -v n="$n" '{
	split($1, u, /[ms]/); split($2, s, /[ms]/)
	printf "%d", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * 1e6 / n }' <<<"$script_out")
echo "2. CPU time per real-path probe (FastCGI round trip to php-fpm, status.php)"
printf '%-34s %12s %8s\n' checker "CPU us/probe" probes
printf '%-34s %12s %8s\n' "fpmprobe (time on CPU)" "$daemon_us" "$probes"
printf '%-34s %12s %8s\n' "cgi-fcgi check script (fork+exec)" "$script_us" "$n"
echo
fi
[[ " $PARTS " == *" 3 "* ]] || exit 0

# ---------------------------------------------------------------------
# 3. Scale: POOLS pools x 3 checks at 1 s.  The pools' FastCGI traffic is
# spread over 4 php-fpm pools (8 workers each); the daemon's cost is per
# configured pool and check, whatever is behind them.  Each pool's pgsql
# check keeps its connection (the default) and reads app_table, logging
# in over TCP with scram-sha-256.
PG_MAX_CONNECTIONS=$((POOLS + 60)) pg_start || exit 1
for i in 1 2 3 4; do
	fpm_start "s$i" listen="$LISTEN" max_children=8 status_listen="$LISTEN" || exit 1
done
scale_port=$(free_port)
{
	cat <<EOF
agent:
  listen: [ "127.0.0.1:$scale_port" ]
defaults:
  interval: 1s
  timeout: 1s
pools:
EOF
	for i in $(seq 1 "$POOLS"); do
		b=s$((i % 4 + 1))
		addr=FPM_${b^^}_ADDR saddr=FPM_${b^^}_STATUS_ADDR
		cat <<EOF
  p$i:
    fastcgi: ${!addr}
    status_path: /fpm-status
    status_listen: ${!saddr}
    stuck_after: 10s
    checks:
      - { name: app, type: fastcgi, script: $STACK_WWW/status.php, expect_body: OK }
      - name: db
        type: pgsql
        conninfo: "$PG_CONNINFO"
        password_file: $PG_PASSWORD_FILE
        query: "SELECT count(*) FROM app_table"
        fall: 1
EOF
	done
} >"$STACK_DIR/scale.yml"
"$FPMPROBE" -t -c "$STACK_DIR/scale.yml" >/dev/null || exit 1
# The daemon's log, each line stamped with the epoch millisecond it came.
"$FPMPROBE" -f -c "$STACK_DIR/scale.yml" 2> >(python3 -u -c '
import sys, time
for l in sys.stdin:
    sys.stdout.write("%d %s" % (time.time() * 1000, l))
' >"$STACK_DIR/scale.log") &
FP_PID=$!
stack_track_pid "$FP_PID"

# Succeed when every pool answers "ready up"; the count goes to $UP.
all_up() {
	local i a
	UP=0
	for i in $(seq 1 "$POOLS"); do
		a=$("$AGENTC" -t 1000 -s "p$i" "127.0.0.1:$scale_port")
		[[ $a == ready\ up* ]] && UP=$((UP + 1))
	done
	[ "$UP" -eq "$POOLS" ]
}
poll_until 60 all_up || echo "bench: only $UP of $POOLS pools came up" >&2

# Cost: the daemon alone for SCALE_SECS, then agent pollers.
t0=$(cpu_ns "$FP_PID") ms0=$(ms_now)
poll_until "$SCALE_SECS" false
t1=$(cpu_ns "$FP_PID") ms1=$(ms_now)
cpu_pct=$(awk -v ns="$((t1 - t0))" -v ms="$((ms1 - ms0))" \
	'BEGIN { printf "%.2f", 100 * ns / 1e6 / ms }')
agent_out=$("$AGENTC" -a -n 12800 -c 256 -r 2560 -t 5000 -s p50 "127.0.0.1:$scale_port")
rss=$(rss_kib "$FP_PID")
mem=$(mem_kib "$FP_PID")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$FP_PID/status")
all_up
up=$UP

# Detection: lock the table every pgsql check reads; each pool must say
# down within interval (+10% jitter) + timeout.  The clock starts when
# the lock was granted: when the locking session went idle after LOCK.
downs0=$(grep -c ': up -> down: db:' "$STACK_DIR/scale.log")
pg_lock_table app_table || exit 1
t_lock=$(pg_psql "SELECT (extract(epoch FROM a.state_change) * 1000)::bigint
	FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid
	JOIN pg_class c ON c.oid = l.relation
	WHERE c.relname = 'app_table' AND l.mode = 'AccessExclusiveLock' AND l.granted")
poll_until 10 sh -c "[ \$(grep -c ': up -> down: db:' '$STACK_DIR/scale.log') -ge $((downs0 + POOLS)) ]"
pg_unlock_table
detect=$(awk -v t0="$t_lock" '
	$1 >= t0 && $4 == "up" && $5 == "->" && $6 == "down:" && !($3 in seen) {
		seen[$3] = 1; print $1 - t0
	}' "$STACK_DIR/scale.log" | sort -n | awk '
	{ d[++n] = $1; if ($1 <= 2100) within++ }
	END {
		if (n == 0) { print "none"; exit }
		printf "%d pools: min %d, p50 %d, p90 %d, max %d ms; %d within 2100 ms",
		    n, d[1], d[int((n + 1) / 2)], d[int((n * 9 + 9) / 10)], d[n], within
	}')

echo "3. Scale: $POOLS pools x 3 checks (fastcgi, pgsql, status sample) at 1 s"
printf '%-34s %s\n' "daemon CPU (% of one core, ${SCALE_SECS}s)" "$cpu_pct"
printf '%-34s %s\n' "daemon RSS now / peak (KiB)" "$rss / $hwm"
printf '%-34s %s\n' "daemon memory (KiB)" "$mem"
printf '%-34s %s\n' "  with 10 pools (part 2)" "${MEM10:-not run}"
printf '%-34s %s\n' "agent p50/p99/max us (256, 100 ms)" \
	"$(kv "$agent_out" p50_us)/$(kv "$agent_out" p99_us)/$(kv "$agent_out" max_us)"
printf '%-34s %s\n' "pools answering ready up" "$up of $POOLS"
printf '%-34s %s\n' "table lock -> agent down" "$detect"
