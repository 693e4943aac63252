#!/bin/sh
# The Debian guest (harness image "debian"), in build/debian-guest/:
#
# - root-KEY/: debootstrap --variant=minbase of DEBIAN_GUEST_SUITE
#   (pins/common) from the Debian mirror this machine's apt uses, with the
#   packages guest/debian/packages lists; KEY is the sha256 of the suite
#   and the list, so the root is made again only when they change (a few
#   minutes, some 300 MB of downloads);
# - packages.txt: every package installed and its version;
# - debian.ext4: the root with guest/debian's agent, its systemd unit and
#   a drop-in for seatd,
#   as an ext4 image made without mounting anything (mke2fs -d), which
#   the guest boots from a virtio disk with QEMU's snapshot=on (so the
#   image is never written).
#
# Needs root (debootstrap).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/base.sh"
out=$top/build/debian-guest
src=$top/guest/debian

say() { printf 'build debian guest: %s\n' "$*"; }
die() { printf 'build debian guest: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap)"
command -v debootstrap >/dev/null || die "no debootstrap: run 'make deps'"
pkgs=$(sed -e 's/#.*//' "$src/packages" | xargs | tr ' ' ,)
key=$(printf '%s\n%s\n' "$DEBIAN_GUEST_SUITE" "$pkgs" | sha256sum | cut -c1-12)
root=$out/root-$key
mkdir -p "$out"

if [ ! -f "$root/.done" ]; then
	# a root made for another list goes
	rm -rf "$out"/root-* "$out/debian.ext4"
	mirror=$("$top/scripts/debian-mirror.sh")
	say "debootstrap --variant=minbase $DEBIAN_GUEST_SUITE from $mirror with guest/debian/packages (a few minutes)"
	debootstrap --variant=minbase --include="$pkgs" "$DEBIAN_GUEST_SUITE" \
		"$root.new" "$mirror" >"$out/debootstrap.log" 2>&1 || {
		tail -20 "$out/debootstrap.log" >&2
		die "debootstrap failed; log in build/debian-guest/debootstrap.log"
	}
	# what the guest never reads
	rm -rf "$root.new"/usr/share/doc/* "$root.new"/usr/share/man/* \
		"$root.new"/usr/share/info/* "$root.new"/var/cache/apt/*.bin \
		"$root.new"/var/lib/apt/lists/*_Packages
	chroot "$root.new" dpkg-query -W -f '${Package} ${Version}\n' \
		>"$out/packages.txt"
	touch "$root.new/.done"
	mv "$root.new" "$root"
fi

# The agent and how it starts; the image is made again when they change
stamp=$(cat "$src/agent" "$src/agent.service" "$src/seatd.conf" "$0" |
	sha256sum | cut -c1-12)
if [ "$(cat "$out/debian.ext4.stamp" 2>/dev/null)" != "$key-$stamp" ]; then
	install -m 755 "$src/agent" "$root/usr/local/bin/agent"
	install -m 644 "$src/agent.service" "$root/etc/systemd/system/agent.service"
	install -D -m 644 "$src/seatd.conf" \
		"$root/etc/systemd/system/seatd.service.d/novt.conf"
	wants=$root/etc/systemd/system/multi-user.target.wants
	mkdir -p "$wants"
	ln -sf /etc/systemd/system/agent.service "$wants/agent.service"
	# the agent owns the serial console; nothing on the machine needs
	# timers that fetch or clean up
	for unit in serial-getty@ttyS0.service getty@tty1.service \
		apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
		fstrim.timer e2scrub_all.timer systemd-tmpfiles-clean.timer; do
		ln -sf /dev/null "$root/etc/systemd/system/$unit"
	done
	echo debian-guest >"$root/etc/hostname"
	say "mke2fs -d: build/debian-guest/debian.ext4"
	rm -f "$out/debian.ext4.new"
	mke2fs -q -t ext4 -L debian -d "$root" "$out/debian.ext4.new" 2G
	mv "$out/debian.ext4.new" "$out/debian.ext4"
	echo "$key-$stamp" >"$out/debian.ext4.stamp"
fi
say "$DEBIAN_GUEST_SUITE, $(wc -l <"$out/packages.txt") packages (build/debian-guest/packages.txt): build/debian-guest/debian.ext4"
