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
