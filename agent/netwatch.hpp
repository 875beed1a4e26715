// Link awareness: a NETLINK_ROUTE socket under uv_poll, subscribed to the
// kernel's link, address and route groups (IPv4 and IPv6). The kernel
// speaks only when something changes, so an idle board costs no wake-up.
// At start, and whenever the kernel says messages were lost (ENOBUFS), the
// links and routes are read afresh with a dump. on_change fires when the
// answer to "online?" (routes.hpp) flips, never in the middle of a dump.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "routes.hpp"
#include "uvpp.hpp"

namespace tether {

class NetWatch {
 public:
  NetWatch(uv_loop_t* loop, OnlineRule rule);
  ~NetWatch();
  NetWatch(const NetWatch&) = delete;
  NetWatch& operator=(const NetWatch&) = delete;

  // Opens the socket and reads the current state before it returns
  // (on_change fires then if the board is offline). Returns 0 or a negative
  // errno; without a socket (no permission, no netlink) the agent counts
  // as online, as it did before it watched.
  int start(std::function<void(bool online)> on_change);

  bool online() const { return online_; }
  std::string describe() const { return state_.describe(rule_); }

 private:
  enum class Dump { none, links, routes };

  static void on_readable(uv_poll_t* h, int status, int events);
  void read_all();
  void initial_read();
  int request(Dump what);
  void settle();

  uv_loop_t* loop_;
  OnlineRule rule_;
  int fd_ = -1;
  UvHandle<uv_poll_t> poll_;
  RouteState state_;
  Dump dumping_ = Dump::none;
  bool routes_again_ = false;  // a link changed while a dump was running
  bool online_ = true;
  uint32_t seq_ = 0;
  std::function<void(bool)> on_change_;
};

}  // namespace tether
