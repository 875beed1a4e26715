#!/bin/sh
# Runs the libFuzzer targets built in BUILD_DIR (mk/fuzz.mk builds them).
#
#   fuzz/run.sh run BUILD_DIR SECONDS TARGET...
#       each target for SECONDS, starting from fuzz/corpus/T, the seeds
#       (fuzz/seeds.py) and fuzz/regressions/T; new inputs go to
#       BUILD_DIR/new-corpus/T (never the committed corpus), crashes, leaks,
#       timeouts and OOMs to BUILD_DIR/results/T/, the log to
#       BUILD_DIR/results/T.log. Every target runs; fails if any crashed.
#   fuzz/run.sh merge BUILD_DIR TARGET...
#       fuzz/corpus/T becomes the minimal set (libFuzzer -merge=1) covering
#       the committed corpus, BUILD_DIR/new-corpus/T and the seeds.
#       Regressions stay where they are. $FUZZ_MERGE_FLAGS (default
#       -use_counters=0: a set covering every edge, rather than every hit
#       count of every edge, which is ten to twenty times larger) is passed on.
#   fuzz/run.sh replay BUILD_DIR TARGET...
#       every corpus and regression input once.
set -eu
cd "$(dirname "$0")/.."

mode=$1 build=$2
shift 2
if [ "$mode" = run ]; then
    seconds=$1
    shift
fi
[ $# -gt 0 ] || { echo "usage: fuzz/run.sh run|merge|replay BUILD_DIR [SECONDS] TARGET..." >&2; exit 2; }

# Long enough for lines past the 4096-byte limits and the largest capture.
max_len() {
    case "$1" in
        request) echo 12000 ;;
        scanner) echo 16384 ;;
        config) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

# "DONE cov: 1061 ft: 7383 corp: 394/368Kb ... exec/s: 142" and final stats.
summary() {
    awk -v t="$1" '
        /(DONE|INITED) +cov:/ { for (i = 1; i <= NF; i++) { if ($i == "cov:") cov = $(i+1); if ($i == "ft:") ft = $(i+1); if ($i == "corp:") corp = $(i+1) } }
        /^stat::number_of_executed_units:/ { runs = $2 }
        /^stat::average_exec_per_sec:/ { eps = $2 }
        /^stat::new_units_added:/ { added = $2 }
        /^stat::peak_rss_mb:/ { rss = $2 }
        END { printf "fuzz: %-8s %8s runs %6s exec/s  cov %5s  ft %6s  corpus %s (+%s new)  rss %s MB\n", t, runs, eps, cov, ft, corp, added, rss }
    ' "$2"
}

for t in "$@"; do
    [ -x "$build/fuzz_$t" ] || { echo "fuzz: $build/fuzz_$t is not built" >&2; exit 2; }
done

seeds() {
    rm -rf "$build/seeds"
    python3 fuzz/seeds.py "$build/seeds" >/dev/null
}

case "$mode" in
run)
    seeds
    failed=""
    for t in "$@"; do
        res="$build/results/$t"
        rm -rf "$res" "$build/results/$t.log"
        mkdir -p "$res" "$build/new-corpus/$t"
        echo "fuzz: $t for $seconds s (log: $build/results/$t.log)"
        # -timeout: an input that takes 10 s is a hang, kept like a crash.
        if ! "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -max_len="$(max_len "$t")" \
                -dict="fuzz/dict/$t.dict" -artifact_prefix="$res/" -print_final_stats=1 \
                "$build/new-corpus/$t" "fuzz/corpus/$t" "$build/seeds/$t" "fuzz/regressions/$t" \
                >"$build/results/$t.log" 2>&1; then
            failed="$failed $t"
            grep -E "^(SUMMARY|==[0-9]+==ERROR)|invariant violated|Test unit written|^[^ ]*: *[^ ]*: *terminate|what\(\)" \
                "$build/results/$t.log" | sed 's/^/    /' | head -n 12
        fi
        summary "$t" "$build/results/$t.log"
    done
    if [ -n "$failed" ]; then
        echo "fuzz: FAILED:$failed; inputs in $build/results/<target>/, logs in $build/results/<target>.log" >&2
        echo "fuzz: minimise one with: $build/fuzz_<target> -minimize_crash=1 -max_total_time=60 -exact_artifact_path=OUT INPUT" >&2
        exit 1
    fi
    echo "fuzz: no crash in:$*; new inputs in $build/new-corpus/ ('make fuzz-merge' folds them into fuzz/corpus/)"
    ;;
merge)
    seeds
    rm -rf "$build/merged"
    for t in "$@"; do
        mkdir -p "$build/merged/$t" "$build/new-corpus/$t" "fuzz/corpus/$t"
        # shellcheck disable=SC2086 # flags are words
        if ! "$build/fuzz_$t" -merge=1 ${FUZZ_MERGE_FLAGS--use_counters=0} -max_len="$(max_len "$t")" "$build/merged/$t" \
                "fuzz/corpus/$t" "$build/new-corpus/$t" "$build/seeds/$t" >"$build/merge-$t.log" 2>&1; then
            echo "fuzz-merge: $t failed, see $build/merge-$t.log" >&2
            exit 1
        fi
        rm -rf "fuzz/corpus/$t"
        mv "$build/merged/$t" "fuzz/corpus/$t"
        printf 'fuzz-merge: %-8s %4d files, %s\n' "$t" "$(find "fuzz/corpus/$t" -type f | wc -l)" \
            "$(du -sh --apparent-size "fuzz/corpus/$t" | cut -f1)"
    done
    ;;
replay)
    for t in "$@"; do
        "$build/fuzz_$t" -runs=0 -max_len="$(max_len "$t")" "fuzz/corpus/$t" "fuzz/regressions/$t" \
            >"$build/replay-$t.log" 2>&1 || { echo "fuzz-replay: $t FAILED, see $build/replay-$t.log" >&2; exit 1; }
        echo "fuzz-replay: $t ok ($(find "fuzz/corpus/$t" "fuzz/regressions/$t" -type f ! -name '.*' | wc -l) inputs)"
    done
    ;;
*)
    echo "fuzz/run.sh: unknown mode '$mode'" >&2
    exit 2
    ;;
esac
