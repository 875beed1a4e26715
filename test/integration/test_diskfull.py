"""A full disk: the state file and the env file keep their last good
version, and the error says what failed."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import AgentTest, main, wait_until

API_TOKEN = "cf-api-token-diskfull-0123"


def tunnel_ids(state_file):
    try:
        with open(state_file) as f:
            return {t["id"] for t in json.load(f)["tunnels"]}
    except FileNotFoundError:
        return set()


class DiskFull(AgentTest):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root, or user namespaces (unshare -rm), to mount a small tmpfs")
        self.disk = tempfile.mkdtemp(prefix="tether-disk-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", self.disk], check=True)
        self.addCleanup(lambda: (subprocess.run(["umount", "-l", self.disk]), shutil.rmtree(self.disk, True)))

    def fill(self):
        """Takes every free block of the tmpfs."""
        with open(os.path.join(self.disk, "filler"), "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass

    def free(self):
        os.unlink(os.path.join(self.disk, "filler"))

    def test_state_file_kept_when_the_disk_is_full(self):
        a = self.agent(start=False)
        a.state_dir = os.path.join(self.disk, "state")
        a.start()
        a.ok("start 8081")
        path = os.path.join(a.state_dir, "state.json")
        wait_until(lambda: "8081" in tunnel_ids(path), what="the state file")
        with open(path, "rb") as f:
            good = f.read()
        self.fill()
        a.ok("start 8082")
        wait_until(lambda: "cannot save the state file (the previous one is kept)" in a.log(),
                   what="the error in the log")
        self.assertIn("No space left on device", a.log())
        with open(path, "rb") as f:
            self.assertEqual(f.read(), good)
        self.assertEqual([n for n in os.listdir(a.state_dir) if ".tmp." in n], [])
        self.free()
        a.ok("start 8083")
        wait_until(lambda: {"8081", "8082", "8083"} <= tunnel_ids(path), what="the state file to catch up")

    def test_env_file_kept_when_the_disk_is_full(self):
        api = self.fake("fake_cfapi.py", "--token", API_TOKEN, "--zone", "example.com")
        env_file = os.path.join(self.disk, "tunnels.env")
        with open(env_file, "w") as f:
            f.write("# the operator's file\nKEEP=1\n")
        os.chmod(env_file, 0o600)
        a = self.agent("""
[cloudflare]
api_base = %s/client/v4
zone = example.com
env_file = %s
""" % (api.base, env_file), env={"CLOUDFLARE_API_TOKEN": API_TOKEN})
        self.fill()
        _, status = a.request("provision drone-7")
        self.assertRegex(status, r"^ERR envfile .*%s.*No space left on device" % os.path.basename(env_file))
        with open(env_file) as f:
            self.assertEqual(f.read(), "# the operator's file\nKEEP=1\n")
        self.free()
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        with open(env_file) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[:2], ["# the operator's file", "KEEP=1"])
        self.assertTrue(lines[2].startswith("CF_TUNNEL_TOKEN_DRONE_7="))


def rerun_in_mount_namespace():
    """Not root: runs this file again as root of its own user and mount
    namespaces, where mounting a tmpfs is allowed and seen by nobody else."""
    if os.geteuid() == 0 or subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
        return
    os.execvp("unshare", ["unshare", "-rm", "--", sys.executable] + sys.argv)


if __name__ == "__main__":
    rerun_in_mount_namespace()
    main()
