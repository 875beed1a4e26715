#include "framing.hpp"

#include <utility>

namespace tether {

RequestFramer::RequestFramer(size_t max_line, size_t max_queued)
    : max_line_(max_line), max_queued_(max_queued), splitter_(max_line) {}

void RequestFramer::feed(std::string_view data) {
  raw_.append(data);
  split();
  settle();
}

void RequestFramer::end_of_input() {
  eof_ = true;
  settle();
}

RequestFramer::Frame RequestFramer::next() {
  if (queue_.empty()) return {};
  Frame f = std::move(queue_.front());
  queue_.pop_front();
  settle();
  return f;
}

void RequestFramer::clear() {
  queue_.clear();
  raw_.clear();
  ended_ = true;
}

void RequestFramer::settle() {
  // Gate 1, pipelining: lines are split out only while fewer than half of
  // max_queued wait; the rest stays raw (at most one read, as the caller
  // stops reading while holding_input()). A client that pipelines faster
  // than it reads its replies costs a bounded amount.
  if (queue_.size() < max_queued_ / 2 && !raw_.empty()) split();
  // Gate 2, end of input: an unterminated last line is a request too, once,
  // after every line before it. Not after an over-long line (gate 4).
  if (eof_ && queue_.empty() && raw_.empty() && !stopped_ && !ended_) {
    ended_ = true;
    splitter_.finish([this](std::string_view line, bool) { queue_.push_back({Frame::Kind::line, std::string(line)}); });
  }
}

// Moves whole lines from raw_ into the queue while it has room.
void RequestFramer::split() {
  size_t used = 0;
  // Gate 3, queue bound: never more than max_queued lines split out.
  while (used < raw_.size() && queue_.size() < max_queued_ && !stopped_) {
    size_t nl = raw_.find('\n', used);
    size_t end = nl == std::string::npos ? raw_.size() : nl + 1;
    splitter_.feed(std::string_view(raw_).substr(used, end - used), [this](std::string_view line, bool truncated) {
      if (stopped_) return;
      // Gate 4, line length: a line longer than max_line is answered
      // "toolong" and ends the connection; nothing after it is read, so
      // one endless line cannot grow memory past max_line.
      if (truncated) {
        queue_.push_back({Frame::Kind::toolong, std::string()});
        stopped_ = true;
        return;
      }
      queue_.push_back({Frame::Kind::line, std::string(line)});
    });
    used = end;
  }
  raw_.erase(0, stopped_ ? raw_.size() : used);
}

}  // namespace tether
