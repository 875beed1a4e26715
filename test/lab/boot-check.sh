#!/bin/sh
# make boot-check: the .deb installed into fresh Debian roots and run by a
# real init as PID 1, under systemd-nspawn (host network, loopback only).
#
# systemd root (systemd, systemd-sysv, dbus):
#   1. at boot tetherd is active (READY), its autostart tunnels run, and
#      `systemctl status` shows the agent's STATUS line;
#   2. tetherctl works for a user in the socket's group (and allow_uids), is
#      refused for one outside it (and for one not in allow_uids);
#   3. SIGSTOP: the watchdog kills and restarts the agent within
#      WatchdogSec + 5 s, then exactly one cloudflared per tunnel;
#   4. `systemctl stop` leaves no cloudflared; `systemctl restart` brings the
#      same tunnels back, once each;
#   5. a reboot brings the autostart tunnels back; runtime-started ones are
#      forgotten (state_dir under /run, the default);
#   6. a power cut (SIGKILL to the container's init) while tunnels are being
#      provisioned against the API fake and started: the env file and state
#      file (state_dir = /var/lib/tether) are whole, with their modes and
#      owners, and the next boot runs every tunnel once;
#   7. `apt-get remove` keeps the conffiles, `dpkg --purge` removes them and
#      the state, and keeps the user and the operator's files.
# sysvinit root (sysvinit-core) and OpenRC root (sysvinit-core + openrc):
#   8. the service starts at boot; `service` / `rc-service` status, stop,
#      start, restart do what they say with LSB exit codes; stop leaves no
#      cloudflared;
#   9. logrotate's snippet rotates /var/log/tetherd.log while the agent
#      writes to it (it reopens the file on SIGUSR1), and no line is lost.
# Each root is installed as an image is built: dpkg -i and the enable step
# in a chroot before the first boot. The fake cloudflared is
# /usr/bin/cloudflared there. Waits are bounded polls. Every container,
# process and folder is removed at exit (KEEP=1 keeps the folder).
#
# usage: test/lab/boot-check.sh build-deb/tether_VERSION_ARCH.deb   (root)
#   BOOT_ONLY="systemd sysvinit openrc": the roots to check (default all)
set -u

LAB_NAME=boot-check
repo=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=test/lab/roots.sh
. "$repo/test/lab/roots.sh"

deb=${1:?usage: boot-check.sh PATH/TO/tether.deb}
[ "$(id -u)" -eq 0 ] || lab_die "needs root (debootstrap, systemd-nspawn)"
[ -f "$deb" ] || lab_die "no such package: $deb"
for tool in systemd-nspawn nsenter setpriv python3 cc; do
    command -v "$tool" >/dev/null || lab_die "$tool is missing (scripts/deps.sh boot)"
done

# The package sets are part of the cache key: change a list, change its name.
LIBS=libuv1,libcurl4,libpcre2-8-0,libinih1
SYSV=sysvinit-core,init-system-helpers,logrotate,$LIBS

PATH_IN=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
started_at=$(date +%s)
failures=0
nspawn_pid="" init_pid="" api_pid="" storm_pid=""
work=$(mktemp -d /var/tmp/tether-boot.XXXXXX)

# ---------------------------------------------------------------- plumbing

