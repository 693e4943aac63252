#!/bin/sh
# qtest-tcg.sh TEST [ARG...]: the 'meson test --wrapper' for QEMU's qtests.
# Runs one qtest under TCG, with /dev/kvm out of its reach, without the
# subtests that tests/qtest-known-failures lists as failing.
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
# A glib test stops at its first failed assertion, so a known failing
# subtest would hide every subtest after it.  Each one listed as
# "fail TEST:SUBTEST" in tests/qtest-known-failures/$BASE is skipped here with
# glib's '-s SUBTEST' (it reports "# SKIP by request"); scripts/check.py
# runs it on its own afterwards to see that it still fails.  That run sets
# QTEST_KNOWN_RUN=1, which turns the skipping off, and QTEST_KNOWN_TIMEOUT
# (seconds), a limit for a known subtest that hangs rather than fails.
#
# QTEST_KVM=1 runs the test as it is (a machine with a working KVM; the
# known failures were measured under TCG).
set -eu
if [ "${QTEST_KVM:-0}" = 1 ]; then
	exec "$@"
fi
top=$(cd "$(dirname "$0")/.." && pwd)
test=$1
shift
for a in "$@"; do
	shift
	[ "$a" = --full ] || set -- "$@" "$a"
done
if [ "${QTEST_KNOWN_RUN:-0}" != 1 ]; then
	# "qtest-x86_64/NAME:SUBTEST" for this test's NAME, from the entries
	# that hold on this machine (check.py reads the list's 'when')
	known=$(/usr/bin/python3 "$top/scripts/check.py" \
		--known-fails "${BASE:-primary}") || exit 1
	set -f	# the subtests are words, not patterns
	for sub in $(printf '%s\n' "$known" | awk -v name="$(basename "$test")" '{
			split($1, a, ":"); n = a[1]; sub(/.*\//, "", n)
			if (n == name) print substr($1, index($1, ":") + 1)
		}'); do
		set -- "$@" -s "$sub"
	done
	set +f
fi
limit=
if [ -n "${QTEST_KNOWN_TIMEOUT:-}" ]; then
	limit="timeout --kill-after=10 $QTEST_KNOWN_TIMEOUT"
fi
if [ ! -w /dev/kvm ]; then
	exec $limit "$test" "$@"
fi
[ "$(id -u)" = 0 ] && userns= || userns=--map-root-user
empty=$(mktemp)
trap 'rm -f "$empty"' EXIT
# shellcheck disable=SC2016 # expanded by the inner shell
unshare $userns --mount --propagation private sh -c '
	mount --bind "$0" /dev/kvm && mount -o remount,bind,ro /dev/kvm &&
	exec "$@"' "$empty" $limit "$test" "$@"
