// Throughput of what tetherd does with every chunk a cloudflared child
// writes: tether::LineSplitter cuts it into lines (same 4096-byte line limit
// as agent/child.hpp) and tether::scan_line classifies each line with the
// PCRE2 patterns. Input: the real cloudflared captures, repeated in memory,
// fed in 64 KiB chunks like the agent's pipe reads (agent/child.cpp).
//
// usage: scan_bench [--mb N] [--rounds N] CAPTURE...
// Prints one line: "<MB/s> MB/s <lines> lines <urls> urls <registered> registered"
// (the best of the rounds; the counts keep the work observable and prove the
// patterns matched what they should).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "linesplit.hpp"
#include "scanner.hpp"

namespace {

// A capture without its "# ..." annotation lines: those were added by whoever
// recorded it and are not cloudflared output.
std::string cloudflared_lines(const char* path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "scan_bench: cannot read %s\n", path);
    std::exit(2);
  }
  std::string out, line;
  while (std::getline(in, line))
    if (line.empty() || line[0] != '#') out += line + "\n";
  return out;
}

struct Counts {
  size_t lines = 0, urls = 0, registered = 0;
};

Counts scan_all(std::string_view input, size_t chunk) {
  tether::LineSplitter split(4096);
  Counts c;
  auto on_line = [&c](std::string_view line, bool) {
    tether::LineInfo info = tether::scan_line(line);
    ++c.lines;
    c.urls += info.kind == tether::LineInfo::Kind::url;
    c.registered += info.kind == tether::LineInfo::Kind::registered;
  };
  for (size_t off = 0; off < input.size(); off += chunk) split.feed(input.substr(off, chunk), on_line);
  split.finish(on_line);
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  size_t target_mb = 200;
  int rounds = 3;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mb") && i + 1 < argc) target_mb = std::strtoul(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else files.push_back(argv[i]);
  }
  if (files.empty() || target_mb == 0 || rounds < 1) {
    std::fprintf(stderr, "usage: scan_bench [--mb N] [--rounds N] CAPTURE...\n");
    return 2;
  }
  std::string one;
  for (const char* f : files) one += cloudflared_lines(f);
  std::string input;
  input.reserve(target_mb * 1000 * 1000 + one.size());
  while (input.size() < target_mb * 1000 * 1000) input += one;

  double best = 0;
  Counts counts;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    counts = scan_all(input, 64 * 1024);
    std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
    double mbps = static_cast<double>(input.size()) / 1e6 / dt.count();
    if (mbps > best) best = mbps;
  }
  std::printf("%.1f MB/s %zu lines %zu urls %zu registered\n", best, counts.lines, counts.urls, counts.registered);
  return 0;
}
