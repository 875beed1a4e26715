#include "statefile.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "atomicfile.hpp"

namespace tether {
namespace {

constexpr int kVersion = 1;
constexpr size_t kMaxStateFile = 4 << 20;

}  // namespace

std::string state_to_json(const std::vector<StateRecord>& records) {
  nlohmann::json tunnels = nlohmann::json::array();
  for (const auto& r : records) {
    const TunnelSpec& s = r.spec;
    nlohmann::json t = {{"id", s.id},
                        {"kind", s.kind == TunnelKind::quick ? "quick" : "named"},
                        {"desired", r.desired},
                        {"pid", r.pid},
                        {"start_ticks", r.start_ticks}};
    if (!r.boot_id.empty()) t["boot_id"] = r.boot_id;
    if (s.kind == TunnelKind::quick) t["port"] = s.port;
    if (!s.hostname.empty()) t["hostname"] = s.hostname;
    if (!s.token_env.empty()) t["token_env"] = s.token_env;
    if (!s.section.empty()) t["section"] = s.section;
    if (s.caller.kind == Caller::Kind::telegram)
      t["notify"] = {{"telegram_chat_id", s.caller.chat_id}, {"telegram_thread_id", s.caller.thread_id}};
    tunnels.push_back(t);
  }
  return nlohmann::json{{"version", kVersion}, {"tunnels", tunnels}}.dump(1) + "\n";
}

bool state_from_json(const std::string& text, std::vector<StateRecord>* out, std::string* err) {
  nlohmann::json j;
  if (!parse_versioned(text, kVersion, &j, err)) return false;
  auto tunnels = j.find("tunnels");
  if (tunnels == j.end() || !tunnels->is_array()) {
    *err = "no \"tunnels\" array";
    return false;
  }
  std::vector<StateRecord> records;
  try {
    for (const auto& t : *tunnels) {
      StateRecord r;
      r.spec.id = t.at("id").get<std::string>();
      std::string kind = t.at("kind").get<std::string>();
      if (kind != "quick" && kind != "named") throw std::runtime_error("kind '" + kind + "'");
      r.spec.kind = kind == "quick" ? TunnelKind::quick : TunnelKind::named;
      r.spec.port = t.value("port", 0);
      if (r.spec.kind == TunnelKind::quick &&
          (r.spec.port < 1 || r.spec.port > 65535 || r.spec.id != std::to_string(r.spec.port)))
        throw std::runtime_error("quick tunnel '" + r.spec.id + "' without a valid port");
      if (r.spec.kind == TunnelKind::named && !valid_tunnel_name(r.spec.id))
        throw std::runtime_error("named tunnel id '" + r.spec.id + "'");
      r.spec.hostname = t.value("hostname", "");
      r.spec.token_env = t.value("token_env", "");
      r.spec.section = t.value("section", "");
      r.desired = t.value("desired", true);
      r.pid = t.value("pid", 0);
      r.start_ticks = t.value("start_ticks", uint64_t{0});
      r.boot_id = t.value("boot_id", "");
      if (t.contains("notify")) {
        r.spec.caller.kind = Caller::Kind::telegram;
        r.spec.caller.chat_id = t["notify"].value("telegram_chat_id", int64_t{0});
        r.spec.caller.thread_id = t["notify"].value("telegram_thread_id", int64_t{0});
      }
      records.push_back(r);
    }
  } catch (const std::exception& e) {
    *err = std::string("bad tunnel entry: ") + e.what();
    return false;
  }
  *out = std::move(records);
  return true;
}

std::string state_file_path(const std::string& state_dir) { return state_dir + "/" + kStateFile; }

std::vector<StateRecord> load_state(const std::string& state_dir, std::string* warning) {
  std::vector<StateRecord> records;
  load_from_state_dir(
      state_dir, kStateFile, "state file", kMaxStateFile,
      [&](const std::string& text, std::string* err) { return state_from_json(text, &records, err); }, warning);
  if (!warning->empty()) *warning += " and starting without it";
  return records;
}

bool load_from_state_dir(const std::string& state_dir, const std::string& name, const std::string& what,
                         size_t max_bytes, const std::function<bool(const std::string&, std::string*)>& parse,
                         std::string* warning) {
  std::string path = state_dir + "/" + name, text, err;
  int rc = read_file(path, &text, max_bytes, &err);
  if (rc == -ENOENT) return false;
  if (rc == 0 && parse(text, &err)) return true;
  *warning = move_aside(what, path, err);
  return false;
}

bool parse_versioned(const std::string& text, int version, nlohmann::json* out, std::string* err) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *err = "not a JSON object";
    return false;
  }
  if (j.value("version", 0) != version) {
    *err = "unknown version (expected " + std::to_string(version) + ")";
    return false;
  }
  *out = std::move(j);
  return true;
}

int save_in_state_dir(const std::string& state_dir, const std::string& name, std::string_view content,
                      std::string* err) {
  if (mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    *err = "cannot create state directory " + state_dir + ": " + std::strerror(errno);
    return -errno;
  }
  return write_file_atomic(state_dir + "/" + name, content, 0644, err);
}

}  // namespace tether
