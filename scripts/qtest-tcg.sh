#!/bin/sh
# qtest-tcg.sh TEST [ARG...]: the 'meson test --wrapper' for QEMU's qtests.
# Runs one qtest under TCG, with /dev/kvm out of its reach.
#
# The qtests that start real guests (bios-tables-test, pxe-test,
# migration-test) use KVM whenever /dev/kvm can be opened for writing.  On a
# machine whose /dev/kvm is a nested KVM without VMX or SMM, as on this
# project's CI, those guests die or hang.  Hidden, the tests use TCG, as
# they do for any user outside the kvm group.
#
# /dev/kvm is hidden in a private mount namespace, under a read-only empty
# file: access(W_OK) and open() then fail with EROFS, for root too.  Nothing
# outside the test changes.
#
# meson gives migration-test '--full' whenever QEMU is built with KVM; that
# set is meant for KVM and runs past its 480 s timeout under TCG, so it is
# dropped here and migration-test runs its default set.
#
# QTEST_KVM=1 runs the test as it is (a machine with a working KVM; the
# known failures in tests/qtest-known-failures were measured under TCG).
set -eu
if [ "${QTEST_KVM:-0}" = 1 ]; then
	exec "$@"
fi
test=$1
shift
for a in "$@"; do
	shift
	[ "$a" = --full ] || set -- "$@" "$a"
done
if [ ! -w /dev/kvm ]; then
	exec "$test" "$@"
fi
[ "$(id -u)" = 0 ] && userns= || userns=--map-root-user
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
# shellcheck disable=SC2016 # expanded by the inner shell
unshare $userns --mount --propagation private sh -c '
	mount --bind "$0" /dev/kvm && mount -o remount,bind,ro /dev/kvm &&
	"$@"' "$empty" "$test" "$@"
