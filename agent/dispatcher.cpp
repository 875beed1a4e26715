#include "dispatcher.hpp"

#include <cctype>

#include "child.hpp"
#include "version.hpp"

namespace tether {
namespace {

constexpr size_t kDefaultLogLines = 20;

const char* const kInstallHint =
    "cloudflared was not found. Install it: on Debian, Ubuntu or Raspberry Pi OS download the package for "
    "your board from https://github.com/cloudflare/cloudflared/releases/latest "
    "(cloudflared-linux-arm64.deb for 64-bit/aarch64, cloudflared-linux-armhf.deb for 32-bit/armhf, "
    "cloudflared-linux-amd64.deb for x86_64) and run 'sudo dpkg -i cloudflared-linux-*.deb', or use "
    "Cloudflare's apt repository (https://pkg.cloudflare.com); if it is installed outside PATH, set "
    "[cloudflared] path in tether.ini";

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// A tunnel id as typed: a port ("08080" is 8080) or a name. Returns "" and
// a usage message when it is neither.
std::string tunnel_id(const std::string& arg, std::string* err) {
  if (all_digits(arg)) {
    long port = arg.size() > 5 ? 0 : std::stol(arg);
    if (port < 1 || port > 65535) {
      *err = "port must be a number from 1 to 65535, got '" + printable(arg) + "'";
      return "";
    }
    return std::to_string(port);
  }
  if (valid_tunnel_name(arg)) return arg;
  *err =
      "'" + printable(arg) + "' is neither a port (1-65535) nor a tunnel name (a-z, 0-9, '-', starting with a letter)";
  return "";
}

}  // namespace

Dispatcher::Dispatcher(Targets targets) : t_(std::move(targets)) {
  verbs_ = {
      {"help", "", "list the commands", 0, 0, &Dispatcher::help},
      {"ping", "", "check that the agent answers (OK pong)", 0, 0, &Dispatcher::ping},
      {"version", "", "agent and library versions", 0, 0, &Dispatcher::version},
      {"start", "<port>|<name> [nowait]", "start a tunnel; replies with its URL once known", 1, 2, &Dispatcher::start},
      {"stop", "<id>", "stop a tunnel (its cloudflared and their group)", 1, 1, &Dispatcher::stop},
      {"restart", "<id>", "replace a tunnel's cloudflared by a new one", 1, 1, &Dispatcher::restart},
      {"list", "", "every tunnel: id, kind, state, URL, pid, uptime, restarts", 0, 0, &Dispatcher::list},
      {"status", "<id>", "one tunnel in detail, with its last exit and error", 1, 1, &Dispatcher::status},
      {"logs", "<id> [n]", "the last n lines of a tunnel's cloudflared output (default 20)", 1, 2, &Dispatcher::logs},
      {"killall", "", "stop every tunnel", 0, 0, &Dispatcher::killall},
      {"watch", "", "turn this connection into a stream of events", 0, 0, &Dispatcher::watch},
      {"provision", "<name> [service=<url>] [start]",
       "create or repair tunnel <name>, its DNS name and stored token (Cloudflare API)", 1, 3, &Dispatcher::provision},
      {"deprovision", "<name>", "stop and delete tunnel <name>, its DNS record and token", 1, 1,
       &Dispatcher::deprovision},
      {"metrics", "", "Prometheus text exposition of the agent's figures", 0, 0, &Dispatcher::metrics},
      {"reload", "", "re-read the configuration file and apply it", 0, 0, &Dispatcher::reload},
      {"quit", "", "close this connection", 0, 0, &Dispatcher::quit},
  };
}

const Dispatcher::Verb* Dispatcher::find(const std::string& name) const {
  for (const auto& v : verbs_)
    if (name == v.name) return &v;
  return nullptr;
}

Reply Dispatcher::usage(const Verb& v) {
  std::string u = v.name;
  if (*v.usage) u += std::string(" ") + v.usage;
  return Reply::Err("usage", u);
}

void Dispatcher::dispatch(const Request& req, const Caller& caller, ReplyFn done) {
  const Verb* v = find(req.verb);
  if (!v) {
    done(Reply::Err("usage", "unknown command '" + printable(req.verb) + "' (try 'help')"));
    return;
  }
  if (req.args.size() < v->min_args || req.args.size() > v->max_args) {
    done(usage(*v));
    return;
  }
  (this->*(v->run))(req, caller, std::move(done));
}

void Dispatcher::help(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok(std::to_string(verbs_.size()) + " commands");
  nlohmann::json list = nlohmann::json::array();
  for (const auto& v : verbs_) {
    std::string u = v.name;
    if (*v.usage) u += std::string(" ") + v.usage;
    std::string line = u;
    line.resize(std::max<size_t>(line.size() + 2, 34), ' ');
    r.lines.push_back(line + v.help);
    list.push_back({{"command", v.name}, {"usage", u}, {"help", v.help}});
  }
  r.lines.push_back("prefix any command with 'json' for a one-line JSON reply");
  r.data["commands"] = list;
  done(std::move(r));
}

void Dispatcher::ping(const Request&, const Caller&, ReplyFn done) { done(Reply::Ok("pong")); }

void Dispatcher::version(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok(version_line());
  r.data["version"] = kVersion;
  done(std::move(r));
}

bool Dispatcher::id_arg(const Request& req, const ReplyFn& done, std::string* id) const {
  std::string err;
  *id = tunnel_id(req.args[0], &err);
  if (id->empty()) done(Reply::Err("usage", usage(*find(req.verb)).message + ": " + err));
  // A [tunnel NAME] section with type = quick runs under its port, which is
  // its id; its name means the same tunnel in every verb.
  const TunnelConfig* section = id->empty() ? nullptr : t_.config().find_tunnel(*id);
  if (section && section->kind == TunnelKind::quick) *id = std::to_string(section->port);
  return !id->empty();
}

void Dispatcher::start(const Request& req, const Caller& caller, ReplyFn done) {
  bool wait = true;
  if (req.args.size() == 2) {
    if (req.args[1] != "nowait") {
      done(Reply::Err("usage", "start <port>|<name> [nowait]: unknown option '" + printable(req.args[1]) + "'"));
      return;
    }
    wait = false;
  }
  std::string id, err;
  if (!id_arg(req, done, &id)) return;
  const Config& cfg = t_.config();
  if (find_executable(cfg.cloudflared.path).empty()) {
    done(Reply::Err("nocloudflared", std::string(kInstallHint) + " (looked for '" + cfg.cloudflared.path + "')"));
    return;
  }
  TunnelSpec spec;
  if (!t_.tunnel_spec(id, &spec, &err)) {
    done(Reply::Err("notfound", err));
    return;
  }
  spec.caller = caller;
  t_.start(spec, wait, std::move(done));
}

void Dispatcher::stop(const Request& req, const Caller&, ReplyFn done) {
  std::string id;
  if (id_arg(req, done, &id)) t_.stop(id, std::move(done));
}

void Dispatcher::restart(const Request& req, const Caller&, ReplyFn done) {
  std::string id;
  if (id_arg(req, done, &id)) t_.restart(id, std::move(done));
}

// The JSON form is only built for a caller that asked for it: with 100
// tunnels it is most of the work of a plain `list`.
void Dispatcher::list(const Request& req, const Caller&, ReplyFn done) {
  auto infos = t_.infos();
  Reply r = Reply::Ok(std::to_string(infos.size()) + " tunnels");
  if (req.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& i : infos) all.push_back(info_json(i));
    r.data["tunnels"] = std::move(all);
  } else {
    r.lines.reserve(infos.size() + 1);
    r.lines.push_back(list_header());
    for (const auto& i : infos) {
      r.lines.push_back(list_line(i));
      for (auto& more : list_more(i)) r.lines.push_back(std::move(more));
    }
  }
  done(std::move(r));
}

