# `make bench`: every performance figure of the README, measured in one run
# next to supervisord and a shell loop (bench/run.py; about 3 minutes on two
# cores). A Release build of its own, in BENCH_DIR; results also go to
# BENCH_DIR/bench.json. Uses JOBS and CMAKE_ARGS from the Makefile.

# Included anywhere in the Makefile, this must not become its default goal.
_bench_goal := $(.DEFAULT_GOAL)

BENCH_DIR ?= build-release

.PHONY: bench

bench:
	@scripts/deps.sh bench
	@cmake -S . -B $(BENCH_DIR) -DCMAKE_BUILD_TYPE=Release -DTETHER_BENCH=ON $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BENCH_DIR) -j$(JOBS) --target tetherd fake_cloudflared scan_bench list_load
	python3 bench/run.py --build $(BENCH_DIR)

.DEFAULT_GOAL := $(_bench_goal)
