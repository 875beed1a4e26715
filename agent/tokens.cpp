#include "tokens.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "atomicfile.hpp"
#include "envfile.hpp"
#include "log.hpp"

namespace tether {
namespace {

constexpr size_t kMaxFile = 1 << 20;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t b = s.find_first_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b);
}

}  // namespace

std::string lookup_token(const std::string& var, const std::string& env_file, std::string* err) {
  const char* v = std::getenv(var.c_str());
  if (v && *v) {
    secret_add(v);
    return v;
  }
  std::string text, why;
  int rc = read_file(env_file, &text, kMaxFile, &why);
  if (rc == 0) {
    auto value = EnvFile::parse(text).get(var);
    if (value && !value->empty()) {
      secret_add(*value);
      return *value;
    }
  }
  *err = "no token: " + var + " is neither in the environment nor in " + env_file +
         (rc < 0 && rc != -ENOENT ? " (" + why + ")" : "");
  return "";
}

std::string stale_env_token(const std::string& var, const std::string& env_file) {
  const char* v = std::getenv(var.c_str());
  std::string text;
  if (!v || !*v || read_file(env_file, &text, kMaxFile, nullptr) < 0) return "";
  auto value = EnvFile::parse(text).get(var);
  if (!value || value->empty() || *value == v) return "";
  return "$" + var + " in the agent's environment differs from " + var + " in " + env_file +
         " and wins over it; remove it from the agent's environment (e.g. its systemd drop-in) and restart "
         "the agent, or children keep getting the old token";
}

std::string read_secret_file(const std::string& path, std::string* err) {
  std::string text;
  if (read_file(path, &text, kMaxFile, err) < 0) return "";
  std::string secret = trim(text.substr(0, text.find('\n')));
  if (secret.empty()) {
    *err = path + " is empty";
    return "";
  }
  secret_add(secret);
  return secret;
}

}  // namespace tether