void Dispatcher::status(const Request& req, const Caller&, ReplyFn done) {
  std::string id;
  TunnelInfo info;
  if (!id_arg(req, done, &id)) return;
  if (!t_.info(id, &info)) {
    done(no_such_tunnel(id));
  } else {
    Reply r = Reply::Ok(id + " " + info.state);
    r.lines = status_lines(info);
    r.data["tunnel"] = info_json(info);
    done(std::move(r));
  }
}

void Dispatcher::logs(const Request& req, const Caller&, ReplyFn done) {
  std::string id;
  if (!id_arg(req, done, &id)) return;
  size_t n = kDefaultLogLines;
  if (req.args.size() == 2) {
    const std::string& a = req.args[1];
    if (!all_digits(a) || a.size() > 4 || std::stoul(a) == 0) {
      done(Reply::Err("usage", "logs <id> [n]: n must be a number from 1 to 9999"));
      return;
    }
    n = std::stoul(a);
  }
  Reply r = Reply::Ok();
  if (!t_.logs(id, n, &r.lines)) {
    done(no_such_tunnel(id));
    return;
  }
  r.message = std::to_string(r.lines.size()) + " lines";
  done(std::move(r));
}

void Dispatcher::killall(const Request&, const Caller&, ReplyFn done) { t_.killall(std::move(done)); }

