# shellcheck shell=bash
# A private HAProxy for the end-to-end tests and benchmarks; source after
# stack.sh (and after stack_init).  HAProxy runs in the foreground (-db)
# as a child of the calling shell, so stack.sh's cleanup stops it whatever
# happens; its pid file, stats socket and logs live in $STACK_DIR.
#
#   HAPROXY                       the binary (default: haproxy on PATH)
#   haproxy_available             succeed if HAProxy 2.6 or later runs here
#   haproxy_version               print its version ("2.6.12")
#   haproxy_global                print a global and defaults section with
#                                 the stats socket; append frontends and
#                                 backends to it
#   haproxy_start CONF            check CONF (-c), start it, wait (10 s)
#                                 until the stats socket answers; sets
#                                 HAPROXY_PID
#   haproxy_stop                  SIGTERM, wait until it is gone
#   haproxy_cmd CMD               one command on the stats socket (admin
#                                 level), its answer on stdout
#   haproxy_stat BACKEND SERVER FIELD   one field of `show stat` (status,
#                                 check_status, agent_status, weight, ...)
#   haproxy_weight BACKEND SERVER the current weight (`get weight`)
#   haproxy_edit FILE RULES       print FILE with strings replaced; RULES has
#                                 one rule a line, tab-separated: FROM, TO,
#                                 how many lines must contain FROM, and
#                                 optionally a string that selects the lines
#                                 (FROM is then replaced only there).  Fails,
#                                 naming the rule, when a count is not met:
#                                 a rule that stops matching its file must
#                                 not leave a different configuration
#   haproxy_time_ms TIME          a time as HAProxy writes it ("1s", "500ms",
#                                 "2000") in milliseconds

HAPROXY=${HAPROXY:-haproxy}
HAPROXY_SOCK=
HAPROXY_PID=

# The version of the HAProxy binary ("2.6.12"), from its -v banner.
haproxy_version() {
	"$HAPROXY" -v 2>/dev/null | sed -n 's/^HA-\{0,1\}Proxy version \([0-9][0-9.]*\).*/\1/p' | head -n 1
}

# Succeed if HAProxy 2.6 or later runs here.
haproxy_available() {
	local v major minor
	v=$(haproxy_version)
	[[ $v =~ ^([0-9]+)\.([0-9]+) ]] || return 1
	major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
	[ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 6 ]; }
}

# The global and defaults sections every private HAProxy starts with.
haproxy_global() {
	HAPROXY_SOCK=$STACK_DIR/haproxy.sock
	cat <<EOF
global
	pidfile $STACK_DIR/haproxy.pid
	stats socket $HAPROXY_SOCK mode 600 level admin
	maxconn 4000
	log stderr format short local0 notice

defaults
	mode http
	log global
	option dontlog-normal
	timeout connect 1s
	timeout client 30s
	timeout server 2s
	timeout queue 2s
	timeout check 1s
	default-server inter 1s fall 2 rise 2
EOF
}

# Succeed once the stats socket answers.
_haproxy_answers() {
	haproxy_cmd "show info" 2>/dev/null | grep -q '^Pid:'
}

# Check and start HAProxy with CONF in the background of this shell.
haproxy_start() {
	local conf=$1
	[ -z "$HAPROXY_PID" ] || { echo "haproxy_start: already running" >&2; return 2; }
	if ! "$HAPROXY" -c -q -f "$conf" >"$STACK_DIR/haproxy.check" 2>&1; then
		echo "haproxy_start: $conf does not validate" >&2
		cat "$STACK_DIR/haproxy.check" >&2
		return 1
	fi
	"$HAPROXY" -db -f "$conf" </dev/null >>"$STACK_DIR/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	stack_track_pid "$HAPROXY_PID"
	if ! poll_until 10 _haproxy_answers; then
		echo "haproxy_start: the stats socket $HAPROXY_SOCK does not answer" >&2
		tail -n 20 "$STACK_DIR/haproxy.log" >&2
		return 1
	fi
}

# Stop HAProxy: SIGTERM (hard stop), wait up to 10 s, then SIGKILL.
haproxy_stop() {
	[ -n "$HAPROXY_PID" ] || return 0
	kill -TERM "$HAPROXY_PID" 2>/dev/null
	if ! poll_until 10 sh -c "! kill -0 $HAPROXY_PID 2>/dev/null"; then
		kill -KILL "$HAPROXY_PID" 2>/dev/null
	fi
	wait "$HAPROXY_PID" 2>/dev/null
	HAPROXY_PID=
	rm -f "$HAPROXY_SOCK"
	return 0
}

# Send one command to the stats socket and print the answer.
haproxy_cmd() {
	printf '%s\n' "$1" | socat -t 2 - "UNIX-CONNECT:$HAPROXY_SOCK"
}

# One field of `show stat` for BACKEND/SERVER, found by its CSV column name.
haproxy_stat() {
	haproxy_cmd "show stat" | awk -F, -v be="$1" -v sv="$2" -v f="$3" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == be && $2 == sv { print $(col[f]); exit }'
}

# The current weight of BACKEND/SERVER ("25 (initial 100)" -> 25).
haproxy_weight() {
	haproxy_cmd "get weight $1/$2" | awk 'NR == 1 { print $1 }'
}

# FILE with each rule's FROM replaced by TO, checking how many lines matched.
haproxy_edit() {
	HAPROXY_EDIT_RULES=$2 awk '
		BEGIN {
			n = split(ENVIRON["HAPROXY_EDIT_RULES"], rl, "\n")
			for (i = 1; i <= n; i++) {
				if (rl[i] == "")
					continue
				k = split(rl[i], f, "\t")
				if (k < 3 || f[1] == "") {
					print "haproxy_edit: malformed rule: " rl[i] > "/dev/stderr"
					bad = 1
					continue
				}
				nr++
				from[nr] = f[1]; to[nr] = f[2]; want[nr] = f[3] + 0
				only[nr] = k >= 4 ? f[4] : ""
			}
		}
		{
			line = $0
			for (i = 1; i <= nr; i++) {
				if (only[i] != "" && index(line, only[i]) == 0)
					continue
				if (index(line, from[i]) == 0)
					continue
				got[i]++
				out = ""
				while ((p = index(line, from[i])) > 0) {
					out = out substr(line, 1, p - 1) to[i]
					line = substr(line, p + length(from[i]))
				}
				line = out line
			}
			print line
		}
		END {
			for (i = 1; i <= nr; i++)
				if (got[i] + 0 != want[i]) {
					printf "haproxy_edit: %s: \"%s\" on %d lines, expected %d\n", FILENAME, from[i], got[i], want[i] > "/dev/stderr"
					bad = 1
				}
			exit bad
		}' "$1"
}

# A time as HAProxy writes it, in milliseconds.
haproxy_time_ms() {
	case $1 in
	'' | *[!0-9a-z]*) return 1 ;;
	*ms) [[ ${1%ms} =~ ^[0-9]+$ ]] && echo "${1%ms}" ;;
	*s) [[ ${1%s} =~ ^[0-9]+$ ]] && echo "$((${1%s} * 1000))" ;;
	*m) [[ ${1%m} =~ ^[0-9]+$ ]] && echo "$((${1%m} * 60000))" ;;
	*[!0-9]*) return 1 ;;
	*) echo "$1" ;;
	esac
}
