#include "logfile.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tether {
namespace {
std::string g_path;
}  // namespace

int log_file_open(const std::string& path, std::string* err) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY | O_CLOEXEC, 0640);
  if (fd < 0) {
    int code = -errno;
    *err = "cannot open the log file " + path + ": " + std::strerror(-code);
    return code;
  }
  // dup2 clears FD_CLOEXEC on 2; the children get their own pipes anyway.
  if (fd != STDERR_FILENO) {
    int r = dup2(fd, STDERR_FILENO);
    int code = -errno;
    close(fd);
    if (r < 0) {
      *err = "cannot use the log file " + path + ": " + std::strerror(-code);
      return code;
    }
  }
  g_path = path;
  return 0;
}

const std::string& log_file_path() { return g_path; }

}  // namespace tether
