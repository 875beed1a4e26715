#include "provision.hpp"

#include <cctype>
#include <cstdlib>

#include "agent.hpp"
#include "atomicfile.hpp"
#include "cfapi.hpp"
#include "envfile.hpp"
#include "jsonget.hpp"
#include "log.hpp"
#include "tokens.hpp"

namespace tether {
namespace {

using json = nlohmann::json;

constexpr const char* kMarker = "managed by tether tunnel ";
constexpr int kDeleteTries = 5;
constexpr uint64_t kDeleteWaitMs = 2000;
constexpr size_t kMaxEnvFile = 1 << 20;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool same_name(const json& j, const char* key, const std::string& want) {
  return json_field(j, key).is_string() && lower(json_string(j, key)) == lower(want);
}

// The env file line that records which tunnel tether created or adopted
// for a name: the API has no field for a marker on the tunnel itself.
std::string owner_key(const std::string& name) {
  return "TETHER_TUNNEL_ID_" + default_token_env(name).substr(std::string("CF_TUNNEL_TOKEN_").size());
}

// The zone and its parents: a zone setting of drones.example.com still
// finds the example.com zone.
std::vector<std::string> zone_candidates(const std::string& zone) {
  std::vector<std::string> out;
  std::string z = zone;
  while (z.find('.') != std::string::npos) {
    out.push_back(z);
    z = z.substr(z.find('.') + 1);
  }
  return out;
}

}  // namespace

class Provisioner::Job {
 public:
  enum class Kind { provision, deprovision };

  Job(Provisioner& p, Kind kind, std::string name, std::string service, bool start, ReplyFn done)
      : p_(p), serial_(++p.serials_), kind_(kind), name_(std::move(name)), service_(std::move(service)),
        start_(start), done_(std::move(done)), wait_(p.loop_) {}

  const std::string& name() const { return name_; }
  uint64_t serial() const { return serial_; }
  void drop_reply() { done_ = nullptr; }

  void run() {
    const Config& cfg = p_.agent_.config();
    if (cfg.cloudflare.zone.empty()) {
      fail("usage", verb() + " needs [cloudflare] zone in " + (cfg.path.empty() ? "the config" : cfg.path));
      return;
    }
    const TunnelConfig* section = cfg.find_tunnel(name_);
    host_ = section && !section->routes.empty() ? section->routes[0].hostname : name_ + "." + cfg.cloudflare.zone;
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
    if (api_token.empty()) {
      fail("api", "verify token: no API token: set $" + cfg.cloudflare.api_token_env +
                      " or [cloudflare] api_token_file" + (err.empty() ? "" : " (" + err + ")"));
      return;
    }
    account_ = cfg.cloudflare.account_id;
    if (account_.empty() && std::getenv("CLOUDFLARE_ACCOUNT_ID")) account_ = std::getenv("CLOUDFLARE_ACCOUNT_ID");
    zone_key_ = api_token + "\n" + cfg.cloudflare.api_base + "\n" + cfg.cloudflare.zone + "\n" + account_;
    p_.limiter_.set_rate(cfg.cloudflare.requests_per_s);
    api_ = std::make_unique<CfApi>(p_.loop_, p_.http_, &p_.limiter_, cfg.cloudflare.api_base, api_token,
                                   cfg.cloudflare.request_timeout_s);
    log_info("%s %s: starting", verb().c_str(), name_.c_str());
    if (kind_ == Kind::deprovision && p_.agent_.supervisor().exists(name_)) {
      // The supervisor may answer after cancel_all() freed this job (a
      // SIGTERM during the stop grace): the waiter finds the job again by
      // its serial instead of holding a pointer to it.
      p_.agent_.supervisor().stop(name_, [p = &p_, serial = serial_](const Reply&) {
        Job* self = p->running(serial);
        if (!self) return;
        self->found_something_ = true;
        self->look_up_zone();
      });
      return;
    }
    look_up_zone();
  }

 private:
  std::string verb() const { return kind_ == Kind::provision ? "provision" : "deprovision"; }

