#include "scanner.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdlib>

namespace tether {
namespace {

// One compiled pattern with its match data; JIT-compiled when the library
// supports it (it falls back to the interpreter otherwise).
class Pattern {
 public:
  explicit Pattern(const char* re) {
    int err;
    PCRE2_SIZE offset;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(re), PCRE2_ZERO_TERMINATED, 0, &err, &offset, nullptr);
    if (!code_) std::abort();  // a bad built-in pattern is a programming error
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
    match_ = pcre2_match_data_create_from_pattern(code_, nullptr);
  }
  ~Pattern() {
    pcre2_match_data_free(match_);
    pcre2_code_free(code_);
  }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  bool match(std::string_view s) {
    // JIT code compares 16 bytes at a time and may read a few bytes past the
    // end of the subject. A zero-padded copy keeps those reads inside memory
    // we own (and valgrind quiet); offsets are the same as in s.
    subject_.assign(s.data(), s.size());
    subject_.append(kSlack, '\0');
    return pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject_.data()), s.size(), 0, 0, match_, nullptr) > 0;
  }

  std::string_view group(std::string_view s, int n) const {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(match_);
    if (ov[2 * n] == PCRE2_UNSET) return {};
    return s.substr(ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
  }

 private:
  static constexpr size_t kSlack = 32;
  pcre2_code* code_;
  pcre2_match_data* match_;
  std::string subject_;
};

// "2026-11-22T04:25:02Z INF message": RFC 3339 UTC at 1 s, a level word.
Pattern& record_pattern() {
  static Pattern p(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (TRC|DBG|INF|WRN|ERR|FTL|PNC|\?\?\?) (.*)$)");
  return p;
}

// The URL row of the quick-tunnel box. api.trycloudflare.com is the API
// that hands out URLs and shows up in errors; it is never a tunnel URL.
Pattern& url_pattern() {
  static Pattern p(R"(https://(?!api\.)([a-z0-9-]+)\.trycloudflare\.com(?![a-z0-9.-]))");
  return p;
}

Pattern& conn_index_pattern() {
  static Pattern p(R"((?:^| )connIndex=(\d+)(?: |$))");
  return p;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

int conn_index(std::string_view message) {
  Pattern& p = conn_index_pattern();
  if (!p.match(message)) return -1;
  std::string_view digits = p.group(message, 1);
  if (digits.size() > 4) return -1;
  return std::atoi(std::string(digits).c_str());
}

}  // namespace

LineInfo scan_line(std::string_view line) {
  LineInfo info;
  Pattern& rec = record_pattern();
  if (!rec.match(line)) {
    info.message = line;
    // Printed, with exit 255, for a TUNNEL_TOKEN that does not decode
    // (docs/cloudflared.md §3); no record line comes before it.
    if (line == "Provided Tunnel token is not valid.") info.kind = LineInfo::Kind::unauthorized;
    info.hint = starts_with(line, "See 'cloudflared ") && line.size() > 8 && line.substr(line.size() - 8) == "--help'.";
    return info;
  }
  info.record = true;
  info.level = rec.group(line, 1)[0];
  info.message = rec.group(line, 2);
  std::string_view msg = info.message;

  using Kind = LineInfo::Kind;
  if (info.level == 'I') {
    if (starts_with(msg, "Registered tunnel connection")) {
      info.kind = Kind::registered;
    } else if (starts_with(msg, "Unregistered tunnel connection") ||
               starts_with(msg, "Lost connection with the edge")) {
      info.kind = Kind::unregistered;
    } else if (starts_with(msg, "Initiating graceful shutdown")) {
      info.kind = Kind::shutdown;
    } else if (msg.find("trycloudflare.com") != std::string_view::npos && url_pattern().match(msg)) {
      info.kind = Kind::url;
      info.url = "https://" + std::string(url_pattern().group(msg, 1)) + ".trycloudflare.com";
    }
    if (info.kind == Kind::registered || info.kind == Kind::unregistered) info.conn_index = conn_index(msg);
  } else if (info.level == 'E' || info.level == 'W') {
    // The level is ERR or WRN depending on the other connections
    // (docs/cloudflared.md §4).
    if (msg.find("Unauthorized") != std::string_view::npos) {
      info.kind = Kind::unauthorized;
    } else if (starts_with(msg, "Failed to create new quic connection") ||
               starts_with(msg, "Failed to dial a quic connection")) {
      info.kind = Kind::dial_failed;
      info.quic_timeout = msg.find("timeout: no recent network activity") != std::string_view::npos;
    } else if (starts_with(msg, "Unable to establish connection with Cloudflare edge")) {
      info.kind = Kind::dial_failed;
    } else if (starts_with(msg, "Failed to serve quic connection") || starts_with(msg, "Serve tunnel error") ||
               starts_with(msg, "Connection terminated") || starts_with(msg, "failed to serve tunnel connection")) {
      info.kind = Kind::conn_failed;
    }
  }
  return info;
}

}  // namespace tether