cleanup() {
    [ -z "$storm_pid" ] || kill -KILL "$storm_pid" 2>/dev/null
    container_kill
    if [ -n "$api_pid" ]; then
        kill "$api_pid" 2>/dev/null
        wait "$api_pid" 2>/dev/null
    fi
    if [ "${KEEP:-0}" = 1 ]; then lab_say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# poll SECONDS COMMAND...: until COMMAND succeeds; 1 after SECONDS.
poll() {
    limit=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$limit" ] || return 1
        sleep 0.2
    done
}

# The agent's log and the console of the current container, for a failure.
show_logs() {
    echo "     --- last lines of the agent's log ---"
    if [ "$kind" = systemd ] && [ -n "$init_pid" ]; then
        inside journalctl -u tetherd -n 25 --no-pager 2>&1 | indent
    else
        tail -n 25 "$root/var/log/tetherd.log" 2>&1 | indent
    fi
    echo "     --- last lines of the console ---"
    tail -n 10 "$work/console.log" 2>/dev/null | indent
}

# Log lines indented, without the console's colours and control bytes.
indent() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g' | tr -cd '\11\12\40-\176' | awk '{ print "     " $0 }'; }
ok() { echo "ok   $1 $2"; }
fail() {
    echo "FAIL $1 $2: $3"
    failures=$((failures + 1))
    show_logs
}
# check N DESCRIPTION FUNCTION: the function fails with the reason in $why.
check() {
    why=""
    if "$3"; then ok "$1" "$2"; else fail "$1" "$2" "${why:-failed}"; fi
}
# say_why REASON: fail with REASON in $why.
say_why() { why=$*; return 1; }

# ----------------------------------------------------------- the container

# boot: systemd-nspawn boots $root; $init_pid is its PID 1 (as seen here).
boot() {
    : >"$work/console.log"
    systemd-nspawn --register=no --keep-unit --quiet --console=read-only \
        -D "$root" --boot </dev/null >>"$work/console.log" 2>&1 &
    nspawn_pid=$!
    init_pid=""
    poll 20 find_init || { why="no init process in the container"; return 1; }
    case $kind in
        systemd)
            poll 90 booted || { why="boot did not finish: $state"; return 1; }
            [ "$state" = running ] ||
                lab_say "note: boot $state: $(inside systemctl --failed --no-legend --plain | tr '\n' ' ')"
            ;;
        *) poll 60 inside_quiet sh -c 'runlevel | grep -q " [2-5]$"' || { why="no runlevel 2-5"; return 1; } ;;
    esac
}

# systemd has finished booting (its bus may not answer at first).
booted() {
    state=$(inside systemctl is-system-running 2>&1)
    case $state in running | degraded) return 0 ;; *) return 1 ;; esac
}

find_init() {
    kill -0 "$nspawn_pid" 2>/dev/null || return 1
    for child in $(pgrep -P "$nspawn_pid"); do
        if [ "$(readlink "/proc/$child/ns/pid")" != "$(readlink /proc/self/ns/pid)" ]; then
            init_pid=$child
            # Wait until init has exec'ed and answers.
            inside_quiet true && return 0
        fi
    done
    return 1
}

inside() {
    nsenter -t "$init_pid" -a env -i PATH=$PATH_IN HOME=/root LANG=C.UTF-8 TERM=dumb "$@"
}
inside_quiet() { inside "$@" >/dev/null 2>&1; }
# as USER COMMAND...: with the user's own groups, as after a login.
as() {
    user=$1
    shift
    inside setpriv --reuid "$user" --regid "$user" --init-groups "$@"
}

nspawn_gone() { ! kill -0 "$nspawn_pid" 2>/dev/null; }

# poweroff: an orderly shutdown; true once the container is gone.
poweroff() {
    case $kind in
        systemd) inside systemctl poweroff --no-block >/dev/null 2>&1 ;;
        *) inside telinit 0 >/dev/null 2>&1 ;;
    esac
    if poll 60 nspawn_gone; then
        wait "$nspawn_pid" 2>/dev/null
        nspawn_pid="" init_pid=""
        return 0
    fi
    why="the container did not power off within 60 s"
    container_kill
    return 1
}

# The power cut, and the last resort of cleanup: SIGKILL to the container's
# init ends every process of its pid namespace at once.
container_kill() {
    [ -n "$nspawn_pid" ] || return 0
    [ -z "$init_pid" ] || kill -KILL "$init_pid" 2>/dev/null
    poll 20 nspawn_gone || kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
    nspawn_pid="" init_pid=""
}

# ------------------------------------------------------ tunnels, processes

