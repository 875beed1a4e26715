// The exclusive claim of an agent on its state directory. Two agents on
// one state_dir would each take the other's children for a dead agent's
// leftovers, so the second one must refuse to start instead.
#pragma once

#include <string>

namespace tether {

class StateLock {
 public:
  StateLock() = default;
  ~StateLock();
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

  // Creates state_dir (and its parents) if needed and takes flock() on
  // state_dir/lock, which then holds our pid. Returns false with *err,
  // naming the holder's pid, when another process has it.
  bool acquire(const std::string& state_dir, std::string* err);
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace tether
