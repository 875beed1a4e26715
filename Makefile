# The two set-up commands are `make run` and `make test`; both install any
# missing Debian packages first (scripts/deps.sh; SKIP_DEPS=1 only reports
# them) and build with CMake. `make run` needs only the build packages and
# builds only the two binaries; `make test` installs the test tools before
# it configures, so the tests are never configured without them.

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps configure build run test asan valgrind soak clean

all: build

deps:
	@scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# Foreground agent on the example config, socket and state under ./run/.
run: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS) --target tetherd tetherctl
	@mkdir -p run
	$(BUILD_DIR)/tetherd -c conf/tether.ini --socket run/tether.sock --state-dir run

test:
	@scripts/deps.sh test pkg
	@$(MAKE) --no-print-directory build
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# The whole suite again with ASan/UBSan (separate build directory).
asan:
	@$(MAKE) --no-print-directory test BUILD_DIR=build-asan BUILD_TYPE=Debug \
	    CMAKE_ARGS="-DTETHER_SANITIZE=ON"

# Integration tests with tetherd under valgrind (memcheck, leak check).
valgrind:
	@scripts/deps.sh test pkg
	@$(MAKE) --no-print-directory build
	cd $(BUILD_DIR) && TETHER_VALGRIND=1 ctest --output-on-failure -j$(JOBS) -R integration

clean:
	rm -rf build build-asan build-* run

# 100 flapping tunnels for SOAK_SECONDS (default 300) under ASan/UBSan:
# no leak, no zombie, no orphan, flat memory.
SOAK_SECONDS ?= 300
soak:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory build BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DTETHER_SANITIZE=ON"
	TETHER_BUILD_DIR=build-asan TETHER_SANITIZED=1 SOAK_SECONDS=$(SOAK_SECONDS) python3 test/soak/soak.py

include mk/cross.mk
include mk/bench.mk
include mk/fuzz.mk
include mk/packaging.mk
include mk/fresh.mk
include mk/boot.mk
include mk/style.mk
