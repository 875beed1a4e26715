#!/bin/sh
# One version everywhere: tetherd, tetherctl, the .deb (CPack) and the
# newest CHANGELOG.md entry all say the version of project() in CMakeLists.txt.
# usage: version.sh VERSION TETHERD TETHERCTL CPACKCONFIG CHANGELOG
set -eu
want=$1 tetherd=$2 tetherctl=$3 cpack=$4 changelog=$5
status=0

check() {  # what, got
    if [ "$2" = "$want" ]; then
        echo "ok   $1: $2"
    else
        echo "FAIL $1 says '$2', CMakeLists.txt says '$want'"
        status=1
    fi
}

check "tetherd --version" "$("$tetherd" --version | sed -n 's/^tether \([^ ]*\).*/\1/p')"
check "tetherctl --version" "$("$tetherctl" --version | sed -n 's/^tetherctl \([^ ]*\)$/\1/p')"
check "the .deb" "$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$cpack")"
check "CHANGELOG.md" "$(sed -n 's/^## \[\{0,1\}\([0-9][^] ]*\).*/\1/p' "$changelog" | head -n 1)"
exit $status
