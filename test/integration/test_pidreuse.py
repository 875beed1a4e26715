"""Signals never reach a process that merely got a recorded number again.

The tests run in a pid namespace of their own, where this script is pid 1
and writing /proc/sys/kernel/ns_last_pid forces the next pid: the number a
previous agent recorded for its cloudflared goes to an unrelated process,
as it does after a pid wrap-around or a reboot.
"""

import json
import os
import signal
import subprocess
import sys

from harness import AgentTest, alive, main, proc_cmdline, wait_until

NS_FLAG = "TETHER_IN_PID_NAMESPACE"
CONFIG = "[watchdog]\nstop_grace_s = 1\n"


def spawn_at(pid, argv):
    """Starts argv as pid `pid` (in its own session, so its own group)."""
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)
    if proc.pid != pid:
        proc.kill()
        proc.wait()
        raise AssertionError("wanted pid %d, got %d" % (pid, proc.pid))
    return proc


def impostor_argv():
    """An unrelated process that even calls itself cloudflared."""
    return ["bash", "-c", "exec -a cloudflared sleep 600"]


def start_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def recorded(agent, tunnel):
    try:
        with open(os.path.join(agent.state_dir, "state.json")) as f:
            return [t for t in json.load(f)["tunnels"] if t["id"] == tunnel][0]
    except (FileNotFoundError, ValueError, IndexError):
        return None


class PidReuse(AgentTest):
    def setUp(self):
        super().setUp()
        if os.getpid() != 1:
            self.skipTest("needs its own pid namespace (unshare --pid as root or in a user namespace)")

    def impostor_at(self, pid, argv=None):
        proc = spawn_at(pid, argv or impostor_argv())
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        wait_until(lambda: proc_cmdline(pid)[:1] == [b"cloudflared"], what="the impostor to exec")
        return proc

    def test_a_recorded_pid_taken_by_an_unrelated_process_is_not_signalled(self):
        a = self.agent(CONFIG)
        a.ok("start 8080")
        pid = a.json("status 8080")["tunnel"]["pid"]
        wait_until(lambda: (recorded(a, "8080") or {}).get("pid") == pid, what="the pid in the state file")
        a.kill()
        # The child dies too and is reaped by this namespace's init (this
        # script): its number is free again.
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        impostor = self.impostor_at(pid)
        b = self.agent(CONFIG, directory=a.dir, marker=a.marker)
        wait_until(lambda: b.json("status 8080").get("tunnel", {}).get("state") == "running", what="8080 restored")
        self.assertNotEqual(b.json("status 8080")["tunnel"]["pid"], pid)
        self.assertTrue(alive(impostor.pid))
        self.assertIsNone(impostor.poll())
        self.assertNotIn("stopping cloudflared process group %d" % pid, b.log())

    def test_a_pid_recorded_before_a_reboot_is_not_signalled(self):
        # Boards boot the same way every time: the same pid can come back
        # with the same start time. Only the boot id tells them apart.
        impostor = self.impostor_at(300)
        a = self.agent(CONFIG, start=False)
        entry = {"id": "8080", "kind": "quick", "port": 8080, "desired": True, "pid": impostor.pid,
                 "start_ticks": start_ticks(impostor.pid)}
        for boot, signalled in (("00000000-0000-4000-8000-000000000000", False), (None, True)):
            if boot:
                entry["boot_id"] = boot
            else:
                with open("/proc/sys/kernel/random/boot_id") as f:
                    entry["boot_id"] = f.read().strip()
            a.put_state_file("state.json", json.dumps({"version": 1, "tunnels": [entry]}))
            a.start()
            wait_until(lambda: a.json("status 8080").get("tunnel", {}).get("state") == "running",
                       what="8080 restored:\n" + a.log())
            if signalled:
                # The control: the same record from this boot is ours, so the
                # check above is what spared it.
                wait_until(lambda: impostor.poll() is not None, what="the recorded group stopped")
            else:
                self.assertIn("pid %d was recorded before a reboot; not signalling it" % impostor.pid, a.log())
                self.assertTrue(alive(impostor.pid))
            self.assertEqual(a.stop(), 0)
            a.log_file.close()


def rerun_in_pid_namespace():
    """Runs this file again as pid 1 of a new pid namespace with its own
    /proc (in a user namespace too when not root)."""
    if os.environ.get(NS_FLAG) == "1":
        return
    unshare = ["unshare", "--pid", "--fork", "--mount-proc"]
    if os.geteuid() != 0:
        unshare.insert(1, "-r")
    if subprocess.run(unshare + ["true"], capture_output=True).returncode != 0:
        return
    os.environ[NS_FLAG] = "1"
    os.execvp("unshare", unshare + ["--", sys.executable] + sys.argv)


if __name__ == "__main__":
    rerun_in_pid_namespace()
    main()
