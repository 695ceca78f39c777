#!/usr/bin/env bash
# Install the dependencies, build with -Werror, run `make check`, show the
# logs of what failed, and end with one line "N passed, N failed, N skipped"
# counted from the automake results (one per TAP test point): PASS and XFAIL
# pass, FAIL, XPASS and ERROR fail, SKIP is skipped.  A failed build or
# install counts as one failure.  Exits non-zero if anything failed.
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

# Print "passed failed skipped" from every *.trs file.
count_results() {
	find . -name '*.trs' -exec cat {} + 2>/dev/null | awk '
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
