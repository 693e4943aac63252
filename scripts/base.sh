# Sourced by the scripts: the pins of the base they work on.
#
# BASE names a file in pins/ (default: primary).  It gives each component
# its tree, build/<tree>, made from its series in patches/ (series_of):
#   qemu         $QEMU_TREE    (primary: qemu,  debian13: backport-qemu-10.0)
#   linux        $LINUX_TREE   (primary: linux, debian13: backport-linux-6.12)
#   virtio-spec  virtio-spec   (the same for every base)
#   seabios      seabios       (the same for every base)
# and the folders built from them: build/<tree>-build for QEMU and Linux,
# build/<linux tree>-guest for the test guest's initramfs.
# shellcheck shell=sh
top=${top:-$(cd "$(dirname "$0")/.." && pwd)}
BASE=${BASE:-primary}
case $BASE in
*/*|"") echo "BASE=$BASE: not a base (see pins/)" >&2; exit 2 ;;
esac
if [ ! -f "$top/pins/$BASE" ] || [ "$BASE" = common ]; then
	echo "BASE=$BASE: no such base; pins/ has: $(cd "$top/pins" && ls | grep -vx common | tr '\n' ' ')" >&2
	exit 2
fi
. "$top/pins/common"
. "$top/pins/$BASE"
export BASE

# series_of COMPONENT: the series applied to the component's tree, in
# order, each a folder of patches/ with a quilt 'series' file and its own
# cover letter: QEMU_SERIES, LINUX_SERIES and SPEC_SERIES in the pins (the
# primary base keeps the fixes of stock code apart from the feature, on
# which they do not depend), else the tree's own folder alone
series_of() {
	case $1 in
	qemu) echo "${QEMU_SERIES:-$QEMU_TREE}" ;;
	linux) echo "${LINUX_SERIES:-$LINUX_TREE}" ;;
	virtio-spec) echo "${SPEC_SERIES:-virtio-spec}" ;;
	*) tree_of "$1" ;;
	esac
}

# tree_of COMPONENT: the tree (build/ folder) of a component
tree_of() {
	case $1 in
	qemu) echo "$QEMU_TREE" ;;
	linux) echo "$LINUX_TREE" ;;
	virtio-spec) echo virtio-spec ;;
	seabios) echo seabios ;;
	*) echo "unknown component: $1 (qemu, linux, virtio-spec or seabios)" >&2; return 2 ;;
	esac
}

# version_of VERSION: a Debian version without its epoch
noepoch() { echo "${1#*:}"; }
