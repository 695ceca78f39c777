#!/usr/bin/env bash
# Install what building fpmprobe, its tests and its demo need on Debian 12.
# Does nothing when every package is already installed.  Starts no service:
# the packages whose maintainer scripts would start one (postgresql,
# mariadb-server, php8.2-fpm, nginx, haproxy) are installed under a
# policy-rc.d that refuses it; the tests run their own private instances.
set -euo pipefail

PACKAGES=(
	# build
	build-essential autoconf automake libtool pkg-config
	libevent-dev libyaml-dev libfcgi-dev libpq-dev libmariadb-dev
	libcurl4-openssl-dev libsystemd-dev
	# servers and clients the process tests and the demo start
	php8.2-fpm php8.2-pgsql php8.2-mysql php8.2-cli libfcgi-bin
	postgresql mariadb-server mariadb-client haproxy nginx
	# tools the test scripts use (ps/pgrep, ss, runuser, JSON and YAML checks)
	procps iproute2 util-linux coreutils psmisc python3 python3-yaml socat
	# systemd-analyze verify and security of the unit; systemd-sysusers and
	# systemd-tmpfiles for the unit's layout (tests/proc/unit_layout.sh)
	systemd
	# the Debian package (make check-deb): dpkg-buildpackage, dh, lintian
	dpkg-dev debhelper lintian
	# checks
	shellcheck valgrind
	# /metrics read by real parsers (tests/proc/metrics.sh): Prometheus's
	# Python client (text and OpenMetrics) and promtool check metrics
	python3-prometheus-client
	# promtool, and a Prometheus server that scrapes fpmprobe in the test
	prometheus
	# the sanitizer pass and the fuzzers (make fuzz): clang, libFuzzer
	clang libclang-rt-14-dev
)

# Print the packages that are not installed.
missing_packages() {
	local p status
	for p in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ "$status" = installed ] || echo "$p"
	done
}

mapfile -t missing < <(missing_packages)
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages are installed"
	exit 0
fi
echo "deps: installing ${missing[*]}"

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		exec sudo -- "$0" "$@"
	fi
	echo "deps: run as root (or install sudo)" >&2
	exit 1
fi

# Refuse service starts while installing, unless the host has its own
# policy.  deb-systemd-invoke and invoke-rc.d both honour policy-rc.d.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# installed by fpmprobe tools/deps.sh for the install only\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

mapfile -t still < <(missing_packages)
if [ ${#still[@]} -gt 0 ]; then
	echo "deps: still not installed: ${still[*]}" >&2
	exit 1
fi
echo "deps: done"
