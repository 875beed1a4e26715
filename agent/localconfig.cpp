#include "localconfig.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tether {
namespace {

constexpr size_t kMaxFile = 1 << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// A scalar value: quoted ('x' or "x") or plain up to a " #" comment.
bool scalar(std::string_view v, std::string* out) {
  v = trim(v);
  if (!v.empty() && (v.front() == '"' || v.front() == '\'')) {
    size_t close = v.find(v.front(), 1);
    if (close == std::string_view::npos) return false;
    std::string_view after = trim(v.substr(close + 1));
    if (!after.empty() && after.front() != '#') return false;
    *out = std::string(v.substr(1, close - 1));
    return true;
  }
  size_t hash = v.find(" #");
  if (hash != std::string_view::npos) v = v.substr(0, hash);
  *out = std::string(trim(v));
  return true;
}

// "key: value" (value may be empty). False when the line has no "key:".
bool key_value(std::string_view line, std::string_view* key, std::string_view* value) {
  size_t colon = line.find(':');
  while (colon != std::string_view::npos && colon + 1 < line.size() && line[colon + 1] != ' ' &&
         line[colon + 1] != '\t')
    colon = line.find(':', colon + 1);
  if (colon == std::string_view::npos || colon == 0) return false;
  *key = trim(line.substr(0, colon));
  *value = line.substr(colon + 1);
  return true;
}

size_t indent_of(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

}  // namespace

bool parse_local_config(std::string_view text, const std::string& path, LocalTunnel* out, std::string* err) {
  LocalTunnel t;
  bool in_ingress = false;
  size_t item_indent = 0;  // of the current ingress item's keys
  bool bare_dash = false;  // "-" alone: the item's keys start on the next line
  int line_no = 0;
  auto fail = [&](const std::string& why) {
    *err = path + ":" + std::to_string(line_no) + ": " + why;
    return false;
  };
  while (!text.empty()) {
    ++line_no;
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line == "---") continue;
    if (raw.front() == '\t') return fail("tabs cannot indent YAML; use spaces");
    size_t indent = indent_of(raw);
    std::string_view key, value;
    if (indent == 0) {
      in_ingress = false;
      if (!key_value(line, &key, &value)) return fail("expected 'key: value' at the top level");
      std::string v;
      if (!scalar(value, &v)) return fail("unterminated quoted value");
      if (key == "tunnel") t.tunnel = v;
      else if (key == "credentials-file") t.credentials_file = v;
      else if (key == "ingress") in_ingress = true;
      continue;
    }
    if (!in_ingress) continue;  // nested settings tether does not need
    if (line.front() == '-') {
      std::string_view rest = trim(line.substr(1));
      item_indent = indent + (line.size() - rest.size());
      bare_dash = rest.empty();
      if (bare_dash) continue;
      line = rest;
      indent = item_indent;
    } else if (bare_dash) {
      item_indent = indent;
      bare_dash = false;
    }
    if (indent != item_indent) continue;  // inside originRequest and the like
    if (!key_value(line, &key, &value)) return fail("expected 'key: value' in an ingress rule");
    std::string v;
    if (!scalar(value, &v)) return fail("unterminated quoted value");
    if (key == "hostname" && !v.empty()) t.hostnames.push_back(v);
  }
  if (t.tunnel.empty()) {
    line_no = 1;
    return fail("no 'tunnel:' key: is this the config.yml that 'cloudflared tunnel create' set up?");
  }
  *out = std::move(t);
  return true;
}

bool read_local_config(const std::string& path, LocalTunnel* out, std::string* err) {
  // Non-blocking and regular files only: a FIFO in its place must not hang
  // the loop.
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    *err = path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st;
  std::string text;
  bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) <= kMaxFile;
  if (!ok) {
    *err = path + ": not a regular file of at most 1 MiB";
  } else {
    text.resize(static_cast<size_t>(st.st_size));
    ssize_t n = read(fd, text.data(), text.size());
    if (n < 0) {
      *err = path + ": " + std::strerror(errno);
      ok = false;
    } else {
      text.resize(static_cast<size_t>(n));
    }
  }
  close(fd);
  return ok && parse_local_config(text, path, out, err);
}

}  // namespace tether
