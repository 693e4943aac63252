# qemu-freeze-mode: a patch queue for QEMU, Linux and the virtio spec.
# 'make help' lists the targets; README.rst explains them.
#
# BASE=primary (default: QEMU 10.2.2 and Linux 7.3.4) or BASE=debian13 (the
# backport to Debian 13's QEMU 10.0.13 and Linux 6.12.117) picks the base
# of every target that works on one; 'make check' tests both.

COMPONENTS := qemu linux virtio-spec seabios
S := scripts
BASE ?=
export BASE

.PHONY: help deps fetch tree export checkpatch build guest check \
	check-harness check-qtest check-e2e check-debian check-spec \
	check-known spec-pdf \
	check-bisect check-asan fuzz soak bench fresh-debian demo clean \
	distclean $(addprefix tree-,$(COMPONENTS)) \
	$(addprefix export-,$(COMPONENTS))

help:
	@echo 'make demo        the main job: deps, build, and show what the series does'
	@echo 'make check       every test, on both bases (CI runs this)'
	@echo
	@echo 'BASE=primary (default) or BASE=debian13 picks the base of what follows:'
	@echo 'make tree        build/<trees>: the pinned base + the series (git)'
	@echo 'make export      write the trees'"'"' commits back to patches/'
	@echo 'make build       configure (once) and build QEMU'
	@echo 'make guest       build the guest kernel and its initramfs'
	@echo 'make check-qtest the qtests of one base; check-e2e the guest S3 matrix'
	@echo 'make check-debian a Debian desktop guest across S3: the whole matrix'
	@echo 'make check-known run the known qtest failures on the pristine base'
	@echo 'make check-bisect build each commit of the QEMU and Linux series'
	@echo 'make check-asan  the series'"'"' qtests under ASan and UBSan (clang build)'
	@echo 'make fuzz        QEMU'"'"'s generic-fuzz on virtio-gpu (FUZZ_SECS=...)'
	@echo 'make soak        one guest, CYCLES=100 S3 cycles; RSS and fds plotted'
	@echo 'make bench       resume and reset costs, with plots'
	@echo
	@echo 'make check-spec  the virtio spec series checks; spec-pdf: its PDF'
	@echo 'make checkpatch  QEMU'"'"'s and the kernel'"'"'s checkpatch.pl on every series'
	@echo 'make deps        install the Debian packages (apt-get; root)'
	@echo 'make fresh-debian RELEASE=trixie: the two commands on a bare Debian'
	@echo 'make clean       remove the QEMU and kernel builds; distclean: all of build/'

deps:
	@$(S)/deps.sh

tree: $(addprefix tree-,$(COMPONENTS))
$(addprefix tree-,$(COMPONENTS)): tree-%:
	@$(S)/tree.sh $*

# Every tree that exists, of every base
export:
	@for b in $$(ls pins | grep -vx common); do \
		for c in $(COMPONENTS); do \
			t=$$(BASE=$$b top=$(CURDIR) sh -c ". $(S)/base.sh; tree_of $$c"); \
			[ ! -d build/$$t/.git ] || BASE=$$b $(S)/export.sh $$c || exit 1; \
		done; \
	done
$(addprefix export-,$(COMPONENTS)): export-%:
	@$(S)/export.sh $*

checkpatch:
	@$(S)/checkpatch.sh

build: tree-qemu
	@$(S)/build-qemu.sh

guest:
	@$(S)/build-guest.sh

# 'make check' also builds the spec's PDF: it installs TeX Live too
check:
	@$(S)/deps.sh spec-pdf
	@$(S)/check.py

check-harness:
	@$(S)/check.py harness

check-qtest: deps
	@$(S)/check.py qtest

check-e2e: deps
	@$(S)/check.py e2e

# The Debian guest's whole matrix (make check runs a short one)
check-debian: deps
	@$(S)/check-debian.sh

check-spec: deps
	@$(S)/check.py spec

check-known: deps
	@$(S)/check-known.sh

# The virtio spec as PDF, with the series (TeX Live: about 250 MB)
spec-pdf:
	@$(S)/deps.sh spec-pdf
	@$(S)/spec-pdf.sh

# Every commit of the QEMU and Linux series builds on its own (not part of
# 'check': a header patch rebuilds much of QEMU and of the kernel).
check-bisect: deps
	@$(S)/check-bisect.sh

check-asan: deps
	@$(S)/check-asan.sh

fuzz: deps
	@$(S)/fuzz.sh

soak: deps
	@$(S)/soak.sh

bench: deps
	@$(S)/bench.sh

fresh-debian:
	@$(S)/fresh-debian.sh $(RELEASE)

demo: deps build
	@$(S)/demo.sh

# Never remove a tree with something mounted in it (fresh-debian's root)
no-mounts = @! grep -q " $(CURDIR)/build/" /proc/mounts || \
	{ echo "mounts under build/ (an interrupted fresh-debian?): umount them first"; exit 1; }

clean:
	$(no-mounts)
	rm -rf build/*-build build/*-asan

distclean:
	$(no-mounts)
	rm -rf build