void Dispatcher::watch(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok("watching");
  r.after = Reply::After::watch;
  done(std::move(r));
}

void Dispatcher::reload(const Request&, const Caller&, ReplyFn done) {
  std::string errors = t_.reload();
  if (!errors.empty()) {
    for (char& c : errors)
      if (c == '\n') c = ';';
    done(Reply::Err("config", "the running configuration is kept: " + errors));
    return;
  }
  done(Reply::Ok("reloaded " + t_.config().path));
}

void Dispatcher::provision(const Request& req, const Caller&, ReplyFn done) {
  const std::string& name = req.args[0];
  const std::string usage_text = "provision <name> [service=<url>] [start]: ";
  if (!valid_tunnel_name(name)) {
    done(Reply::Err("usage", usage_text + "'" + printable(name) +
                                 "' is not a tunnel name (a-z, 0-9, '-', starting with a letter)"));
    return;
  }
  const TunnelConfig* section = t_.config().find_tunnel(name);
  if (section && section->kind == TunnelKind::quick) {
    done(Reply::Err("usage", usage_text + "[tunnel " + name + "] is a quick tunnel"));
    return;
  }
  if (section && section->local) {
    done(Reply::Err("usage", usage_text + "[tunnel " + name +
                                 "] is locally managed (type = local): its routes "
                                 "and DNS records are set with cloudflared itself"));
    return;
  }
  std::string service;
  bool start = false;
  for (size_t i = 1; i < req.args.size(); ++i) {
    const std::string& a = req.args[i];
    if (a == "start") {
      start = true;
    } else if (a.rfind("service=", 0) == 0) {
      service = a.substr(8);
      std::string problem = service_problem(service);
      if (!problem.empty()) {
        done(Reply::Err("usage", usage_text + problem));
        return;
      }
    } else {
      done(Reply::Err("usage", usage_text + "unknown argument '" + printable(a) +
                                   "' (service=<url> such as service=http://localhost:8080, or start)"));
      return;
    }
  }
  if (!service.empty() && section && section->routes.size() > 1) {
    done(Reply::Err("usage", usage_text + "service= applies only to a one-route tunnel; [tunnel " + name + "] has " +
                                 std::to_string(section->routes.size()) + " routes: change their services in " +
                                 (t_.config().path.empty() ? "the config" : t_.config().path)));
    return;
  }
  t_.provision(name, service, start, std::move(done));
}

void Dispatcher::deprovision(const Request& req, const Caller&, ReplyFn done) {
  if (!valid_tunnel_name(req.args[0])) {
    done(Reply::Err("usage", "deprovision <name>: '" + printable(req.args[0]) + "' is not a tunnel name"));
    return;
  }
  const TunnelConfig* section = t_.config().find_tunnel(req.args[0]);
  if (section && section->local) {
    done(Reply::Err("usage", "deprovision <name>: [tunnel " + req.args[0] +
                                 "] is locally managed (type = local): "
                                 "delete it with 'cloudflared tunnel delete' after removing its section"));
    return;
  }
  t_.deprovision(req.args[0], std::move(done));
}

void Dispatcher::metrics(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok("metrics");
  r.lines = render_metrics(t_.metrics());
  done(std::move(r));
}

void Dispatcher::quit(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok("bye");
  r.after = Reply::After::close;
  done(std::move(r));
}

}  // namespace tether
