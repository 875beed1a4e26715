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

# lab_root NAME "PACKAGES": the path of the cached tarball of a minbase root
# with PACKAGES added, built on first use.
lab_root() {
    name=$1 include=$2
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
    # An unfinished tarball must never be taken for a pristine root.
    tar -C "$build/root" --numeric-owner -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$build"
    echo "$tarball"
}

# lab_unpack TARBALL DIR: a fresh copy of the root, with the host's resolver
# so its apt can reach the same mirror.
lab_unpack() {
    mkdir -p "$2"
    tar -C "$2" --numeric-owner -xpf "$1"
    cp /etc/resolv.conf "$2/etc/resolv.conf"
}