  // Steps 1-2 are skipped when the same token found the same zone moments
  // ago: a fleet provisioning at once would otherwise repeat them per name.
  void look_up_zone() {
    if (const Provisioner::ZoneAnswer* known = p_.known_zone(zone_key_)) {
      zone_id_ = known->zone_id;
      zone_apex_ = known->zone_name;
      account_ = known->account;
      return find_tunnel(false);
    }
    find_zone(0);
  }

  // Step 2. An account-owned token is refused by the user endpoint; the
  // account endpoint answers for it, and the zone found first told us the
  // account (unless it is configured).
  void verify(bool account_endpoint = false) {
    std::string path = account_endpoint ? "/accounts/" + account_ + "/tokens/verify" : "/user/tokens/verify";
    api_->call("verify token", "GET", path, nullptr, CfShape::object, [this, account_endpoint](const CfReply& r) {
      if (!r.ok && !account_endpoint && !account_.empty() && (r.http == 401 || r.http == 403)) {
        user_verify_error_ = r.error;
        return verify(true);
      }
      // Refused by both endpoints: the user endpoint's answer is the usual one.
      if (!r.ok) return fail(account_endpoint && (r.http == 401 || r.http == 403) ? user_verify_error_ : r.error);
      std::string status = json_string(r.result, "status");
      if (status != "active")
        return fail("api", "verify token: the API token is " + (status.empty() ? "not usable" : status));
      // The token is fine, so the zone's refusal stands.
      if (zone_id_.empty()) return fail(zone_error_);
      p_.remember_zone({zone_key_, 0, zone_id_, zone_apex_, account_});
      find_tunnel(false);
    });
  }

  // Step 1: the zone id, and the account id unless configured. A refusal
  // (401/403) is explained by verifying the token.
  void find_zone(size_t i) {
    auto candidates = zone_candidates(p_.agent_.config().cloudflare.zone);
    if (i >= candidates.size())
      return fail("api", "find zone: no zone " + p_.agent_.config().cloudflare.zone +
                             " is visible to this API token (it needs Zone:Read on it)");
    std::string name = candidates[i];
    api_->call("find zone", "GET", "/zones?" + query_string({{"name", name}, {"per_page", "50"}}), nullptr, CfShape::array,
               [this, i, name](const CfReply& r) {
                 if (!r.ok && (r.http == 401 || r.http == 403)) {
                   zone_error_ = r.error;
                   return verify();
                 }
                 if (!r.ok) return fail(r.error);
                 for (const auto& z : r.result) {
                   if (!same_name(z, "name", name)) continue;
                   zone_id_ = json_string(z, "id");
                   zone_apex_ = name;
                   if (account_.empty()) account_ = json_string(json_field(z, "account"), "id");
                   log_debug("%s %s: zone %s", verb().c_str(), name_.c_str(), name.c_str());
                   return verify();
                 }
                 find_zone(i + 1);
               });
  }

  // Step 3: the tunnel by exact name, not deleted.
  void find_tunnel(bool after_conflict) {
    std::string path = "/accounts/" + account_ + "/cfd_tunnel?" +
                       query_string({{"name", name_}, {"is_deleted", "false"}});
    api_->call("find tunnel", "GET", path, nullptr, CfShape::array, [this, after_conflict](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      for (const auto& t : r.result) {
        if (!same_name(t, "name", name_) || !json_field(t, "deleted_at").is_null()) continue;
        tunnel_id_ = json_string(t, "id");
        ours_ = !owned_id_.empty() && lower(owned_id_) == lower(tunnel_id_);
        if (kind_ == Kind::deprovision) {
          if (ours_) found_something_ = true;
          else log_warn("deprovision %s: tunnel %s was not created or adopted by tether; it is left in place",
                        name_.c_str(), tunnel_id_.c_str());
          return find_dns(false);
        }
        // remote_config is deprecated in favour of config_src: either says so.
        if (json_field(t, "remote_config") == false || json_string(t, "config_src") == "local")
          return fail("api", "find tunnel: tunnel " + name_ + " (" + tunnel_id_ +
                                 ") is locally managed, so its ingress cannot be set through the API; "
                                 "delete it or provision another name");
        std::string status = json_string(t, "status");
        if (!ours_ && !adopt_ && (status == "healthy" || status == "degraded"))
          return fail("exists", "tunnel " + name_ + " (" + tunnel_id_ + ") already exists in the account, "
                                "was not created by tether and has running connectors; tether would add "
                                "another. Set adopt = true in [tunnel " + name_ + "] to take it over, or "
                                "provision another name");
        return get_token();
      }
      if (kind_ == Kind::deprovision) return find_dns(false);
      if (after_conflict) return fail(conflict_);
      create_tunnel();
    });
  }

