// What a tunnel is, apart from how it is supervised: its spec (what to run)
// and the names of the states a user sees. Shared by the supervisor, the
// state file and the verbs, none of which needs the others for it.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"
#include "protocol.hpp"

namespace tether {

// The states `list`, `status`, events and metrics show (docs/DESIGN.md,
// "Tunnel states"). The supervisor's own states are finer (lifecycle.hpp);
// each shows as one of these.
enum class TunnelState { starting, running, degraded, backoff, stopping, failed, offline };
const char* state_name(TunnelState s);

struct TunnelSpec {
  std::string id;  // the port (quick) or the name (named)
  TunnelKind kind = TunnelKind::quick;
  int port = 0;                             // quick
  std::string hostname;                     // named, for its URL: its first route's
  std::vector<std::string> more_hostnames;  // named: its other routes', in order
  std::string token_env;                    // named: where its token is found
  std::string config_file;                  // type = local: cloudflared runs from this config.yml
  std::string local_tunnel;                 // type = local: the tunnel the file names, read at each spawn
  GoKnobs go;                               // the child's GOMEMLIMIT, GOMAXPROCS, GOGC
  std::string section;                      // the [tunnel NAME] it comes from; empty at runtime
  Caller caller;                            // who started it: notices go back there

  bool operator==(const TunnelSpec& o) const;
  bool operator!=(const TunnelSpec& o) const { return !(*this == o); }
};

// "ERR notfound no tunnel '<id>' (see 'list')".
Reply no_such_tunnel(const std::string& id);

}  // namespace tether
