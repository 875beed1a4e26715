#include "netwatch.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log.hpp"

namespace tether {

NetWatch::NetWatch(uv_loop_t* loop, OnlineRule rule) : loop_(loop), rule_(rule) {}

NetWatch::~NetWatch() {
  poll_.reset();
  if (fd_ >= 0) close(fd_);
}

int NetWatch::start(std::function<void(bool)> on_change) {
  on_change_ = std::move(on_change);
  if (rule_ == OnlineRule::none) return 0;
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return -errno;
  sockaddr_nl sa = {};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
  // Room for a burst of changes (a link flapping with many routes) before
  // the kernel has to drop messages and a full read is needed.
  int rcvbuf = 256 * 1024;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  int rc = 0;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) rc = -errno;
  if (rc == 0) rc = request(Dump::links);
  if (rc == 0) initial_read();
  if (rc == 0) rc = poll_readable(loop_, poll_, this, fd_, on_readable);
  if (rc < 0) {
    close(fd_);
    fd_ = -1;
    online_ = true;
    return rc;
  }
  return 0;
}

// The first answer is read before start() returns, so tunnels restored or
// autostarted at boot already know whether there is a network (a board that
// boots without one never spawns a child that cannot connect). Netlink
// answers a local dump in microseconds; the bound only guards against a
// kernel that never does, and then the agent assumes it is online.
void NetWatch::initial_read() {
  uint64_t deadline = uv_hrtime() + 1000000000ULL;
  while (dumping_ != Dump::none || routes_again_) {
    uint64_t now = uv_hrtime();
    if (now >= deadline) {
      log_warn("network: no answer from the kernel's routing table; assuming online");
      return;
    }
    pollfd p = {fd_, POLLIN, 0};
    int n = poll(&p, 1, static_cast<int>((deadline - now) / 1000000 + 1));
    if (n < 0 && errno != EINTR) return;
    if (n > 0) read_all();
  }
}

// One dump at a time: the kernel refuses a second one on the same socket
// while the first is still being answered.
int NetWatch::request(Dump what) {
  struct {
    nlmsghdr h;
    rtgenmsg g;
  } req = {};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = what == Dump::links ? RTM_GETLINK : RTM_GETROUTE;
  req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.h.nlmsg_seq = ++seq_;
  req.g.rtgen_family = AF_UNSPEC;  // IPv4 and IPv6 in one answer
  if (what == Dump::routes) state_.clear_routes();
  if (send(fd_, &req, sizeof req, 0) < 0) return -errno;
  dumping_ = what;
  return 0;
}

void NetWatch::on_readable(uv_poll_t* h, int status, int) {
  auto* self = static_cast<NetWatch*>(h->data);
  if (!self || status < 0) return;
  self->read_all();
}

void NetWatch::read_all() {
  // 32 KiB: the largest datagram the kernel builds for a dump.
  alignas(nlmsghdr) static char buf[32768];
  for (;;) {
    sockaddr_nl from = {};
    socklen_t from_len = sizeof from;
    // MSG_TRUNC: the real length, so a datagram cut short is noticed.
    ssize_t n = recvfrom(fd_, buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0 && errno == EINTR) continue;
    // Any local process may send a datagram to this socket; only the
    // kernel (port 0) speaks for the routing table.
    if (n > 0 && from.nl_pid != 0) continue;
    if ((n < 0 && errno == ENOBUFS) || n > static_cast<ssize_t>(sizeof buf)) {
      // The kernel dropped messages (or one did not fit): what we hold may
      // be wrong. Read it all again.
      log_warn("network: routing messages were lost; reading the routing state again");
      state_.clear();
      routes_again_ = false;
      if (request(Dump::links) < 0) dumping_ = Dump::none;
      continue;
    }
    if (n <= 0) break;
    bool done = false;
    int error = 0;
    state_.apply(buf, static_cast<size_t>(n), &done, &error);
    if (state_.take_resync()) routes_again_ = true;
    if (done || error) {
      Dump finished = dumping_;
      dumping_ = Dump::none;
      if (finished == Dump::links || routes_again_) {
        routes_again_ = false;
        if (request(Dump::routes) < 0) log_warn("network: cannot read the routing table: %s", strerror(errno));
      }
    }
  }
  if (dumping_ == Dump::none && routes_again_) {
    routes_again_ = false;
    request(Dump::routes);
  }
  settle();
}

void NetWatch::settle() {
  if (dumping_ != Dump::none) return;
  bool now = state_.online(rule_);
  if (now == online_) return;
  online_ = now;
  log_info("network: %s (%s)", now ? "online" : "offline", state_.describe(rule_).c_str());
  if (on_change_) on_change_(now);
}

}  // namespace tether
