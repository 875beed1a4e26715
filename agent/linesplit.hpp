// Splits a byte stream into lines: "\n" or "\r\n" terminated, partial lines
// kept across reads, and a hard limit on line length so one endless line
// cannot grow memory. Pure: used for both the control socket and the output
// of cloudflared children.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tether {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}

  // Calls on_line(std::string_view line, bool truncated) for every complete
  // line in data. A line longer than max_line is delivered once, cut to
  // max_line bytes with truncated = true; the rest of it, up to its newline,
  // is skipped.
  template <typename F>
  void feed(std::string_view data, F&& on_line) {
    while (!data.empty()) {
      size_t nl = data.find('\n');
      bool complete = nl != std::string_view::npos;
      std::string_view chunk = complete ? data.substr(0, nl) : data;
      data = complete ? data.substr(nl + 1) : std::string_view();
      if (skipping_) {
        skipping_ = !complete;
        continue;
      }
      append(chunk);
      if (complete) {
        emit(on_line);
      } else if (content_size() > max_line_) {
        emit(on_line);
        skipping_ = true;
      }
    }
  }

  // At end of stream: the unterminated last line, if any.
  template <typename F>
  void finish(F&& on_line) {
    if (!skipping_ && !partial_.empty()) emit(on_line);
    partial_.clear();
    skipping_ = false;
  }

 private:
  // Never buffer more than needed to know a line is too long: max_line
  // bytes, one more, and a possible "\r" before the newline.
  void append(std::string_view chunk) {
    size_t cap = max_line_ + 2;
    if (partial_.size() < cap) partial_.append(chunk.substr(0, cap - partial_.size()));
  }

  size_t content_size() const { return partial_.size() - (!partial_.empty() && partial_.back() == '\r' ? 1 : 0); }

  template <typename F>
  void emit(F&& on_line) {
    std::string_view line(partial_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > max_line_) on_line(line.substr(0, max_line_), true);
    else on_line(line, false);
    partial_.clear();
  }

  size_t max_line_;
  std::string partial_;
  bool skipping_ = false;
};

}  // namespace tether
