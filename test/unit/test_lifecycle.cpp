#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lifecycle.hpp"

using namespace tether;
using namespace tether::lifecycle;

namespace {

// One row of the expected table: in state `from`, on `event`, when every
// condition of `when` holds, next() gives `to` with `actions`. The first
// matching row of a cell wins; a cell without a matching row must do
// nothing at all (same state, no action).
//
// Conditions: online, down (offline), shutdown, alive, dead, connected, up,
// named, creds (Unauthorized seen), token (token rejected), usedup
// (max_restarts reached), pause|stop|leave (offline_action); "" always.
struct Row {
  State from;
  Event event;
  const char* when;
  State to;
  uint32_t actions;
};

using S = State;
using E = Event;

// Rows shared by several states, written out per state below.
std::vector<Row> stop_rows(S s) {
  return {{s, E::stop, "alive", S::stopping, kTerminate}, {s, E::stop, "", s, kRemove}};
}

std::vector<Row> restart_rows(S s) {
  return {{s, E::restart, "shutdown", s, kReplyBusy},
          {s, E::restart, "alive", S::restarting, kResetAttempts | kTerminate},
          {s, E::restart, "online", S::starting, kResetAttempts | kSpawn},
          {s, E::restart, "", S::offline, kResetAttempts | (s == S::offline ? kNone : kAnnounceOffline)}};
}

std::vector<Row> network_lost_rows(S s) {
  return {{s, E::network_lost, "dead", S::offline, kAnnounceOffline},
          {s, E::network_lost, "pause", S::offline, kPause | kAnnounceOffline},
          {s, E::network_lost, "stop", S::offline_ending, kTerminate | kAnnounceOffline},
          {s, E::network_lost, "leave", S::offline, kResume | kAnnounceOffline}};
}

std::vector<Row> up_rows(S s) {
  std::vector<Row> r = {
      {s, E::url, "", s == S::starting ? S::running : s, kAnswerUrl},
      {s, E::registered, "named", S::running, kNotifyConnected | kAnswerUp},
      {s, E::registered, "", S::running, kNotifyConnected},
      {s, E::unregistered, "", s == S::running ? S::degraded : s, kNotifyDisconnected},
      {s, E::exited, "down", S::offline, kRecordExit},
      {s, E::exited, "token", S::failed, kReportCrash | kFailCredentials},
      {s, E::exited, "usedup", S::failed, kReportCrash | kCountRestart | kFailRestarts},
      {s, E::exited, "", S::backoff, kReportCrash | kCountRestart | kArmBackoff},
      {s, E::unhealthy, "creds", S::failed, kFailCredentials | kTerminate},
      {s, E::unhealthy, "", S::restarting, kTerminate},
      {s, E::heal, "shutdown", s, kNone},
      {s, E::heal, "dead online", S::starting, kResetAttempts | kSpawn},
      {s, E::heal, "dead", S::offline, kResetAttempts | kAnnounceOffline},
      {s, E::heal, "connected", S::restarting, kResetAttempts | kTerminate},
      {s, E::heal, "", S::restarting, kResetAttempts | kKill},
      {s, E::shutdown, "alive", S::halting, kTerminate},
  };
  if (s == S::starting) {
    r.push_back({s, E::spawn_failed, "usedup", S::failed, kCountRestart | kFailRestarts});
    r.push_back({s, E::spawn_failed, "", S::backoff, kCountRestart | kArmBackoff});
  }
  for (auto v : {stop_rows(s), restart_rows(s), network_lost_rows(s)}) r.insert(r.end(), v.begin(), v.end());
  return r;
}

std::vector<Row> expected_table() {
  std::vector<Row> t = {
      {S::created, E::start, "online", S::starting, kSpawn},
      {S::created, E::start, "", S::offline, kAnnounceOffline},

      {S::backoff, E::backoff_due, "shutdown", S::backoff, kNone},
      {S::backoff, E::backoff_due, "online", S::starting, kSpawn},
      {S::backoff, E::backoff_due, "", S::offline, kAnnounceOffline},
      {S::backoff, E::heal, "shutdown", S::backoff, kNone},
      {S::backoff, E::heal, "online", S::starting, kResetAttempts | kSpawn},
      {S::backoff, E::heal, "", S::offline, kResetAttempts | kAnnounceOffline},
      {S::backoff, E::shutdown, "", S::backoff, kCancelBackoff},

      {S::stopping, E::exited, "", S::stopping, kRecordExit | kRemove},
      {S::stopping, E::restart, "", S::stopping, kReplyBusy},
      {S::stopping, E::shutdown, "alive", S::stopping, kTerminate},

      {S::restarting, E::exited, "online", S::starting, kRecordExit | kSpawn},
      {S::restarting, E::exited, "", S::offline, kRecordExit | kAnnounceOffline},
      {S::restarting, E::shutdown, "alive", S::halting, kTerminate},

      {S::halting, E::exited, "", S::halting, kRecordExit | kCheckShutdown},
      {S::halting, E::restart, "", S::halting, kReplyBusy},
      {S::halting, E::shutdown, "alive", S::halting, kTerminate},

      // Given up: a child still in its stop grace period that prints a
      // Registered line (or anything else) does not bring it back.
      {S::failed, E::exited, "", S::failed, kCheckShutdown},
      {S::failed, E::shutdown, "alive", S::failed, kTerminate},

      {S::offline, E::url, "", S::offline, kAnswerUrl},
      {S::offline, E::exited, "", S::offline, kRecordExit},
      {S::offline, E::shutdown, "alive", S::halting, kTerminate},
      {S::offline, E::network_back, "shutdown", S::offline, kNone},
      {S::offline, E::network_back, "dead online", S::starting, kAnnounceOnline | kResetAttempts | kSpawn},
      {S::offline, E::network_back, "dead", S::offline, kAnnounceOnline | kResetAttempts},
      {S::offline, E::network_back, "up", S::running, kAnnounceOnline | kResetAttempts | kResume | kAwaitReconnect},
      {S::offline, E::network_back, "", S::starting, kAnnounceOnline | kResetAttempts | kResume | kAwaitReconnect},

      {S::offline_ending, E::exited, "online", S::starting, kRecordExit | kSpawn},
      {S::offline_ending, E::exited, "", S::offline, kRecordExit},
      {S::offline_ending, E::shutdown, "alive", S::halting, kTerminate},
      {S::offline_ending, E::network_back, "shutdown", S::offline_ending, kNone},
      {S::offline_ending, E::network_back, "", S::restarting, kAnnounceOnline | kResetAttempts},
  };
  for (S s : {S::starting, S::running, S::degraded}) {
    auto v = up_rows(s);
    t.insert(t.end(), v.begin(), v.end());
  }
  for (S s : {S::backoff, S::stopping, S::restarting, S::halting, S::failed, S::offline, S::offline_ending}) {
    auto v = stop_rows(s);
    t.insert(t.end(), v.begin(), v.end());
  }
  for (S s : {S::backoff, S::restarting, S::failed, S::offline, S::offline_ending}) {
    auto v = restart_rows(s);
    t.insert(t.end(), v.begin(), v.end());
  }
  auto v = network_lost_rows(S::backoff);
  t.insert(t.end(), v.begin(), v.end());
  return t;
}

bool holds(const std::string& when, const Facts& f) {
  std::istringstream words(when);
  std::string w;
  static const std::string known =
      " online down shutdown alive dead connected up named creds token usedup pause stop leave ";
  while (words >> w) {
    REQUIRE(known.find(" " + w + " ") != std::string::npos);
    bool ok = w == "online"      ? f.online
              : w == "down"      ? !f.online
              : w == "shutdown"  ? f.shutting_down
              : w == "alive"     ? f.child_alive
              : w == "dead"      ? !f.child_alive
              : w == "connected" ? f.connected
              : w == "up"        ? f.up
              : w == "named"     ? f.named
              : w == "creds"     ? f.credentials_error
              : w == "token"     ? f.token_rejected
              : w == "usedup"    ? f.restarts_used_up
              : w == "pause"     ? f.offline_action == OfflineAction::pause
              : w == "stop"      ? f.offline_action == OfflineAction::stop
              : w == "leave"     ? f.offline_action == OfflineAction::leave
                                 : false;
    if (!ok) return false;
  }
  return true;
}

std::string actions_text(uint32_t a) {
  std::string out;
  for (int i = 0; i < kActions; ++i)
    if (a & (1u << i)) out += std::string(out.empty() ? "" : "|") + name(static_cast<Action>(1u << i));
  return out.empty() ? "none" : out;
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

TEST_CASE("every cell of the lifecycle table is as written here, the cells that do nothing too") {
  const std::vector<Row> table = expected_table();
  const std::vector<Facts> facts = all_facts();
  for (int si = 0; si < kStates; ++si) {
    for (int ei = 0; ei < kEvents; ++ei) {
      S s = static_cast<S>(si);
      E e = static_cast<E>(ei);
      DYNAMIC_SECTION(name(s) << " x " << name(e)) {
        for (const Facts& f : facts) {
          Step want{s, kNone};
          for (const Row& r : table) {
            if (r.from == s && r.event == e && holds(r.when, f)) {
              want = {r.to, r.actions};
              break;
            }
          }
          Step got = next(s, e, f);
          INFO("online=" << f.online << " shutting_down=" << f.shutting_down << " alive=" << f.child_alive
                         << " connected=" << f.connected << " up=" << f.up << " named=" << f.named << " creds="
                         << f.credentials_error << " token=" << f.token_rejected << " usedup=" << f.restarts_used_up
                         << " offline_action=" << static_cast<int>(f.offline_action));
          CHECK(std::string(name(got.state)) == name(want.state));
          CHECK(actions_text(got.actions) == actions_text(want.actions));
          if (!(got == want)) return;  // one combination is enough to show a wrong cell
        }
      }
    }
  }
}

TEST_CASE("a Registered line while failed, the child still in its grace period, changes nothing") {
  Facts f;
  f.child_alive = true;
  f.credentials_error = true;
  Step st = next(S::failed, E::registered, f);
  CHECK(st.state == S::failed);
  CHECK(st.actions == kNone);
  CHECK(next(S::failed, E::url, f).state == S::failed);
  CHECK(next(S::failed, E::unregistered, f).actions == kNone);
}

TEST_CASE("restart of a tunnel being stopped is refused before anything changes") {
  Facts f;
  f.child_alive = true;
  CHECK(next(S::stopping, E::restart, f) == Step{S::stopping, kReplyBusy});
  CHECK(next(S::halting, E::restart, f) == Step{S::halting, kReplyBusy});
}

TEST_CASE("each finer state shows as one of the seven documented names") {
  CHECK(visible(S::created) == TunnelState::starting);
  CHECK(visible(S::restarting) == TunnelState::stopping);
  CHECK(visible(S::halting) == TunnelState::stopping);
  CHECK(visible(S::offline_ending) == TunnelState::offline);
  for (S s : {S::starting, S::running, S::degraded, S::backoff, S::stopping, S::failed, S::offline})
    CHECK(std::string(state_name(visible(s))) == name(s));
}

TEST_CASE("the transitions in lifecycle.hpp and docs/DESIGN.md are the table's") {
  const std::string want = transitions_text();
  REQUIRE(!want.empty());

  // lifecycle.hpp: the comment lines "//   from --event--> to".
  std::istringstream header(read(TETHER_SOURCE_DIR "/agent/lifecycle.hpp"));
  std::string line, drawn;
  while (std::getline(header, line))
    if (line.rfind("//   ", 0) == 0 && line.find("--> ") != std::string::npos) drawn += line.substr(5) + "\n";
  CHECK(drawn == want);

  // docs/DESIGN.md: the ```text block of "## Tunnel states".
  std::string doc = read(TETHER_SOURCE_DIR "/docs/DESIGN.md");
  size_t start = doc.find("\n## Tunnel states\n");
  REQUIRE(start != std::string::npos);
  size_t end = doc.find("\n## ", start + 5);
  std::string section = doc.substr(start, end - start);
  size_t open = section.find("```text\n");
  REQUIRE(open != std::string::npos);
  open += 8;
  size_t close = section.find("```", open);
  REQUIRE(close != std::string::npos);
  CHECK(section.substr(open, close - open) == want);
}
