#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "atomicfile.hpp"
#include "testfiles.hpp"

using namespace tether;
using namespace tether::test;

namespace {

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

int g_calls = 0;
std::string g_renamed_from;

ssize_t write_nothing(int, const void*, size_t) { return 0; }

ssize_t write_3_bytes(int fd, const void* buf, size_t n) { return ::write(fd, buf, std::min<size_t>(n, 3)); }

// Every other call is interrupted; the rest write a few bytes.
ssize_t write_interrupted(int fd, const void* buf, size_t n) {
  if (g_calls++ % 2 == 0) {
    errno = EINTR;
    return -1;
  }
  return ::write(fd, buf, std::min<size_t>(n, 5));
}

int fsync_eio(int) {
  errno = EIO;
  return -1;
}

int fsync_interrupted_once(int fd) {
  if (g_calls++ == 0) {
    errno = EINTR;
    return -1;
  }
  return ::fsync(fd);
}

// The file's own fsync succeeds, the directory's fails.
int fsync_second_eio(int fd) {
  if (g_calls++ == 1) {
    errno = EIO;
    return -1;
  }
  return ::fsync(fd);
}

int rename_ebusy(const char* from, const char*) {
  g_renamed_from = from;
  errno = EBUSY;
  return -1;
}

int rename_interrupted_once(const char* from, const char* to) {
  if (g_calls++ == 0) {
    errno = EINTR;
    return -1;
  }
  return ::rename(from, to);
}

}  // namespace

TEST_CASE("write_file_atomic creates a file with exactly the mode asked for") {
  TempDir dir("atomicfile");
  std::string path = dir.file("new.env");
  mode_t old_umask = umask(077);
  std::string err;
  int r = write_file_atomic(path, "A=1\n", 0644, &err);
  umask(old_umask);
  REQUIRE(r == 0);
  CHECK(slurp(path) == "A=1\n");
  CHECK(mode_of(path) == 0644);
  CHECK(entries(dir.path) == std::vector<std::string>{"new.env"});
}

TEST_CASE("write_file_atomic replaces the whole old file") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  make_file(path, std::string(10000, 'a'), 0644);
  make_file(path, "b", 0600);
  CHECK(slurp(path) == "b");
  CHECK(mode_of(path) == 0600);
  CHECK(entries(dir.path) == std::vector<std::string>{"f"});
}

TEST_CASE("write_file_atomic writes an empty file") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  make_file(path, "old", 0600);
  make_file(path, "", 0600);
  CHECK(slurp(path).empty());
}

TEST_CASE("write_file_atomic failures keep the old file and leave no temporary") {
  TempDir dir("atomicfile");
  std::string path = dir.file("tunnels.env");
  const std::string old = "# operator's file\nCF_TUNNEL_TOKEN_WEB=old\r\n";
  make_file(path, old, 0640);
  HookGuard guard;
  g_calls = 0;
  int want = 0;
  std::string step;
  SECTION("disk full on write") {
    atomicfile_hooks().write = write_enospc;
    want = -ENOSPC;
    step = "write " + path + ".tmp.";
  }
  SECTION("write that takes nothing") {
    atomicfile_hooks().write = write_nothing;
    want = -ENOSPC;
    step = "write " + path + ".tmp.";
  }
  SECTION("I/O error on fsync") {
    atomicfile_hooks().fsync = fsync_eio;
    want = -EIO;
    step = "fsync " + path + ".tmp.";
  }
  SECTION("rename fails") {
    atomicfile_hooks().rename = rename_ebusy;
    want = -EBUSY;
    step = "rename " + path + ".tmp.";
  }
  std::string err;
  CHECK(write_file_atomic(path, "CF_TUNNEL_TOKEN_WEB=new\n", 0600, &err) == want);
  CHECK(err.rfind(step, 0) == 0);
  CHECK(err.find(std::strerror(-want)) != std::string::npos);
  CHECK(slurp(path) == old);
  CHECK(mode_of(path) == 0640);
  CHECK(entries(dir.path) == std::vector<std::string>{"tunnels.env"});
}

TEST_CASE("write_file_atomic reports a failed directory sync after the rename") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  make_file(path, "old", 0600);
  HookGuard guard;
  g_calls = 0;
  atomicfile_hooks().fsync = fsync_second_eio;
  std::string err;
  CHECK(write_file_atomic(path, "new", 0600, &err) == -EIO);
  CHECK(err == "fsync " + dir.path + ": " + std::strerror(EIO));
  CHECK(slurp(path) == "new");
  CHECK(entries(dir.path) == std::vector<std::string>{"f"});
}

TEST_CASE("write_file_atomic finishes partial writes") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  HookGuard guard;
  atomicfile_hooks().write = write_3_bytes;
  std::string content = "KEY=0123456789abcdefghijklmnopqrstuvwxyz\n";
  make_file(path, content, 0600);
  CHECK(slurp(path) == content);
}

