#include "routes.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>

namespace tether {
namespace {

// netlink's own macros cast away const and do pointer arithmetic on ints;
// these do the same walk on a const buffer with explicit bounds.
template <typename F>
void for_each_attr(const void* first, size_t len, F f) {
  const auto* p = static_cast<const unsigned char*>(first);
  while (len >= sizeof(rtattr)) {
    rtattr a;
    std::memcpy(&a, p, sizeof a);
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len) return;
    f(a.rta_type, p + RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0));
    size_t step = RTA_ALIGN(a.rta_len);
    if (step >= len) return;
    p += step;
    len -= step;
  }
}

uint32_t u32(const unsigned char* p, size_t n) {
  uint32_t v = 0;
  if (n >= sizeof v) std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

const char* online_rule_name(OnlineRule r) {
  switch (r) {
    case OnlineRule::default_route: return "default-route";
    case OnlineRule::any_route: return "any-route";
    case OnlineRule::none: return "none";
  }
  return "?";
}

bool parse_online_rule(const std::string& s, OnlineRule* out) {
  for (OnlineRule r : {OnlineRule::default_route, OnlineRule::any_route, OnlineRule::none}) {
    if (s == online_rule_name(r)) {
      *out = r;
      return true;
    }
  }
  return false;
}

size_t RouteState::apply(const void* buf, size_t len, bool* dump_done, int* error) {
  const auto* p = static_cast<const unsigned char*>(buf);
  size_t used = 0;
  while (len - used >= sizeof(nlmsghdr)) {
    nlmsghdr h;
    std::memcpy(&h, p + used, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > len - used) break;
    const unsigned char* body = p + used + NLMSG_HDRLEN;
    size_t body_len = h.nlmsg_len - NLMSG_HDRLEN;
    switch (h.nlmsg_type) {
      case RTM_NEWROUTE: route(true, body, body_len); break;
      case RTM_DELROUTE: route(false, body, body_len); break;
      case RTM_NEWLINK: link(true, body, body_len); break;
      case RTM_DELLINK: link(false, body, body_len); break;
      // Removing an IPv4 address flushes the routes that used it without a
      // message for each (like a link going down): read the table again.
      case RTM_DELADDR: resync_ = true; break;
      case NLMSG_DONE:
        if (dump_done) *dump_done = true;
        break;
      case NLMSG_ERROR:
        if (error && body_len >= sizeof(int)) {
          int e;
          std::memcpy(&e, body, sizeof e);
          *error = e;
        }
        break;
      default: break;
    }
    used += NLMSG_ALIGN(h.nlmsg_len);
    if (used > len) used = len;
  }
  return used;
}

void RouteState::route(bool add, const void* msg, size_t len) {
  if (len < sizeof(rtmsg)) return;
  rtmsg rt;
  std::memcpy(&rt, msg, sizeof rt);
  // Local, broadcast, unreachable and blackhole routes carry no traffic out.
  if (rt.rtm_type != RTN_UNICAST) return;
  uint32_t table = rt.rtm_table;
  uint32_t metric = 0;
  int oif = 0;
  std::string dst;
  std::set<int> hops;
  for_each_attr(static_cast<const unsigned char*>(msg) + NLMSG_ALIGN(sizeof rt), len - NLMSG_ALIGN(sizeof rt),
                [&](int type, const unsigned char* data, size_t n) {
                  switch (type) {
                    case RTA_TABLE: table = u32(data, n); break;
                    case RTA_PRIORITY: metric = u32(data, n); break;
                    case RTA_OIF: oif = static_cast<int>(u32(data, n)); break;
                    case RTA_DST: dst.assign(reinterpret_cast<const char*>(data), n); break;
                    case RTA_MULTIPATH: {
                      // Each next hop leaves through its own link.
                      size_t off = 0;
                      while (n - off >= sizeof(rtnexthop)) {
                        rtnexthop nh;
                        std::memcpy(&nh, data + off, sizeof nh);
                        if (nh.rtnh_len < sizeof nh || nh.rtnh_len > n - off) break;
                        hops.insert(nh.rtnh_ifindex);
                        off += RTNH_ALIGN(nh.rtnh_len);
                      }
                      break;
                    }
                    default: break;
                  }
                });
  if (table == RT_TABLE_LOCAL) return;
  if (hops.empty()) hops.insert(oif);
  for (int hop : hops) {
    RouteKey key{rt.rtm_family, table, rt.rtm_dst_len, dst, metric, hop};
    if (add) routes_.insert(key);
    else routes_.erase(key);
  }
}

void RouteState::link(bool add, const void* msg, size_t len) {
  if (len < sizeof(ifinfomsg)) return;
  ifinfomsg ifi;
  std::memcpy(&ifi, msg, sizeof ifi);
  if (!add) {
    resync_ = resync_ || links_.erase(ifi.ifi_index) != 0;
    return;
  }
  auto known = links_.find(ifi.ifi_index);
  bool was_running = known != links_.end() && known->second.running;
  Link& l = links_[ifi.ifi_index];
  // IFF_RUNNING: administratively up and the carrier is there.
  l.running = (ifi.ifi_flags & IFF_UP) && (ifi.ifi_flags & IFF_RUNNING);
  if (known != links_.end() && was_running != l.running) resync_ = true;
  l.loopback = ifi.ifi_flags & IFF_LOOPBACK;
  for_each_attr(static_cast<const unsigned char*>(msg) + NLMSG_ALIGN(sizeof ifi), len - NLMSG_ALIGN(sizeof ifi),
                [&](int type, const unsigned char* data, size_t n) {
                  if (type == IFLA_IFNAME)
                    l.name.assign(reinterpret_cast<const char*>(data), strnlen(reinterpret_cast<const char*>(data), n));
                });
}

bool RouteState::link_running(int index) const {
  auto it = links_.find(index);
  return it != links_.end() && it->second.running && !it->second.loopback;
}

bool RouteState::online(OnlineRule rule) const {
  if (rule == OnlineRule::none) return true;
  for (const auto& r : routes_) {
    bool is_default = std::get<2>(r) == 0;
    if ((is_default || rule == OnlineRule::any_route) && link_running(std::get<5>(r))) return true;
  }
  return false;
}

std::string RouteState::describe(OnlineRule rule) const {
  if (rule == OnlineRule::none) return "network not watched";
  const char* what = rule == OnlineRule::default_route ? "default route" : "route";
  for (const auto& r : routes_) {
    bool is_default = std::get<2>(r) == 0;
    if ((is_default || rule == OnlineRule::any_route) && link_running(std::get<5>(r)))
      return std::string(what) + " via " + links_.at(std::get<5>(r)).name;
  }
  return std::string("no ") + what + " through a running link";
}

void RouteState::clear() {
  routes_.clear();
  links_.clear();
  resync_ = false;
}

bool RouteState::take_resync() {
  bool r = resync_;
  resync_ = false;
  return r;
}

}  // namespace tether