# Pids (as the container sees them) of the cloudflared processes in it,
# zombies included, one per line, sorted.
cloudflared_pids() {
    ns=$(readlink "/proc/$init_pid/ns/pid")
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = cloudflared ] || continue
        [ "$(readlink "$d/ns/pid" 2>/dev/null)" = "$ns" ] || continue
        awk '$1 == "NSpid:" { print $NF }' "$d/status" 2>/dev/null
    done | sort -n
}

# "id state pid" per tunnel, sorted by id, from `tetherctl json list`.
tunnel_table() {
    json=$(inside tetherctl -t 10 json list 2>/dev/null) || return 1
    printf '%s\n' "$json" | python3 -c '
import json, sys
for t in sorted(json.load(sys.stdin)["tunnels"], key=lambda t: t["id"]):
    print(t["id"], t["state"], t["pid"] or 0)'
}

# tunnels_are "ID ...": exactly these tunnels, each running, and exactly
# their cloudflared processes in the container: one each, none left over.
tunnels_are() {
    # shellcheck disable=SC2086 # a list of ids
    want=$(printf '%s\n' $1 | sort | tr '\n' ' ')
    table=$(tunnel_table) || { why="tetherctl json list failed"; return 1; }
    ids=$(printf '%s\n' "$table" | awk 'NF { print $1 }' | sort | tr '\n' ' ')
    [ "$ids" = "$want" ] || { why="tunnels [$ids], expected [$want]"; return 1; }
    notrunning=$(printf '%s\n' "$table" | awk 'NF && $2 != "running" { print $1 "=" $2 }' | tr '\n' ' ')
    [ -z "$notrunning" ] || { why="not running: $notrunning"; return 1; }
    listed=$(printf '%s\n' "$table" | awk 'NF { print $3 }' | sort -n | tr '\n' ' ')
    present=$(cloudflared_pids | tr '\n' ' ')
    [ "$listed" = "$present" ] || { why="cloudflared pids [$present], the agent lists [$listed]"; return 1; }
}
# wait_tunnels SECONDS "ID ...": poll tunnels_are.
wait_tunnels() { why="" && poll "$1" tunnels_are "$2"; }

no_cloudflared() {
    left=$(cloudflared_pids | tr '\n' ' ')
    [ -z "$left" ] || { why="cloudflared left behind: $left"; return 1; }
}

# ------------------------------------------------------------- the roots

# prepare NAME TARBALL: a fresh copy of the root with the package and the
# fake cloudflared installed, the users and the test configuration.
prepare() {
    root="$work/$1"
    lab_unpack "$2" "$root"
    install -m 0755 "$work/cloudflared" "$root/usr/bin/cloudflared"
    cp "$deb" "$root/tmp/tether.deb"
    lab_chroot "$root" dpkg -i /tmp/tether.deb >"$work/dpkg-i.log" 2>&1 ||
        { tail -n 20 "$work/dpkg-i.log"; lab_die "dpkg -i in the $1 root"; }
    rm -f "$root/tmp/tether.deb"
    # pilot: an operator, in the socket's group and in allow_uids; crew:
    # in the group only; outsider: neither.
    lab_chroot "$root" sh -c 'useradd -m -G tether pilot && useradd -m -G tether crew && useradd -m outsider' ||
        lab_die "useradd in the $1 root"
    write_config ""
}

# write_config EXTRA: the agent's configuration; EXTRA goes to [agent].
write_config() {
    cat >"$root/etc/tether/tether.ini" <<EOF
; written by test/lab/boot-check.sh
[agent]
allow_uids = pilot
$1

[watchdog]
backoff_initial_ms = 200
stop_grace_s = 5

[tunnel web]
type = quick
port = 8080
autostart = true

[tunnel cam]
type = quick
port = 8081
autostart = true
EOF
}

# ------------------------------------------------------- systemd: 1 to 7

