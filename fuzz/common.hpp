// Shared by the fuzz targets: the invariant check and a reference model of
// LineSplitter. Header-only so a target is one .cpp plus the agent sources it
// exercises, built by clang with libFuzzer (fuzz/CMakeLists.txt) or by the
// normal compiler with fuzz/replay.cpp as main() (the fuzz.* ctests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fuzz {

// Set by replay.cpp to the file being replayed, so a failing check names it.
inline const char* current_input = nullptr;

[[noreturn]] inline void fail(const char* file, int line, const char* cond, const std::string& what) {
  std::fprintf(stderr, "\n%s:%d: invariant violated: %s\n", file, line, cond);
  if (!what.empty()) std::fprintf(stderr, "  %s\n", what.c_str());
  if (current_input != nullptr) std::fprintf(stderr, "  input: %s\n", current_input);
  std::fflush(stderr);
  std::abort();  // libFuzzer reports a deadly signal and keeps the input
}

// A readable rendering of bytes for failure messages: C escapes, cut.
inline std::string show(std::string_view s, size_t max = 200) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == max) {
      out += "\"... (" + std::to_string(s.size()) + " bytes)";
      return out;
    }
    auto u = static_cast<unsigned char>(s[i]);
    if (u == '"' || u == '\\') {
      out += '\\';
      out += static_cast<char>(u);
    } else if (u >= 0x20 && u < 0x7f) {
      out += static_cast<char>(u);
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out + "\"";
}

// The line contract of LineSplitter (agent/linesplit.hpp), written out
// independently: every "\n"-terminated segment and a non-empty unterminated
// tail is one line; one "\r" before the end is dropped; a line longer than
// max is delivered once, cut to max bytes, with truncated = true.
struct SplitLine {
  std::string text;
  bool truncated = false;
  bool operator==(const SplitLine& o) const { return text == o.text && truncated == o.truncated; }
};

inline std::vector<SplitLine> model_split(std::string_view data, size_t max) {
  std::vector<SplitLine> out;
  auto add = [&](std::string_view body) {
    if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
    if (body.size() > max) out.push_back({std::string(body.substr(0, max)), true});
    else out.push_back({std::string(body), false});
  };
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      add(data.substr(pos));
      break;
    }
    add(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// Deterministic chunk sizes derived from the input, so lines straddle reads
// the way they do on a socket or a pipe, and a replay sees the same chunks.
class Chunker {
 public:
  explicit Chunker(std::string_view data) {
    state_ = 0x9e3779b97f4a7c15ull ^ data.size();
    for (size_t i = 0; i < data.size() && i < 64; ++i)
      state_ = (state_ ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
  }
  size_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    switch (state_ % 4) {
      case 0: return 1 + (state_ >> 8) % 3;  // tiny reads
      case 1: return 1 + (state_ >> 8) % 64;
      case 2: return 1 + (state_ >> 8) % 5000;  // around the 4096 limit
      default: return 65536;                    // a full pipe buffer
    }
  }

 private:
  uint64_t state_;
};

// Feeds data to a fresh splitter in one piece and again in chunks; both must
// give exactly the model's lines. Returns them.
template <typename Splitter>
std::vector<SplitLine> split_checked(std::string_view data, size_t max) {
  std::vector<SplitLine> whole, chunked;
  {
    Splitter s(max);
    auto on = [&](std::string_view l, bool t) { whole.push_back({std::string(l), t}); };
    s.feed(data, on);
    s.finish(on);
  }
  {
    Splitter s(max);
    auto on = [&](std::string_view l, bool t) { chunked.push_back({std::string(l), t}); };
    Chunker c(data);
    for (size_t pos = 0; pos < data.size();) {
      size_t n = c.next();
      s.feed(data.substr(pos, n), on);
      pos += n;
    }
    s.finish(on);
  }
  std::vector<SplitLine> model = model_split(data, max);
  auto describe = [&](const std::vector<SplitLine>& got) {
    size_t i = 0;
    while (i < got.size() && i < model.size() && got[i] == model[i]) ++i;
    std::string d = "got " + std::to_string(got.size()) + " lines, expected " + std::to_string(model.size()) +
                    "; first difference at line " + std::to_string(i);
    if (i < got.size()) d += ": got " + show(got[i].text) + (got[i].truncated ? " (truncated)" : "");
    if (i < model.size()) d += ", expected " + show(model[i].text) + (model[i].truncated ? " (truncated)" : "");
    return d;
  };
  if (!(whole == model)) fail(__FILE__, __LINE__, "LineSplitter, one feed == model", describe(whole));
  if (!(chunked == model)) fail(__FILE__, __LINE__, "LineSplitter, chunked feeds == model", describe(chunked));
  return model;
}

inline bool has_control(std::string_view s) {
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

inline bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace fuzz

#define FUZZ_CHECK(cond, what)                                               \
  do {                                                                       \
    if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, std::string(what)); \
  } while (0)
