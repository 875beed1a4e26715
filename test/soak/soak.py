"""Soak: 100 flapping quick tunnels for SOAK_SECONDS (default 300) against the
ASan/UBSan build. Passes when, at the end, the agent has no leak (LeakSanitizer
runs at its exit), no zombie child, no orphan, and its memory stayed flat.

Run with `make soak` (builds build-asan first). Prints one line per sample.
"""

import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import AgentTest, main, rss_kb, wait_until  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "300"))
TUNNELS = 100


def zombies_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == pid:
            out.append(int(entry))
    return out


class Soak(AgentTest):
    def test_flapping_tunnels(self):
        a = self.agent("""
[watchdog]
backoff_initial_ms = 200
backoff_max_ms = 2000
stable_after_s = 5
unhealthy_after_s = 3
stop_grace_s = 2
start_wait_s = 0
""", env={"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=16:malloc_context_size=10"})
        rnd = random.Random(42)
        for i in range(TUNNELS):
            port = 20000 + i
            kind = i % 4
            if kind == 0:    # crashes after a random time
                a.knobs(port, crash_after_ms=rnd.randint(300, 3000))
            elif kind == 1:  # killed by a signal now and then
                a.knobs(port, crash_after_ms=rnd.randint(500, 4000), crash_signal=rnd.choice([9, 11, 6]))
            elif kind == 2:  # loses its connection: degraded, restarted
                a.knobs(port, unregister_after_ms=rnd.randint(200, 2000), heartbeat_ms=500)
            else:            # chatty but healthy
                a.knobs(port, heartbeat_ms=rnd.randint(50, 500))
            self.assertTrue(a.request("start %d nowait" % port)[1].startswith("OK"))
        w = a.client()
        w.send("watch\n")  # a watcher that keeps up
        started = time.monotonic()
        samples = []
        while time.monotonic() - started < SECONDS:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if w.read_line(timeout=15) is None:
                    self.fail("watch stream ended")
            lines, status = a.request("list", timeout=30)
            restarts = sum(int(l.split()[-1]) for l in lines[1:])
            samples.append(rss_kb(a.pid()))
            print("soak t=%4ds rss=%6d KiB tunnels=%d restarts=%d zombies=%d" % (
                time.monotonic() - started, samples[-1], len(lines) - 1, restarts,
                len(zombies_of(a.pid()))), flush=True)
        self.assertEqual(len(a.request("list")[0]) - 1, TUNNELS)
        # Flat memory: the second half of the run grows less than 10%
        # (ASan's quarantine is capped at 16 MiB, so it levels off).
        half = samples[len(samples) // 2]
        self.assertLess(samples[-1], half * 1.10 + 2048, samples)
        self.assertEqual(a.request("killall", timeout=120)[1], "OK stopped %d tunnels" % TUNNELS)
        wait_until(lambda: not zombies_of(a.pid()), what="no zombie children")
        self.assertEqual(a.children(), [])
        self.assertEqual(a.stop(timeout=120), 0)
        log = a.log()
        self.assertNotIn("LeakSanitizer", log)
        self.assertNotIn("AddressSanitizer", log)
        self.assertNotIn("runtime error", log)


if __name__ == "__main__":
    main()
