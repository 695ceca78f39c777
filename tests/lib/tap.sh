# shellcheck shell=bash
# TAP output for the process tests, in the form automake's tap-driver.sh
# reads.  Source it first, then stack.sh.
#
#   plan N                  announce N test points up front.  Each process
#                           script does it after its skip_all guards: a block
#                           of points that never runs then fails the script
#                           ("too few tests run"), as do points added
#                           without raising N.  A branch that cannot run
#                           its points says skip REASON N for them.
#   done_testing            end every script with it: prints the plan from
#                           the number of points run (unless plan was called)
#                           and returns 0
#   ok DESC CMD...          pass if CMD exits 0 (CMD's stdout goes to stderr,
#                           so it cannot be mistaken for TAP)
#   is GOT WANT DESC        pass if GOT and WANT are the same string
#   isnt GOT UNWANTED DESC  pass if they differ
#   like GOT REGEX DESC     pass if GOT matches the extended regex REGEX
#                           (bash =~ on the whole string: ^ and $ anchor
#                           the string, not each line)
#   unlike GOT REGEX DESC   pass if it does not
#   pass DESC / fail DESC   a point decided by the caller
#   within_ms GOT BOUND DESC  pass if GOT, a whole number of milliseconds,
#                           is at most BOUND; DESC gets " (GOT ms <= BOUND ms)"
#   skip REASON [N]         N (default 1) skipped points
#   skip_all REASON         "1..0 # SKIP REASON" and exit 0
#   diag MSG...             each MSG (and each line in it) as a "# " comment
#   bail_out MSG            "Bail out! MSG" and exit 1
#   ms_now                  milliseconds since the epoch
#   us_to_ms US             microseconds as milliseconds, rounded up;
#                           nothing when US is not a whole number
#   LOAD_MARGIN_MS          what a loaded machine may add to a configured
#                           time (process start-up, scheduling): 1000, or
#                           as set in the environment
#
# A bound on an elapsed time checks correctness, not speed: it is the
# configured times plus LOAD_MARGIN_MS, written into the test's name.  How
# fast fpmprobe is, `make bench` measures.
#
# Every helper returns 0 on a pass and 1 on a failure, so a test can
# write `is ... || bail_out ...`.  A script that ends with done_testing
# exits 0 even when points failed: tap-driver.sh counts the "not ok"
# lines, and a non-zero exit status would be reported as an extra ERROR.

LOAD_MARGIN_MS=${LOAD_MARGIN_MS:-1000}
TAP_COUNT=0
TAP_FAILED=0
TAP_PLANNED=

# Print one test point; $1 is 0 for a pass.
_tap_point() {
	local rc=$1 desc=$2
	TAP_COUNT=$((TAP_COUNT + 1))
	# An unescaped "# SKIP" or "# TODO" in a description is a directive.
	desc=${desc//\\/\\\\}
	desc=${desc//#/\\#}
	desc=${desc//$'\n'/ }
	if [ "$rc" -eq 0 ]; then
		printf 'ok %d - %s\n' "$TAP_COUNT" "$desc"
		return 0
	fi
	TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s\n' "$TAP_COUNT" "$desc"
	return 1
}

# Announce the number of test points up front.
plan() {
	TAP_PLANNED=$1
	printf '1..%d\n' "$1"
}

# Print the plan after the last point, unless plan was called.
done_testing() {
	if [ -z "$TAP_PLANNED" ]; then
		printf '1..%d\n' "$TAP_COUNT"
	elif [ "$TAP_PLANNED" -ne "$TAP_COUNT" ]; then
		echo "# planned $TAP_PLANNED test points but ran $TAP_COUNT" >&2
	fi
	if [ "$TAP_FAILED" -gt 0 ]; then
		echo "# failed $TAP_FAILED of $TAP_COUNT" >&2
	fi
	return 0
}

# Print MSG as TAP comment lines.
diag() {
	local msg line
	for msg; do
		while IFS= read -r line; do
			printf '# %s\n' "$line"
		done <<<"$msg"
	done
}

# Pass if the command succeeds.
ok() {
	local desc=$1
	shift
	"$@" >&2
	_tap_point $? "$desc"
}

# Pass if GOT equals WANT.
is() {
	if [ "$1" = "$2" ]; then
		_tap_point 0 "$3"
	else
		_tap_point 1 "$3"
		diag "     got: '$1'" "expected: '$2'"
		return 1
	fi
}

# Pass if GOT differs from UNWANTED.
isnt() {
	if [ "$1" != "$2" ]; then
		_tap_point 0 "$3"
	else
		_tap_point 1 "$3"
		diag "     got: '$1'" "expected anything else"
		return 1
	fi
}

# Pass if GOT matches the extended regular expression.
like() {
	local re=$2
	if [[ $1 =~ $re ]]; then
		_tap_point 0 "$3"
	else
		_tap_point 1 "$3"
		diag "     got: '$1'" "expected to match: '$2'"
		return 1
	fi
}

# Pass if GOT does not match the extended regular expression.
unlike() {
	local re=$2
	if ! [[ $1 =~ $re ]]; then
		_tap_point 0 "$3"
	else
		_tap_point 1 "$3"
		diag "     got: '$1'" "expected not to match: '$2'"
		return 1
	fi
}

# A point whose outcome the caller decided.
pass() { _tap_point 0 "$1"; }
fail() { _tap_point 1 "$1"; }

# Pass if GOT milliseconds are at most BOUND.
within_ms() {
	local got=$1 bound=$2
	if ! [[ $got =~ ^[0-9]+$ ]]; then
		_tap_point 1 "$3 (no time measured, bound $bound ms)"
	elif [ "$got" -le "$bound" ]; then
		_tap_point 0 "$3 ($got ms <= $bound ms)"
	else
		_tap_point 1 "$3 ($got ms <= $bound ms)"
	fi
}

# Skip N points with a reason.
skip() {
	local reason=$1 n=${2:-1} i
	reason=${reason//$'\n'/ }
	for ((i = 0; i < n; i++)); do
		TAP_COUNT=$((TAP_COUNT + 1))
		printf 'ok %d # SKIP %s\n' "$TAP_COUNT" "$reason"
	done
}

# Skip the whole script.
skip_all() {
	printf '1..0 # SKIP %s\n' "${1//$'\n'/ }"
	exit 0
}

# Stop the whole test run: tap-driver.sh reports an ERROR.
bail_out() {
	printf 'Bail out! %s\n' "${1//$'\n'/ }"
	exit 1
}

# Microseconds as milliseconds, rounded up; nothing for a non-number.
us_to_ms() {
	[[ $1 =~ ^[0-9]+$ ]] && echo $(((10#$1 + 999) / 1000))
}

# Milliseconds since the epoch (bash 5 reads the clock without a fork).
ms_now() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		echo $((10#$t / 1000))
	else
		date +%s%3N
	fi
}
