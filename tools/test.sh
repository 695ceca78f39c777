#!/usr/bin/env bash
# Install the dependencies, build with -Werror, run `make check`, show the
# logs of what failed, and end with one line "N passed, N failed, N skipped"
# counted from the automake results (one per TAP test point): PASS and XFAIL
# pass, FAIL, XPASS and ERROR fail, SKIP is skipped.  A failed build or
# install counts as one failure.  Exits non-zero if anything failed.
#
# Skips must not end green:
# - each layer (unit, process, e2e) must have run at least one point that
#   was not skipped; a layer that ran none counts as one failure;
# - as root with CI=true (.ci/run sets it), every skipped point counts as
#   a failure: CI has what every test needs, so a skip there is a test
#   that did not run.  Each one is listed with its reason.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

# Print the summary line and exit: status 0 only if nothing failed.
finish() {
	local passed=$1 failed=$2 skipped=$3
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ] || exit 1
	exit 0
}

# Print "passed failed skipped" from the *.trs files under DIR (default .).
count_results() {
	find "${1:-.}" -name '*.trs' -exec cat {} + 2>/dev/null | awk '
		$1 == ":test-result:" {
			if ($2 == "PASS" || $2 == "XFAIL") p++
			else if ($2 == "SKIP") s++
			else f++
		}
		END { printf "%d %d %d\n", p, f, s }'
}

# Each step says how long the one before it took, and the durations are
# listed again at the end.
step_name=
step_t0=$SECONDS
step_times=()
step() {
	step_end
	step_name=$*
	step_t0=$SECONDS
	printf '\n==> %s\n' "$*"
}
step_end() {
	[ -n "$step_name" ] || return 0
	printf '<== %s: %d s\n' "$step_name" $((SECONDS - step_t0))
	step_times+=("$(printf '%5d s  %s' $((SECONDS - step_t0)) "$step_name")")
	step_name=
}

# A failed test's log: each failed point with the diagnostics that follow
# it (what was got and expected), then the last 30 lines.
show_failed() {
	awk '/^not ok / { n = 25 } n > 0 { print; n-- }' "$1" | head -n 200
	echo "(last 30 lines)"
	tail -n 30 "$1"
}

