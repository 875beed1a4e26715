#include "tunnel.hpp"

namespace tether {

const char* state_name(TunnelState s) {
  switch (s) {
    case TunnelState::starting: return "starting";
    case TunnelState::running: return "running";
    case TunnelState::degraded: return "degraded";
    case TunnelState::backoff: return "backoff";
    case TunnelState::stopping: return "stopping";
    case TunnelState::failed: return "failed";
    case TunnelState::offline: return "offline";
  }
  return "?";
}

bool TunnelSpec::operator==(const TunnelSpec& o) const {
  return id == o.id && kind == o.kind && port == o.port && hostname == o.hostname && token_env == o.token_env &&
         section == o.section && more_hostnames == o.more_hostnames && config_file == o.config_file &&
         local_tunnel == o.local_tunnel && go == o.go;
}

Reply no_such_tunnel(const std::string& id) { return Reply::Err("notfound", "no tunnel '" + id + "' (see 'list')"); }

}  // namespace tether
