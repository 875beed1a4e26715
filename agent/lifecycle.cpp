#include "lifecycle.hpp"

#include <set>
#include <vector>

namespace tether::lifecycle {
namespace {

bool up_state(State s) { return s == State::starting || s == State::running || s == State::degraded; }

// A new child if there is a route, else wait for one in `offline`.
Step spawn_or_wait(State s, const Facts& f, uint32_t extra = kNone) {
  if (f.online) return {State::starting, extra | kSpawn};
  return {State::offline, extra | (s == State::offline ? kNone : kAnnounceOffline)};
}

Step network_lost(State s, const Facts& f) {
  if (!f.child_alive) return {State::offline, kAnnounceOffline};
  switch (f.offline_action) {
    case OfflineAction::pause: return {State::offline, kPause | kAnnounceOffline};
    case OfflineAction::stop: return {State::offline_ending, kTerminate | kAnnounceOffline};
    case OfflineAction::leave: return {State::offline, kResume | kAnnounceOffline};
  }
  return {s};
}

// An exit nobody asked for.
Step crashed(const Facts& f) {
  if (!f.online) return {State::offline, kRecordExit};
  if (f.token_rejected) return {State::failed, kReportCrash | kFailCredentials};
  if (f.restarts_used_up) return {State::failed, kReportCrash | kCountRestart | kFailRestarts};
  return {State::backoff, kReportCrash | kCountRestart | kArmBackoff};
}

// `stop`: removed at once without a child, else once it has ended.
Step stop(State s, const Facts& f) {
  if (f.child_alive) return {State::stopping, kTerminate};
  return {s, kRemove};
}

// `restart`: a new child, at once without one, else once it has ended.
Step restart(State s, const Facts& f) {
  if (f.shutting_down) return {s, kReplyBusy};
  if (f.child_alive) return {State::restarting, kResetAttempts | kTerminate};
  return spawn_or_wait(s, f, kResetAttempts);
}

Step shutdown(State s, const Facts& f) {
  if (!f.child_alive) return {s};
  return {s == State::failed || s == State::stopping ? s : State::halting, kTerminate};
}

Step up_states(State s, Event e, const Facts& f) {
  switch (e) {
    case Event::url: return {s == State::starting ? State::running : s, kAnswerUrl};
    case Event::registered: return {State::running, kNotifyConnected | (f.named ? kAnswerUp : kNone)};
    case Event::unregistered: return {s == State::running ? State::degraded : s, kNotifyDisconnected};
    case Event::exited: return crashed(f);
    case Event::spawn_failed:
      if (s != State::starting) return {s};
      if (f.restarts_used_up) return {State::failed, kCountRestart | kFailRestarts};
      return {State::backoff, kCountRestart | kArmBackoff};
    case Event::unhealthy:
      if (f.credentials_error) return {State::failed, kFailCredentials | kTerminate};
      return {State::restarting, kTerminate};
    case Event::heal:
      if (f.shutting_down) return {s};
      if (!f.child_alive) return spawn_or_wait(s, f, kResetAttempts);
      return {State::restarting, kResetAttempts | (f.connected ? kTerminate : kKill)};
    case Event::stop: return stop(s, f);
    case Event::restart: return restart(s, f);
    case Event::shutdown: return shutdown(s, f);
    case Event::network_lost: return network_lost(s, f);
    case Event::start:
    case Event::backoff_due:
    case Event::network_back: break;
  }
  return {s};
}

}  // namespace

Step next(State s, Event e, const Facts& f) {
  switch (s) {
    case State::created:
      if (e == Event::start) return spawn_or_wait(s, f);
      return {s};
    case State::starting:
    case State::running:
    case State::degraded: return up_states(s, e, f);
    case State::backoff:
      switch (e) {
        case Event::backoff_due: return f.shutting_down ? Step{s} : spawn_or_wait(s, f);
        case Event::heal: return f.shutting_down ? Step{s} : spawn_or_wait(s, f, kResetAttempts);
        case Event::stop: return stop(s, f);
        case Event::restart: return restart(s, f);
        case Event::shutdown: return {s, kCancelBackoff};
        case Event::network_lost: return network_lost(s, f);
        default: return {s};
      }
    case State::stopping:
      switch (e) {
        case Event::exited: return {s, kRecordExit | kRemove};
        case Event::stop: return stop(s, f);
        case Event::restart: return {s, kReplyBusy};
        case Event::shutdown: return shutdown(s, f);
        default: return {s};
      }
    case State::restarting:
      switch (e) {
        case Event::exited: return spawn_or_wait(s, f, kRecordExit);
        case Event::stop: return stop(s, f);
        case Event::restart: return restart(s, f);
        case Event::shutdown: return shutdown(s, f);
        default: return {s};
      }
    case State::halting:
      switch (e) {
        case Event::exited: return {s, kRecordExit | kCheckShutdown};
        case Event::stop: return stop(s, f);
        case Event::restart: return {s, kReplyBusy};
        case Event::shutdown: return shutdown(s, f);
        default: return {s};
      }
    case State::failed:
      // Given up means given up: whatever a child still ending prints
      // changes nothing; only `restart` (or `stop`) brings it back.
      switch (e) {
        case Event::exited: return {s, kCheckShutdown};
        case Event::stop: return stop(s, f);
        case Event::restart: return restart(s, f);
        case Event::shutdown: return shutdown(s, f);
        default: return {s};
      }
    case State::offline:
      switch (e) {
        case Event::url: return {s, kAnswerUrl};
        case Event::exited: return {s, kRecordExit};
        case Event::stop: return stop(s, f);
        case Event::restart: return restart(s, f);
        case Event::shutdown: return shutdown(s, f);
        case Event::network_back:
          if (f.shutting_down) return {s};
          if (!f.child_alive) return spawn_or_wait(s, f, kAnnounceOnline | kResetAttempts);
          return {f.up ? State::running : State::starting,
                  kAnnounceOnline | kResetAttempts | kResume | kAwaitReconnect};
        default: return {s};
      }
    case State::offline_ending:
      switch (e) {
        case Event::exited: return f.online ? spawn_or_wait(s, f, kRecordExit) : Step{State::offline, kRecordExit};
        case Event::stop: return stop(s, f);
        case Event::restart: return restart(s, f);
        case Event::shutdown: return shutdown(s, f);
        case Event::network_back:
          if (f.shutting_down) return {s};
          return {State::restarting, kAnnounceOnline | kResetAttempts};
        default: return {s};
      }
  }
  return {s};
}

TunnelState visible(State s) {
  switch (s) {
    case State::created:
    case State::starting: return TunnelState::starting;
    case State::running: return TunnelState::running;
    case State::degraded: return TunnelState::degraded;
    case State::backoff: return TunnelState::backoff;
    case State::stopping:
    case State::restarting:
    case State::halting: return TunnelState::stopping;
    case State::failed: return TunnelState::failed;
    case State::offline:
    case State::offline_ending: return TunnelState::offline;
  }
  return TunnelState::failed;
}

const char* name(State s) {
  switch (s) {
    case State::created: return "created";
    case State::starting: return "starting";
    case State::running: return "running";
    case State::degraded: return "degraded";
    case State::backoff: return "backoff";
    case State::stopping: return "stopping";
    case State::restarting: return "restarting";
    case State::halting: return "halting";
    case State::failed: return "failed";
    case State::offline: return "offline";
    case State::offline_ending: return "offline_ending";
  }
  return "?";
}

const char* name(Event e) {
  switch (e) {
    case Event::start: return "start";
    case Event::url: return "url";
    case Event::registered: return "registered";
    case Event::unregistered: return "unregistered";
    case Event::exited: return "exited";
    case Event::spawn_failed: return "spawn_failed";
    case Event::backoff_due: return "backoff_due";
    case Event::unhealthy: return "unhealthy";
    case Event::heal: return "heal";
    case Event::stop: return "stop";
    case Event::restart: return "restart";
    case Event::shutdown: return "shutdown";
    case Event::network_lost: return "network_lost";
    case Event::network_back: return "network_back";
  }
  return "?";
}

const char* name(Action a) {
  switch (a) {
    case kNone: return "none";
    case kRecordExit: return "record_exit";
    case kReportCrash: return "report_crash";
    case kCountRestart: return "count_restart";
    case kFailRestarts: return "fail_restarts";
    case kFailCredentials: return "fail_credentials";
    case kResetAttempts: return "reset_attempts";
    case kTerminate: return "terminate";
    case kKill: return "kill";
    case kPause: return "pause";
    case kResume: return "resume";
    case kCancelBackoff: return "cancel_backoff";
    case kArmBackoff: return "arm_backoff";
    case kSpawn: return "spawn";
    case kAnnounceOffline: return "announce_offline";
    case kAnnounceOnline: return "announce_online";
    case kAwaitReconnect: return "await_reconnect";
    case kNotifyConnected: return "notify_connected";
    case kNotifyDisconnected: return "notify_disconnected";
    case kAnswerUrl: return "answer_url";
    case kAnswerUp: return "answer_up";
    case kReplyBusy: return "reply_busy";
    case kRemove: return "remove";
    case kCheckShutdown: return "check_shutdown";
  }
  return "?";
}

bool health_watched(State s) { return up_state(s); }
bool stable_watched(State s) { return s == State::running; }
bool kill_allowed(State s) { return !up_state(s) && s != State::created && s != State::backoff; }
bool reconnect_allowed(State s) { return up_state(s) || s == State::offline; }

bool waiting_for_edge(State s, bool connected) {
  return s == State::starting || s == State::degraded || (s == State::running && !connected) || s == State::backoff;
}

bool healable(State s) { return up_state(s) || s == State::backoff; }

Child child_in(State s) {
  switch (s) {
    case State::created:
    case State::backoff: return Child::none;
    case State::failed:
    case State::offline: return Child::either;
    default: return Child::alive;
  }
}

std::vector<Facts> all_facts() {
  std::vector<Facts> out;
  for (unsigned bits = 0; bits < (1u << 9); ++bits)
    for (auto oa : {OfflineAction::pause, OfflineAction::stop, OfflineAction::leave}) {
      Facts f;
      f.online = bits & 1;
      f.shutting_down = bits & 2;
      f.child_alive = bits & 4;
      f.connected = bits & 8;
      f.up = bits & 16;
      f.named = bits & 32;
      f.credentials_error = bits & 64;
      f.token_rejected = bits & 128;
      f.restarts_used_up = bits & 256;
      f.offline_action = oa;
      out.push_back(f);
    }
  return out;
}

std::string transitions_text() {
  std::string out;
  for (int si = 0; si < kStates; ++si) {
    State s = static_cast<State>(si);
    for (int ei = 0; ei < kEvents; ++ei) {
      Event e = static_cast<Event>(ei);
      std::set<int> seen;
      std::vector<State> targets;
      bool removes = false;
      for (const Facts& f : all_facts()) {
        Child c = child_in(s);
        if ((c == Child::none && f.child_alive) || (c == Child::alive && !f.child_alive)) continue;
        Step st = next(s, e, f);
        if (st.has(kRemove)) removes = true;
        if (st.state != s && seen.insert(static_cast<int>(st.state)).second) targets.push_back(st.state);
      }
      if (targets.empty() && !removes) continue;
      out += std::string(name(s)) + " --" + name(e) + "--> ";
      bool first = true;
      for (State t : targets) {
        out += std::string(first ? "" : " | ") + name(t);
        first = false;
      }
      if (removes) out += std::string(first ? "" : " | ") + "(removed)";
      out += "\n";
    }
  }
  return out;
}

}  // namespace tether::lifecycle