  void create_tunnel() {
    std::string path = "/accounts/" + account_ + "/cfd_tunnel";
    api_->call("create tunnel", "POST", path, {{"name", name_}, {"config_src", "cloudflare"}}, CfShape::object, [this](const CfReply& r) {
      // Created meanwhile (another agent, or a reply lost to a timeout):
      // adopt it rather than fail.
      if (!r.ok && (r.http == 409 || r.has_code(1013))) {
        conflict_ = r.error;
        return find_tunnel(true);
      }
      if (!r.ok) return fail(r.error);
      tunnel_id_ = json_string(r.result, "id");
      ours_ = true;
      tunnel_token_ = json_string(r.result, "token");
      secret_add(tunnel_token_);
      log_info("provision %s: created tunnel %s", name_.c_str(), tunnel_id_.c_str());
      if (tunnel_token_.empty()) return get_token();
      check_ingress();
    });
  }

  // Step 4: the connector token (a bare string).
  void get_token() {
    api_->call("get token", "GET", "/accounts/" + account_ + "/cfd_tunnel/" + tunnel_id_ + "/token", nullptr, CfShape::string,
               [this](const CfReply& r) {
                 if (!r.ok) return fail(r.error);
                 if (!r.result.is_string() || r.result.get<std::string>().empty())
                   return fail("api", "get token: the reply holds no token");
                 tunnel_token_ = r.result.get<std::string>();
                 secret_add(tunnel_token_);
                 check_ingress();
               });
  }

  json wanted_ingress() const {
    return json::array({{{"hostname", host_}, {"service", service_}}, {{"service", "http_status:404"}}});
  }

  // Step 5: the ingress, only written when it differs (a PUT would bump
  // the configuration's version for nothing).
  void check_ingress() {
    std::string path = "/accounts/" + account_ + "/cfd_tunnel/" + tunnel_id_ + "/configurations";
    api_->call("get ingress", "GET", path, nullptr, CfShape::object, [this, path](const CfReply& r) {
      const json& config = json_field(r.result, "config");
      if (r.ok && config.is_object()) {
        json have = json::array();
        const json& rules = json_field(config, "ingress");
        for (const auto& rule : rules.is_array() ? rules : json::array()) {
          json slim;
          if (!json_field(rule, "hostname").is_null()) slim["hostname"] = json_field(rule, "hostname");
          slim["service"] = json_string(rule, "service");
          have.push_back(slim);
        }
        if (have == wanted_ingress()) return find_dns(false);
        std::string foreign = foreign_hosts(have);
        if (!ours_ && !adopt_ && !foreign.empty())
          return fail("exists", "tunnel " + name_ + " (" + tunnel_id_ + ") already exists in the account, "
                                "was not created by tether and routes " + foreign + "; provisioning would "
                                "replace those routes. Set adopt = true in [tunnel " + name_ + "] to take it "
                                "over, or provision another name");
      } else if (!r.ok && r.http != 404) {
        return fail(r.error);
      }
      api_->call("set ingress", "PUT", path, {{"config", {{"ingress", wanted_ingress()}}}}, CfShape::any, [this](const CfReply& put) {
        if (!put.ok) return fail(put.error);
        log_info("provision %s: ingress %s -> %s", name_.c_str(), host_.c_str(), service_.c_str());
        find_dns(false);
      });
    });
  }