c1_boot() {
    boot || return 1
    wait_tunnels 30 "8080 8081" || return 1
    show=$(inside systemctl show tetherd -p ActiveState -p SubState -p Type -p NRestarts | tr '\n' ' ')
    case $show in
        *"Type=notify"*"NRestarts=0"*"ActiveState=active"*"SubState=running"*) ;;
        *) say_why "systemctl show: $show" ;;
    esac || return 1
    # STATUS= is sent when the summary changes: wait for the settled one.
    # shellcheck disable=SC2016 # the inner shell's $1
    poll 10 sh -c 'nsenter -t "$1" -a systemctl status tetherd --no-pager 2>/dev/null |
        grep -q "Status: \"2 tunnels: 2 running"' sh "$init_pid" ||
        say_why "no STATUS line in systemctl status: $(inside systemctl status tetherd --no-pager | grep -i status:)"
}

c2_group() {
    out=$(as pilot tetherctl list 2>&1) || { why="pilot (group tether): $out"; return 1; }
    case $out in *"OK 2 tunnels"*) ;; *) say_why "pilot got: $out" || return 1 ;; esac
    rc=0
    out=$(as crew tetherctl list 2>&1) || rc=$?
    [ "$rc" -eq 1 ] || { why="crew (group, not allow_uids): exit $rc, expected 1: $out"; return 1; }
    case $out in *"ERR denied"*) ;; *) say_why "crew got: $out" || return 1 ;; esac
    rc=0
    out=$(as outsider tetherctl list 2>&1) || rc=$?
    # Outside the socket's group the socket itself refuses: "unreachable".
    [ "$rc" -eq 3 ] || { why="outsider: exit $rc, expected 3: $out"; return 1; }
    case $out in
        *"Permission denied"*) ;;
        *) say_why "outsider's error does not say why: $out" ;;
    esac
}

c3_watchdog() {
    wd=$(inside systemctl show tetherd -p WatchdogUSec --value)
    case $wd in
        *min*) say_why "WatchdogSec in minutes ($wd): the test expects seconds" || return 1 ;;
        *s) wd_s=${wd%s} ;;
        *) say_why "no watchdog: WatchdogUSec=$wd" || return 1 ;;
    esac
    old=$(inside systemctl show tetherd -p MainPID --value)
    restarts=$(inside systemctl show tetherd -p NRestarts --value)
    # shellcheck disable=SC2016 # the inner shell's $1 (no kill binary there)
    inside sh -c 'kill -STOP "$1"' sh "$old"
    t0=$(date +%s)
    poll $((wd_s + 5)) restarted_since "$old" "$restarts" ||
        { why="no new active agent within ${wd_s}+5 s (watchdog ${wd})"; return 1; }
    took=$(($(date +%s) - t0))
    wait_tunnels 20 "8080 8081" || return 1
    lab_say "watchdog: frozen agent replaced after ${took}s (WatchdogSec=${wd})"
}

restarted_since() {
    show=$(inside systemctl show tetherd -p MainPID -p NRestarts -p ActiveState -p SubState | tr '\n' ' ')
    case $show in *"MainPID=$1 "* | *"MainPID=0 "*) return 1 ;; esac
    case $show in *"NRestarts=$2 "*) return 1 ;; esac
    case $show in *"ActiveState=active SubState=running"* | *"SubState=running"*"ActiveState=active"*) return 0 ;; esac
    return 1
}

c4_stop_restart() {
    # A runtime-started tunnel is part of "the same tunnels" too.
    out=$(inside tetherctl -t 30 start 9000 2>&1) || { why="start 9000: $out"; return 1; }
    wait_tunnels 20 "8080 8081 9000" || return 1
    inside systemctl stop tetherd || { why="systemctl stop failed"; return 1; }
    state=$(inside systemctl is-active tetherd)
    [ "$state" = inactive ] || { why="after stop: $state"; return 1; }
    no_cloudflared || return 1
    inside systemctl restart tetherd || { why="systemctl restart (stopped) failed"; return 1; }
    wait_tunnels 30 "8080 8081 9000" || { why="after restart from stopped: $why"; return 1; }
    old=$(inside systemctl show tetherd -p MainPID --value)
    inside systemctl restart tetherd || { why="systemctl restart (running) failed"; return 1; }
    new=$(inside systemctl show tetherd -p MainPID --value)
    [ "$new" != "$old" ] || { why="restart kept pid $old"; return 1; }
    wait_tunnels 30 "8080 8081 9000" || { why="after restart while running: $why"; return 1; }
}

