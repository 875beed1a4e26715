// The last lines of a child's output, bounded in lines and in bytes so a
// chatty child cannot grow the agent: a drone with 100 tunnels keeps at most
// 100 x kMaxBytes of logs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

class LogRing {
 public:
  static constexpr size_t kMaxLines = 200;
  static constexpr size_t kMaxBytes = 16 * 1024;
  static constexpr size_t kMaxLine = 512;  // longer lines are cut for storage

  void push(std::string_view line) {
    std::string l(line.substr(0, kMaxLine));
    if (line.size() > kMaxLine) l += "...";
    bytes_ += l.size();
    lines_.push_back(std::move(l));
    while (lines_.size() > kMaxLines || (bytes_ > kMaxBytes && lines_.size() > 1)) {
      bytes_ -= lines_.front().size();
      lines_.pop_front();
    }
  }

  // The last n lines, oldest first.
  std::vector<std::string> tail(size_t n) const {
    n = std::min(n, lines_.size());
    return std::vector<std::string>(lines_.end() - static_cast<long>(n), lines_.end());
  }

  size_t size() const { return lines_.size(); }
  size_t bytes() const { return bytes_; }

 private:
  std::deque<std::string> lines_;
  size_t bytes_ = 0;
};

}  // namespace tether