  // Cloudflare's universal certificate covers the zone and *.zone only: a
  // browser refuses https://x.drones.example.com on an example.com zone.
  std::string certificate_warning() const {
    std::string host = lower(host_), apex = lower(zone_apex_);
    if (apex.empty() || host.size() <= apex.size() + 1) return "";
    std::string below = host.substr(0, host.size() - apex.size() - 1);
    if (below.find('.') == std::string::npos) return "";
    return host_ + " is more than one level below the zone " + zone_apex_ + ": Cloudflare's universal certificate "
           "covers only " + zone_apex_ + " and *." + zone_apex_ + ", so HTTPS to it fails until the zone has a "
           "certificate for *." + host_.substr(host_.find('.') + 1) + " (Advanced Certificate Manager), or use a "
           "zone of " + host_.substr(host_.find('.') + 1) + " or a one-level name";
  }

  // The host names of an ingress other than ours, comma separated.
  std::string foreign_hosts(const json& ingress) const {
    std::string out;
    for (const auto& rule : ingress) {
      std::string host = json_string(rule, "hostname");
      if (host.empty() || host == "*" || lower(host) == lower(host_)) continue;
      out += (out.empty() ? "" : ", ") + host;
    }
    return out;
  }

  std::string target() const { return tunnel_id_ + ".cfargotunnel.com"; }

  // A record is ours when its comment carries the marker with the tunnel
  // it points to.
  static bool ours(const json& rec) {
    std::string comment = json_string(rec, "comment"), content = lower(json_string(rec, "content"));
    if (comment.rfind(kMarker, 0) != 0) return false;
    return content == lower(comment.substr(std::string(kMarker).size())) + ".cfargotunnel.com";
  }

  // Step 6: the proxied CNAME host -> <tunnel>.cfargotunnel.com.
  void find_dns(bool after_conflict) {
    std::string path = "/zones/" + zone_id_ + "/dns_records?" + query_string({{"name.exact", host_}});
    api_->call("find dns record", "GET", path, nullptr, CfShape::array, [this, after_conflict](const CfReply& r) {
      if (!r.ok) return fail(r.error);
      std::vector<json> records;
      for (const auto& rec : r.result)
        if (same_name(rec, "name", host_)) records.push_back(rec);
      if (kind_ == Kind::deprovision) return delete_dns(records);
      if (records.empty()) return after_conflict ? fail(conflict_) : create_dns();
      for (const auto& rec : records) {
        if (json_string(rec, "type") != "CNAME") continue;
        if (lower(json_string(rec, "content")) == lower(target()) && json_bool(rec, "proxied")) return write_token();
        if (lower(json_string(rec, "content")) == lower(target()) || ours(rec)) return update_dns(json_string(rec, "id"));
      }
      const json& other = records.front();
      fail("api", "find dns record: " + host_ + " already has a " + json_string(other, "type") + " record (" +
                      json_string(other, "content") + ") that tether did not create; remove it or provision another name");
    });
  }

  json dns_record() const {
    return {{"type", "CNAME"}, {"name", host_}, {"content", target()}, {"proxied", true}, {"ttl", 1},
            {"comment", kMarker + tunnel_id_}};
  }

  void create_dns() {
    api_->call("create dns record", "POST", "/zones/" + zone_id_ + "/dns_records", dns_record(), CfShape::any,
               [this](const CfReply& r) {
                 // Someone (or a lost reply of ours) got there first: look again.
                 if (!r.ok && (r.has_code(81053) || r.has_code(81057) || r.has_code(81058))) {
                   conflict_ = r.error;
                   return find_dns(true);
                 }
                 if (!r.ok) return fail(r.error);
                 log_info("provision %s: CNAME %s -> %s", name_.c_str(), host_.c_str(), target().c_str());
                 write_token();
               });
  }

  void update_dns(const std::string& id) {
    api_->call("update dns record", "PUT", "/zones/" + zone_id_ + "/dns_records/" + id, dns_record(), CfShape::any,
               [this](const CfReply& r) {
                 if (!r.ok) return fail(r.error);
                 log_info("provision %s: CNAME %s now -> %s", name_.c_str(), host_.c_str(), target().c_str());
                 write_token();
               });
  }

