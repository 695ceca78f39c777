#!/usr/bin/env bash
# The Debian package, as a user gets it: `dpkg-buildpackage -us -uc -b`
# in a copy of the distribution (make distdir), lintian without errors
# (its warnings are listed), `dpkg -i` (then `apt-get install -f` for
# what is missing), every file in place, the user and directories its
# postinst makes, `fpmprobe -V`; then `dpkg -P`, and nothing is left.
# Root only; `make check-deb` runs it, a plain make check skips it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
top_builddir=${top_builddir:-$(cd "$here/../.." && pwd)}
[ "${FPMPROBE_CHECK_DEB:-}" = 1 ] || skip_all "builds and installs a package: make check-deb runs it"
[ "$(id -u)" = 0 ] || skip_all "needs root (dpkg -i)"
for tool in dpkg-buildpackage dpkg-parsechangelog dh lintian; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed (tools/deps.sh installs it)"
done
if [ "$(dpkg-query -W -f='${db:Status-Status}' fpmprobe 2>/dev/null)" = installed ]; then
	skip_all "a fpmprobe package is installed already: not replacing it"
fi
plan 25

work=$(mktemp -d /tmp/fpmprobe-deb.XXXXXX) || bail_out "mktemp"
installed=
had_user=
getent passwd fpmprobe >/dev/null && had_user=1
# Purge what this test installed, and the user its postinst created.
cleanup() {
	if [ -n "$installed" ]; then
		dpkg -P fpmprobe >>"$work/dpkg.log" 2>&1
	fi
	if [ -n "$installed" ] && [ -z "$had_user" ]; then
		userdel fpmprobe 2>/dev/null
		groupdel fpmprobe 2>/dev/null
	fi
	[[ $work == /tmp/fpmprobe-deb.* ]] && rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")
src=$work/fpmprobe-$version
make -s -C "$top_builddir" distdir distdir="$src" >"$work/distdir.log" 2>&1
ok "make distdir: a copy of the distribution" test $? = 0 ||
	{ diag "$(tail -n 20 "$work/distdir.log")"; bail_out "no copy to build"; }
debver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
like "$debver" "^$version-[0-9]+\$" "debian/changelog is at the release's version ($version)"

# The build starts afresh: nothing of the make that runs this test (its
# MAKEFLAGS name TESTS=tests/pkg/deb.sh) may reach the package's make.
start=$SECONDS
(cd "$src" && exec env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	-u FPMPROBE_CHECK_DEB -u top_srcdir -u top_builddir \
	DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1
ok "dpkg-buildpackage -us -uc -b ($((SECONDS - start)) s)" test $? = 0 ||
	diag "$(tail -n 40 "$work/build.log")"
deb=$(find "$work" -maxdepth 1 -name "fpmprobe_${debver}_*.deb" | head -n 1)
[ -n "$deb" ] || bail_out "no .deb was built"

lintian --no-tag-display-limit "$deb" >"$work/lintian.log" 2>&1
errors=$(grep -c '^E: ' "$work/lintian.log")
is "$errors" 0 "lintian: no errors" || diag "$(grep '^E: ' "$work/lintian.log")"
grep -q '^W: ' "$work/lintian.log" && diag "lintian warnings:" "$(grep '^W: ' "$work/lintian.log")"

# One package installation at a time, should two runs meet.
exec {lock}>/tmp/fpmprobe-deb.lock
flock -w 600 "$lock" || bail_out "another run holds /tmp/fpmprobe-deb.lock"
installed=1
if ! dpkg -i "$deb" >"$work/dpkg.log" 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -f -y >>"$work/dpkg.log" 2>&1
fi
is "$(dpkg-query -W -f='${db:Status-Status}' fpmprobe 2>/dev/null)" installed "dpkg -i installs it" ||
	diag "$(tail -n 20 "$work/dpkg.log")"
for f in /usr/sbin/fpmprobe \
	/usr/share/man/man8/fpmprobe.8.gz /usr/share/man/man5/fpmprobe.yml.5.gz \
	/lib/systemd/system/fpmprobe.service \
	/usr/lib/sysusers.d/fpmprobe.conf /usr/lib/tmpfiles.d/fpmprobe.conf \
	/etc/fpmprobe.yml.sample /usr/share/doc/fpmprobe/copyright; do
	ok "installed: $f" test -f "$f"
done
is "$(/usr/sbin/fpmprobe -V 2>&1)" "fpmprobe $version" "fpmprobe -V"
is "$(readlink -f /usr/lib/nagios/plugins/check_fpmprobe)" /usr/sbin/fpmprobe \
	"check_fpmprobe is a link to it among the Monitoring Plugins"
like "$(/usr/lib/nagios/plugins/check_fpmprobe -V 2>&1)" "fpmprobe $version" \
	"check_fpmprobe -V runs under that name"
ok "the sample validates: fpmprobe -t -c /etc/fpmprobe.yml.sample" \
	sh -c '/usr/sbin/fpmprobe -t -c /etc/fpmprobe.yml.sample >/dev/null'
like "$(grep -E '^  (socket|state_dir):' /etc/fpmprobe.yml.sample | tr '\n' ' ')" \
	'^  socket: /run/fpmprobe/fpmprobe\.sock   state_dir: /var/lib/fpmprobe $' \
	"the sample's paths are Debian's: /run/fpmprobe, /var/lib/fpmprobe"
like "$(sed -n 's/^ReadWritePaths=//p' /lib/systemd/system/fpmprobe.service)" \
	'^/run/fpmprobe /var/lib/fpmprobe$' "so are the unit's"
ok "the postinst created the user fpmprobe (systemd-sysusers)" sh -c "getent passwd fpmprobe >/dev/null"
gid=$(getent group fpmprobe | cut -d: -f3)
for d in /run/fpmprobe /var/lib/fpmprobe; do
	is "$(stat -c '%a %u %g' "$d" 2>&1)" "770 0 $gid" "the postinst made $d (systemd-tmpfiles)"
done
ok "the unit is enabled" test -L /etc/systemd/system/multi-user.target.wants/fpmprobe.service

dpkg -P fpmprobe >>"$work/dpkg.log" 2>&1
ok "dpkg -P purges it" test $? = 0 || diag "$(tail -n 20 "$work/dpkg.log")"
installed=
left=
for f in /usr/sbin/fpmprobe /lib/systemd/system/fpmprobe.service \
	/usr/lib/nagios/plugins/check_fpmprobe /usr/lib/tmpfiles.d/fpmprobe.conf /etc/fpmprobe.yml.sample \
	/etc/systemd/system/multi-user.target.wants/fpmprobe.service \
	/var/lib/fpmprobe /run/fpmprobe; do
	[ -e "$f" ] && left="$left $f"
done
is "${left# }" "" "nothing is left"
if [ -z "$had_user" ]; then
	userdel fpmprobe 2>/dev/null
	groupdel fpmprobe 2>/dev/null
fi

done_testing
