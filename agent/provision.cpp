#include "provision.hpp"

#include <cstdlib>

#include "atomicfile.hpp"
#include "cfapi.hpp"
#include "envfile.hpp"
#include "jsonget.hpp"
#include "log.hpp"
#include "provision_steps.hpp"
#include "tokens.hpp"

namespace tether {
namespace {

using json = nlohmann::json;

constexpr int kDeleteTries = 5;
constexpr uint64_t kDeleteWaitMs = 2000;
constexpr size_t kMaxEnvFile = 1 << 20;

}  // namespace

// What both workflows share: the settings of the name, the API token, and
// the lookup of the zone and the tunnel (steps 1-3). A job ends by calling
// fail() or succeed() exactly once; its owner frees it afterwards.
class Provisioner::Job {
 public:
  Job(Provisioner& p, std::string name, ReplyFn done)
      : p_(p), name_(std::move(name)), done_(std::move(done)), wait_(p.loop_) {}
  virtual ~Job() = default;

  const std::string& name() const { return name_; }
  void drop_reply() { done_ = nullptr; }

  void run() {
    const Config& cfg = p_.cfg_;
    if (cfg.cloudflare.zone.empty())
      return fail("usage", verb() + " needs [cloudflare] zone in " + (cfg.path.empty() ? "the config" : cfg.path));
    const TunnelConfig* section = cfg.find_tunnel(name_);
    if (section && !section->routes.empty()) routes_ = section->routes;
    else routes_ = {Route{name_ + "." + cfg.cloudflare.zone, "http://localhost:80", {}, 0}};
    token_env_ = section ? section->token_env : default_token_env(name_);
    adopt_ = section && section->adopt;
    env_file_ = cfg.cloudflare.env_file;
    std::string err, text;
    if (read_file(env_file_, &text, kMaxEnvFile, nullptr) == 0)
      owned_id_ = EnvFile::parse(text).get(owner_key(name_)).value_or("");
    const char* from_env = std::getenv(cfg.cloudflare.api_token_env.c_str());
    std::string api_token = from_env ? from_env : "";
    if (api_token.empty() && !cfg.cloudflare.api_token_file.empty())
      api_token = read_secret_file(cfg.cloudflare.api_token_file, &err);
    if (api_token.empty())
      return fail("api", "verify token: no API token: set $" + cfg.cloudflare.api_token_env +
                             " or [cloudflare] api_token_file" + (err.empty() ? "" : " (" + err + ")"));
    account_ = cfg.cloudflare.account_id;
    if (account_.empty() && std::getenv("CLOUDFLARE_ACCOUNT_ID")) account_ = std::getenv("CLOUDFLARE_ACCOUNT_ID");
    zone_key_ = api_token + "\n" + cfg.cloudflare.api_base + "\n" + cfg.cloudflare.zone + "\n" + account_;
    p_.limiter_.set_rate(cfg.cloudflare.requests_per_s);
    api_ = std::make_unique<CfApi>(p_.loop_, p_.http_, &p_.limiter_, cfg.cloudflare.api_base, api_token,
                                   cfg.cloudflare.request_timeout_s);
    log_info("%s %s: starting", verb().c_str(), name_.c_str());
    begin();
  }

 protected:
  virtual std::string verb() const = 0;
  // After the settings are read: the workflow's own first step.
  virtual void begin() = 0;
  // After find tunnel (tunnel_ holds what it found).
  virtual void tunnel_known() = 0;

  void send(const CfRequest& req, CfApi::Done done) {
    api_->call(req.step, req.method, req.path, req.body, req.expect, std::move(done));
  }

  // Steps 1-2 are skipped when the same token found the same zone moments
  // ago: a fleet provisioning at once would otherwise repeat them per name.
  void look_up() {
    if (const Provisioner::ZoneAnswer* known = p_.known_zone(zone_key_)) {
      zone_id_ = known->zone_id;
      zone_apex_ = known->zone_name;
      account_ = known->account;
      return find_tunnel();
    }
    find_zone(0);
  }

  // Step 3.
  void find_tunnel() {
    send(find_tunnel_request(account_, name_), [this](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      tunnel_ = tunnel_in_reply(r.result, name_, owned_id_);
      tunnel_known();
    });
  }

