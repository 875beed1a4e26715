#!/bin/sh
# Static checks of the packaging files (`make check-packaging`).
# usage: test/packaging/check.sh BUILD_DIR/tetherd
# Needs systemd-analyze, shellcheck, checkbashisms (scripts/deps.sh pkg).
set -u
tetherd=$(realpath "${1:?usage: check.sh PATH/TO/tetherd}") || exit 2
cd "$(dirname "$0")/../.." || exit 2
failed=0

# check WHAT COMMAND...: run it, show its output only when it fails.
check() {
    what=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok    $what"
    else
        echo "FAIL  $what"
        printf '%s\n' "$out" | sed 's/^/      /'
        failed=$((failed + 1))
    fi
}

# systemd-analyze verify exits 0 on mere warnings (an unknown key, ...):
# any line about the unit counts as a failure.
verify_unit() {
    dir=$(mktemp -d) || return 1
    sed "s|^ExecStart=/usr/bin/tetherd|ExecStart=$tetherd|" scripts/tetherd.service >"$dir/tetherd.service"
    out=$(systemd-analyze verify "$dir/tetherd.service" 2>&1)
    rc=$?
    rm -rf "$dir"
    printf '%s\n' "$out" | grep -F tetherd
    [ "$rc" -eq 0 ] && ! printf '%s\n' "$out" | grep -qF tetherd
}

[ -x "$tetherd" ] || { echo "check.sh: $tetherd is not an executable" >&2; exit 2; }
check "systemd-analyze verify tetherd.service" verify_unit

for f in scripts/init.d/tetherd scripts/debian/postinst scripts/debian/prerm scripts/debian/postrm; do
    check "sh -n $f" sh -n "$f"
    check "shellcheck $f" shellcheck -s sh "$f"
    check "checkbashisms $f" checkbashisms "$f"
done
# Its shebang is openrc-run: the shell is declared inside, and
# checkbashisms needs -f to look at it.
check "sh -n scripts/openrc/tetherd" sh -n scripts/openrc/tetherd
check "shellcheck scripts/openrc/tetherd" shellcheck scripts/openrc/tetherd
check "checkbashisms scripts/openrc/tetherd" checkbashisms -f scripts/openrc/tetherd

check "bash -n scripts/tetherctl.bash-completion" bash -n scripts/tetherctl.bash-completion
check "shellcheck scripts/tetherctl.bash-completion" shellcheck scripts/tetherctl.bash-completion

for f in test/packaging/check.sh test/packaging/deb_roundtrip.sh test/packaging/version.sh \
    scripts/deps.sh scripts/style.sh test/lab/fresh-check.sh test/lab/roots.sh test/lab/boot-check.sh; do
    check "shellcheck $f" shellcheck -x -s sh "$f"
done

if [ "$failed" -ne 0 ]; then
    echo "check.sh: $failed packaging check(s) failed" >&2
    exit 1
fi
echo "check.sh: all packaging checks passed"
