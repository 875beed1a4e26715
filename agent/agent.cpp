#include "agent.hpp"

#include <csignal>

#include "log.hpp"
#include "options.hpp"

namespace tether {

Agent::Agent(uv_loop_t* loop, Config cfg, Options opts)
    : loop_(loop), cfg_(std::move(cfg)), opts_(std::move(opts)), commands_(*this), control_(loop, commands_, events_) {}

Agent::~Agent() = default;

int Agent::start(std::string* err) {
  int rc = control_.listen(cfg_.agent, err);
  if (rc < 0) return rc;
  sigterm_.init(loop_, this, uv_signal_init);
  sigint_.init(loop_, this, uv_signal_init);
  sighup_.init(loop_, this, uv_signal_init);
  uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
  uv_signal_start(sigint_.get(), on_signal, SIGINT);
  uv_signal_start(sighup_.get(), on_signal, SIGHUP);
  log_info("tetherd started (pid %d, config %s)", static_cast<int>(getpid()),
           cfg_.path.empty() ? "built-in defaults" : cfg_.path.c_str());
  return 0;
}

void Agent::on_signal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Agent*>(h->data);
  if (!self) return;
  if (signum == SIGHUP) {
    std::string errors = self->reload();
    if (!errors.empty()) log_error("reload failed, keeping the running configuration:\n%s", errors.c_str());
    return;
  }
  log_info("received %s, shutting down", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  self->shutdown();
}

std::string Agent::reload() {
  if (cfg_.path.empty()) return "";
  Config fresh;
  std::vector<ConfigError> errors;
  if (!load_config(cfg_.path, &fresh, &errors)) {
    std::string out;
    for (const auto& e : errors) out += (out.empty() ? "" : "\n") + e.str();
    return out;
  }
  std::string bad = apply_options(opts_, &fresh);
  if (!bad.empty()) return bad;
  log_info("configuration %s re-read: valid", cfg_.path.c_str());
  return "";
}

void Agent::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  control_.close();
  sigterm_.reset();
  sigint_.reset();
  sighup_.reset();
}

}  // namespace tether
