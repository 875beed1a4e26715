#!/bin/sh
# make fresh-check: the README's two commands, as a new user meets them, on
# a minimal Debian (debootstrap --variant=minbase, plus only git, make and
# ca-certificates). The current commit is cloned into a fresh copy of that
# root and, inside it:
#   1. `make run` starts the agent, which answers `ping` on ./run/tether.sock,
#      and nothing only the tests need (python3, Catch2) was installed for it;
#   2. `make test` passes.
# `make run` goes first so that it meets the root untouched. Each step runs
# in a chroot inside its own mount and pid namespaces, so nothing it starts
# or mounts outlives it. On failure the step's last lines are printed and
# the exit status is 1.
#
# usage: test/lab/fresh-check.sh    (root; KEEP=1 keeps the work folder)
set -eu

LAB_NAME=fresh-check
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/lab/roots.sh
. "$repo/test/lab/roots.sh"

PATH_IN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN_TIMEOUT=${RUN_TIMEOUT:-1200}  # s: apt-get and the build come first

# Inside the namespaces: mount what a booted system has, then run one step.
if [ "${1:-}" = --inside ]; then
    root=$2 step=$3
    # The root must be a mount point, as / is on a booted system: `ip netns
    # exec` and `ip -n` make / a slave mount, which fails on a plain folder.
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/run"
    mkdir -p "$root/var/cache/apt/archives"
    mount --bind "$LAB_CACHE/apt-archives" "$root/var/cache/apt/archives"
    inroot() { chroot "$root" env -i PATH=$PATH_IN HOME=/root LANG=C.UTF-8 TERM=dumb "$@"; }
    case "$step" in
        test)
            inroot sh -c 'cd /src/tether && make test'
            ;;
        run)
            sock=/src/tether/run/tether.sock
            inroot sh -c 'cd /src/tether && exec make run' &
            maker=$!
            waited=0
            until [ -S "$root$sock" ]; do
                if ! kill -0 "$maker" 2>/dev/null; then
                    wait "$maker" || true
                    echo "make run ended before the agent's socket appeared" >&2
                    exit 1
                fi
                [ "$waited" -lt "$RUN_TIMEOUT" ] || { echo "no socket after ${RUN_TIMEOUT}s" >&2; exit 1; }
                sleep 1
                waited=$((waited + 1))
            done
            reply=$(inroot /src/tether/build/tetherctl -s "$sock" -t 10 ping)
            echo "ping: $reply"
            [ "$reply" = "OK pong" ] || { echo "expected 'OK pong'" >&2; exit 1; }
            for tool in python3 catch2; do
                # shellcheck disable=SC2016 # a dpkg-query format, not the shell's
                if inroot dpkg-query -W -f='${Status}\n' "$tool" 2>/dev/null | grep -q 'ok installed'; then
                    echo "make run installed $tool, which only the tests need" >&2
                    exit 1
                fi
            done
            # The agent must stop cleanly on SIGTERM, as under an init.
            pkill -TERM -x tetherd
            status=0
            wait "$maker" || status=$?
            [ "$status" -eq 0 ] || { echo "make run ended with status $status after SIGTERM" >&2; exit 1; }
            ;;
    esac
    exit 0
fi

[ "$(id -u)" -eq 0 ] || lab_die "needs root (debootstrap, chroot, mount)"
commit=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    lab_say "note: uncommitted changes are not part of the check; it tests commit $commit"
fi

tarball=$(lab_root minbase git,make,ca-certificates)
mkdir -p "$LAB_CACHE/apt-archives"
work=$(mktemp -d /var/tmp/tether-fresh.XXXXXX)
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then lab_say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
lab_unpack "$tarball" "$work/root"
git clone -q --no-hardlinks "$repo" "$work/root/src/tether"
git -C "$work/root/src/tether" checkout -q --detach "$commit"
lab_say "commit $commit in a fresh copy of the root ($work)"

for step in run test; do
    started=$(date +%s)
    log="$work/$step.log"
    if unshare --mount --pid --fork --mount-proc --propagation private "$0" --inside "$work/root" "$step" >"$log" 2>&1; then
        lab_say "ok   make $step ($(($(date +%s) - started))s)"
    else
        echo "$LAB_NAME: FAILED: make $step; the last lines of its log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
done
lab_say "passed: make run and make test work on a minimal $(lab_codename)"
