#!/usr/bin/env bash
# The sample configuration starts under the systemd unit's layout.  In a
# mount and network namespace of its own: `make install` into an overlay
# of /, the sysusers.d and tmpfiles.d files applied to it as a package
# would, the sample copied to the file the unit reads, a php-fpm pool
# where the sample's pool www expects one; then everything read-only but
# the unit's ReadWritePaths (and a private /tmp, and a /dev of a few
# nodes), and the daemon started as the unit starts it: root, the unit's
# CapabilityBoundingSet, NoNewPrivileges, UMask.  The pool serves through
# its socket of mode 0660, the daemon listens, `fpmprobe ctl` works and
# marks are saved; and again with the sample's `user: fpmprobe`: the
# marks are still written after the drop, and the control socket is
# removed at exit.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/tap.sh"
. "$here/../lib/stack.sh"
. "$here/../lib/probe.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (mount namespaces, chroot)"
for tool in unshare setpriv chroot systemd-sysusers systemd-tmpfiles ip; do
	command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done

# Run the rest in new mount and network namespaces: nothing mounted here
# is seen outside, and the sample's fixed ports are free.
if [ -z "${FPMPROBE_UNIT_NS:-}" ]; then
	unshare -m -n true 2>/dev/null || skip_all "no mount or network namespaces"
	FPMPROBE_UNIT_NS=1 exec unshare -m -n --propagation private bash "$0" "$@"
fi
ip link set lo up || bail_out "cannot bring lo up in the network namespace"

stack_init
# The mounts live outside $STACK_DIR, which the cleanup removes: an
# overlay of / must never be under an `rm -rf`.
mnt=$(mktemp -d /tmp/fpmprobe-layout.XXXXXX) || bail_out "mktemp"
root=$mnt/root
upper=$mnt/rw
mkdir "$root" "$upper"
stack_at_exit "umount -R -l '$root' '$upper' 2>/dev/null; rmdir '$root' '$upper' '$mnt'"
mount -t tmpfs -o mode=0755 fpmprobe-layout "$upper" || bail_out "cannot mount a tmpfs"
mkdir "$upper/upper" "$upper/work"
mount -t overlay -o "lowerdir=/,upperdir=$upper/upper,workdir=$upper/work" \
	fpmprobe-layout "$root" 2>"$STACK_DIR/overlay.err" ||
	skip_all "overlayfs is not available: $(cat "$STACK_DIR/overlay.err")"
plan 33

# Install, as a package would.
make -s -C "$top_builddir" install DESTDIR="$root" >"$STACK_DIR/install.log" 2>&1
ok "make install DESTDIR=<a copy of />" test $? = 0 ||
	diag "$(tail -n 20 "$STACK_DIR/install.log")"
# What make install wrote is what the overlay's upper layer holds.
installed() {
	(cd "$upper/upper" && find . -path "$1" | sed 's|^\.||')
}
unit=$(installed '*/systemd/system/fpmprobe.service')
sysusers=$(installed '*/sysusers.d/fpmprobe.conf')
tmpfiles=$(installed '*/tmpfiles.d/fpmprobe.conf')
sample=$(installed '*/fpmprobe.yml.sample')
for f in unit sysusers tmpfiles sample; do
	ok "installed: $f ${!f}" test -n "${!f}" -a -f "$root${!f}"
done
[ -n "$unit" ] && [ -n "$sample" ] || bail_out "nothing to start"
exe=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$root$unit")
conf=$(sed -n 's/^ExecStart=.* -c //p' "$root$unit")
ok "installed: $exe" test -x "$root$exe"

systemd-sysusers --root="$root" fpmprobe.conf >"$STACK_DIR/sysusers.log" 2>&1
ok "systemd-sysusers creates the user fpmprobe" \
	grep -q '^fpmprobe:' "$root/etc/passwd" ||
	diag "$(cat "$STACK_DIR/sysusers.log")"
uid=$(awk -F: '$1 == "fpmprobe" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "fpmprobe" { print $3 }' "$root/etc/group")
systemd-tmpfiles --root="$root" --create fpmprobe.conf >"$STACK_DIR/tmpfiles.log" 2>&1
is "$?" 0 "systemd-tmpfiles --create succeeds" ||
	diag "$(cat "$STACK_DIR/tmpfiles.log")"
read -r -a rw <<<"$(sed -n 's/^ReadWritePaths=//p' "$root$unit")"
for d in "${rw[@]}"; do
	is "$(stat -c '%a %u %g' "$root$d" 2>&1)" "770 0 $gid" "$d: mode 0770, root, group fpmprobe"
done

# The operator's step: the sample becomes the configuration.
cp "$root$sample" "$root$conf"

# A php-fpm pool where the sample's pool www expects one: Debian's socket
# (/run/php/php8.2-fpm.sock, owned by www-data, mode 0660), its status
# port 127.0.0.1:9101 and the script /srv/health/status.php.
mkdir -m 0755 "$STACK_DIR/php"
fpm_start www listen="$STACK_DIR/php/php8.2-fpm.sock" listen.owner=www-data \
	listen.group=www-data listen.mode=0660 status_listen=127.0.0.1:9101 ||
	bail_out "php-fpm did not start"
mount -t tmpfs -o mode=0755 fpmprobe-srv /srv && mkdir -m 0755 /srv/health &&
	cp "$STACK_WWW/status.php" /srv/health/ && chmod 0644 /srv/health/status.php ||
	bail_out "cannot make /srv/health"
mkdir -p "$root/run/php" && mount --bind "$STACK_DIR/php" "$root/run/php" ||
	bail_out "cannot bind the pool's socket directory"