  // Deletes records one after the other, then calls then(). 404 and 81044
  // mean already gone.
  void delete_records(std::vector<RecordRef> records, std::function<void()> then) {
    if (records.empty()) return then();
    RecordRef rec = records.back();
    records.pop_back();
    send(delete_dns_request(zone_id_, rec.id, rec.name), [this, rec, records, then](const CfReply& r) {
      if (!r.ok && !gone(r)) return fail(r.error);
      if (r.ok) log_info("%s %s: deleted CNAME %s", verb().c_str(), name_.c_str(), rec.name.c_str());
      delete_records(records, then);
    });
  }

  void fail(const CfError& e) { fail("api", e.text()); }
  void fail(const StepError& e) { fail(e.code, e.message); }

  void fail(const std::string& code, const std::string& message) {
    log_warn("%s %s failed: %s %s", verb().c_str(), name_.c_str(), code.c_str(), message.c_str());
    reply(Reply::Err(code, message));
  }

  void succeed(const Reply& r) {
    log_info("%s %s: done", verb().c_str(), name_.c_str());
    reply(r);
  }

  Provisioner& p_;
  std::string name_;
  ReplyFn done_;
  Timer wait_;
  // Callbacks handed to the supervisor go through this: a job cancelled by
  // the agent's shutdown must not be resumed by a tunnel's late stop.
  Lifetime lifetime_;
  std::unique_ptr<CfApi> api_;
  std::vector<Route> routes_;  // the first one's host name is the tunnel's URL
  std::string token_env_, env_file_;
  std::string account_, zone_id_;
  std::string owned_id_;   // the tunnel the env file says tether created or adopted
  std::string zone_key_;   // what a cached zone answer must match (token, API, zone, account)
  std::string zone_apex_;  // the zone's own name (the configured zone or a parent of it)
  bool adopt_ = false;     // [tunnel NAME] adopt: a foreign tunnel may be taken over
  TunnelFound tunnel_;

 private:
  // Step 1: the zone id, and the account id unless configured. A refusal
  // (401/403) is explained by verifying the token.
  void find_zone(size_t i) {
    auto candidates = zone_candidates(p_.cfg_.cloudflare.zone);
    if (i >= candidates.size())
      return fail("api", "find zone: no zone " + p_.cfg_.cloudflare.zone +
                             " is visible to this API token (it needs Zone:Read on it)");
    std::string name = candidates[i];
    send(find_zone_request(name), [this, i, name](const CfReply& r) {
      if (try_account_verify(r)) {
        zone_error_ = r.error;
        return verify(false);
      }
      if (!r.ok) return fail(r.error);
      ZoneFound zone;
      if (!zone_in_reply(r.result, name, &zone)) return find_zone(i + 1);
      zone_id_ = zone.id;
      zone_apex_ = name;
      if (account_.empty()) account_ = zone.account;
      log_debug("%s %s: zone %s", verb().c_str(), name_.c_str(), name.c_str());
      verify(false);
    });
  }

  // Step 2. An account-owned token is refused by the user endpoint; the
  // account endpoint answers for it, and the zone found first told us the
  // account (unless it is configured).
  void verify(bool account_endpoint) {
    send(verify_request(account_endpoint ? account_ : ""), [this, account_endpoint](const CfReply& r) {
      if (!account_endpoint && !account_.empty() && try_account_verify(r)) {
        user_verify_error_ = r.error;
        return verify(true);
      }
      // Refused by both endpoints: the user endpoint's answer is the usual one.
      if (!r.ok) return fail(account_endpoint && try_account_verify(r) ? user_verify_error_ : r.error);
      std::string problem = token_problem(r.result);
      if (!problem.empty()) return fail("api", problem);
      // The token is fine, so the zone's refusal stands.
      if (zone_id_.empty()) return fail(zone_error_);
      p_.remember_zone({zone_key_, 0, zone_id_, zone_apex_, account_});
      find_tunnel();
    });
  }

  void reply(const Reply& r) {
    ReplyFn done = std::move(done_);
    done_ = nullptr;
    if (done) done(r);
    p_.finished(this);
  }

