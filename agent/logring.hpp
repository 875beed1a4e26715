// The last lines of a child's output, in one fixed circular buffer per
// tunnel: no allocation per line, and a hard byte bound, so a drone with
// 100 chatty tunnels keeps at most 100 x kMaxBytes of logs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

class LogRing {
 public:
  static constexpr size_t kMaxBytes = 8 * 1024;  // lines and their '\n' separators
  static constexpr size_t kMaxLine = 512;        // longer lines are cut for storage

  void push(std::string_view line);
  // The last n lines, oldest first.
  std::vector<std::string> tail(size_t n) const;

  size_t size() const { return lines_; }
  size_t bytes() const { return used_; }

 private:
  char at(size_t i) const { return buf_[(head_ + i) % buf_.size()]; }
  void drop_oldest();

  std::vector<char> buf_;  // allocated on the first line
  size_t head_ = 0;        // the oldest byte
  size_t used_ = 0;
  size_t lines_ = 0;
};

}  // namespace tether
