# Cross-builds for ARM boards with Debian's cross compilers and multiarch
# -dev packages; see docs/ARM.md. Uses JOBS and CMAKE_ARGS from the Makefile.
#   make cross ARCH=arm64|armhf       tetherd, tetherctl, unit_tests in build-ARCH
#   make test-cross ARCH=arm64|armhf  the unit tests under qemu-user

# Included anywhere in the Makefile, this must not become its default goal.
_cross_goal := $(.DEFAULT_GOAL)

ARCH             ?= arm64
# MinSizeRel: boards have small SD cards and little RAM (see docs/ARM.md).
CROSS_BUILD_TYPE ?= MinSizeRel
CROSS_DIR         = build-$(ARCH)
TRIPLET_arm64    := aarch64-linux-gnu
TRIPLET_armhf    := arm-linux-gnueabihf
TRIPLET           = $(TRIPLET_$(ARCH))

.PHONY: cross test-cross cross-arch

cross-arch:
	@[ -n "$(TRIPLET)" ] || { echo "make: unknown ARCH '$(ARCH)': use ARCH=arm64 or ARCH=armhf" >&2; exit 2; }

# Integration tests are left out: they need the host's Python driving
# tetherd and a host-built fake cloudflared.
cross: cross-arch
	@scripts/deps.sh cross-$(ARCH)
	@cmake -S . -B $(CROSS_DIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/toolchain-debian-cross.cmake \
	    -DTETHER_CROSS_ARCH=$(ARCH) -DCMAKE_BUILD_TYPE=$(CROSS_BUILD_TYPE) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(CROSS_DIR) -j$(JOBS) --target tetherd tetherctl unit_tests
	@file $(CROSS_DIR)/tetherd
	@mkdir -p $(CROSS_DIR)/stripped
	@for b in tetherd tetherctl; do \
	    $(TRIPLET)-strip -o $(CROSS_DIR)/stripped/$$b $(CROSS_DIR)/$$b && \
	    printf '%-9s %9d bytes, %9d stripped (%s)\n' $$b \
	        $$(stat -c %s $(CROSS_DIR)/$$b) $$(stat -c %s $(CROSS_DIR)/stripped/$$b) \
	        $(CROSS_DIR)/stripped/$$b || exit 1; \
	done

# Through ctest so the toolchain's CMAKE_CROSSCOMPILING_EMULATOR (qemu) is
# what runs the binary, as it would for anyone calling ctest by hand.
test-cross: cross
	cd $(CROSS_DIR) && ctest -R '^unit$$' --output-on-failure

.DEFAULT_GOAL := $(_cross_goal)