  CfError zone_error_;  // the zone lookup's refusal, reported if the token is fine
  CfError user_verify_error_;
};

class Provisioner::ProvisionJob : public Job {
 public:
  ProvisionJob(Provisioner& p, std::string name, std::string service, bool start, ReplyFn done)
      : Job(p, std::move(name), std::move(done)), service_(std::move(service)), start_(start) {}

 private:
  std::string verb() const override { return "provision"; }

  void begin() override {
    if (!service_.empty() && routes_.size() == 1) routes_[0].service = service_;
    look_up();
  }

  void tunnel_known() override {
    if (!tunnel_.found) return after_conflict_ ? fail(conflict_) : create_tunnel();
    if (StepError e = tunnel_refusal(tunnel_, name_, adopt_)) return fail(e);
    get_token();
  }

  void create_tunnel() {
    send(create_tunnel_request(account_, name_), [this](const CfReply& r) {
      if (create_tunnel_conflict(r)) {
        conflict_ = r.error;
        after_conflict_ = true;
        return find_tunnel();
      }
      if (!r.ok) return fail(r.error);
      tunnel_.found = tunnel_.ours = true;
      tunnel_.id = json_string(r.result, "id");
      token_ = json_string(r.result, "token");
      secret_add(token_);
      log_info("provision %s: created tunnel %s", name_.c_str(), tunnel_.id.c_str());
      if (token_.empty()) return get_token();
      check_ingress();
    });
  }

  // Step 4.
  void get_token() {
    send(token_request(account_, tunnel_.id), [this](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      if (!r.result.is_string() || r.result.get<std::string>().empty())
        return fail("api", "get token: the reply holds no token");
      token_ = r.result.get<std::string>();
      secret_add(token_);
      check_ingress();
    });
  }

  // Step 5.
  void check_ingress() {
    send(get_ingress_request(account_, tunnel_.id), [this](const CfReply& r) {
      StepError err;
      IngressAction action = ingress_action(r, routes_, tunnel_.ours || adopt_, name_, tunnel_.id, &err);
      if (err) return fail(err);
      if (action == IngressAction::keep) return find_dns(0);
      send(put_ingress_request(account_, tunnel_.id, routes_), [this](const CfReply& put) {
        if (!put.ok) return fail(put.error);
        for (const Route& route : routes_)
          log_info("provision %s: ingress %s -> %s", name_.c_str(), route.hostname.c_str(), route.service.c_str());
        find_dns(0);
      });
    });
  }

  // Step 6, for route i.
  void find_dns(size_t i) {
    if (i >= routes_.size()) return remove_stale_dns();
    const std::string& host = routes_[i].hostname;
    send(find_dns_request(zone_id_, host), [this, i, host](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      DnsAction action = dns_action(r.result, host, tunnel_.id);
      switch (action.kind) {
        case DnsAction::keep: return find_dns(i + 1);
        case DnsAction::update: return update_dns(i, action.record_id);
        case DnsAction::refuse: return fail(action.error);
        case DnsAction::create: break;
      }
      if (dns_conflict_ == i) return fail(conflict_);
      create_dns(i);
    });
  }

  void create_dns(size_t i) {
    const std::string& host = routes_[i].hostname;
    send(create_dns_request(zone_id_, host, tunnel_.id), [this, i, host](const CfReply& r) {
      if (create_dns_conflict(r)) {
        conflict_ = r.error;
        dns_conflict_ = i;
        return find_dns(i);
      }
      if (!r.ok) return fail(r.error);
      log_info("provision %s: CNAME %s -> %s", name_.c_str(), host.c_str(), tunnel_target(tunnel_.id).c_str());
      find_dns(i + 1);
    });
  }

  void update_dns(size_t i, const std::string& record_id) {
    const std::string& host = routes_[i].hostname;
    send(update_dns_request(zone_id_, record_id, host, tunnel_.id), [this, i, host](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      log_info("provision %s: CNAME %s now -> %s", name_.c_str(), host.c_str(), tunnel_target(tunnel_.id).c_str());
      find_dns(i + 1);
    });
  }

  // tether's CNAMEs of host names whose routes were removed from the
  // section: the tunnel no longer serves them.
  void remove_stale_dns() {
    send(find_tunnel_records_request(zone_id_, tunnel_.id), [this](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      delete_records(stale_records(r.result, routes_, tunnel_.id), [this] { write_token(); });
    });
  }

