# qemu-freeze-mode: a patch queue for QEMU, Linux and the virtio spec.
# 'make help' lists the targets; README.rst explains them.

COMPONENTS := qemu linux virtio-spec
S := scripts

.PHONY: help deps fetch tree export checkpatch build check check-harness \
	check-qtest check-e2e check-spec spec-pdf check-bisect check-asan demo clean distclean $(addprefix tree-,$(COMPONENTS)) \
	$(addprefix export-,$(COMPONENTS))

help:
	@echo 'make demo        the main job: deps, build, and show what the series does'
	@echo 'make check       every test: harness, checkpatch, spec, qtests, guest S3'
	@echo 'make check-e2e   only the guest S3 matrix (tests/e2e)'
	@echo 'make check-spec  only the virtio spec series checks (tests/spec)'
	@echo 'make spec-pdf    the virtio spec with the series as PDF (TeX Live)'
	@echo 'make deps        install the Debian packages (apt-get; root)'
	@echo 'make tree        build/{qemu,linux,virtio-spec}: base + series (git)'
	@echo 'make export      write the trees'"'"' commits back to patches/'
	@echo 'make checkpatch  run QEMU'"'"'s and the kernel'"'"'s checkpatch.pl on the series'
	@echo 'make build       configure (once) and build QEMU in build/qemu-build'
	@echo 'make check-bisect build each commit of the QEMU and Linux series on its own'
	@echo 'make check-asan  the series'"'"' qtests under ASan/LSan (second build)'
	@echo 'make clean       remove build/qemu-build; distclean: all of build/'

deps:
	@$(S)/deps.sh

tree: $(addprefix tree-,$(COMPONENTS))
$(addprefix tree-,$(COMPONENTS)): tree-%:
	@$(S)/tree.sh $*

# Only the trees that exist are exported.
export:
	@for c in $(COMPONENTS); do \
		if [ -d build/$$c/.git ]; then $(S)/export.sh $$c || exit 1; fi; \
	done
$(addprefix export-,$(COMPONENTS)): export-%:
	@$(S)/export.sh $*

checkpatch:
	@$(S)/checkpatch.sh

build: tree-qemu
	@$(S)/build-qemu.sh

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

check-spec: deps
	@$(S)/check.py spec

# The virtio spec as PDF, with the series (TeX Live: about 250 MB)
spec-pdf:
	@$(S)/deps.sh spec-pdf
	@$(S)/spec-pdf.sh

# Every commit of the QEMU and Linux series builds on its own (not part of
# 'check': a header patch rebuilds much of QEMU and of the kernel).
check-bisect: deps
	@$(S)/check-bisect.sh

# The series' qtests under AddressSanitizer/LeakSanitizer (a second build)
check-asan: deps
	@$(S)/check-asan.sh

demo: deps build
	@$(S)/demo.sh

clean:
	rm -rf build/qemu-build

distclean:
	rm -rf build
