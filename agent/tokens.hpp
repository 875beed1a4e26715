// Where secrets come from: a tunnel token or an API token is looked up in
// the process environment first, then in a file. Every secret found is
// registered for redaction before it is returned.
#pragma once

#include <string>

namespace tether {

// `var` from the environment, else the `var=` line of the env file. Returns
// "" with *err saying where it looked when there is none.
std::string lookup_token(const std::string& var, const std::string& env_file, std::string* err);
// "" or a warning when $var is set and the env file's var= line differs:
// the environment wins, so a token `provision` wrote there is not the one
// a child would get (an old token left in a systemd drop-in, say).
std::string stale_env_token(const std::string& var, const std::string& env_file);
// The first line of a file holding one secret (an API or bot token file).
std::string read_secret_file(const std::string& path, std::string* err);

}  // namespace tether