TEST_CASE("write_file_atomic retries interrupted calls") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  HookGuard guard;
  std::string content = "KEY=0123456789abcdefghijklmnopqrstuvwxyz\n";
  g_calls = 0;
  SECTION("write") { atomicfile_hooks().write = write_interrupted; }
  SECTION("fsync") { atomicfile_hooks().fsync = fsync_interrupted_once; }
  SECTION("rename") { atomicfile_hooks().rename = rename_interrupted_once; }
  make_file(path, content, 0600);
  CHECK(slurp(path) == content);
  CHECK(g_calls > 1);
  CHECK(entries(dir.path) == std::vector<std::string>{"f"});
}

TEST_CASE("write_file_atomic steps over a temporary left by a crash") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  std::string err;
  {
    HookGuard guard;
    atomicfile_hooks().rename = rename_ebusy;
    REQUIRE(write_file_atomic(path, "x", 0600, &err) == -EBUSY);
  }
  // The names the next two attempts will pick, as a previous run with the
  // same pid would have left them.
  std::string stem = g_renamed_from.substr(0, g_renamed_from.rfind('.') + 1);
  unsigned seq = std::stoul(g_renamed_from.substr(stem.size()));
  std::string stale1 = stem + std::to_string(seq + 1);
  std::string stale2 = stem + std::to_string(seq + 2);
  make_file(stale1, "stale", 0600);
  REQUIRE(symlink(path.c_str(), stale2.c_str()) == 0);

  make_file(path, "fresh", 0600);
  CHECK(slurp(path) == "fresh");
  CHECK(slurp(stale1) == "stale");
  CHECK(entries(dir.path).size() == 3);
}

TEST_CASE("write_file_atomic with a path in the current directory") {
  TempDir dir("atomicfile");
  std::string cwd = std::filesystem::current_path();
  REQUIRE(chdir(dir.path.c_str()) == 0);
  std::string err;
  int r = write_file_atomic("plain", "data", 0600, &err);
  REQUIRE(chdir(cwd.c_str()) == 0);
  REQUIRE(r == 0);
  CHECK(slurp(dir.file("plain")) == "data");
}

TEST_CASE("write_file_atomic into a missing directory names the temporary") {
  TempDir dir("atomicfile");
  std::string path = dir.file("missing/f");
  std::string err;
  CHECK(write_file_atomic(path, "x", 0600, &err) == -ENOENT);
  CHECK(err.rfind("open " + path + ".tmp.", 0) == 0);
  CHECK(err.find("No such file or directory") != std::string::npos);
}

TEST_CASE("read_file") {
  TempDir dir("atomicfile");
  std::string path = dir.file("f");
  make_file(path, "0123456789", 0600);
  std::string out = "untouched", err;

  SECTION("whole file") {
    CHECK(read_file(path, &out, 10, &err) == 0);
    CHECK(out == "0123456789");
  }
  SECTION("larger than the bound") {
    CHECK(read_file(path, &out, 9, &err) == -EFBIG);
    CHECK(err == path + " is larger than 9 bytes");
    CHECK(out == "untouched");
  }
  SECTION("missing") {
    CHECK(read_file(dir.file("nope"), &out, 10, &err) == -ENOENT);
    CHECK(err == "open " + dir.file("nope") + ": No such file or directory");
    CHECK(out == "untouched");
  }
  SECTION("a directory") {
    CHECK(read_file(dir.path, &out, 10, &err) == -EINVAL);
    CHECK(err == dir.path + " is not a regular file (a directory); point the setting to a plain file");
  }
  SECTION("a FIFO: refused at once, never waiting for a writer") {
    std::string fifo = dir.file("fifo");
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(read_file(fifo, &out, 10, &err) == -EINVAL);
    CHECK(err == fifo + " is not a regular file (a FIFO); point the setting to a plain file");
    CHECK(out == "untouched");
  }
  SECTION("larger than one read") {
    std::string big(100000, 'z');
    make_file(path, big, 0600);
    CHECK(read_file(path, &out, big.size(), &err) == 0);
    CHECK(out == big);
  }
  SECTION("err may be null") { CHECK(read_file(dir.file("nope"), &out, 10, nullptr) == -ENOENT); }
}

TEST_CASE("remove_stale_temps removes what interrupted writes left, and nothing else") {
  TempDir dir("atomicfile");
  std::string path = dir.file("tunnels.env");
  std::string own = path + ".tmp." + std::to_string(getpid()) + ".3";
  for (const std::string& f : {path, path + ".tmp.37.10", path + ".tmp.1.0", own, path + ".tmp.x.1", path + ".tmp.12",
                               path + ".tmp.12.3.old", dir.file("other.env.tmp.37.1")})
    make_file(f, "A=1\n", 0600);
  std::vector<std::string> removed = remove_stale_temps(path);
  std::sort(removed.begin(), removed.end());
  CHECK(removed == std::vector<std::string>{path + ".tmp.1.0", path + ".tmp.37.10"});
  for (const std::string& f :
       {path, own, path + ".tmp.x.1", path + ".tmp.12", path + ".tmp.12.3.old", dir.file("other.env.tmp.37.1")})
    CHECK(access(f.c_str(), F_OK) == 0);
  CHECK(remove_stale_temps(dir.file("missing/x.env")).empty());
}