c5_reboot() {
    tunnels_are "8080 8081 9000" || return 1
    poweroff || return 1
    boot || return 1
    # The state file lives in /run (a tmpfs): 9000, started at runtime, is
    # forgotten; the autostart sections come back.
    wait_tunnels 30 "8080 8081"
}

# id_in_root passwd|group NAME: the number of a user or group of the root.
id_in_root() { awk -F: -v name="$2" '$1 == name { print $3 }' "$root/etc/$1"; }

api_up() { [ -s "$work/api.port" ]; }

# Everything about the two files on the powered-off root, seen from here.
files_whole() {
    env="$root/etc/tether/tunnels.env" state="$root/var/lib/tether/state.json"
    tuid=$(id_in_root passwd tether)
    tgid=$(id_in_root group tether)
    got=$(stat -c '%a %u:%g' "$env") || { why="no env file"; return 1; }
    [ "$got" = "600 $tuid:$tgid" ] || { why="env file is $got, expected 600 $tuid:$tgid"; return 1; }
    got=$(stat -c '%a %u:%g' "$state") || { why="no state file"; return 1; }
    [ "$got" = "644 $tuid:$tgid" ] || { why="state file is $got, expected 644 $tuid:$tgid"; return 1; }
    cat >"$work/files_whole.py" <<'EOF'
import base64, json, re, sys
env, state, before = sys.argv[1:4]
old = open(before).read().splitlines()
lines = open(env).read().split("\n")
if lines[-1] != "":
    sys.exit("env file: last line unterminated (torn): %r" % lines[-1][:40])
lines = lines[:-1]
uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
for line in lines:
    # The record of the tunnel tether created, next to its token.
    if re.fullmatch(r"TETHER_TUNNEL_ID_[A-Z0-9_]+=" + uuid, line):
        continue
    m = re.fullmatch(r"CF_TUNNEL_TOKEN_([A-Z0-9_]+)=([A-Za-z0-9+/=]+)", line)
    if not m:
        sys.exit("env file: torn or foreign line: %r" % line[:40])
    token = json.loads(base64.b64decode(m.group(2)))
    if not {"a", "t", "s"} <= set(token):
        sys.exit("env file: token of %s is incomplete" % m.group(1))
for line in old:
    if line not in lines:
        sys.exit("env file: lost a line it had before: %s" % line.split("=")[0])
tunnels = json.load(open(state))["tunnels"]
tokens = [l for l in lines if l.startswith("CF_TUNNEL_TOKEN_")]
print("env file: %d tokens (%d lines before), state file: %d tunnels" % (len(tokens), len(old), len(tunnels)))
EOF
    out=$(python3 "$work/files_whole.py" "$env" "$state" "$work/env.before" 2>&1) || { why=$out; return 1; }
    lab_say "after the power cut: $out"
    leftovers=$(find "$root/etc/tether" "$root/var/lib/tether" -name '*.tmp.*' | sed "s|^$root||" | tr '\n' ' ')
    [ -z "$leftovers" ] || lab_say "after the power cut: temporary files left: $leftovers"
}

