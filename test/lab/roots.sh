# Pristine Debian roots for the labs (`make fresh-check`), sourced by their
# scripts. A root is made once with debootstrap from this machine's own apt
# sources, kept as a tarball under LAB_CACHE (outside the work tree, so a
# clean clone reuses it), and unpacked into a fresh folder for every run:
# no run can see what an earlier one installed.

LAB_CACHE=${LAB_CACHE:-/var/cache/tether-lab}

lab_say() { echo "$LAB_NAME: $*"; }

lab_die() {
    echo "$LAB_NAME: FAILED: $*" >&2
    exit 1
}

# The Debian release this machine runs, and the mirror its apt uses for it
# (deb822 .sources or one-line .list files); the default mirror otherwise.
lab_codename() {
    # shellcheck disable=SC1091 # the machine's own file
    . /etc/os-release
    echo "${VERSION_CODENAME:?/etc/os-release names no codename}"
}

lab_mirror() {
    codename=$1
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v want="$codename" '
            /^[ \t]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == want) hit = 1 }
            END { if (uri != "" && hit) print uri }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v want="$codename" '$1 == "deb" && $0 !~ /\[/ && $3 == want { print $2 }' "$f"
    done
    echo "http://deb.debian.org/debian"
}

# lab_root NAME "PACKAGES" ["LATER"]: the path of the cached tarball of a
# minbase root with PACKAGES added, built on first use. LATER (optional,
# space-separated) is installed afterwards with apt-get in a chroot, for a
# package that must replace one debootstrap's resolver picks (openrc for
# sysv-rc). NAME must change whenever the package lists do.
lab_root() {
    name=$1 include=$2 later=${3:-}
    codename=$(lab_codename)
    tarball="$LAB_CACHE/$codename-$name.tar"
    if [ -f "$tarball" ]; then
        lab_say "root: $tarball (cached)" >&2
        echo "$tarball"
        return
    fi
    mirror=$(lab_mirror "$codename" | head -n 1)
    mkdir -p "$LAB_CACHE"
    build=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
    lab_say "root: debootstrap --variant=minbase $codename from $mirror (once; cached as $tarball)" >&2
    if ! debootstrap --variant=minbase --include="$include" "$codename" "$build/root" "$mirror" \
            >"$build/debootstrap.log" 2>&1; then
        tail -n 30 "$build/debootstrap.log" >&2
        rm -rf "$build"
        lab_die "debootstrap of the $name root"
    fi
    if [ -n "$later" ] && ! lab_apt_install "$build/root" "$later" >>"$build/debootstrap.log" 2>&1; then
        tail -n 30 "$build/debootstrap.log" >&2
        rm -rf "$build"
        lab_die "apt-get install $later in the $name root"
    fi
    # An unfinished tarball must never be taken for a pristine root.
    tar -C "$build/root" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$build"
    echo "$tarball"
}

# lab_chroot ROOT COMMAND...: run COMMAND in the root, as at image build
# time: in its own mount and pid namespaces with /proc mounted, a clean
# environment, and no service started by a maintainer script.
lab_chroot() {
    printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
    chmod 0755 "$1/usr/sbin/policy-rc.d"
    # shellcheck disable=SC2016 # expanded by the inner shell
    unshare --mount --pid --fork --propagation private sh -c '
        root=$1
        shift
        mount -t proc proc "$root/proc" &&
        exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
            DEBIAN_FRONTEND=noninteractive "$@"
    ' lab-chroot "$@"
    rc=$?
    rm -f "$1/usr/sbin/policy-rc.d"
    return "$rc"
}

# lab_apt_install ROOT "PACKAGES": apt-get install from the mirror, then the
# package cache emptied.
lab_apt_install() {
    cp /etc/resolv.conf "$1/etc/resolv.conf"
    lab_chroot "$1" sh -c "apt-get update -q && apt-get install -y -q --no-install-recommends $2 && apt-get clean"
}

# lab_unpack TARBALL DIR: a fresh copy of the root, with the host's resolver
# so its apt can reach the same mirror.
lab_unpack() {
    mkdir -p "$2"
    tar -C "$2" --numeric-owner -xpf "$1"
    cp /etc/resolv.conf "$2/etc/resolv.conf"
}