  // Step 7: the token into the env file (0600, atomic, untouched if equal).
  void write_token() {
    std::string err;
    int rc = env_file_check(env_file_, &err);
    if (rc == 0)
      rc = env_file_update(
          env_file_, [this](EnvFile& f) { return record_token(f, token_env_, token_, name_, tunnel_.id); }, &err);
    if (rc < 0) return fail("envfile", err);
    if (start_) p_.tunnels_.start(name_);
    const std::string& host = routes_.front().hostname;
    Reply reply = Reply::Ok("provisioned " + name_ + " https://" + host + " tunnel=" + tunnel_.id);
    for (const std::string& warning : {stale_env_token(token_env_, env_file_), certificate_warning(host, zone_apex_)}) {
      if (warning.empty()) continue;
      log_warn("provision %s: %s", name_.c_str(), warning.c_str());
      reply.lines.push_back("warning: " + warning);
    }
    // The first line stays what one-route clients read; with several
    // routes each gets a line of its own.
    json routes = json::array();
    for (size_t i = 0; i < routes_.size(); ++i) {
      const Route& route = routes_[i];
      routes.push_back(
          {{"hostname", route.hostname}, {"url", "https://" + route.hostname}, {"service", route.service}});
      if (routes_.size() > 1)
        reply.lines.insert(reply.lines.begin() + static_cast<long>(i),
                           "route https://" + route.hostname + " -> " + route.service);
    }
    reply.data = {{"name", name_}, {"url", "https://" + host}, {"tunnel_id", tunnel_.id}, {"routes", routes}};
    succeed(reply);
  }

  std::string service_;
  bool start_;
  std::string token_;
  CfError conflict_;  // an "already exists" that a second look must explain
  bool after_conflict_ = false;
  size_t dns_conflict_ = SIZE_MAX;  // the route whose create met a conflict
};

class Provisioner::DeprovisionJob : public Job {
 public:
  DeprovisionJob(Provisioner& p, std::string name, ReplyFn done) : Job(p, std::move(name), std::move(done)) {}

 private:
  std::string verb() const override { return "deprovision"; }

  // A running tunnel is stopped first: its connector would keep the tunnel
  // from being deleted.
  void begin() override {
    if (!p_.tunnels_.exists(name_)) return look_up();
    p_.tunnels_.stop(name_, lifetime_.guard([this](const Reply&) {
      found_something_ = true;
      look_up();
    }));
  }

  void tunnel_known() override {
    if (tunnel_.found && tunnel_.ours) found_something_ = true;
    else if (tunnel_.found)
      log_warn("deprovision %s: tunnel %s was not created or adopted by tether; it is left in place", name_.c_str(),
               tunnel_.id.c_str());
    find_dns(0);
  }

  bool tunnel_ours() const { return tunnel_.found && tunnel_.ours; }

  void find_dns(size_t i) {
    if (i >= routes_.size()) return find_other_dns();
    const std::string& host = routes_[i].hostname;
    send(find_dns_request(zone_id_, host), [this, i, host](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      auto records = records_to_delete(r.result, host, tunnel_.id, tunnel_ours());
      if (!records.empty()) found_something_ = true;
      delete_records(records, [this, i] { find_dns(i + 1); });
    });
  }

  // tether's records for the tunnel under names the section no longer
  // routes (removed from it since the last provision).
  void find_other_dns() {
    if (!tunnel_.found) return remove_token();
    send(find_tunnel_records_request(zone_id_, tunnel_.id), [this](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      auto records = stale_records(r.result, routes_, tunnel_.id);
      if (!records.empty()) found_something_ = true;
      delete_records(records, [this] { tunnel_ours() ? clean_connections(1) : remove_token(); });
    });
  }

  void clean_connections(int attempt) {
    send(clean_connections_request(account_, tunnel_.id), [this, attempt](const CfReply& r) {
      if (!r.ok && r.http != 404) return fail(r.error);
      delete_tunnel(attempt);
    });
  }

