// A locally managed tunnel's config.yml, as `cloudflared tunnel create` and
// `cloudflared service install` leave it: tether runs `cloudflared tunnel
// --config FILE run` and reads only what `list` shows (the tunnel, its
// credentials file, the ingress host names). It never writes the file.
//
// Not a YAML parser: the file cloudflared documents is flat keys plus an
// `ingress:` list of small maps, and that is all this reads. Anything it
// cannot read where it matters is an error naming the file and line.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tether {

struct LocalTunnel {
  std::string tunnel;            // its UUID or name (`tunnel:`)
  std::string credentials_file;  // `credentials-file:`, may be empty
  std::vector<std::string> hostnames;  // of the ingress rules, in order
};

// Parses the text of PATH; on failure *err is "PATH:LINE: what is wrong".
bool parse_local_config(std::string_view text, const std::string& path, LocalTunnel* out, std::string* err);

// Reads PATH (a regular file of at most 1 MiB) and parses it.
bool read_local_config(const std::string& path, LocalTunnel* out, std::string* err);

}  // namespace tether