is "$(stat -c '%U %a' "$root/run/php/php8.2-fpm.sock")" "www-data 660" \
	"the pool's socket: www-data, mode 0660, as Debian's php-fpm makes it"

# The unit's view: / read-only but its ReadWritePaths, a private /tmp, a
# /dev of the usual few nodes, /proc.
for d in "${rw[@]}"; do
	mount --bind "$root$d" "$root$d" || bail_out "bind $d"
done
mount -t tmpfs -o mode=1777 fpmprobe-tmp "$root/tmp"
mount -t tmpfs -o mode=0755 fpmprobe-dev "$root/dev"
for n in null zero full random urandom; do
	touch "$root/dev/$n" && mount --bind "/dev/$n" "$root/dev/$n"
done
mount -t proc proc "$root/proc"
mount -o remount,bind,ro "$root" || bail_out "cannot make the copy read-only"
ok "the file system is read-only" sh -c "! touch '$root/etc/fpmprobe.test' 2>/dev/null"
ok "but for ${rw[0]}" sh -c "touch '$root${rw[0]}/.test' && rm '$root${rw[0]}/.test'"

# The unit's CapabilityBoundingSet, in setpriv's words.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$root$unit" | tr 'A-Z' 'a-z' |
	sed 's/cap_/+/g; s/ /,/g')
# A shell command, run as the unit runs its commands.
unit_sh=(chroot "$root" /usr/bin/setpriv --no-new-privs --inh-caps=-all
	--bounding-set="-all,$caps" /bin/sh -c)
# Start the daemon as the unit does (ExecStartPre, then ExecStart).
unit_start() {
	"${unit_sh[@]}" "umask 0077 && $exe -t -c $conf >/dev/null && exec $exe -f -c $conf" \
		2>>"$STACK_DIR/fpmprobe.log" &
	FP_PID=$!
	stack_track_pid "$FP_PID"
	poll_until 10 "$AGENTC" -t 500 -s www 127.0.0.1:9777 >"$STACK_DIR/agent.out"
}
ctl() {
	chroot "$root" "$exe" ctl -c "$conf" "$@"
}
sock=$(sed -n 's/^  socket: //p' "$root$conf")
sdir=$(sed -n 's/^  state_dir: //p' "$root$conf")

# With the unit's capabilities, the sample's pool www serves: its check
# connects to the pool's socket, its workers are read.
json=$("${unit_sh[@]}" "umask 0077 && exec $exe --once --json -c $conf www" 2>>"$STACK_DIR/once.err")
is "$?" 0 "--once with the unit's capabilities: pool www is OK" ||
	diag "$json" "$(cat "$STACK_DIR/once.err")"
is "$(json_get "$json" '[c["ok"] for c in j["pools"][0]["checks"]]' 2>&1)" "[True]" \
	"the check app passes through the socket"
is "$(json_get "$json" 'len(j["pools"][0]["workers"]["processes"])' 2>&1)" 4 \
	"the workers are read"

ok "the sample starts, and its agent port 127.0.0.1:9777 answers" unit_start ||
	diag "$(tail -n 20 "$STACK_DIR/fpmprobe.log")"
like "$(cat "$STACK_DIR/agent.out")" '^ready up [0-9]+%$' "and answers for pool www"
is "$(awk '/^Uid:/ { print $2 }' "/proc/$FP_PID/status") $(cat "/proc/$FP_PID/comm")" "0 fpmprobe" \
	"fpmprobe runs as root"
if command -v capsh >/dev/null; then
	is "$(capsh --decode="$(awk '/^CapEff:/ { print $2 }' "/proc/$FP_PID/status")" |
		sed 's/^[^=]*=//' | tr ',' '\n' | sort | tr '\n' ' ')" \
		"$(sed -n 's/^CapabilityBoundingSet=//p' "$root$unit" | tr 'A-Z ' 'a-z\n' | sort | tr '\n' ' ')" \
		"with the unit's capabilities, no others"
else
	skip "capsh is not installed"
fi
ok "the control socket $sock exists" test -S "$root$sock"
like "$(ctl show 2>&1)" 'www' "fpmprobe ctl show answers"
is "$(ctl maint www moving 2>&1)" 'ok: pool www answers "maint #moving"' "ctl maint"
is "$(cat "$root$sdir/marks" 2>&1)" "maint	www	moving" "the mark is saved in $sdir"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop
ok "and the control socket is removed" test ! -e "$root$sock"

# The sample's user: fpmprobe, as the sysusers.d file made it.  Marks are
# still saved, and the socket removed, by the user that root became.
mount -o remount,bind,rw "$root"
sed -i 's/^#user: fpmprobe$/user: fpmprobe/; s/^#group: fpmprobe$/group: fpmprobe/' "$root$conf"
mount -o remount,bind,ro "$root"
ok "with user: fpmprobe, it starts" unit_start ||
	diag "$(tail -n 20 "$STACK_DIR/fpmprobe.log")"
is "$(awk '/^Uid:/ { print $2, $3, $4 }' "/proc/$FP_PID/status")" "$uid $uid $uid" \
	"and runs as fpmprobe"
like "$(ctl show 2>&1)" 'maint' "the mark survived the restart"
like "$(ctl ready www 2>&1)" '^ok: pool www answers "' "ctl ready, after the drop"
is "$(cat "$root$sdir/marks" 2>&1)" "" "the marks are saved by fpmprobe"
ok "SIGTERM stops the daemon cleanly" fp_daemon_stop
ok "and user fpmprobe removes the control socket" test ! -e "$root$sock"

done_testing
