#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "routes.hpp"

using namespace tether;

namespace {

// Netlink messages as the kernel lays them out, built one attribute at a time.
class Msg {
 public:
  Msg(uint16_t type, const void* fixed, size_t n) : type_(type) { append(fixed, n); }

  Msg& attr(uint16_t type, const void* data, size_t n) {
    rtattr a;
    a.rta_type = type;
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(n));
    append(&a, sizeof a);
    append(data, n);
    return *this;
  }
  Msg& u32(uint16_t type, uint32_t v) { return attr(type, &v, sizeof v); }

  void into(std::vector<unsigned char>& out) const {
    nlmsghdr h = {};
    h.nlmsg_type = type_;
    h.nlmsg_len = static_cast<uint32_t>(NLMSG_HDRLEN + body_.size());
    size_t at = out.size();
    out.resize(at + NLMSG_ALIGN(h.nlmsg_len));
    std::memcpy(&out[at], &h, sizeof h);
    std::memcpy(&out[at + NLMSG_HDRLEN], body_.data(), body_.size());
  }

 private:
  void append(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    body_.insert(body_.end(), b, b + n);
    body_.resize((body_.size() + 3) & ~size_t(3));
  }
  uint16_t type_;
  std::vector<unsigned char> body_;
};

Msg link_msg(bool add, int index, unsigned flags, const char* name) {
  ifinfomsg ifi = {};
  ifi.ifi_index = index;
  ifi.ifi_flags = flags;
  Msg m(add ? RTM_NEWLINK : RTM_DELLINK, &ifi, sizeof ifi);
  m.attr(IFLA_IFNAME, name, std::strlen(name) + 1);
  return m;
}

Msg route_msg(bool add, int family, int dst_len, int oif, unsigned char type = RTN_UNICAST,
              unsigned char table = RT_TABLE_MAIN) {
  rtmsg rt = {};
  rt.rtm_family = static_cast<unsigned char>(family);
  rt.rtm_dst_len = static_cast<unsigned char>(dst_len);
  rt.rtm_table = table;
  rt.rtm_type = type;
  Msg m(add ? RTM_NEWROUTE : RTM_DELROUTE, &rt, sizeof rt);
  m.u32(RTA_TABLE, table).u32(RTA_OIF, static_cast<uint32_t>(oif));
  if (dst_len) {
    unsigned char dst[4] = {192, 0, 2, 0};
    m.attr(RTA_DST, dst, sizeof dst);
  }
  return m;
}

void feed(RouteState& s, std::initializer_list<Msg> msgs) {
  std::vector<unsigned char> buf;
  for (const auto& m : msgs) m.into(buf);
  REQUIRE(s.apply(buf.data(), buf.size()) == buf.size());
}

constexpr unsigned kUp = IFF_UP | IFF_RUNNING;

}  // namespace

TEST_CASE("online rules parse and print") {
  OnlineRule r;
  REQUIRE(parse_online_rule("default-route", &r));
  REQUIRE(r == OnlineRule::default_route);
  REQUIRE(parse_online_rule("any-route", &r));
  REQUIRE(r == OnlineRule::any_route);
  REQUIRE(parse_online_rule("none", &r));
  REQUIRE(std::string(online_rule_name(r)) == "none");
  REQUIRE_FALSE(parse_online_rule("default", &r));
}

TEST_CASE("a default route through a running link is online; removing it is offline") {
  RouteState s;
  feed(s, {link_msg(true, 1, kUp | IFF_LOOPBACK, "lo"), link_msg(true, 2, kUp, "wwan0")});
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
  REQUIRE(s.describe(OnlineRule::default_route) == "no default route through a running link");
  feed(s, {route_msg(true, AF_INET, 0, 2)});
  REQUIRE(s.online(OnlineRule::default_route));
  REQUIRE(s.describe(OnlineRule::default_route) == "default route via wwan0");
  feed(s, {route_msg(false, AF_INET, 0, 2)});
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
}