  // Step 7: the token into the env file (0600, atomic, untouched if equal).
  void write_token() {
    std::string err;
    int rc = env_file_check(env_file_, &err);
    if (rc == 0)
      rc = env_file_update(env_file_, [this](EnvFile& f) {
        bool changed = f.set(token_env_, tunnel_token_);
        return f.set(owner_key(name_), tunnel_id_) || changed;
      }, &err);
    if (rc < 0) return fail("envfile", err);
    if (start_) {
      TunnelSpec spec;
      Supervisor& sup = p_.agent_.supervisor();
      if (sup.exists(name_)) {
        sup.restart(name_, [](const Reply&) {});
      } else if (p_.agent_.tunnel_spec(name_, &spec, &err)) {
        sup.start(spec, false, [](const Reply&) {});
      }
    }
    Reply reply = Reply::Ok("provisioned " + name_ + " https://" + host_ + " tunnel=" + tunnel_id_);
    for (const std::string& warning : {stale_env_token(token_env_, env_file_), certificate_warning()}) {
      if (warning.empty()) continue;
      log_warn("provision %s: %s", name_.c_str(), warning.c_str());
      reply.lines.push_back("warning: " + warning);
    }
    reply.data = {{"name", name_}, {"url", "https://" + host_}, {"tunnel_id", tunnel_id_}};
    succeed(reply);
  }

  void delete_dns(std::vector<json> records) {
    for (auto it = records.begin(); it != records.end(); ++it) {
      // A foreign tunnel's records are only touched when they carry our marker.
      bool points_here = tunnel_id_.empty() || !ours_ ? ours(*it) : lower(json_string(*it, "content")) == lower(target());
      if (json_string(*it, "type") != "CNAME" || !points_here) continue;
      std::string id = json_string(*it, "id");
      records.erase(it);
      found_something_ = true;
      api_->call("delete dns record", "DELETE", "/zones/" + zone_id_ + "/dns_records/" + id, nullptr, CfShape::any,
                 [this, records](const CfReply& r) {
                   if (!r.ok && r.http != 404 && !r.has_code(81044)) return fail(r.error);
                   delete_dns(records);
                 });
      return;
    }
    if (tunnel_id_.empty() || !ours_) return remove_token();
    clean_connections(1);
  }

  void clean_connections(int attempt) {
    std::string path = "/accounts/" + account_ + "/cfd_tunnel/" + tunnel_id_ + "/connections";
    api_->call("clean up connections", "DELETE", path, nullptr, CfShape::any, [this, attempt](const CfReply& r) {
      if (!r.ok && r.http != 404) return fail(r.error);
      delete_tunnel(attempt);
    });
  }

  // Cloudflare refuses while connectors are still registered (1022); they
  // linger a little after cloudflared stops.
  void delete_tunnel(int attempt) {
    api_->call("delete tunnel", "DELETE", "/accounts/" + account_ + "/cfd_tunnel/" + tunnel_id_, nullptr, CfShape::any,
               [this, attempt](const CfReply& r) {
                 if (!r.ok && r.has_code(1022) && attempt < kDeleteTries) {
                   log_info("deprovision %s: tunnel still has connections; retrying", name_.c_str());
                   wait_.start(kDeleteWaitMs, [this, attempt] { clean_connections(attempt + 1); });
                   return;
                 }
                 if (!r.ok && r.http != 404) return fail(r.error);
                 log_info("deprovision %s: deleted tunnel %s", name_.c_str(), tunnel_id_.c_str());
                 remove_token();
               });
  }

  void remove_token() {
    std::string err;
    bool had_line = false;
    int rc = env_file_check(env_file_, &err);
    if (rc == 0)
      rc = env_file_update(env_file_, [&](EnvFile& f) {
        had_line = f.remove(token_env_);
        return f.remove(owner_key(name_)) || had_line;
      }, &err);
    if (rc < 0) return fail("envfile", err);
    std::string left = !tunnel_id_.empty() && !ours_ ? "tunnel " + tunnel_id_ + " was not created or adopted by "
                                                       "tether and is left in place" : "";
    if (!found_something_ && !had_line)
      return fail("notfound", "nothing to deprovision: no tunnel '" + name_ + "' of tether's in the account, no CNAME " +
                                  host_ + " of tether's and no " + token_env_ + " in " + env_file_ +
                                  (left.empty() ? "" : "; " + left));
    succeed(Reply::Ok("deprovisioned " + name_ + (left.empty() ? "" : "; " + left)));
  }

  void fail(const CfError& e) { fail("api", e.text()); }

