// The systemd notify protocol, spoken directly (no libsystemd): datagrams
// to $NOTIFY_SOCKET. READY=1 once the agent serves, STATUS= when tunnels
// change, WATCHDOG=1 every half of $WATCHDOG_USEC (only when systemd asked
// for a watchdog: otherwise no timer, no wake-up), STOPPING=1 on shutdown.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

#include <cstdint>
#include <string>

#include "uvpp.hpp"

namespace tether {

class SdNotify {
 public:
  explicit SdNotify(uv_loop_t* loop);
  ~SdNotify();
  SdNotify(const SdNotify&) = delete;
  SdNotify& operator=(const SdNotify&) = delete;

  bool enabled() const { return fd_ >= 0; }
  void ready();
  void status(const std::string& text);  // sent only when it changed
  // STOPPING=1; the watchdog keeps being fed until stop_watchdog(), as the
  // agent may take stop_grace_s to stop its tunnels.
  void stopping();
  void stop_watchdog() { watchdog_.stop(); }

 private:
  void send(const std::string& msg);
  void kick_watchdog();

  int fd_ = -1;
  struct sockaddr_un addr_ = {};
  socklen_t addr_len_ = 0;
  uint64_t watchdog_ms_ = 0;
  Timer watchdog_;
  std::string last_status_;
};

}  // namespace tether
