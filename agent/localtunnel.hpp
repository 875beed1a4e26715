// A locally managed tunnel's own cloudflared config.yml (made with
// `cloudflared tunnel create`), read for what `list` shows and never
// written: tether runs `cloudflared tunnel --config FILE run` and leaves the
// file to its owner. Pure: a small strict reader for the part of YAML such
// files use (docs/cloudflared.md §15), so every case is a unit test. What
// it cannot read is an error with file:line rather than a guess.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace tether {

struct LocalTunnel {
  std::string tunnel;            // `tunnel:`, its id (or name)
  std::string credentials_file;  // `credentials-file:`, empty when absent
  std::vector<Route> ingress;    // the rules with a hostname, in order (line: of the rule)
};

// Parses config.yml text; `file` only names it in errors. True when there
// are no errors.
bool parse_local_tunnel(std::string_view text, const std::string& file, LocalTunnel* out,
                        std::vector<ConfigError>* errors);
bool load_local_tunnel(const std::string& path, LocalTunnel* out, std::vector<ConfigError>* errors);

}  // namespace tether
