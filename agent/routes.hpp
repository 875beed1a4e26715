// Is the board online? The kernel's routing state, as rtnetlink reports it,
// folded into one answer. Pure: it reads netlink messages from a buffer and
// never touches a socket, so every case is a unit test (netwatch.cpp feeds
// it from the loop).
//
// A route only counts while the link it leaves through is running (up with
// carrier): on a lost carrier Linux keeps IPv4 routes, marked linkdown, so
// the route table alone would still say online.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

namespace tether {

enum class OnlineRule {
  default_route,  // a default route (IPv4 or IPv6) through a running link
  any_route,      // any unicast route through a running link other than loopback
  none,           // always online: the agent never pauses tunnels
};
const char* online_rule_name(OnlineRule r);
bool parse_online_rule(const std::string& s, OnlineRule* out);

class RouteState {
 public:
  // Applies every route and link message in a netlink buffer (a recv()
  // from a NETLINK_ROUTE socket, or a dump's reply). Returns the number of
  // bytes used; sets *dump_done on NLMSG_DONE and *error on NLMSG_ERROR.
  size_t apply(const void* buf, size_t len, bool* dump_done = nullptr, int* error = nullptr);

  bool online(OnlineRule rule) const;
  // "default route via eth0", "no default route", ... for status and logs.
  std::string describe(OnlineRule rule) const;

  // Forget everything (before a fresh dump after the socket overflowed).
  void clear();
  // Linux flushes the IPv4 routes of a link that goes down, or of an
  // address that is removed, without a message for each, so after such a
  // change the route table must be read again: true once after it; then
  // clear_routes() and dump.
  bool take_resync();
  void clear_routes() { routes_.clear(); }

 private:
  // family, table, destination length, destination, metric, outgoing link:
  // what tells two routes apart.
  using RouteKey = std::tuple<int, uint32_t, int, std::string, uint32_t, int>;
  struct Link {
    bool running = false;
    bool loopback = false;
    std::string name;
  };

  void route(bool add, const void* msg, size_t len);
  void link(bool add, const void* msg, size_t len);
  bool link_running(int index) const;

  std::set<RouteKey> routes_;
  std::map<int, Link> links_;
  bool resync_ = false;
};

}  // namespace tether