  // Cloudflare refuses while connectors are still registered; they linger
  // a little after cloudflared stops.
  void delete_tunnel(int attempt) {
    send(delete_tunnel_request(account_, tunnel_.id), [this, attempt](const CfReply& r) {
      if (tunnel_still_connected(r) && attempt < kDeleteTries) {
        log_info("deprovision %s: tunnel still has connections; retrying", name_.c_str());
        wait_.start(kDeleteWaitMs, [this, attempt] { clean_connections(attempt + 1); });
        return;
      }
      if (!r.ok && r.http != 404) return fail(r.error);
      log_info("deprovision %s: deleted tunnel %s", name_.c_str(), tunnel_.id.c_str());
      remove_token();
    });
  }

  void remove_token() {
    std::string err;
    bool had_token = false;
    int rc = env_file_check(env_file_, &err);
    if (rc == 0)
      rc = env_file_update(
          env_file_, [&](EnvFile& f) { return forget_token(f, token_env_, name_, &had_token); }, &err);
    if (rc < 0) return fail("envfile", err);
    std::string left = tunnel_.found && !tunnel_.ours
                           ? "tunnel " + tunnel_.id + " was not created or adopted by tether and is left in place"
                           : "";
    if (!found_something_ && !had_token)
      return fail("notfound", "nothing to deprovision: no tunnel '" + name_ +
                                  "' of tether's in the account, no CNAME " + routes_.front().hostname +
                                  " of tether's and no " + token_env_ + " in " + env_file_ +
                                  (left.empty() ? "" : "; " + left));
    succeed(Reply::Ok("deprovisioned " + name_ + (left.empty() ? "" : "; " + left)));
  }

  bool found_something_ = false;
};

Provisioner::Provisioner(uv_loop_t* loop, Http& http, const Config& cfg, Tunnels tunnels)
    : loop_(loop),
      http_(http),
      cfg_(cfg),
      tunnels_(std::move(tunnels)),
      reaper_(loop),
      limiter_(loop, CloudflareConfig{}.requests_per_s) {}

Provisioner::~Provisioner() = default;

void Provisioner::provision(const std::string& name, const std::string& service, bool start, ReplyFn done) {
  enqueue(std::make_unique<ProvisionJob>(*this, name, service, start, std::move(done)));
}

void Provisioner::deprovision(const std::string& name, ReplyFn done) {
  enqueue(std::make_unique<DeprovisionJob>(*this, name, std::move(done)));
}

void Provisioner::enqueue(std::unique_ptr<Job> job) {
  auto& q = queues_[job->name()];
  Job* j = job.get();
  q.push_back(std::move(job));
  if (q.size() > 1) {
    log_info("%s: waiting for the running job on the same name", j->name().c_str());
    return;
  }
  ready_.push_back(j);
  if (running_ >= max_jobs()) log_info("%s: waiting for a free provisioning slot", j->name().c_str());
  launch();
}

void Provisioner::launch() {
  while (running_ < max_jobs() && !ready_.empty()) {
    Job* j = ready_.front();
    ready_.pop_front();
    ++running_;
    j->run();
  }
}

// Jobs running at once; more wait for a slot in order.
size_t Provisioner::max_jobs() const { return static_cast<size_t>(cfg_.cloudflare.max_jobs); }

const Provisioner::ZoneAnswer* Provisioner::known_zone(const std::string& key) const {
  bool fresh = zone_answer_.at_ms && uv_now(loop_) - zone_answer_.at_ms < kZoneAnswerTtlMs;
  return fresh && zone_answer_.key == key ? &zone_answer_ : nullptr;
}

void Provisioner::remember_zone(ZoneAnswer answer) {
  answer.at_ms = uv_now(loop_);
  zone_answer_ = std::move(answer);
}

void Provisioner::finished(Job* job) {
  auto it = queues_.find(job->name());
  if (it == queues_.end() || it->second.empty() || it->second.front().get() != job) return;
  finished_.push_back(std::move(it->second.front()));
  it->second.pop_front();
  --running_;
  if (!it->second.empty()) ready_.push_back(it->second.front().get());
  else queues_.erase(it);
  reaper_.start(0, [this] { finished_.clear(); });
  launch();
}

void Provisioner::cancel_all() {
  for (auto& kv : queues_)
    for (auto& j : kv.second) j->drop_reply();
  queues_.clear();
  ready_.clear();
  running_ = 0;
  finished_.clear();
  reaper_.stop();
}

}  // namespace tether
