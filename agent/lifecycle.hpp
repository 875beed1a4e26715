// A tunnel's lifecycle as one table, in the manner of s6-supervise's
// actions[state][event]: next() says, for a state and an event (and the few
// facts the choice depends on), which state follows and what is to be done.
// Pure: no libuv, no processes. The supervisor turns callbacks into events
// and carries out the actions; it chooses no state itself.
//
// The finer states say what the end of the child means, so an exit needs no
// other variable to be understood: `stopping` removes the tunnel,
// `restarting` spawns a new child at once, `halting` (agent shutdown) keeps
// the tunnel for the state file, `offline_ending` waits for the route.
//
// The transitions, as transitions_text() gives them (test/unit/
// test_lifecycle.cpp checks this copy and the one in docs/DESIGN.md):
//
//   created --start--> offline | starting
//   starting --url--> running
//   starting --registered--> running
//   starting --exited--> offline | backoff | failed
//   starting --spawn_failed--> backoff | failed
//   starting --unhealthy--> restarting | failed
//   starting --heal--> restarting
//   starting --stop--> stopping
//   starting --restart--> restarting
//   starting --shutdown--> halting
//   starting --network_lost--> offline | offline_ending
//   running --unregistered--> degraded
//   running --exited--> offline | backoff | failed
//   running --unhealthy--> restarting | failed
//   running --heal--> restarting
//   running --stop--> stopping
//   running --restart--> restarting
//   running --shutdown--> halting
//   running --network_lost--> offline | offline_ending
//   degraded --registered--> running
//   degraded --exited--> offline | backoff | failed
//   degraded --unhealthy--> restarting | failed
//   degraded --heal--> restarting
//   degraded --stop--> stopping
//   degraded --restart--> restarting
//   degraded --shutdown--> halting
//   degraded --network_lost--> offline | offline_ending
//   backoff --backoff_due--> offline | starting
//   backoff --heal--> offline | starting
//   backoff --stop--> (removed)
//   backoff --restart--> offline | starting
//   backoff --network_lost--> offline
//   stopping --exited--> (removed)
//   restarting --exited--> offline | starting
//   restarting --stop--> stopping
//   restarting --shutdown--> halting
//   halting --stop--> stopping
//   failed --stop--> stopping | (removed)
//   failed --restart--> offline | starting | restarting
//   offline --stop--> stopping | (removed)
//   offline --restart--> starting | restarting
//   offline --shutdown--> halting
//   offline --network_back--> starting | running
//   offline_ending --exited--> offline | starting
//   offline_ending --stop--> stopping
//   offline_ending --restart--> restarting
//   offline_ending --shutdown--> halting
//   offline_ending --network_back--> restarting
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tunnel.hpp"

namespace tether::lifecycle {

enum class State {
  created,  // no child yet; shows as starting
  starting,
  running,
  degraded,
  backoff,
  stopping,    // to be removed once the child is gone
  restarting,  // the child is ending; a new one follows at once; shows as stopping
  halting,     // agent shutdown: the child is ending, the tunnel stays; shows as stopping
  failed,      // given up; a child may still be ending
  offline,
  offline_ending,  // offline, offline_action = stop: the child is ending; shows as offline
};
constexpr int kStates = static_cast<int>(State::offline_ending) + 1;

enum class Event {
  start,         // the tunnel was just created
  url,           // a quick tunnel's URL was printed
  registered,    // the first edge connection is up
  unregistered,  // the last edge connection went away
  exited,        // the child ended
  spawn_failed,  // no child could be started
  backoff_due,   // the backoff timer fired
  unhealthy,     // no connection for unhealthy_after_s
  heal,          // a new child now (clock set, QUIC blocked, not back after an outage)
  stop,          // `stop`: remove the tunnel
  restart,       // `restart`
  shutdown,      // the agent stops; tunnels stay recorded
  network_lost,
  network_back,
};
constexpr int kEvents = static_cast<int>(Event::network_back) + 1;

enum class OfflineAction { pause, stop, leave };

// What a choice depends on besides the state and the event.
struct Facts {
  bool online = true;
  bool shutting_down = false;
  bool child_alive = false;
  bool connected = false;  // at least one registered connection
  bool up = false;         // connected, or a quick tunnel's URL known
  bool named = false;
  bool credentials_error = false;  // the edge said Unauthorized since the last registration
  bool token_rejected = false;     // cloudflared could not use the token at all
  bool restarts_used_up = false;   // counting this exit goes over max_restarts
  OfflineAction offline_action = OfflineAction::pause;
};

// Every combination of the facts, for the table's tests and its text.
std::vector<Facts> all_facts();

// What the supervisor does, in this order (Supervisor::apply).
enum Action : uint32_t {
  kNone = 0,
  kRecordExit = 1u << 0,       // last_exit = how the child ended
  kReportCrash = 1u << 1,      // an unexpected exit: last_exit with its reason, the `exited` event
  kCountRestart = 1u << 2,     // into the max_restarts window
  kFailRestarts = 1u << 3,     // give up: max_restarts
  kFailCredentials = 1u << 4,  // give up: the edge refuses the credentials
  kResetAttempts = 1u << 5,    // the next backoff starts from the shortest delay
  kTerminate = 1u << 6,        // SIGTERM (+SIGCONT) to the group, SIGKILL after stop_grace_s
  kKill = 1u << 7,             // SIGKILL now: nothing registered to unregister
  kPause = 1u << 8,            // SIGSTOP the group
  kResume = 1u << 9,           // SIGCONT the group if it was paused
  kCancelBackoff = 1u << 10,
  kArmBackoff = 1u << 11,  // a respawn after the backoff delay, and the `backoff` event
  kSpawn = 1u << 12,
  kAnnounceOffline = 1u << 13,  // the `offline` event
  kAnnounceOnline = 1u << 14,   // the `online` event
  kAwaitReconnect = 1u << 15,   // back online: restart unless registered within reconnect_grace_s
  kNotifyConnected = 1u << 16,
  kNotifyDisconnected = 1u << 17,
  kAnswerUrl = 1u << 18,      // start/restart waiters get the URL
  kAnswerUp = 1u << 19,       // start/restart waiters get "connected" or the hostname
  kReplyBusy = 1u << 20,      // `restart` refused: being stopped
  kRemove = 1u << 21,         // the tunnel is gone: stop waiters answered
  kCheckShutdown = 1u << 22,  // maybe the last child the shutdown waited for
};
constexpr int kActions = 23;

struct Step {
  State state;
  uint32_t actions = kNone;
  bool has(Action a) const { return (actions & a) != 0; }
  bool operator==(const Step& o) const { return state == o.state && actions == o.actions; }
};

Step next(State s, Event e, const Facts& f);

// The name a user sees.
TunnelState visible(State s);
const char* name(State s);
const char* name(Event e);
const char* name(Action a);

// Which timers a state keeps: the health timer while a live child has no
// connection, the stability timer while running; the others are stopped
// when the state does not allow them.
bool health_watched(State s);
bool stable_watched(State s);
bool kill_allowed(State s);
bool reconnect_allowed(State s);
// The states in which a tunnel waits for a connection, and in which a heal
// (a new child) makes sense.
bool waiting_for_edge(State s, bool connected);
bool healable(State s);
// Whether a state has a live child: by construction some always have one,
// some never; failed and offline may or may not.
enum class Child { none, alive, either };
Child child_in(State s);

// Every state-changing transition, one "from --event--> to | to" per line,
// in table order: the targets that some combination of facts (consistent
// with child_in()) leads to. docs/DESIGN.md and the diagram above show it.
std::string transitions_text();

}  // namespace tether::lifecycle