# ---------------------------------------------------------------------
# Hardening passes, after make check: the unit and process tests once more
# built with clang under ASan + UBSan, leak detection on, in a copy of the
# tree; then every fuzzer for FUZZ_SECONDS (60) seconds.  A sanitizer
# report of any program (the daemon runs in the background of the
# process tests, so reports go to files: log_path) fails the pass; each
# test point and each fuzz target counts in the summary.  Adds to the
# variables passed, failed and skipped.
harden_passes() {
	local san logs unit proc p f s n r reports fuzz_out rc
	san=$(mktemp -d /tmp/fpmprobe-san.XXXXXX)
	logs=$san.reports
	unit=$(sed -n '/^UNIT_TESTS = /,/^$/p' Makefile.am | grep -o 'tests/unit/t_[a-z_]*' | tr '\n' ' ')
	# The e2e test is a load test, and stays out.
	proc=$(sed -n '/^PROC_TESTS = /,/^$/p' Makefile.am | grep -o 'tests/proc/[a-z_]*\.sh' |
		tr '\n' ' ')

	step "sanitizers: clang --enable-sanitizers, unit and process tests (leak detection on)"
	mkdir -p "$logs"
	chmod 1777 "$logs"	# the daemon may write its report as user:
	if ! { git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$san"; } ||
		! (cd "$san" && ./autogen.sh && ./configure CC=clang --enable-sanitizers &&
			make -j2); then
		echo "test: the sanitizer build failed" >&2
		failed=$((failed + 1))
	else
		(cd "$san" && find . -name '*.trs' -delete &&
			ASAN_OPTIONS=detect_leaks=1:log_path=$logs/asan \
			UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan \
			make check TESTS="$unit $proc")
		read -r p f s < <(cd "$san" && count_results)
		echo "sanitizers: $p passed, $f failed, $s skipped"
		(cd "$san" && find . -name '*.trs' -exec grep -lE '^:test-result: (FAIL|XPASS|ERROR)' {} + 2>/dev/null) |
			sort | while IFS= read -r trs; do
				printf '\n==> failed under the sanitizers: %s\n' "${trs%.trs}.log"
				show_failed "$san/${trs%.trs}.log"
			done
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
		reports=$(find "$logs" -type f | sort)
		if [ -n "$reports" ]; then
			n=$(wc -l <<<"$reports")
			echo "sanitizers: $n report(s):" >&2
			while IFS= read -r r; do
				echo "--- $r" >&2
				head -n 40 "$r" >&2
			done <<<"$reports"
			failed=$((failed + n))
		else
			echo "sanitizers: no report from any program"
			passed=$((passed + 1))
			# Kept, with its logs, when a test failed.
			[ "$f" -eq 0 ] && rm -rf "$san" "$logs"
		fi
	fi

	step "fuzz: make -j2 fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-60}"
	fuzz_out=$(make -j2 fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}" 2>&1)
	rc=$?
	grep -E '^fuzz [a-z_]+: ' <<<"$fuzz_out"
	p=$(grep -cE '^fuzz [a-z_]+: ok' <<<"$fuzz_out")
	f=$(grep -cE '^fuzz [a-z_]+: FAILED' <<<"$fuzz_out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		tail -n 40 <<<"$fuzz_out"
		f=1
	elif [ "$f" -gt 0 ]; then
		grep -vE '^make' <<<"$fuzz_out" | tail -n 80
	fi
	passed=$((passed + p)) failed=$((failed + f))
	step_end
}
# ---------------------------------------------------------------------

step "dependencies (tools/deps.sh)"
if ! bash tools/deps.sh; then
	echo "test: installing the dependencies failed" >&2
	finish 0 1 0
fi

step "build: ./autogen.sh && ./configure --enable-werror && make -j2"
if ! { ./autogen.sh && ./configure --enable-werror && make -j2; }; then
	echo "test: the build failed" >&2
	finish 0 1 0
fi

step "make -j2 check"
# Results of an earlier run must not be counted.
find . -name '*.trs' -delete
rm -f test-suite.log
make -j2 check
rc=$?
# The Debian package (tests/pkg/deb.sh): its TAP results are counted with
# the others.
step "make check-deb"
make check-deb || rc=$?

read -r passed failed skipped < <(count_results)
find . -name '*.trs' -exec grep -lE '^:test-result: (FAIL|XPASS|ERROR)' {} + 2>/dev/null |
	sort | while IFS= read -r trs; do
		log=${trs%.trs}.log
		step "failed: ${log#./}"
		show_failed "$log"
	done
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	# make check failed without a failed test: building a test program,
	# or the harness itself.
	echo "test: make check failed (exit $rc) without a failed test result" >&2
	[ -f test-suite.log ] && tail -n 40 test-suite.log
	failed=1
fi

# Each layer must have run something.
step "what each layer ran"
for layer in unit:tests/unit process:tests/proc e2e:tests/e2e; do
	read -r lp lf ls < <(count_results "${layer#*:}")
	echo "${layer%%:*}: $lp passed, $lf failed, $ls skipped"
	if [ $((lp + lf)) -eq 0 ]; then
		echo "test: the ${layer%%:*} layer ran no test (${layer#*:})" >&2
		failed=$((failed + 1))
	fi
done

# In CI, as root, nothing may be skipped.
if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ] && [ "$(id -u)" -eq 0 ]; then
	step "skipped in CI as root: each counts as a failure"
	find . -name '*.log' -path './tests/*' -exec grep -h '^SKIP: ' {} + 2>/dev/null | sort
	echo "test: CI=true, as root: the $skipped skipped points count as failures" >&2
	failed=$((failed + skipped))
fi

# The distribution builds, installs and uninstalls from its tarball; its
# make check runs the unit tests only (the whole suite ran above).  One
# result.
step "make distcheck (unit tests only)"
# shellcheck disable=SC2016 # make, not the shell, expands $(UNIT_TESTS)
if make -j2 distcheck TESTS='$(UNIT_TESTS)'; then
	passed=$((passed + 1))
else
	echo "test: make distcheck failed" >&2
	failed=$((failed + 1))
	# What distcheck leaves behind (read-only) must not be counted next time.
	find . -maxdepth 1 -name 'fpmprobe-*' -type d -exec chmod -R u+w {} + -exec rm -rf {} +
fi

harden_passes
step_end
echo
echo "durations:"
printf '%s\n' "${step_times[@]}"
finish "$passed" "$failed" "$skipped"
