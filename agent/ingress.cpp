#include "ingress.hpp"

#include <cctype>

namespace tether {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// host[:port], with a port of 1-65535 when given; IPv6 in brackets.
bool valid_authority(std::string_view a, bool port_required) {
  std::string_view host = a, port;
  if (starts_with(a, "[")) {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = a.substr(1, close - 1);
    std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = a.rfind(':');
    if (colon != std::string_view::npos) {
      host = a.substr(0, colon);
      port = a.substr(colon + 1);
    }
  }
  if (host.empty()) return false;
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':')) return false;
  if (port.empty()) return !port_required && a.find(':') == std::string_view::npos;
  if (!all_digits(port) || port.size() > 5) return false;
  int p = std::stoi(std::string(port));
  return p >= 1 && p <= 65535;
}

}  // namespace

bool Route::operator==(const Route& o) const {
  return hostname == o.hostname && service == o.service && no_tls_verify == o.no_tls_verify &&
         http_host_header == o.http_host_header && connect_timeout_s == o.connect_timeout_s;
}

bool valid_hostname(const std::string& host, std::string* err) {
  auto bad = [&](const std::string& why) {
    *err = "'" + host + "' is not a host name: " + why;
    return false;
  };
  if (host.empty()) return bad("it is empty");
  if (host.size() > 253) return bad("longer than 253 characters");
  size_t start = 0;
  for (;;) {
    size_t dot = host.find('.', start);
    std::string label = host.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty()) return bad("an empty label (two dots, or a dot at an end)");
    if (label.size() > 63) return bad("a label longer than 63 characters");
    if (label.front() == '-' || label.back() == '-') return bad("a label starts or ends with '-'");
    for (char c : label)
      if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
        return bad("use only a-z, 0-9, '-' and dots (lower case)");
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (host.find('.') == std::string::npos) return bad("it needs a domain (name.example.com)");
  return true;
}

bool valid_service(const std::string& s, std::string* err) {
  const char* forms =
      "use http://HOST:PORT, https://HOST:PORT, tcp://HOST:PORT, ssh://HOST:PORT, unix:/PATH, "
      "unix+tls:/PATH or http_status:CODE";
  auto bad = [&](const std::string& why) {
    *err = "service '" + s + "' " + why + "; " + forms;
    return false;
  };
  for (const char* scheme : {"http://", "https://", "tcp://", "ssh://"}) {
    if (!starts_with(s, scheme)) continue;
    std::string_view rest = std::string_view(s).substr(std::string_view(scheme).size());
    size_t path = rest.find('/');
    std::string_view authority = rest.substr(0, path);
    bool web = starts_with(s, "http");
    // A web origin may take the scheme's default port; a raw TCP one must say it.
    if (!valid_authority(authority, !web)) return bad(web ? "has a bad host or port" : "needs HOST:PORT");
    if (!web && path != std::string_view::npos) return bad("cannot have a path");
    return true;
  }
  for (const char* scheme : {"unix:", "unix+tls:"}) {
    if (!starts_with(s, scheme)) continue;
    std::string path = s.substr(std::string(scheme).size());
    if (path.empty() || path[0] != '/') return bad("needs an absolute socket path");
    return true;
  }
  if (starts_with(s, "http_status:")) {
    std::string code = s.substr(12);
    if (!all_digits(code) || code.size() != 3 || code[0] < '1' || code[0] > '5') return bad("needs a 3-digit status");
    return true;
  }
  return bad("is not a service cloudflared can serve");
}

bool parse_route(std::string_view text, Route* out, std::string* err) {
  const char* usage = "write HOST -> SERVICE [noTLSVerify] [httpHostHeader=NAME] [connectTimeout=SECONDS]";
  size_t arrow = text.find("->");
  if (arrow == std::string_view::npos) {
    *err = "a route needs '->' between host and service; " + std::string(usage);
    return false;
  }
  Route r;
  r.hostname = std::string(trim(text.substr(0, arrow)));
  if (!valid_hostname(r.hostname, err)) return false;
  std::string_view rest = trim(text.substr(arrow + 2));
  std::vector<std::string_view> words;
  while (!rest.empty()) {
    size_t sp = 0;
    while (sp < rest.size() && !std::isspace(static_cast<unsigned char>(rest[sp]))) ++sp;
    words.push_back(rest.substr(0, sp));
    rest = trim(rest.substr(sp));
  }
  if (words.empty()) {
    *err = "route " + r.hostname + " has no service; " + usage;
    return false;
  }
  r.service = std::string(words[0]);
  if (!valid_service(r.service, err)) return false;
  for (size_t i = 1; i < words.size(); ++i) {
    std::string_view w = words[i];
    size_t eq = w.find('=');
    std::string_view key = w.substr(0, eq), value = eq == std::string_view::npos ? "" : w.substr(eq + 1);
    if (key == "noTLSVerify" && (eq == std::string_view::npos || value == "true")) {
      r.no_tls_verify = true;
    } else if (key == "httpHostHeader" && !value.empty()) {
      r.http_host_header = std::string(value);
    } else if (key == "connectTimeout" && all_digits(value) && value.size() <= 4 && std::stoi(std::string(value)) > 0) {
      r.connect_timeout_s = std::stoi(std::string(value));
    } else {
      *err = "route " + r.hostname + ": unknown or malformed option '" + std::string(w) +
             "'; the options are noTLSVerify, httpHostHeader=NAME and connectTimeout=SECONDS (1-9999)";
      return false;
    }
  }
  *out = std::move(r);
  return true;
}

nlohmann::json ingress_rules(const std::vector<Route>& routes) {
  nlohmann::json rules = nlohmann::json::array();
  for (const auto& r : routes) {
    nlohmann::json rule = {{"hostname", r.hostname}, {"service", r.service}};
    nlohmann::json origin = nlohmann::json::object();
    if (r.no_tls_verify) origin["noTLSVerify"] = true;
    if (!r.http_host_header.empty()) origin["httpHostHeader"] = r.http_host_header;
    if (r.connect_timeout_s) origin["connectTimeout"] = r.connect_timeout_s;
    if (!origin.empty()) rule["originRequest"] = origin;
    rules.push_back(rule);
  }
  rules.push_back({{"service", "http_status:404"}});
  return rules;
}

}  // namespace tether
