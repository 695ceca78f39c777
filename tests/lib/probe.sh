# Helpers for process tests that run fpmprobe itself; source after
# tap.sh and stack.sh.
#
#   FPMPROBE, AGENTC, FCGI_FAKE      the binaries under test
#   fp_daemon_start CONF PORT        start `fpmprobe -f`, wait until PORT answers
#   fp_daemon_stop                   SIGTERM it and wait (fails if it does not stop)
#   agent_ask PORT [LINE]            print the agent's answer
#   fake_start MODE                  start tests/unit/fcgi_fake; sets FAKE_ADDR
#   json_get JSON EXPR               evaluate a python expression on j=json
#   require_checks TYPE...           skip the script unless fpmprobe was built
#                                    with these check types (pgsql mysql http)
#   http_ask URL [CURL-ARGS...]      print the status code; the headers and
#                                    body go to $STACK_DIR/http.headers, .body

top_builddir=${top_builddir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FPMPROBE=$top_builddir/fpmprobe
AGENTC=$top_builddir/tests/tools/agentc
FCGI_FAKE=$top_builddir/tests/unit/fcgi_fake
FP_PID=

# Start the daemon in the foreground (in the background of this shell).
fp_daemon_start() {
	local conf=$1 port=$2
	# shellcheck disable=SC2086
	"$FPMPROBE" -f ${FPMPROBE_ARGS:-} -c "$conf" 2>>"$STACK_DIR/fpmprobe.log" &
	FP_PID=$!
	stack_track_pid "$FP_PID"
	poll_until 10 "$AGENTC" -t 500 "127.0.0.1:$port" >/dev/null || {
		echo "fpmprobe did not answer on $port" >&2
		tail -n 20 "$STACK_DIR/fpmprobe.log" >&2
		return 1
	}
}

# Stop the daemon with SIGTERM; succeed only if it exits 0 within 5 s.
fp_daemon_stop() {
	local rc
	[ -n "$FP_PID" ] || return 0
	kill -TERM "$FP_PID" 2>/dev/null
	poll_until 5 sh -c "! kill -0 $FP_PID 2>/dev/null" || return 1
	wait "$FP_PID"; rc=$?
	FP_PID=
	return $rc
}

# The agent's answer on PORT, after sending LINE if given.
agent_ask() {
	if [ $# -gt 1 ]; then
		"$AGENTC" -t 2000 -s "$2" "127.0.0.1:$1"
	else
		"$AGENTC" -t 2000 "127.0.0.1:$1"
	fi
}

# Start the misbehaving FastCGI app in MODE on a free port.
fake_start() {
	local mode=$1 port
	port=$(free_port)
	"$FCGI_FAKE" "$mode" "127.0.0.1:$port" >"$STACK_DIR/fake.$mode.out" 2>&1 &
	stack_track_pid $!
	FAKE_ADDR=127.0.0.1:$port
	poll_until 5 grep -q ready "$STACK_DIR/fake.$mode.out"
}

# Evaluate a python expression over a JSON document: json_get "$out" 'j["status"]'.
json_get() {
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# Ask an HTTP URL with curl (5 s at most): print the status code, keep the
# headers (CR removed) and the body in $STACK_DIR/http.headers and http.body.
http_ask() {
	local url=$1 code
	shift
	code=$(curl -s --max-time 5 -D "$STACK_DIR/http.headers" \
		-o "$STACK_DIR/http.body" -w '%{http_code}' "$@" "$url")
	sed -i 's/\r$//' "$STACK_DIR/http.headers" 2>/dev/null
	echo "$code"
}

# One FastCGI GET through cgi-fcgi: fcgi_get ADDR SCRIPT [QUERY].
fcgi_get() {
	local addr=${1#unix:} script=$2 query=${3:-}
	env -i SCRIPT_FILENAME="$script" SCRIPT_NAME="/${script##*/}" \
		REQUEST_METHOD=GET QUERY_STRING="$query" \
		REQUEST_URI="/${script##*/}?$query" SERVER_PROTOCOL=HTTP/1.1 \
		GATEWAY_INTERFACE=CGI/1.1 REMOTE_ADDR=127.0.0.1 \
		cgi-fcgi -bind -connect "$addr"
}

# The pool's status page (plain text): fpm_status_page ADDR.
fpm_status_page() {
	local addr=${1#unix:}
	env -i SCRIPT_FILENAME=/fpm-status SCRIPT_NAME=/fpm-status \
		REQUEST_URI=/fpm-status REQUEST_METHOD=GET QUERY_STRING= \
		cgi-fcgi -bind -connect "$addr"
}

# Succeed when the pool reports at least N active processes.
fpm_active_at_least() {
	local addr=$1 n=$2 active
	active=$(fpm_status_page "$addr" | sed -n 's/^active processes: *//p')
	[ -n "$active" ] && [ "$active" -ge "$n" ]
}

# Occupy N workers of a pool with sleep.php for S seconds, in the background.
fpm_occupy() {
	local addr=$1 n=$2 s=$3 i
	for i in $(seq 1 "$n"); do
		timeout $((s + 10)) bash -c "$(declare -f fcgi_get); fcgi_get '$addr' '$STACK_WWW/sleep.php' 's=$s'" >/dev/null 2>&1 &
		stack_track_pid $!
	done
}

# Skip the whole script unless fpmprobe was built with every check TYPE
# given: -t names a type compiled out as "not available in this build".
require_checks() {
	local t checks=
	for t; do
		case $t in
		pgsql) checks+='{ name: db, type: pgsql, conninfo: "dbname=x" }, ' ;;
		mysql) checks+='{ name: my, type: mysql, host: 127.0.0.1, user: x }, ' ;;
		http) checks+='{ name: h, type: http, url: "http://127.0.0.1/" }, ' ;;
		*) bail_out "require_checks: unknown type $t" ;;
		esac
	done
	if "$FPMPROBE" -t -c /dev/stdin 2>&1 <<<"pools: { x: { fastcgi: \"127.0.0.1:1\", checks: [ ${checks%, } ] } }" |
		grep -q "not available in this build"; then
		skip_all "fpmprobe built without the $* checks"
	fi
}
