#include "statelock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "atomicfile.hpp"

namespace tether {

StateLock::~StateLock() {
  if (fd_ >= 0) close(fd_);
}

bool StateLock::acquire(const std::string& state_dir, std::string* err) {
  std::string path = state_dir + "/lock";
  make_parent_dirs(path);
  // O_CLOEXEC: a cloudflared child holding the lock would keep a stopped
  // agent's state_dir claimed.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    *err = "cannot open the state directory's lock " + path + ": " + std::strerror(errno) +
           " (check that state_dir is writable by this user)";
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    long holder = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
    if (e == EWOULDBLOCK)
      *err = "state directory " + state_dir + " is in use by another tetherd" +
             (holder > 0 ? " (pid " + std::to_string(holder) + ")" : "") +
             "; stop it, or give this agent its own --state-dir";
    else *err = "cannot lock " + path + ": " + std::strerror(e);
    return false;
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock is what matters; the pid is only for the error message of
    // a second agent.
  }
  fd_ = fd;
  return true;
}

}  // namespace tether
