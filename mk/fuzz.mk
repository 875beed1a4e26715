# Fuzzing with libFuzzer (clang, -fsanitize=fuzzer,address,undefined); see
# fuzz/README.md. Uses JOBS from the Makefile.
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="request scanner config envfile cfreply"]
#                      every target for FUZZ_SECONDS each; fails on any crash,
#                      leak, hang or invariant violation (inputs kept in
#                      build-fuzz/results/<target>/). New corpus entries go to
#                      build-fuzz/new-corpus/, not to the committed corpus.
#   make fuzz-merge    fold build-fuzz/new-corpus and the seeds into a minimal
#                      fuzz/corpus/<target>/ (libFuzzer -merge=1)
#   make fuzz-replay   every corpus and regression input once, with libFuzzer
#   make fuzz-build    just build the targets

# Included anywhere in the Makefile, this must not become its default goal.
_fuzz_goal := $(.DEFAULT_GOAL)

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= request scanner config envfile cfreply
FUZZ_DIR     ?= build-fuzz
FUZZ_CXX     ?= clang++
# Passed to libFuzzer -merge=1 by fuzz-merge; empty keeps every hit-count
# feature too (a corpus ten to twenty times larger).
FUZZ_MERGE_FLAGS ?= -use_counters=0

.PHONY: fuzz fuzz-build fuzz-merge fuzz-replay

fuzz-build:
	@scripts/deps.sh fuzz
	@cmake -S fuzz -B $(FUZZ_DIR) -DCMAKE_CXX_COMPILER=$(FUZZ_CXX) >/dev/null
	@cmake --build $(FUZZ_DIR) -j$(JOBS)

fuzz: fuzz-build
	@fuzz/run.sh run $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	@FUZZ_MERGE_FLAGS="$(FUZZ_MERGE_FLAGS)" fuzz/run.sh merge $(FUZZ_DIR) $(FUZZ_TARGETS)

fuzz-replay: fuzz-build
	@fuzz/run.sh replay $(FUZZ_DIR) $(FUZZ_TARGETS)

.DEFAULT_GOAL := $(_fuzz_goal)
