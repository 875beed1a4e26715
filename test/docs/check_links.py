#!/usr/bin/env python3
"""Fail when the repository points at something it does not hold.

A user's clone has nothing beside it, so every reference must resolve
inside the repository:

- a relative Markdown link `[text](path)` in any .md file;
- a cited document path (`docs/cloudflared.md`, `fuzz/README.md`, ...) in
  Markdown or in a source comment, resolved from the repository root or
  from the citing file's folder;
- a section citation `§N` (or `§N-M`): the cited document must have a
  heading numbered N; in a source file it must name its document;
- no path that climbs out of the repository (`../x` above the root) and no
  path into the developers' own machine (the work folder under the root
  directory, where the repository sat beside its steering files).

usage: check_links.py REPO_ROOT   (exit 0 clean, 1 with one line per problem)
"""

import os
import re
import subprocess
import sys

SOURCE_ENDINGS = (".c", ".cpp", ".hpp", ".h", ".py", ".sh", ".cmake", ".mk", ".txt", ".ini", ".service")
SOURCE_NAMES = ("Makefile", "CMakeLists.txt", "postinst", "postrm", "prerm", "tetherd", "run")
SKIP_DIRS = ("build", ".git", "third_party", "run")

MD_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
DOC_PATH = re.compile(r"(?<![\w/.:-])((?:\.\./|\./)*[\w.-]+(?:/[\w.-]+)*\.md)\b")
SECTION = re.compile(r"§\s?(\d+)")
MACHINE_PATH = re.compile(r"(?<![\w.])/work/[\w./-]+")
CLIMB = re.compile(r"(?<![\w./-])((?:\.\./)+[\w./-]*)")


def tracked_files(root):
    """The files git tracks (plus untracked, unignored ones), else a walk."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-co", "--exclude-standard"],
                             capture_output=True, text=True, check=True).stdout
        names = [n for n in out.splitlines() if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for f in filenames:
                names.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(n for n in names
                  if n.split("/")[0] not in SKIP_DIRS and os.path.isfile(os.path.join(root, n)))


def wanted(name):
    base = os.path.basename(name)
    # The checker and its test hold bad references on purpose, as examples.
    if name.startswith("test/docs/"):
        return False
    if name.endswith(".md"):
        return True
    if name.startswith(("fuzz/corpus/", "fuzz/regressions/", "fuzz/dict", "test/data/")):
        return False
    return base.endswith(SOURCE_ENDINGS) or base in SOURCE_NAMES


def inside(root, path):
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def resolve(root, citing, target):
    """The file a relative reference names, or None when it is not in the repository."""
    here = os.path.dirname(os.path.join(root, citing))
    candidates = [os.path.join(here, target)]
    if not target.startswith(("./", "../")):
        candidates.append(os.path.join(root, target))
    for c in candidates:
        if inside(root, c) and os.path.exists(c):
            return os.path.normpath(c)
    return None


def numbered_sections(path):
    numbers = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"#+\s+(?:§\s?)?(\d+)[.)\s]", line)
            if m:
                numbers.add(int(m.group(1)))
    return numbers


def check_file(root, name, problems):
    path = os.path.join(root, name)
    is_md = name.endswith(".md")
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    in_fence = False
    for no, line in enumerate(lines, 1):
        where = "%s:%d" % (name, no)
        if is_md and line.lstrip().startswith("```"):
            in_fence = not in_fence
        for m in MACHINE_PATH.finditer(line):
            problems.append("%s: machine path %s (nothing outside the repository exists for a user)"
                            % (where, m.group(0)))
        for m in CLIMB.finditer(line):
            target = m.group(1)
            if not inside(root, os.path.join(os.path.dirname(path), target)):
                problems.append("%s: %s leaves the repository" % (where, target))
        if is_md and not in_fence:
            for m in MD_LINK.finditer(line):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue
                target = target.split("#", 1)[0]
                if target and not resolve(root, name, target):
                    problems.append("%s: link to %s does not resolve inside the repository" % (where, target))
        # A bare file name in a code block (a folder listing, say) belongs
        # to whatever the block shows; a path with a folder is still checked.
        in_code = is_md and (in_fence or line.startswith("    "))
        cited = []
        for m in DOC_PATH.finditer(line):
            target = m.group(1)
            if in_code and "/" not in target:
                continue
            found = resolve(root, name, target)
            if not found:
                problems.append("%s: cites %s, which is not in the repository" % (where, target))
            cited.append((m.end(), found))
        for m in SECTION.finditer(line):
            doc = None
            before = [found for end, found in cited if end <= m.start()]
            if before:
                doc = before[-1]
            elif is_md:
                doc = path
            else:
                problems.append("%s: §%s cited without naming its document" % (where, m.group(1)))
                continue
            if doc and int(m.group(1)) not in numbered_sections(doc):
                problems.append("%s: %s has no section %s" % (where, os.path.relpath(doc, root), m.group(1)))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    root = os.path.abspath(sys.argv[1])
    problems = []
    checked = 0
    for name in tracked_files(root):
        if wanted(name):
            check_file(root, name, problems)
            checked += 1
    for p in problems:
        print(p)
    print("check_links: %d files, %d problems" % (checked, len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
