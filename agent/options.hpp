// tetherd's command line. Pure, so it is unit tested; flags override the
// config file.
#pragma once

#include <string>
#include <vector>

#include "config.hpp"

namespace tether {

constexpr const char* kDefaultConfigPath = "/etc/tether/tether.ini";

struct Options {
  std::string config = kDefaultConfigPath;
  bool config_given = false;  // -c was used: a missing file is then an error
  std::string socket, state_dir, cloudflared, log_level, pidfile, log_file;
  bool check_config = false, version = false, help = false;
};

// Returns "" or what is wrong with the command line.
std::string parse_options(const std::vector<std::string>& args, Options* out);
// Applies the overriding flags; returns "" or what is wrong with a value.
std::string apply_options(const Options& opt, Config* cfg);
std::string usage_text();

}  // namespace tether
