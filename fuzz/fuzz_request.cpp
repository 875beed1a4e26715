// Control socket input: bytes -> LineSplitter(kMaxRequest) -> parse_request
// -> format_text / format_json of replies built from the request -> printable.
//
// Checks: the splitter gives exactly the documented lines (an over-long line
// once, truncated) however the bytes are chunked; parse_request agrees with a
// model of the grammar in protocol.hpp and never returns ok with an empty
// verb; a text reply is data lines plus one status line, no data line looks
// like a status line, no control byte but the final '\n' of each line; a
// JSON reply is one line that parses back with "ok" as its first key.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "linesplit.hpp"
#include "protocol.hpp"

using namespace tether;
using fuzz::show;
using fuzz::starts_with;

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string> words_of(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    size_t start = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    if (i > start) out.emplace_back(line.substr(start, i - start));
  }
  return out;
}

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The request grammar of protocol.hpp, independently.
void check_parse(std::string_view line, const ParseResult& r) {
  bool control = false;
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) control = true;
  }
  std::vector<std::string> words = words_of(line);
  if (control) {
    FUZZ_CHECK(r.status == ParseStatus::invalid, "line " + show(line));
    FUZZ_CHECK(!r.error.empty(), "line " + show(line));
    return;
  }
  if (words.empty()) {
    FUZZ_CHECK(r.status == ParseStatus::empty, "line " + show(line));
    return;
  }
  bool json = ascii_lower(words[0]) == "json";
  if (json && words.size() == 1) {
    FUZZ_CHECK(r.status == ParseStatus::invalid, "line " + show(line));
    FUZZ_CHECK(!r.error.empty(), "line " + show(line));
    return;
  }
  FUZZ_CHECK(r.status == ParseStatus::ok, "line " + show(line));
  FUZZ_CHECK(!r.request.verb.empty(), "ok with an empty verb, line " + show(line));
  size_t first = json ? 1 : 0;
  FUZZ_CHECK(r.request.json == json, "line " + show(line));
  FUZZ_CHECK(r.request.verb == ascii_lower(words[first]), "verb " + show(r.request.verb) + ", line " + show(line));
  std::vector<std::string> args(words.begin() + static_cast<long>(first) + 1, words.end());
  FUZZ_CHECK(r.request.args == args, "line " + show(line));
}

// Decodes printable()'s \xNN escapes; false if the text is not in its form.
bool unescape(std::string_view s, std::string* out) {
  auto hexval = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 3 >= s.size()) return false;
    if (s[i + 1] != 'x' || hexval(s[i + 2]) < 0 || hexval(s[i + 3]) < 0) return false;
    out->push_back(static_cast<char>(hexval(s[i + 2]) * 16 + hexval(s[i + 3])));
    i += 3;
  }
  return true;
}

void check_printable(std::string_view word, size_t max) {
  std::string full = printable(word, SIZE_MAX);
  for (char c : full) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u < 0x7f && c != '\'', "printable(" + show(word) + ") = " + show(full));
  }
  std::string back;
  FUZZ_CHECK(unescape(full, &back) && back == word, "printable(" + show(word) + ") = " + show(full));
  std::string cut = printable(word, max);
  if (cut == full) return;
  // Cut: a prefix of the full form, at least max long, and "...".
  FUZZ_CHECK(cut.size() >= 3 && cut.compare(cut.size() - 3, 3, "...") == 0, show(cut));
  std::string_view head(cut.data(), cut.size() - 3);
  FUZZ_CHECK(starts_with(full, head), show(cut));
  FUZZ_CHECK(head.size() >= max && head.size() < max + 4, show(cut) + " for max " + std::to_string(max));
}

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): what
// nlohmann::json passes through unchanged; anything else it replaces.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1, cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2, cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

