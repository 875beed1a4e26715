#include "protocol.hpp"

#include <cctype>
#include <cstdio>

namespace tether {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Appends a data line so that it can never pose as a status line.
void append_data_line(std::string* out, std::string_view line) {
  if (starts_with(line, "OK") || starts_with(line, "ERR")) *out += ' ';
  size_t at = out->size();
  out->append(line);
  for (size_t i = at; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  *out += '\n';
}

// Status texts are single lines too; a message with a newline inside would
// break the framing for every client.
std::string one_line(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

}  // namespace

ParseResult parse_request(std::string_view line) {
  ParseResult r;
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) {
      r.status = ParseStatus::invalid;
      r.error = "request contains control characters (send one line of text, e.g. 'help')";
      return r;
    }
  }
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) words.emplace_back(line.substr(start, i - start));
  }
  if (words.empty()) return r;
  size_t first = 0;
  if (lower(words[0]) == "json") {
    r.request.json = true;
    first = 1;
    if (words.size() == 1) {
      r.status = ParseStatus::invalid;
      r.error = "json needs a command after it (e.g. 'json list')";
      return r;
    }
  }
  r.status = ParseStatus::ok;
  r.request.verb = lower(words[first]);
  r.request.args.assign(words.begin() + static_cast<long>(first) + 1, words.end());
  return r;
}

Reply Reply::Ok(std::string message) {
  Reply r;
  r.message = std::move(message);
  return r;
}

Reply Reply::Err(std::string code, std::string message) {
  Reply r;
  r.ok = false;
  r.code = std::move(code);
  r.message = std::move(message);
  return r;
}

std::string format_text(const Reply& reply) {
  std::string out;
  size_t size = reply.message.size() + reply.code.size() + 8;
  for (const auto& l : reply.lines) size += l.size() + 2;
  out.reserve(size);
  for (const auto& l : reply.lines) append_data_line(&out, l);
  if (reply.ok) {
    out += "OK";
    if (!reply.message.empty()) out += ' ' + one_line(reply.message);
  } else {
    out += "ERR " + reply.code;
    if (!reply.message.empty()) out += ' ' + one_line(reply.message);
  }
  out += '\n';
  return out;
}

std::string format_json(const Reply& reply) {
  // Ordered, so "ok" comes first and a client can test the prefix.
  nlohmann::ordered_json j;
  if (reply.ok) {
    j["ok"] = true;
    j["message"] = reply.message;
    if (reply.data.is_object() && !reply.data.empty()) {
      for (auto it = reply.data.begin(); it != reply.data.end(); ++it) j[it.key()] = it.value();
    } else if (!reply.lines.empty()) {
      j["lines"] = reply.lines;
    }
  } else {
    j["ok"] = false;
    j["error"] = {{"code", reply.code}, {"message", reply.message}};
  }
  // Child output may hold invalid UTF-8; replace it rather than throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string format_reply(const Reply& reply, bool json) { return json ? format_json(reply) : format_text(reply); }

std::string printable(std::string_view word, size_t max) {
  std::string out;
  for (char c : word) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\' && c != '\'') {
      out += c;
    } else {
      char buf[8];
      snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

}  // namespace tether