c6_power_cut() {
    poweroff || return 1
    token=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    python3 "$repo/test/fakes/fake_cfapi.py" --port 0 --port-file "$work/api.port" \
        --token "$token" --zone example.com 2>"$work/api.log" &
    api_pid=$!
    poll 10 api_up || { why="the API fake did not start"; return 1; }
    printf '%s\n' "$token" >"$root/etc/tether/api-token"
    lab_chroot "$root" sh -c 'chown root:tether /etc/tether/api-token && chmod 0640 /etc/tether/api-token'
    write_config "state_dir = /var/lib/tether"
    cat >>"$root/etc/tether/tether.ini" <<EOF

[cloudflare]
api_base = http://127.0.0.1:$(cat "$work/api.port")/client/v4
api_token_file = /etc/tether/api-token
zone = example.com
request_timeout_s = 5
EOF
    boot || return 1
    wait_tunnels 30 "8080 8081" || return 1
    out=$(inside tetherctl -t 60 provision base start 2>&1) || { why="provision base: $out"; return 1; }
    wait_tunnels 30 "8080 8081 base" || return 1
    cp "$root/etc/tether/tunnels.env" "$work/env.before"
    # The storm: six provisions and six quick tunnels at once; the power is
    # cut as soon as the first new token is on disk.
    # shellcheck disable=SC2016 # the inner shell's variables
    (inside sh -c 'for i in 1 2 3 4 5 6; do
            tetherctl -t 60 provision "drone-$i" start >/dev/null 2>&1 &
            tetherctl -t 60 start "910$i" >/dev/null 2>&1 &
        done; wait' >/dev/null 2>&1) &
    storm_pid=$!
    poll 30 grep -q '^CF_TUNNEL_TOKEN_DRONE_' "$root/etc/tether/tunnels.env" ||
        { why="no provision reached the env file within 30 s"; return 1; }
    container_kill
    wait "$storm_pid" 2>/dev/null
    storm_pid=""
    files_whole || return 1
    boot || return 1
    # Every tunnel of the state file comes back, runtime-started ones too
    # (state_dir is on disk), each with one cloudflared.
    want=$({
        echo 8080 8081
        python3 -c 'import json, sys
print(" ".join(t["id"] for t in json.load(open(sys.argv[1]))["tunnels"] if t.get("desired", True)))' \
            "$root/var/lib/tether/state.json"
    } | tr ' ' '\n' | sort -u | tr '\n' ' ')
    wait_tunnels 60 "$want" || return 1
    [ "$(inside systemctl is-active tetherd)" = active ] || { why="tetherd not active after the power cut"; return 1; }
    # The agent removes what an interrupted write left (it may hold a token).
    leftovers=$(find "$root/etc/tether" "$root/var/lib/tether" -name '*.tmp.*' | sed "s|^$root||" | tr '\n' ' ')
    [ -z "$leftovers" ] || say_why "temporary files still there after the boot: $leftovers"
}

c7_remove_purge() {
    inside apt-get remove -y -q tether >"$work/remove.log" 2>&1 ||
        { why="apt-get remove failed: $(tail -n 3 "$work/remove.log")"; return 1; }
    # shellcheck disable=SC2016 # a dpkg-query format
    status=$(inside dpkg-query -W -f='${Status}' tether)
    [ "$status" = "deinstall ok config-files" ] || { why="after remove: $status"; return 1; }
    [ "$(inside systemctl is-active tetherd)" != active ] || { why="tetherd still active after remove"; return 1; }
    no_cloudflared || return 1
    for f in /usr/bin/tetherd /usr/bin/tetherctl /lib/systemd/system/tetherd.service; do
        [ ! -e "$root$f" ] || { why="$f kept by remove"; return 1; }
    done
    for f in /etc/tether/tether.ini /etc/init.d/tetherd /etc/logrotate.d/tetherd; do
        [ -e "$root$f" ] || { why="conffile $f gone with remove"; return 1; }
    done
    inside dpkg --purge tether >"$work/purge.log" 2>&1 ||
        { why="dpkg --purge failed: $(tail -n 3 "$work/purge.log")"; return 1; }
    # shellcheck disable=SC2016 # a dpkg-query format
    status=$(inside dpkg-query -W -f='${Status}' tether 2>/dev/null)
    case $status in "" | *not-installed) ;; *) say_why "after purge: $status" || return 1 ;; esac
    for f in /etc/tether/tether.ini /etc/init.d/tetherd /etc/logrotate.d/tetherd /var/lib/tether /run/tether \
        /etc/systemd/system/multi-user.target.wants/tetherd.service; do
        if [ -e "$root$f" ] || [ -L "$root$f" ]; then why="$f left by purge"; return 1; fi
    done
    links=$(find "$root/etc" -name '*tetherd*' | sed "s|^$root||" | tr '\n' ' ')
    [ -z "$links" ] || { why="left by purge: $links"; return 1; }
    # Kept, as postrm says: the user (it may still own files) and the
    # operator's files in /etc/tether.
    inside getent passwd tether >/dev/null || { why="purge removed the user tether"; return 1; }
    kept=$(find "$root/etc/tether" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')
    [ "$kept" = "api-token tunnels.env " ] || say_why "/etc/tether holds [$kept], expected the operator's api-token and tunnels.env"
}