void check_text(const Reply& reply) {
  std::string text = format_text(reply);
  FUZZ_CHECK(!text.empty() && text.back() == '\n', show(text));
  std::vector<std::string_view> lines;
  std::string_view rest(text);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl + 1);
  }
  // One line per data line, then exactly one status line.
  FUZZ_CHECK(
      lines.size() == reply.lines.size() + 1,
      std::to_string(lines.size()) + " lines for " + std::to_string(reply.lines.size()) + " data lines: " + show(text));
  for (size_t i = 0; i < lines.size(); ++i) {
    FUZZ_CHECK(!fuzz::has_control(lines[i]), "line " + std::to_string(i) + ": " + show(lines[i]));
    bool status = starts_with(lines[i], "OK") || starts_with(lines[i], "ERR");
    if (i + 1 < lines.size()) FUZZ_CHECK(!status, "data line poses as status: " + show(lines[i]));
  }
  std::string_view last = lines.back();
  FUZZ_CHECK(starts_with(last, reply.ok ? "OK" : "ERR "), show(last));
  if (reply.ok) FUZZ_CHECK(last == "OK" || starts_with(last, "OK "), show(last));
  FUZZ_CHECK(format_reply(reply, false) == text, "format_reply(text)");
}

void check_json(const Reply& reply) {
  std::string s = format_json(reply);
  FUZZ_CHECK(!s.empty() && s.back() == '\n' && s.find('\n') == s.size() - 1, "not one line: " + show(s));
  FUZZ_CHECK(valid_utf8(s), show(s));
  FUZZ_CHECK(starts_with(s, reply.ok ? "{\"ok\":true" : "{\"ok\":false"), show(s));
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(s);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string(e.what()) + ": " + show(s));
  }
  FUZZ_CHECK(j.is_object() && !j.empty() && j.begin().key() == "ok", show(s));
  FUZZ_CHECK(j["ok"].is_boolean() && j["ok"].get<bool>() == reply.ok, show(s));
  auto same = [](const nlohmann::ordered_json& v, const std::string& want) {
    // Valid UTF-8 comes back unchanged; the rest is replaced, not thrown on.
    return v.is_string() && (!valid_utf8(want) || v.get<std::string>() == want);
  };
  if (reply.ok) {
    FUZZ_CHECK(same(j["message"], reply.message), show(s));
    if (reply.data.is_object() && !reply.data.empty()) {
      FUZZ_CHECK(!j.contains("lines"), show(s));
      for (auto it = reply.data.begin(); it != reply.data.end(); ++it) FUZZ_CHECK(j.contains(it.key()), it.key());
    } else if (!reply.lines.empty()) {
      FUZZ_CHECK(j["lines"].is_array() && j["lines"].size() == reply.lines.size(), show(s));
      for (size_t i = 0; i < reply.lines.size(); ++i) FUZZ_CHECK(same(j["lines"][i], reply.lines[i]), show(s));
    }
  } else {
    FUZZ_CHECK(j.size() == 2 && j["error"].is_object(), show(s));
    FUZZ_CHECK(same(j["error"]["code"], reply.code), show(s));
    FUZZ_CHECK(same(j["error"]["message"], reply.message), show(s));
  }
}

void check_reply(const Reply& reply) {
  check_text(reply);
  check_json(reply);
}

void one_line(const fuzz::SplitLine& l) {
  const std::string& line = l.text;
  FUZZ_CHECK(line.size() <= kMaxRequest, std::to_string(line.size()));
  FUZZ_CHECK(line.find('\n') == std::string::npos, show(line));
  if (l.truncated) {
    FUZZ_CHECK(line.size() == kMaxRequest, std::to_string(line.size()));
    check_reply(Reply::Err(
        "toolong", "request line longer than " + std::to_string(kMaxRequest) + " bytes; closing the connection"));
  }

  ParseResult r = parse_request(line);
  check_parse(line, r);
  check_printable(line, 40);
  check_printable(line, 0);

  // An ok reply with the request's words as data lines (and the raw line,
  // control bytes and all), its text as the message.
  std::vector<std::string> words = words_of(line);
  Reply ok = Reply::Ok(line);
  ok.lines = words;
  ok.lines.push_back(line);
  check_reply(ok);
  if (r.status == ParseStatus::ok) {
    // What a json-mode command does: structured data instead of the lines.
    Reply data = Reply::Ok(r.request.verb);
    data.lines = r.request.args;
    data.data["verb"] = r.request.verb;
    data.data["args"] = r.request.args;
    check_reply(data);
  }
  if (r.status == ParseStatus::invalid) check_reply(Reply::Err("usage", r.error));
  // A message from elsewhere with the line in it (framing must survive).
  check_reply(Reply::Err("api", line));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  for (const auto& l : fuzz::split_checked<LineSplitter>(input, kMaxRequest)) one_line(l);
  return 0;
}
