#!/bin/sh
# 'meson test --wrapper' for the qtests when 'make check' runs as root.
#
# Tests that start real guests (bios-tables-test, pxe-test, migration-test)
# pick KVM whenever /dev/kvm can be opened.  On a machine whose /dev/kvm
# is unusable (a nested KVM without VMX or SMM, as on the project's CI) they
# then die or hang.  Run as an unprivileged user, as QEMU's own CI does,
# they see no /dev/kvm and use TCG.  QTEST_USER= (empty) runs them as root.
exec setpriv --reuid="${QTEST_USER:-nobody}" --regid=nogroup --clear-groups \
	--inh-caps=-all -- "$@"
