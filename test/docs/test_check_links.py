#!/usr/bin/env python3
"""The link checker fails on each kind of dangling reference, and only then.

Each case builds a small repository in a temporary folder, runs
check_links.py on it and looks at its exit status and the line it prints.
"""

import os
import subprocess
import sys
import tempfile
import unittest

CHECKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_links.py")

GOOD = {
    "README.md": "See [the design](docs/DESIGN.md) and [notes](docs/NOTES.md#configuration).\n",
    "docs/DESIGN.md": "# Design\n\n## 1. Scope\n\n## 2. States\n\nAs §1 says. [Back](../README.md)\n",
    "docs/NOTES.md": "# Notes\n\n## Configuration\nSee DESIGN.md §2 and [web](https://example.com/x.md).\n",
    "agent/thing.cpp": "// The states of docs/DESIGN.md §2, the scope of docs/DESIGN.md §1.\nint x;\n",
}


class CheckLinks(unittest.TestCase):
    def run_checker(self, extra):
        with tempfile.TemporaryDirectory() as root:
            for name, text in {**GOOD, **extra}.items():
                path = os.path.join(root, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)
            p = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True, timeout=60)
            return p.returncode, p.stdout

    def assert_fails(self, extra, expected):
        code, out = self.run_checker(extra)
        self.assertEqual(code, 1, out)
        self.assertIn(expected, out)

    def test_clean_tree_passes(self):
        code, out = self.run_checker({})
        self.assertEqual(code, 0, out)
        self.assertIn("4 files, 0 problems", out)

    def test_dangling_markdown_link(self):
        self.assert_fails({"README.md": "See [gone](docs/GONE.md).\n"},
                          "README.md:1: link to docs/GONE.md does not resolve")

    def test_link_outside_the_repository(self):
        self.assert_fails({"README.md": "The contract is [DESIGN.md](../outside/DESIGN.md).\n"},
                          "../outside/DESIGN.md leaves the repository")

    def test_source_cites_a_missing_document(self):
        self.assert_fails({"agent/thing.cpp": "// Formats: reference/cloudflared.md §3-4.\n"},
                          "agent/thing.cpp:1: cites reference/cloudflared.md, which is not in the repository")

    def test_section_without_its_document(self):
        self.assert_fails({"agent/thing.cpp": "// the edge backs off (reference §10)\n"},
                          "agent/thing.cpp:1: §10 cited without naming its document")

    def test_missing_section(self):
        self.assert_fails({"agent/thing.cpp": "// see docs/DESIGN.md §7\n"},
                          "agent/thing.cpp:1: docs/DESIGN.md has no section 7")

    def test_machine_path(self):
        self.assert_fails({"test/fake.py": '"""Serves the calls of /work/notes/api.md."""\n'},
                          "test/fake.py:1: machine path /work/notes/api.md")


if __name__ == "__main__":
    unittest.main()
