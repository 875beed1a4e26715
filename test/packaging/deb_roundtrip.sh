#!/bin/sh
# Install, remove, reinstall and purge a tether .deb on this machine, and
# check each step. Builds nothing; needs root; refuses to touch a machine
# where tether is already installed, and purges the package if it fails.
# usage: test/packaging/deb_roundtrip.sh PATH/TO/tether_VERSION_ARCH.deb
set -u
deb=${1:?usage: deb_roundtrip.sh PATH/TO/tether.deb}
step=""

fail() {
    echo "FAIL  $step: $*" >&2
    exit 1
}
ok() { echo "ok    $step: $*"; }

# Our processes only: other tetherd processes (a test suite) may run here.
packaged_agents() {
    for exe in /proc/[0-9]*/exe; do
        [ "$(readlink "$exe" 2>/dev/null)" = /usr/bin/tetherd ] && echo "${exe%/exe}"
    done
}
no_agent_running() {
    [ -z "$(packaged_agents)" ] || fail "a packaged tetherd is running: $(packaged_agents)"
}
status() { dpkg-query -W -f='${Status}' tether 2>/dev/null; }
known_to_dpkg() {
    case $(status) in "" | *not-installed) return 1 ;; esac
}
# dpkg's output only when it fails; never a question on the terminal.
dpkg_quiet() { dpkg "$@" </dev/null >"$log" 2>&1 || { cat "$log"; false; }; }

step="preconditions"
[ "$(id -u)" -eq 0 ] || fail "must run as root: it installs and removes the package"
[ -f "$deb" ] || fail "no such file: $deb"
! known_to_dpkg || fail "tether is already known to dpkg ($(status)); purge it first"
for f in /usr/bin/tetherd /etc/tether; do
    [ ! -e "$f" ] || fail "$f exists (make install?): the package would take it over"
done
log=$(mktemp)
trap 'rm -f "$log"; if known_to_dpkg; then dpkg -P tether >/dev/null 2>&1; fi' EXIT
ok "root, $(basename "$deb"), no tether installed"

step="dpkg -i"
dpkg_quiet -i "$deb" || fail "dpkg -i failed"
[ "$(status)" = "install ok installed" ] || fail "status: $(status)"
for bin in tetherd tetherctl; do
    [ -x /usr/bin/$bin ] || fail "/usr/bin/$bin missing"
done
/usr/bin/tetherd --version >/dev/null || fail "tetherd --version fails (missing library?)"
/usr/bin/tetherd --check-config -c /etc/tether/tether.ini >/dev/null || fail "shipped tether.ini is invalid"
dpkg-query -W -f='${Conffiles}' tether | grep -q ' /etc/tether/tether.ini ' || fail "tether.ini is not a conffile"
[ -f /lib/systemd/system/tetherd.service ] || fail "unit missing"
[ -x /etc/init.d/tetherd ] || fail "init script missing"
getent passwd tether | grep -q ':/nonexistent:' || fail "no system user tether: $(getent passwd tether)"
[ "$(stat -c '%U:%G %a' /etc/tether)" = "root:tether 770" ] || fail "/etc/tether is $(stat -c '%U:%G %a' /etc/tether)"
no_agent_running
ok "binaries, tether.ini (conffile), unit, init script, user tether, /etc/tether root:tether 0770, no agent started"

step="dpkg -r"
dpkg_quiet -r tether || fail "dpkg -r failed"
[ "$(status)" = "deinstall ok config-files" ] || fail "status: $(status)"
for f in /usr/bin/tetherd /usr/bin/tetherctl /lib/systemd/system/tetherd.service; do
    [ ! -e "$f" ] || fail "$f is still there"
done
[ -f /etc/tether/tether.ini ] || fail "the conffile went with dpkg -r"
no_agent_running
ok "binaries and unit gone, conffiles kept, nothing running"

step="dpkg -i again"
echo "; edited by deb_roundtrip" >>/etc/tether/tether.ini
dpkg_quiet -i "$deb" || fail "dpkg -i failed"
[ "$(status)" = "install ok installed" ] || fail "status: $(status)"
grep -q '^; edited by deb_roundtrip' /etc/tether/tether.ini || fail "the operator's edit of tether.ini was lost"
no_agent_running
ok "reinstalled, the edited tether.ini kept"

step="dpkg -P"
echo "CF_TUNNEL_TOKEN_X=operator-data" >/etc/tether/tunnels.env
dpkg_quiet -P tether || fail "dpkg -P failed"
! known_to_dpkg || fail "status: $(status)"
for f in /usr/bin/tetherd /etc/tether/tether.ini /etc/init.d/tetherd /lib/systemd/system/tetherd.service; do
    [ ! -e "$f" ] || fail "$f is still there"
done
[ -f /etc/tether/tunnels.env ] || fail "purge removed the operator's tunnels.env"
rm -f /etc/tether/tunnels.env
rmdir /etc/tether
no_agent_running
ok "all gone but tunnels.env (operator data) and the user tether (Debian policy)"
