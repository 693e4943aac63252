#!/bin/sh
# 'make spec-pdf': build the virtio spec with the series applied, as PDF,
# with the spec's own makepdf.sh (xelatex), in build/virtio-spec-pdf/.
# The packages: 'scripts/deps.sh spec-pdf' (texlive-xetex and friends).
#
# Fails when xelatex fails, or when the log has an undefined reference or
# a multiply defined label that the pristine spec does not have.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/virtio-spec
out=$top/build/virtio-spec-pdf

say() { printf 'spec-pdf: %s\n' "$*"; }

command -v xelatex >/dev/null || {
	say "no xelatex: run 'scripts/deps.sh spec-pdf' as root first"
	exit 1
}
"$top/scripts/tree.sh" virtio-spec
# the document's name, as makepdf.sh makes it (e.g. virtio-v1.4-cs01)
doc=$(cat "$tree/REVISION")

# problems LaTeX reports, one per line, without page numbers
problems() {
	grep -E "Reference .* undefined|multiply defined" "$1" |
		sed 's/ on page [0-9]*//; s/ on input line [0-9]*//' | sort -u
}

build() {	# build REF DIR
	rm -rf "$2"
	mkdir -p "$2"
	git -C "$tree" archive "$1" | tar -x -C "$2"
	say "$1: xelatex, 3 passes (about a minute)"
	start=$(date +%s)
	(cd "$2" && ./makepdf.sh </dev/null >xelatex.out 2>&1) || {
		tail -20 "$2/xelatex.out"
		say "$1: xelatex failed (log: $2/xelatex.out)"
		exit 1
	}
	say "$1: $2/$doc.pdf, $(($(date +%s) - start)) s"
}

build HEAD "$out"
build base "$out/base"
problems "$out/$doc.log" >"$out/problems"
problems "$out/base/$doc.log" >"$out/base/problems"
new=$(comm -23 "$out/problems" "$out/base/problems")
if [ -n "$new" ]; then
	say "the series adds these LaTeX problems:"
	echo "$new"
	exit 1
fi
say "done: build/virtio-spec-pdf/$doc.pdf (no new undefined references or labels)"
