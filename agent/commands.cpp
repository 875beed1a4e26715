#include "commands.hpp"

#include "agent.hpp"
#include "version.hpp"

namespace tether {

Commands::Commands(Agent& agent) : agent_(agent) {
  verbs_ = {
      {"help", "", "list the commands", 0, 0, &Commands::help},
      {"ping", "", "check that the agent answers (OK pong)", 0, 0, &Commands::ping},
      {"version", "", "agent and library versions", 0, 0, &Commands::version},
      {"quit", "", "close this connection", 0, 0, &Commands::quit},
  };
}

const Commands::Verb* Commands::find(const std::string& name) const {
  for (const auto& v : verbs_)
    if (name == v.name) return &v;
  return nullptr;
}

Reply Commands::usage(const Verb& v) {
  std::string u = v.name;
  if (*v.usage) u += std::string(" ") + v.usage;
  return Reply::Err("usage", u);
}

void Commands::dispatch(const Request& req, const Caller& caller, ReplyFn done) {
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

void Commands::help(const Request&, const Caller&, ReplyFn done) {
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
  done(r);
}

void Commands::ping(const Request&, const Caller&, ReplyFn done) { done(Reply::Ok("pong")); }

void Commands::version(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok(version_line());
  r.data["version"] = kVersion;
  done(r);
}

void Commands::quit(const Request&, const Caller&, ReplyFn done) {
  Reply r = Reply::Ok("bye");
  r.after = Reply::After::close;
  done(r);
}

}  // namespace tether
