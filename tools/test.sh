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

step() {
	printf '\n==> %s\n' "$*"
}

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
		step "failed: ${log#./} (last 60 lines)"
		tail -n 60 "$log"
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
echo
finish "$passed" "$failed" "$skipped"