TEST_CASE("an IPv6 default route counts as well") {
  RouteState s;
  feed(s, {link_msg(true, 3, kUp, "wlan0"), route_msg(true, AF_INET6, 0, 3)});
  REQUIRE(s.online(OnlineRule::default_route));
}

TEST_CASE("a route whose link lost its carrier does not count, and the table must be read again") {
  RouteState s;
  feed(s, {link_msg(true, 2, kUp, "eth0"), route_msg(true, AF_INET, 0, 2)});
  REQUIRE(s.online(OnlineRule::default_route));
  REQUIRE_FALSE(s.take_resync());
  feed(s, {link_msg(true, 2, IFF_UP, "eth0")});  // up, no carrier
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
  REQUIRE(s.take_resync());
  REQUIRE_FALSE(s.take_resync());
  feed(s, {link_msg(true, 2, kUp, "eth0")});
  REQUIRE(s.online(OnlineRule::default_route));
  REQUIRE(s.take_resync());
}

TEST_CASE("unreachable, local-table and loopback routes never make the board online") {
  RouteState s;
  feed(s, {link_msg(true, 1, kUp | IFF_LOOPBACK, "lo"), link_msg(true, 2, kUp, "eth0"),
           route_msg(true, AF_INET6, 0, 2, RTN_UNREACHABLE),
           route_msg(true, AF_INET, 0, 2, RTN_UNICAST, RT_TABLE_LOCAL), route_msg(true, AF_INET, 8, 1)});
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
  REQUIRE_FALSE(s.online(OnlineRule::any_route));
  REQUIRE(s.online(OnlineRule::none));
}

TEST_CASE("any-route accepts a subnet route; default-route does not") {
  RouteState s;
  feed(s, {link_msg(true, 2, kUp, "mesh0"), route_msg(true, AF_INET, 24, 2)});
  REQUIRE(s.online(OnlineRule::any_route));
  REQUIRE(s.describe(OnlineRule::any_route) == "route via mesh0");
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
}

TEST_CASE("a deleted link takes its routes' worth with it") {
  RouteState s;
  feed(s, {link_msg(true, 4, kUp, "usb0"), route_msg(true, AF_INET, 0, 4)});
  REQUIRE(s.online(OnlineRule::default_route));
  feed(s, {link_msg(false, 4, 0, "usb0")});
  REQUIRE_FALSE(s.online(OnlineRule::default_route));
  REQUIRE(s.take_resync());
}

TEST_CASE("a removed address asks for the route table again (its routes went silently)") {
  RouteState s;
  feed(s, {link_msg(true, 2, kUp, "eth0"), route_msg(true, AF_INET, 0, 2)});
  REQUIRE_FALSE(s.take_resync());
  ifaddrmsg ifa = {};
  ifa.ifa_family = AF_INET;
  ifa.ifa_index = 2;
  feed(s, {Msg(RTM_NEWADDR, &ifa, sizeof ifa)});
  REQUIRE_FALSE(s.take_resync());
  feed(s, {Msg(RTM_DELADDR, &ifa, sizeof ifa)});
  REQUIRE(s.take_resync());
}

TEST_CASE("a dump's end and errors are reported; truncated input is left unread") {
  RouteState s;
  std::vector<unsigned char> buf;
  int err = -ENOBUFS;
  Msg(NLMSG_ERROR, &err, sizeof err).into(buf);
  Msg(NLMSG_DONE, &err, sizeof err).into(buf);
  bool done = false;
  int error = 0;
  REQUIRE(s.apply(buf.data(), buf.size(), &done, &error) == buf.size());
  REQUIRE(done);
  REQUIRE(error == -ENOBUFS);

  std::vector<unsigned char> partial;
  route_msg(true, AF_INET, 0, 2).into(partial);
  REQUIRE(s.apply(partial.data(), partial.size() - 8) == 0);
  REQUIRE(s.apply(partial.data(), 3) == 0);
}
