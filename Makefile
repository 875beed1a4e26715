# The two set-up commands are `make run` and `make test`; both install any
# missing Debian packages first (scripts/deps.sh) and build with CMake.

BUILD_DIR  ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps build run test asan valgrind soak clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# Foreground agent on the example config, socket and state under ./run/.
run: build
	@mkdir -p run
	$(BUILD_DIR)/tetherd -c conf/tether.ini --socket run/tether.sock --state-dir run

test: build
	@scripts/deps.sh test pkg
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

# The whole suite again with ASan/UBSan (separate build directory).
asan:
	@$(MAKE) --no-print-directory test BUILD_DIR=build-asan BUILD_TYPE=Debug \
	    CMAKE_ARGS="-DTETHER_SANITIZE=ON"

# Integration tests with tetherd under valgrind (memcheck, leak check).
valgrind: build
	@scripts/deps.sh test pkg
	cd $(BUILD_DIR) && TETHER_VALGRIND=1 ctest --output-on-failure -j$(JOBS) -R integration

clean:
	rm -rf build build-asan build-* run

# 100 flapping tunnels for SOAK_SECONDS (default 300) under ASan/UBSan:
# no leak, no zombie, no orphan, flat memory.
SOAK_SECONDS ?= 300
soak:
	@$(MAKE) --no-print-directory build BUILD_DIR=build-asan BUILD_TYPE=Debug CMAKE_ARGS="-DTETHER_SANITIZE=ON"
	@scripts/deps.sh test
	TETHER_BUILD_DIR=build-asan TETHER_SANITIZED=1 SOAK_SECONDS=$(SOAK_SECONDS) python3 test/soak/soak.py

include mk/cross.mk
include mk/bench.mk
include mk/fuzz.mk
include mk/packaging.mk
