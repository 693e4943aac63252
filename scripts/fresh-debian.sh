#!/bin/sh
# 'make fresh-debian RELEASE=trixie' (or bookworm): the README's two
# commands on a bare Debian, the way a new user meets them.
#
# A minimal root (debootstrap --variant=minbase, with git, make and
# ca-certificates only) is made from the Debian mirror this machine's apt
# already uses, in build/fresh-RELEASE/root.  A clone of this repository's
# committed HEAD goes to /src/qemu-freeze-mode in it and ../shared beside
# it, as on a user's machine; nothing of the host's git configuration,
# build tree or ccache comes along.  Then, in a chroot, as root with a
# clean environment: 'make demo', then 'make check'.  Each one's time and
# last lines are printed; the logs stay in build/fresh-RELEASE/.
#
# Long (each release builds everything from scratch): not part of 'make
# check'.  Needs root (debootstrap, chroot, mounts).  KEEP_ROOT=1 reuses
# a root made before instead of starting from debootstrap again.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
release=${1:-trixie}
case $release in
bookworm|trixie) ;;
*) echo "usage: fresh-debian.sh bookworm|trixie" >&2; exit 2 ;;
esac
dir=$top/build/fresh-$release
root=$dir/root
project=qemu-freeze-mode

say() { printf 'fresh-debian %s: %s\n' "$release" "$*"; }
die() { printf 'fresh-debian %s: error: %s\n' "$release" "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null || die "no debootstrap: run 'make deps'"
[ -d "$top/../shared" ] || die "no ../shared beside the project"
if [ -n "$(git -C "$top" status --porcelain --untracked-files=no)" ]; then
	say "warning: uncommitted changes are not in the clone (HEAD only)"
fi

mounted=
cleanup() {
	for m in $mounted; do
		umount -l "$m" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM
mnt() {	# mnt TYPE SOURCE TARGET [OPTIONS]
	mkdir -p "$3"
	if [ "$1" = bind ]; then
		mount --bind "$2" "$3"
	else
		mount -t "$1" ${4:+-o "$4"} "$2" "$3"
	fi
	mounted="$3 $mounted"
}

# Never delete through a mount left behind (an interrupted run's /dev)
if grep -q " $dir/" /proc/mounts; then
	die "mounts under build/fresh-$release are left from a run before: 'grep $dir /proc/mounts', then umount them"
fi
mkdir -p "$dir"
if [ "${KEEP_ROOT:-0}" = 1 ] && [ -f "$root/.debootstrap-done" ]; then
	say "reusing the root made before (KEEP_ROOT=1)"
else
	rm -rf "$root"
	mirror=$("$top/scripts/debian-mirror.sh")
	say "debootstrap --variant=minbase $release from $mirror (a few minutes)"
	start=$(date +%s)
	debootstrap --variant=minbase --include=git,make,ca-certificates \
		"$release" "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
		{ tail -20 "$dir/debootstrap.log"; die "debootstrap failed"; }
	touch "$root/.debootstrap-done"
	say "root ready in $(($(date +%s) - start)) s"
fi

# The root uses the machine's mirror as the machine's apt does: with its
# proxy and the validity checks it applies to the mirror's Release files
# (a snapshot mirror's are past their Valid-Until date, which apt would
# refuse otherwise), as apt itself resolves them.  Nothing else of the
# machine's apt configuration comes along (hooks, CA paths, auto-detect
# scripts the root does not have).
apt-config dump 2>/dev/null |
	grep -E '^Acquire::(Check-Valid-Until|Check-Date|(http|https|ftp)::Proxy(::[^ ]+)?) ' \
	>"$root/etc/apt/apt.conf.d/50machine-acquire" || true

rm -rf "$root/src"
mkdir -p "$root/src"
say "cloning HEAD ($(git -C "$top" rev-parse --short HEAD)) and copying ../shared"
git clone -q --no-hardlinks "$top" "$root/src/$project"
cp -a "$top/../shared" "$root/src/shared"
cp /etc/resolv.conf "$root/etc/resolv.conf"

# The root a mount point of its own, as / is on a machine: without it
# 'unshare --mount' (scripts/qtest-tcg.sh hides /dev/kvm that way) fails
# in the chroot ("cannot change root filesystem propagation").  First,
# so that the mounts below land on it.
mnt bind "$root" "$root"
mnt proc proc "$root/proc"
mnt sysfs sysfs "$root/sys"
mnt bind /dev "$root/dev"
mnt devpts devpts "$root/dev/pts" gid=5,mode=620,ptmxmode=666
mnt tmpfs tmpfs "$root/dev/shm" mode=1777

status=0
for cmd in demo check; do
	say "make $cmd (log: build/fresh-$release/$cmd.log)"
	start=$(date +%s)
	set +e
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		${CI:+CI=$CI} sh -c "cd /src/$project && make $cmd" \
		</dev/null >"$dir/$cmd.log" 2>&1
	rc=$?
	set -e
	secs=$(($(date +%s) - start))
	printf '%s\n' "$rc $secs" >"$dir/$cmd.result"
	say "make $cmd: exit status $rc after $((secs / 60)) min $((secs % 60)) s; its last lines:"
	tail -12 "$dir/$cmd.log" | sed 's/^/    /'
	[ "$rc" = 0 ] || status=1
done
say "summary: $(for c in demo check; do
	set -- $(cat "$dir/$c.result"); printf 'make %s exit %s in %d min %d s; ' \
		"$c" "$1" $(($2 / 60)) $(($2 % 60)); done)"
exit $status
