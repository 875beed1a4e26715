#include "sdnotify.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "log.hpp"

namespace tether {

SdNotify::SdNotify(uv_loop_t* loop) : watchdog_(loop) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path || std::strlen(path) >= sizeof addr_.sun_path) return;
  addr_.sun_family = AF_UNIX;
  std::strncpy(addr_.sun_path, path, sizeof addr_.sun_path - 1);
  if (path[0] == '@') addr_.sun_path[0] = '\0';  // abstract namespace
  addr_len_ = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + std::strlen(path));
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  // WATCHDOG_PID, when set, names the process the watchdog is meant for.
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec && (!pid || std::atol(pid) == static_cast<long>(getpid()))) {
    watchdog_ms_ = std::strtoull(usec, nullptr, 10) / 2000;
    if (watchdog_ms_ == 0 && std::strtoull(usec, nullptr, 10) > 0) watchdog_ms_ = 1;
  }
  if (fd_ >= 0 && watchdog_ms_) {
    log_info("systemd watchdog: pinging every %llums", static_cast<unsigned long long>(watchdog_ms_));
    kick_watchdog();
  }
}

SdNotify::~SdNotify() {
  if (fd_ >= 0) close(fd_);
}

void SdNotify::kick_watchdog() {
  send("WATCHDOG=1");
  watchdog_.start(watchdog_ms_, [this] { kick_watchdog(); });
}

void SdNotify::send(const std::string& msg) {
  if (fd_ < 0) return;
  if (sendto(fd_, msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr_), addr_len_) < 0)
    log_debug("sd_notify %s: %s", msg.c_str(), std::strerror(errno));
}

void SdNotify::ready() { send("READY=1"); }

void SdNotify::status(const std::string& text) {
  if (text == last_status_) return;
  last_status_ = text;
  send("STATUS=" + text);
}

void SdNotify::stopping() { send("STOPPING=1"); }

}  // namespace tether
