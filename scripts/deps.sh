#!/bin/sh
# Install the Debian packages tether needs to build and test, and nothing
# else. Does nothing (and needs no network) when everything is present, so
# `make run` and `make test` can call it every time.
#
# With SKIP_DEPS=1 (a machine you manage yourself, or no apt at all) it only
# names what is missing, and the build goes on without it.
#
# usage: scripts/deps.sh [build|test|tidy|bench|fuzz|pkg|fresh|boot|cross-arm64|cross-armhf]...
#   build  compilers and -dev libraries (always included): all `make run` needs
#   test   what only the tests need (Catch2, python3, socat, nc; iproute2 and
#          nftables for the network lab of test_network.py; clang-format for
#          `make format-check`)
#   tidy   clang-tidy for `make tidy`
#   bench  peers and counters for `make bench` (supervisor, strace)
#   fuzz   clang with libFuzzer
#   pkg    packaging checks (systemd-analyze, shellcheck, devscripts)
#   fresh  `make fresh-check`: debootstrap for a minimal Debian root
#   boot   `make boot-check`: debootstrap, systemd-nspawn to boot roots, python3
#   cross-ARCH  cross compiler, multiarch -dev packages and qemu-user
set -eu

build="build-essential cmake pkg-config libuv1-dev libcurl4-openssl-dev
       nlohmann-json3-dev libpcre2-dev libinih-dev ca-certificates"
test="catch2 python3 socat netcat-openbsd procps iproute2 nftables clang-format"
tidy="clang-tidy"
bench="python3 supervisor strace procps"
fuzz="clang libclang-rt-14-dev"
pkg="systemd shellcheck devscripts dpkg-dev file"
fresh="debootstrap git"
boot="debootstrap systemd-container python3"
multiarch_libs="libuv1-dev libcurl4-openssl-dev libpcre2-dev libinih-dev"

wanted="$build"
foreign=""
for set in "$@"; do
    case "$set" in
        build) ;;
        test) wanted="$wanted $test" ;;
        tidy) wanted="$wanted $tidy" ;;
        bench) wanted="$wanted $bench" ;;
        fuzz) wanted="$wanted $fuzz" ;;
        pkg) wanted="$wanted $pkg" ;;
        fresh) wanted="$wanted $fresh" ;;
        boot) wanted="$wanted $boot" ;;
        cross-arm64|cross-armhf)
            arch=${set#cross-}
            foreign="$foreign $arch"
            wanted="$wanted crossbuild-essential-$arch qemu-user file"
            for lib in $multiarch_libs; do wanted="$wanted $lib:$arch"; done
            ;;
        *) echo "deps.sh: unknown package set '$set'" >&2; exit 2 ;;
    esac
done

if [ "${SKIP_DEPS:-0}" = 1 ] && ! command -v dpkg-query >/dev/null 2>&1; then
    exit 0  # not a Debian system: nothing to check against
fi
native=$(dpkg --print-architecture)

# Fully installed for the wanted architecture: "pkg" means the native one
# (or an arch-independent package), "pkg:arm64" that one. With foreign
# architectures enabled, dpkg-query prints one line per installed arch.
installed() {
    case "$1" in
        *:*) arch=${1#*:} ;;
        *) arch=$native ;;
    esac
    dpkg-query -W -f='${Status} ${Architecture}\n' "$1" 2>/dev/null |
        grep -Eq "^install ok installed ($arch|all)\$"
}

missing=""
for pkg in $wanted; do
    installed "$pkg" || missing="$missing $pkg"
done
[ -n "$missing" ] || exit 0

if [ "${SKIP_DEPS:-0}" = 1 ]; then
    echo "deps.sh: SKIP_DEPS=1, not installing:$missing" >&2
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps.sh: missing packages:$missing" >&2
    echo "deps.sh: run as root or install sudo, then try again" >&2
    exit 1
fi

for arch in $foreign; do
    dpkg --print-foreign-architectures | grep -qx "$arch" ||
        $sudo dpkg --add-architecture "$arch"
done
echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is intended
$sudo apt-get install -y -q --no-install-recommends $missing
