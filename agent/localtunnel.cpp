#include "localtunnel.hpp"

#include <cctype>
#include <cstring>

#include "atomicfile.hpp"

namespace tether {
namespace {

// A cloudflared config is a few hundred bytes; a bigger file is not one.
constexpr size_t kMaxBytes = 256 * 1024;

const char* kSubset =
    " (tether reads block mappings, '- ' lists and plain or quoted one-line scalars; "
    "see docs/cloudflared.md §15)";

struct Line {
  int number = 0;
  size_t indent = 0;
  std::string body;  // without indentation, trailing comment and trailing blanks
};

struct Reader {
  std::string file;
  LocalTunnel* out;
  std::vector<ConfigError>* errors;

  void error(int line, const std::string& msg) { errors->push_back({file, line, msg}); }

  // Cuts a " #" comment that is outside quotes, and trailing blanks.
  static std::string strip_comment(const std::string& s) {
    char quote = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '#' && (i == 0 || s[i - 1] == ' ')) {
        std::string r = s.substr(0, i);
        while (!r.empty() && r.back() == ' ') r.pop_back();
        return r;
      }
    }
    std::string r = s;
    while (!r.empty() && (r.back() == ' ' || r.back() == '\t')) r.pop_back();
    return r;
  }

  bool split_lines(std::string_view text, std::vector<Line>* lines) {
    int number = 0;
    bool content = false;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      std::string raw(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
      pos = nl == std::string_view::npos ? text.size() : nl + 1;
      ++number;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      if (number == 1 && raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
      if (raw.find('\0') != std::string::npos) {
        error(number, "line contains a NUL byte");
        return false;
      }
      size_t indent = 0;
      while (indent < raw.size() && raw[indent] == ' ') ++indent;
      if (indent < raw.size() && raw[indent] == '\t') {
        error(number, "a tab in the indentation (YAML indents with spaces only)");
        return false;
      }
      std::string body = strip_comment(raw.substr(indent));
      if (body.empty()) continue;
      if (indent == 0 && (body == "---" || body == "...")) {
        if (content && body == "---") {
          error(number, "a second YAML document; cloudflared reads only one");
          return false;
        }
        continue;
      }
      content = true;
      lines->push_back({number, indent, body});
    }
    return true;
  }

  // "key: value" or "key:"; false (with an error) for anything else.
  bool key_value(const Line& l, const std::string& body, std::string* key, std::string* value) {
    size_t colon = body.find(':');
    while (colon != std::string::npos && colon + 1 < body.size() && body[colon + 1] != ' ')
      colon = body.find(':', colon + 1);
    bool ok = colon != std::string::npos && colon > 0;
    for (size_t i = 0; ok && i < colon; ++i) {
      char c = body[i];
      ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    }
    if (!ok) {
      error(l.number, "expected 'key: value', got '" + body + "'" + kSubset);
      return false;
    }
    *key = body.substr(0, colon);
    size_t v = colon + 1;
    while (v < body.size() && body[v] == ' ') ++v;
    *value = body.substr(v);
    return true;
  }

  // A one-line scalar: plain, 'single' or "double" quoted.
  bool scalar(int line, const std::string& key, const std::string& v, std::string* out) {
    if (v.empty()) {
      error(line, "'" + key + "' has no value");
      return false;
    }
    char c = v[0];
    if (c == '\'' || c == '"') {
      if (v.size() < 2 || v.back() != c) {
        error(line, "'" + key + "': a quoted value must end on the same line with its quote");
        return false;
      }
      std::string s;
      for (size_t i = 1; i + 1 < v.size(); ++i) {
        if (c == '\'' && v[i] == '\'' && v[i + 1] == '\'') {
          s += '\'';
          ++i;
        } else if (c == '"' && v[i] == '\\') {
          char e = v[i + 1];
          if ((e != '"' && e != '\\') || i + 2 >= v.size()) {
            error(line, "'" + key + "': only \\\" and \\\\ escapes are read" + kSubset);
            return false;
          }
          s += e;
          ++i;
        } else {
          s += v[i];
        }
      }
      *out = s;
      return true;
    }
    if (std::strchr("[{&*!|>%@`", c)) {
      error(line, "'" + key + "': '" + v + "' is not a one-line scalar" + kSubset);
      return false;
    }
    *out = v;
    return true;
  }

  // The `ingress:` list from lines[*i], which are indented below it (or at
  // its own level, as YAML allows for a list).
  void ingress(const std::vector<Line>& lines, size_t* i) {
    size_t item_indent = std::string::npos;
    bool catch_all_last = false;
    int last_line = 0;
    while (*i < lines.size()) {
      const Line& l = lines[*i];
      bool dash = l.body.compare(0, 2, "- ") == 0 || l.body == "-";
      if (l.indent == 0 && !dash) break;
      if (item_indent == std::string::npos) item_indent = l.indent;
      if (!dash || l.indent != item_indent) {
        error(l.number, "expected a rule starting with '- ' at column " + std::to_string(item_indent + 1) + kSubset);
        ++*i;
        continue;
      }
      // One rule: the "- key: value" line, then keys at the column after
      // "- "; anything deeper (originRequest and its settings) belongs to
      // cloudflared alone.
      Route r;
      r.line = l.number;
      last_line = l.number;
      size_t key_indent = item_indent + 2;
      bool has_service = false, has_path = false;
      std::string first = l.body.size() > 2 ? l.body.substr(2) : "";
      size_t lead = 0;
      while (lead < first.size() && first[lead] == ' ') ++lead;
      key_indent += lead;
      first = first.substr(lead);
      auto rule_key = [&](const Line& at, const std::string& body) {
        std::string key, value;
        if (!key_value(at, body, &key, &value)) return;
        if (key == "hostname") {
          scalar(at.number, key, value, &r.hostname);
        } else if (key == "service") {
          has_service = true;
          scalar(at.number, key, value, &r.service);
        } else if (key == "path") {
          has_path = true;
        }
      };
      ++*i;
      if (first.empty()) {
        error(l.number, "a rule must begin on its '- ' line, e.g. '- hostname: NAME' with 'service: URL' below it");
        while (*i < lines.size() && lines[*i].indent > item_indent) ++*i;
        continue;
      }
      rule_key(l, first);
      while (*i < lines.size() && lines[*i].indent > item_indent) {
        const Line& k = lines[*i];
        if (k.indent == key_indent) rule_key(k, k.body);
        else if (k.indent < key_indent)
          error(k.number, "indented neither as a rule's key nor inside one" + std::string(kSubset));
        ++*i;
      }
      if (!has_service) error(r.line, "ingress rule without 'service:'");
      bool catch_all = (r.hostname.empty() || r.hostname == "*") && !has_path;
      catch_all_last = catch_all;
      if (!r.hostname.empty() && r.hostname != "*") out->ingress.push_back(r);
    }
    if (last_line && !catch_all_last)
      error(last_line,
            "the last ingress rule must match everything (no hostname, no path), "
            "e.g. '- service: http_status:404'; cloudflared refuses the file otherwise");
  }

  void parse(std::string_view text) {
    std::vector<Line> lines;
    if (!split_lines(text, &lines)) return;
    size_t i = 0;
    bool seen_tunnel = false, seen_ingress = false;
    while (i < lines.size()) {
      const Line& l = lines[i];
      if (l.indent != 0) {
        error(l.number, "indented line outside any block" + std::string(kSubset));
        ++i;
        continue;
      }
      std::string key, value;
      if (!key_value(l, l.body, &key, &value)) {
        ++i;
        continue;
      }
      ++i;
      if (key == "ingress") {
        if (!value.empty()) {
          error(l.number,
                "'ingress:' must be followed by its rules on the lines below, one '- ' each" + std::string(kSubset));
          continue;
        }
        if (seen_ingress) error(l.number, "'ingress:' appears twice");
        seen_ingress = true;
        ingress(lines, &i);
        continue;
      }
      if (key == "tunnel" || key == "credentials-file") {
        std::string* field = key == "tunnel" ? &out->tunnel : &out->credentials_file;
        if (key == "tunnel") {
          if (seen_tunnel) error(l.number, "'tunnel:' appears twice");
          seen_tunnel = true;
        }
        if (scalar(l.number, key, value, field) && i < lines.size() && lines[i].indent > 0)
          error(lines[i].number, "'" + key + "': a value continued on the next line" + std::string(kSubset));
      }
      // Any other key (protocol, loglevel, originRequest, warp-routing, ...)
      // is cloudflared's business; a block under it is skipped whole.
      while (i < lines.size() && lines[i].indent > 0) ++i;
    }
    if (!seen_tunnel)
      error(0, "no 'tunnel:' line; cloudflared needs the tunnel's id (from 'cloudflared tunnel create')");
  }
};

}  // namespace

bool parse_local_tunnel(std::string_view text, const std::string& file, LocalTunnel* out,
                        std::vector<ConfigError>* errors) {
  LocalTunnel t;
  size_t before = errors->size();
  Reader r{file, &t, errors};
  r.parse(text);
  if (errors->size() != before) return false;
  *out = std::move(t);
  return true;
}

bool load_local_tunnel(const std::string& path, LocalTunnel* out, std::vector<ConfigError>* errors) {
  std::string text, err;
  int rc = read_file(path, &text, kMaxBytes, &err);
  if (rc < 0) {
    errors->push_back(read_failure(path, rc, err));
    return false;
  }
  return parse_local_tunnel(text, path, out, errors);
}

}  // namespace tether
