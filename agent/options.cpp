#include "options.hpp"

namespace tether {

std::string parse_options(const std::vector<std::string>& args, Options* out) {
  struct ValueFlag {
    const char* long_name;
    const char* short_name;
    std::string* field;
  };
  const ValueFlag value_flags[] = {
      {"--config", "-c", &out->config},          {"--socket", nullptr, &out->socket},
      {"--state-dir", nullptr, &out->state_dir}, {"--cloudflared", nullptr, &out->cloudflared},
      {"--log-level", nullptr, &out->log_level}, {"--pidfile", nullptr, &out->pidfile},
      {"--log-file", nullptr, &out->log_file},
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--check-config") {
      out->check_config = true;
      continue;
    }
    if (a == "--version" || a == "-V") {
      out->version = true;
      continue;
    }
    if (a == "--help" || a == "-h") {
      out->help = true;
      continue;
    }
    bool matched = false;
    for (const auto& f : value_flags) {
      std::string name = f.long_name;
      if (a == name || (f.short_name && a == f.short_name)) {
        if (i + 1 >= args.size()) return a + " needs a value";
        *f.field = args[++i];
      } else if (a.rfind(name + "=", 0) == 0) {
        *f.field = a.substr(name.size() + 1);
      } else {
        continue;
      }
      if (f.field == &out->config) out->config_given = true;
      matched = true;
      break;
    }
    if (!matched) return "unknown option '" + a + "' (try --help)";
  }
  return "";
}

std::string apply_options(const Options& opt, Config* cfg) {
  if (!opt.socket.empty()) {
    if (opt.socket.size() >= 108) return "--socket: path is longer than 107 bytes (a Unix socket limit)";
    cfg->agent.socket = opt.socket;
  }
  if (!opt.state_dir.empty()) cfg->agent.state_dir = opt.state_dir;
  if (!opt.cloudflared.empty()) cfg->cloudflared.path = opt.cloudflared;
  if (!opt.pidfile.empty()) cfg->agent.pidfile = opt.pidfile;
  if (!opt.log_level.empty() && !parse_log_level(opt.log_level, &cfg->agent.log_level))
    return "--log-level: '" + opt.log_level + "' is not one of: debug, info, warn, error";
  return "";
}

std::string usage_text() {
  return "usage: tetherd [options]\n"
         "Keeps cloudflared tunnels alive and answers on a Unix socket.\n"
         "\n"
         "  -c, --config FILE     configuration file (default /etc/tether/tether.ini;\n"
         "                        built-in defaults when that file does not exist)\n"
         "      --socket PATH     control socket (overrides [agent] socket)\n"
         "      --state-dir DIR   state directory (overrides [agent] state_dir)\n"
         "      --cloudflared P   cloudflared binary (overrides [cloudflared] path)\n"
         "      --log-level L     debug, info, warn or error (overrides [agent] log_level)\n"
         "      --pidfile FILE    write the agent's pid there (for sysvinit)\n"
         "      --log-file FILE   log there (appending) instead of stderr; USR1 reopens it\n"
         "      --check-config    validate the configuration and exit\n"
         "  -V, --version         print versions and exit\n"
         "  -h, --help            print this help and exit\n"
         "\n"
         "Signals: TERM/INT stop all tunnels and exit, HUP reloads the configuration,\n"
         "USR1 reopens the --log-file (after logrotate moved it).\n";
}

}  // namespace tether
