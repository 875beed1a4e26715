#include "netwatch.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
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
  int rc = 0;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) rc = -errno;
  if (rc == 0) rc = poll_.init(loop_, this, uv_poll_init, fd_);
  if (rc == 0) rc = uv_poll_start(poll_.get(), UV_READABLE, on_readable);
  if (rc == 0) rc = request(Dump::links);
  if (rc < 0) {
    poll_.reset();
    close(fd_);
    fd_ = -1;
    return rc;
  }
  // The first answer comes from the dump; until then the agent assumes the
  // network is there rather than holding every tunnel back at boot.
  return 0;
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
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      // The kernel dropped messages: what we hold may be wrong. Read it all again.
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
