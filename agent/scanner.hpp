// What a line of cloudflared's output means to the supervisor. Pure: the
// patterns are compiled once (PCRE2, JIT where available) and a line goes in,
// a classification comes out. Formats: docs/cloudflared.md §4-7.
#pragma once

#include <string>
#include <string_view>

namespace tether {

struct LineInfo {
  enum class Kind {
    none,
    url,           // quick tunnel URL (never api.trycloudflare.com)
    registered,    // a connection to the edge is up
    unregistered,  // a connection is down
    shutdown,      // cloudflared began a graceful shutdown
    unauthorized,  // the edge refuses the tunnel's credentials, or (a
                   // plain line) cloudflared cannot even decode the token
    dial_failed,   // a dial to the edge failed (QUIC or HTTP/2)
    conn_failed,   // an established connection ended, or its slot gave up for now
  };
  Kind kind = Kind::none;
  // A zerolog record ("<time> <LVL> <message>"); otherwise a plain line:
  // a fatal error printed before exit, usage text, a continuation.
  bool record = false;
  char level = 0;            // first letter of TRC DBG INF WRN ERR FTL PNC ???
  std::string_view message;  // the record's message and fields, or the whole plain line
  std::string url;
  int conn_index = -1;
  // "See 'cloudflared tunnel run --help'.": a pointer to the help printed
  // after the real error, never the explanation itself.
  bool hint = false;
  bool quic_timeout = false;  // dial_failed: a QUIC dial that got no answer at all

  // ERR/FTL/PNC records and plain lines are what explain a failure.
  bool is_error() const { return record ? (level == 'E' || level == 'F' || level == 'P') : !message.empty() && !hint; }
};

LineInfo scan_line(std::string_view line);

}  // namespace tether
