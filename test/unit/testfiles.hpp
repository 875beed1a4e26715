// Files for the unit tests of atomicfile and envfile: a private temporary
// directory, writing and reading back whole files, and the atomicfile test
// seam put back after each test.
#pragma once

#include <stdlib.h>
#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <string>

#include "atomicfile.hpp"

namespace tether::test {

// A directory under /tmp, removed with everything in it when the test ends
// (also when a REQUIRE fails and throws).
struct TempDir {
  std::string path;
  // `tag` names the test in the directory's name: /tmp/tether-<tag>-XXXXXX.
  explicit TempDir(const std::string& tag) {
    std::string name = "/tmp/tether-" + tag + "-XXXXXX";
    REQUIRE(mkdtemp(name.data()) != nullptr);
    path = name;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;  // one owner removes the directory
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path + "/" + name; }
};

// Puts the real calls back even when a REQUIRE throws.
struct HookGuard {
  AtomicFileHooks saved = atomicfile_hooks();
  ~HookGuard() { atomicfile_hooks() = saved; }
};

// A full disk, for the write hook.
inline ssize_t write_enospc(int, const void*, size_t) {
  errno = ENOSPC;
  return -1;
}

inline std::string slurp(const std::string& path) {
  std::string out, err;
  REQUIRE(read_file(path, &out, 1 << 20, &err) == 0);
  return out;
}

inline void make_file(const std::string& path, const std::string& content, mode_t mode) {
  std::string err;
  REQUIRE(write_file_atomic(path, content, mode, &err) == 0);
}

}  // namespace tether::test