# ----------------------------------------------- sysvinit and OpenRC: 8, 9

# svc ACTION: the service command of this init, its output in $out.
svc() {
    case $kind in
        openrc) out=$(inside rc-service tetherd "$1" 2>&1) ;;
        *) out=$(inside service tetherd "$1" 2>&1) ;;
    esac
}
# svc_rc ACTION EXPECTED: the exit status is EXPECTED.
svc_rc() {
    rc=0
    svc "$1" || rc=$?
    [ "$rc" -eq "$2" ] || { why="$svc_cmd $1: exit $rc, expected $2: $(printf '%s' "$out" | tr '\n' ' ')"; return 1; }
}

c8_service() {
    boot || return 1
    wait_tunnels 60 "8080 8081" || { why="at boot: $why"; return 1; }
    svc_rc status 0 || return 1
    svc_rc stop 0 || return 1
    no_cloudflared || return 1
    if inside_quiet tetherctl ping; then why="an agent answers after stop"; return 1; fi
    svc_rc status 3 || return 1
    svc_rc stop 0 || { why="stop when stopped: $why"; return 1; }
    svc_rc start 0 || return 1
    wait_tunnels 30 "8080 8081" || { why="after start: $why"; return 1; }
    svc_rc start 0 || { why="start when started: $why"; return 1; }
    old=$(tunnel_table | awk '$1 == 8080 { print $3 }')
    svc_rc restart 0 || return 1
    wait_tunnels 30 "8080 8081" || { why="after restart: $why"; return 1; }
    new=$(tunnel_table | awk '$1 == 8080 { print $3 }')
    [ "$new" != "$old" ] || { why="restart kept cloudflared $old of 8080"; return 1; }
    svc_rc status 0
}

# Sixty tunnels started and stopped one after the other, each logging
# "tunnel N: starting", while logrotate -f runs three times in parallel.
c9_logrotate() {
    [ -s "$root/var/log/tetherd.log" ] || { why="no /var/log/tetherd.log"; return 1; }
    # shellcheck disable=SC2016 # the inner shell's variables
    inside sh -c 'for i in $(seq 10001 10060); do
            rc=0; tetherctl -t 30 start "$i" nowait >/dev/null || rc=$?
            [ "$rc" -eq 4 ] || exit 1  # 4: started, URL still pending (nowait)
            tetherctl -t 30 stop "$i" >/dev/null || exit 1
            case $i in 10015|10030|10045) wait; logrotate -f /etc/logrotate.d/tetherd & ;; esac
        done; wait' >"$work/rotate.log" 2>&1 || { why="the load failed: $(tail -n 3 "$work/rotate.log")"; return 1; }
    poll 10 grep -q 'tunnel 10060: stopped' "$root/var/log/tetherd.log" ||
        { why="the last line never reached the current log"; return 1; }
    files=$(find "$root/var/log" -maxdepth 1 -name 'tetherd.log*' -printf '%f\n' | sort | tr '\n' ' ')
    case $files in *tetherd.log.3.gz*) ;; *) say_why "three rotations expected, files: $files" || return 1 ;; esac
    want="640 $(id_in_root passwd tether):$(id_in_root group adm)"
    got=$(stat -c '%a %u:%g' "$root/var/log/tetherd.log")
    [ "$got" = "$want" ] || { why="the new log is $got, expected $want (tether:adm)"; return 1; }
    all="$work/all-logs"
    (cd "$root/var/log" && { zcat tetherd.log.*.gz; cat tetherd.log.1 tetherd.log; }) >"$all"
    if tr -d '\n[:print:]' <"$all" | grep -q .; then why="NUL or binary bytes in the logs (a hole?)"; return 1; fi
    missing=""
    for i in $(seq 10001 10060); do
        n=$(grep -c "tunnel $i: starting (quick)" "$all")
        [ "$n" -eq 1 ] || missing="$missing $i($n)"
    done
    [ -z "$missing" ] || say_why "lines lost or doubled (tunnel(count)):$missing"
}

