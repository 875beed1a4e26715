#include "atomicfile.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace tether {
namespace {

// A crash leaves its temporary behind, and after a reboot the daemon often
// gets the same pid again: a taken name is skipped rather than fatal.
constexpr int kTempAttempts = 100;

std::atomic<unsigned> g_temp_seq{0};

template <typename F>
auto retry_eintr(F f) {
  decltype(f()) r;
  do r = f();
  while (r < 0 && errno == EINTR);
  return r;
}

int fail(std::string* err, int code, const std::string& step) {
  if (err != nullptr) *err = step + ": " + std::strerror(-code);
  return code;
}

// Reads errno first: building the message allocates, which may change it.
int fail_errno(std::string* err, const char* step, const std::string& name) {
  int code = -errno;
  return fail(err, code, step + std::string(" ") + name);
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Returns the descriptor, or a negative errno.
int open_temp(const std::string& path, mode_t mode, std::string* tmp, std::string* err) {
  const std::string prefix = path + ".tmp." + std::to_string(getpid()) + ".";
  for (int i = 0; i < kTempAttempts; i++) {
    *tmp = prefix + std::to_string(g_temp_seq++);
    int fd = retry_eintr([&] { return open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode); });
    if (fd >= 0) return fd;
    if (errno != EEXIST) return fail_errno(err, "open", *tmp);
  }
  return fail(err, -EEXIST, "open " + *tmp);
}

int write_all(int fd, std::string_view data, const std::string& name, std::string* err) {
  while (!data.empty()) {
    ssize_t n = retry_eintr([&] { return atomicfile_hooks().write(fd, data.data(), data.size()); });
    if (n < 0) return fail_errno(err, "write", name);
    // A regular file that takes no bytes is full; asking again would spin.
    if (n == 0) return fail(err, -ENOSPC, "write " + name);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

int sync_fd(int fd, const std::string& name, std::string* err) {
  int r = retry_eintr([&] { return atomicfile_hooks().fsync(fd); });
  return r < 0 ? fail_errno(err, "fsync", name) : 0;
}

// Closes fd in every case.
int fill_temp(int fd, std::string_view content, mode_t mode, const std::string& tmp, std::string* err) {
  int r = fchmod(fd, mode) < 0 ? fail_errno(err, "chmod", tmp) : 0;
  if (r == 0) r = write_all(fd, content, tmp, err);
  if (r == 0) r = sync_fd(fd, tmp, err);
  if (close(fd) < 0 && r == 0) r = fail_errno(err, "close", tmp);
  return r;
}

int rename_over(const std::string& from, const std::string& to, std::string* err) {
  if (retry_eintr([&] { return atomicfile_hooks().rename(from.c_str(), to.c_str()); }) == 0) return 0;
  int code = -errno;
  return fail(err, code, "rename " + from + " to " + to);
}

int sync_dir(const std::string& dir, std::string* err) {
  int fd = retry_eintr([&] { return open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
  if (fd < 0) return fail_errno(err, "open", dir);
  int r = sync_fd(fd, dir, err);
  close(fd);
  return r;
}

int read_all(int fd, const std::string& path, std::string* out, size_t max_bytes, std::string* err) {
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = retry_eintr([&] { return read(fd, buf, sizeof buf); });
    if (n < 0) return fail_errno(err, "read", path);
    if (n == 0) break;
    if (static_cast<size_t>(n) > max_bytes - data.size()) {
      if (err != nullptr) *err = path + " is larger than " + std::to_string(max_bytes) + " bytes";
      return -EFBIG;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  *out = std::move(data);
  return 0;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a plain file";
}

}  // namespace

void make_parent_dirs(const std::string& path) {
  for (size_t i = 1; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    std::string dir = path.substr(0, i);
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return;
  }
}

AtomicFileHooks& atomicfile_hooks() {
  static AtomicFileHooks hooks = {::write, ::fsync, ::rename};
  return hooks;
}

int write_file_atomic(const std::string& path, std::string_view content, mode_t mode, std::string* err) {
  std::string tmp;
  int fd = open_temp(path, mode, &tmp, err);
  if (fd < 0) return fd;
  int r = fill_temp(fd, content, mode, tmp, err);
  if (r == 0) r = rename_over(tmp, path, err);
  if (r < 0) {
    unlink(tmp.c_str());
    return r;
  }
  // Until the directory is synced, a power cut can still bring back the old
  // entry, or an empty file on some filesystems.
  return sync_dir(dir_of(path), err);
}

std::vector<std::string> remove_stale_temps(const std::string& path) {
  std::vector<std::string> removed;
  std::string dir = dir_of(path);
  size_t slash = path.rfind('/');
  const std::string prefix = path.substr(slash == std::string::npos ? 0 : slash + 1) + ".tmp.";
  const std::string own = prefix + std::to_string(getpid()) + ".";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return removed;
  while (const struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.compare(0, prefix.size(), prefix) != 0 || name.compare(0, own.size(), own) == 0) continue;
    // Exactly <pid>.<n> after the prefix: nothing else is ours to delete.
    std::string rest = name.substr(prefix.size());
    size_t dot = rest.find('.');
    auto digits = [](const std::string& t) {
      return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
    };
    if (dot == std::string::npos || !digits(rest.substr(0, dot)) || !digits(rest.substr(dot + 1))) continue;
    std::string full = dir + "/" + name;
    if (unlink(full.c_str()) == 0) removed.push_back(full);
  }
  closedir(d);
  return removed;
}

std::string move_aside(const std::string& what, const std::string& path, const std::string& why) {
  std::string aside = path + ".corrupt-" + std::to_string(time(nullptr));
  std::string head = what + " " + path + " is unusable (" + why + "); ";
  if (rename(path.c_str(), aside.c_str()) == 0) return head + "moved it to " + aside;
  return head + "could not move it aside: " + std::strerror(errno);
}

int read_file(const std::string& path, std::string* out, size_t max_bytes, std::string* err) {
  // O_NONBLOCK: opening a FIFO put in the file's place must not wait for a
  // writer, which would freeze the loop; fstat then refuses it.
  int fd = retry_eintr([&] { return open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK); });
  if (fd < 0) return fail_errno(err, "open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int r = fail_errno(err, "stat", path);
    close(fd);
    return r;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    if (err != nullptr)
      *err = path + " is not a regular file (" + file_kind(st.st_mode) + "); point the setting to a plain file";
    return -EINVAL;
  }
  int r = read_all(fd, path, out, max_bytes, err);
  close(fd);
  return r;
}

}  // namespace tether
