#!/bin/sh
# The house style, run from anywhere (docs: README.md, Code style).
#
# usage: scripts/style.sh format        every C++ source matches .clang-format
#        scripts/style.sh tidy BUILD_DIR clang-tidy with .clang-tidy over agent/,
#                                        from BUILD_DIR/compile_commands.json
#
# Both exit non-zero naming what is wrong; neither changes a file. To fix
# the layout: clang-format -i FILE.
set -eu
cd "$(dirname "$0")/.."

sources() {
    ls agent/*.cpp agent/*.hpp test/unit/*.cpp test/unit/*.hpp bench/*.cpp fuzz/*.cpp fuzz/*.hpp
}

need() {
    command -v "$1" >/dev/null 2>&1 || {
        echo "style.sh: $1 is missing: run scripts/deps.sh test (Debian package $2)" >&2
        exit 1
    }
}

case "${1:-}" in
    format)
        need clang-format clang-format
        # shellcheck disable=SC2046  # file names have no spaces
        clang-format --dry-run --Werror $(sources) || {
            echo "style.sh: the files above differ from .clang-format; fix with clang-format -i FILE" >&2
            exit 1
        }
        ;;
    tidy)
        need clang-tidy clang-tidy
        build=${2:-build}
        [ -f "$build/compile_commands.json" ] || {
            echo "style.sh: no $build/compile_commands.json: configure first (make build)" >&2
            exit 1
        }
        # One file at a time and at low priority: slow, but it leaves the
        # machine usable, and each file's findings come out as they are found.
        failed=0
        for f in agent/*.cpp; do
            nice -n 10 clang-tidy -p "$build" --quiet "$f" 2>/dev/null || failed=1
        done
        [ "$failed" = 0 ] || { echo "style.sh: clang-tidy found the problems above (.clang-tidy)" >&2; exit 1; }
        ;;
    *)
        echo "usage: scripts/style.sh format | tidy [BUILD_DIR]" >&2
        exit 2
        ;;
esac