  void fail(const std::string& code, const std::string& message) {
    log_warn("%s %s failed: %s %s", verb().c_str(), name_.c_str(), code.c_str(), message.c_str());
    reply(Reply::Err(code, message));
  }

  void succeed(const Reply& r) {
    log_info("%s %s: done", verb().c_str(), name_.c_str());
    reply(r);
  }

  void reply(const Reply& r) {
    ReplyFn done = std::move(done_);
    done_ = nullptr;
    if (done) done(r);
    p_.finished(this);
  }

  Provisioner& p_;
  uint64_t serial_;
  Kind kind_;
  std::string name_, service_;
  bool start_;
  ReplyFn done_;
  Timer wait_;
  std::unique_ptr<CfApi> api_;
  std::string host_, token_env_, env_file_;
  std::string account_, zone_id_, tunnel_id_, tunnel_token_;
  std::string owned_id_;  // the tunnel the env file says tether created or adopted
  std::string zone_key_;  // what a cached zone answer must match (token, API, zone, account)
  std::string zone_apex_;  // the zone's own name (the configured zone or a parent of it)
  bool ours_ = false;     // tunnel_id_ is that tunnel, or tether just created it
  bool adopt_ = false;    // [tunnel NAME] adopt: a foreign tunnel may be taken over
  bool found_something_ = false;
  CfError conflict_;  // a "already exists" that a second look must explain
  CfError zone_error_;  // the zone lookup's refusal, reported if the token is fine
  CfError user_verify_error_;
};

Provisioner::Provisioner(uv_loop_t* loop, Http& http, Agent& agent)
    : loop_(loop), http_(http), agent_(agent), reaper_(loop), limiter_(loop, CloudflareConfig{}.requests_per_s) {}

Provisioner::~Provisioner() = default;

void Provisioner::provision(const std::string& name, const std::string& service, bool start, ReplyFn done) {
  enqueue(std::make_unique<Job>(*this, Job::Kind::provision, name, service, start, std::move(done)));
}

void Provisioner::deprovision(const std::string& name, ReplyFn done) {
  enqueue(std::make_unique<Job>(*this, Job::Kind::deprovision, name, "", false, std::move(done)));
}

void Provisioner::enqueue(std::unique_ptr<Job> job) {
  auto& q = queues_[job->name()];
  Job* j = job.get();
  q.push_back(std::move(job));
  if (q.size() > 1) {
    log_info("%s: waiting for the running job on the same name", j->name().c_str());
    return;
  }
  ready_.push_back(j->serial());
  if (running_ >= max_jobs()) log_info("%s: waiting for a free provisioning slot", j->name().c_str());
  launch();
}

void Provisioner::launch() {
  while (running_ < max_jobs() && !ready_.empty()) {
    Job* j = running(ready_.front());
    ready_.pop_front();
    if (!j) continue;
    ++running_;
    j->run();
  }
}

// Jobs running at once; more wait for a slot in order.
size_t Provisioner::max_jobs() const { return static_cast<size_t>(agent_.config().cloudflare.max_jobs); }

const Provisioner::ZoneAnswer* Provisioner::known_zone(const std::string& key) const {
  bool fresh = zone_answer_.at_ms && uv_now(loop_) - zone_answer_.at_ms < kZoneAnswerTtlMs;
  return fresh && zone_answer_.key == key ? &zone_answer_ : nullptr;
}

void Provisioner::remember_zone(ZoneAnswer answer) {
  answer.at_ms = uv_now(loop_);
  zone_answer_ = std::move(answer);
}

Provisioner::Job* Provisioner::running(uint64_t serial) const {
  for (const auto& kv : queues_)
    if (!kv.second.empty() && kv.second.front()->serial() == serial) return kv.second.front().get();
  return nullptr;
}

void Provisioner::finished(Job* job) {
  auto it = queues_.find(job->name());
  if (it == queues_.end() || it->second.empty() || it->second.front().get() != job) return;
  finished_.push_back(std::move(it->second.front()));
  it->second.pop_front();
  --running_;
  Job* next = it->second.empty() ? nullptr : it->second.front().get();
  if (next) ready_.push_back(next->serial());
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
