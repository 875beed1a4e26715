// Whole-file reads and crash-safe whole-file replacement. Functions return 0
// or a negative errno; `err`, which may be null, is only meaningful when they
// fail and then names the step and the path, as in
// "write /etc/tether/tunnels.env.tmp.123.0: No space left on device".
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

// Replace `path` with `content` so that a crash at any point leaves either the
// old or the new file: a temporary "<path>.tmp.<pid>.<n>" in the same
// directory gets exactly `mode` (the umask does not apply), is written, synced
// and renamed over `path`, and then the directory is synced. If any step up
// to the rename fails, the temporary is removed and the old file untouched.
// A failure to sync the directory is still reported, but by then the new
// file is already in place.
int write_file_atomic(const std::string& path, std::string_view content, mode_t mode, std::string* err);

// A crash or a power cut during write_file_atomic leaves its temporary
// "<path>.tmp.<pid>.<n>" behind (holding a token, for the env file). This
// removes every such temporary of `path` but this process's own and returns
// the removed paths. Call it only where no other process writes `path` (the
// agent: once the control socket is its own).
std::vector<std::string> remove_stale_temps(const std::string& path);

// The whole file into *out (left alone on failure); a file larger than
// max_bytes is -EFBIG, and anything but a regular file (a FIFO, a
// directory, a device) is -EINVAL without ever blocking.
int read_file(const std::string& path, std::string* out, size_t max_bytes, std::string* err);

// mkdir -p of the directories leading to `path` (not `path` itself); a
// failure is left for the caller's next step on `path` to report.
void make_parent_dirs(const std::string& path);

// A file that cannot be trusted (corrupt, truncated, unreadable) is renamed
// to "<path>.corrupt-<unix time>" so that it is neither used nor lost, and
// the returned sentence says so: "<what> <path> is unusable (<why>); moved it
// to <aside>", or why it could not be moved.
std::string move_aside(const std::string& what, const std::string& path, const std::string& why);

// Test seam: the calls of write_file_atomic whose failures (a full disk, a
// dying SD card) a test cannot arrange for real. Tests swap them and put the
// saved copy back; they default to the system calls.
struct AtomicFileHooks {
  ssize_t (*write)(int fd, const void* buf, size_t count);
  int (*fsync)(int fd);
  int (*rename)(const char* from, const char* to);
};
AtomicFileHooks& atomicfile_hooks();

}  // namespace tether