# ------------------------------------------------------------------ main

lab_say "package $(basename "$deb"); work folder $work"
cc -std=c11 -D_GNU_SOURCE -O2 -o "$work/cloudflared" "$repo/test/fakes/fake_cloudflared.c" ||
    lab_die "cannot build the fake cloudflared"

only=${BOOT_ONLY:-systemd sysvinit openrc}
case " $only " in *" systemd "*) run_systemd=1 ;; *) run_systemd=0 ;; esac

kind=systemd
[ "$run_systemd" = 0 ] || {
prepare systemd "$(lab_root boot-systemd "systemd,systemd-sysv,dbus,logrotate,$LIBS")"
# The enable step of an image build (the README's drone image section).
lab_chroot "$root" systemctl enable tetherd >/dev/null 2>&1 || lab_die "systemctl enable tetherd in the chroot"
check 1 "systemd: tetherd active at boot (READY), autostart tunnels running, STATUS in systemctl status" c1_boot
if [ -n "$init_pid" ]; then
    check 2 "systemd: tetherctl works in group tether, refused outside it" c2_group
    check 3 "systemd: a frozen agent is restarted by the watchdog, one cloudflared per tunnel" c3_watchdog
    check 4 "systemd: stop leaves no cloudflared; restart brings the same tunnels back once" c4_stop_restart
    check 5 "systemd: a reboot brings the autostart tunnels back, runtime-started ones are forgotten" c5_reboot
    check 6 "systemd: power cut while provisioning: env and state files whole, tunnels back once" c6_power_cut
    check 7 "systemd: apt-get remove keeps conffiles, dpkg --purge removes them, keeps the user" c7_remove_purge
else
    for n in 2 3 4 5 6 7; do echo "FAIL $n systemd: not run, the root did not boot"; done
    failures=$((failures + 6))
fi
container_kill
}

for kind in sysvinit openrc; do
    case " $only " in *" $kind "*) ;; *) continue ;; esac
    case $kind in
        sysvinit)
            prepare sysvinit "$(lab_root boot-sysv "$SYSV")"
            svc_cmd="service"
            lab_chroot "$root" update-rc.d tetherd defaults >/dev/null 2>&1 ||
                lab_die "update-rc.d tetherd defaults in the chroot"
            ;;
        openrc)
            prepare openrc "$(lab_root boot-openrc "$SYSV" openrc)"
            svc_cmd="rc-service"
            lab_chroot "$root" sh -c 'cp /usr/share/tether/openrc/tetherd /etc/init.d/tetherd &&
                rc-update add tetherd default' >/dev/null 2>&1 || lab_die "rc-update add tetherd in the chroot"
            ;;
    esac
    check 8 "$kind: starts at boot; $svc_cmd status/stop/start/restart with LSB exit codes; stop leaves no cloudflared" c8_service
    if [ -n "$init_pid" ]; then
        check 9 "$kind: logrotate rotates /var/log/tetherd.log three times under load, no line lost" c9_logrotate
    else
        echo "FAIL 9 $kind: not run, the root did not boot"
        failures=$((failures + 1))
    fi
    container_kill
done

lab_say "$failures failure(s); $(($(date +%s) - started_at)) s"
[ "$failures" -eq 0 ]
