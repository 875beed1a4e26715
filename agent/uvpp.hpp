// Small RAII layer over libuv handles, and the one rule for callbacks that
// cross owners.
//
// Handles: a handle's memory must stay valid until libuv's close callback
// has run, so an owner never frees it directly: it calls uv_close() and the
// close callback frees it. Callbacks find their owner through handle->data,
// which is cleared when the owner lets go, so a late callback of a closing
// handle can tell that nobody is listening.
//
// Callbacks across owners: when an object hands a callback to something it
// does not own (a job waiting for a tunnel's stop, a client waiting for a
// start's reply, a chat waiting for an HTTP answer), it owns a Lifetime and
// hands out only lifetime_.guard(fn). Destroying the object ends its
// Lifetime, and from then on the guarded callbacks do nothing, wherever they
// are stored. No other idiom (raw `this` in another owner's list, liveness
// flags, lookups by id) is used for this.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace tether {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { reset(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  // Allocates and initialises the handle with init(loop, handle, args...).
  template <typename Init, typename... Args>
  int init(uv_loop_t* loop, void* data, Init init_fn, Args&&... args) {
    reset();
    T* h = new T();
    int rc = init_fn(loop, h, std::forward<Args>(args)...);
    if (rc < 0) {
      delete h;
      return rc;
    }
    h->data = data;
    h_ = h;
    return 0;
  }

  // Adopts a handle that libuv already initialised (uv_spawn does that even
  // when it fails), so that it is closed and freed like any other.
  void adopt(T* h, void* data) {
    reset();
    h->data = data;
    h_ = h;
  }

  // Lets go of the handle without closing it; whoever takes it closes it.
  T* release() {
    T* h = h_;
    if (h) h->data = nullptr;
    h_ = nullptr;
    return h;
  }

  void reset() {
    if (!h_) return;
    h_->data = nullptr;
    uv_close(handle(), [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
    h_ = nullptr;
  }

  T* get() const { return h_; }
  uv_handle_t* handle() const { return reinterpret_cast<uv_handle_t*>(h_); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(h_); }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  T* h_ = nullptr;
};

// See the rule at the top of this file. Not copyable: a copy would outlive
// the object it stands for.
class Lifetime {
 public:
  Lifetime() = default;
  Lifetime(const Lifetime&) = delete;
  Lifetime& operator=(const Lifetime&) = delete;

  // fn, made a no-op once this Lifetime has ended. The owner may be destroyed
  // inside fn: the guard holds nothing of it.
  template <typename Fn>
  auto guard(Fn fn) const {
    return [alive = std::weak_ptr<const char>(token_), fn = std::move(fn)](auto&&... args) {
      if (!alive.expired()) fn(std::forward<decltype(args)>(args)...);
    };
  }

 private:
  std::shared_ptr<const char> token_ = std::make_shared<const char>(0);
};

// A one-shot timer with a callback. Its handle is created on first use: a
// tunnel that never needs a timer never pays for one.
class Timer {
 public:
  explicit Timer(uv_loop_t* loop) : loop_(loop) {}

  void start(uint64_t ms, std::function<void()> cb) {
    if (!h_) h_.init(loop_, this, uv_timer_init);
    cb_ = std::move(cb);
    uv_timer_start(h_.get(), on_timer, ms, 0);
  }

  void stop() {
    if (h_) uv_timer_stop(h_.get());
    cb_ = nullptr;
  }

  bool active() const { return h_ && uv_is_active(h_.handle()); }

  // Remaining time, for status output.
  uint64_t due_in() const { return h_ ? uv_timer_get_due_in(h_.get()) : 0; }

 private:
  static void on_timer(uv_timer_t* h) {
    auto* self = static_cast<Timer*>(h->data);
    if (!self) return;
    // Moved out first: the callback may destroy this Timer's owner.
    auto cb = std::move(self->cb_);
    self->cb_ = nullptr;
    if (cb) cb();
  }

  uv_loop_t* loop_;
  UvHandle<uv_timer_t> h_;
  std::function<void()> cb_;
};

// Watches fd for reading through h (owner in its data); on failure h is
// closed again and the error returned. The fd stays the caller's.
inline int poll_readable(uv_loop_t* loop, UvHandle<uv_poll_t>& h, void* owner, int fd, uv_poll_cb cb) {
  int rc = h.init(loop, owner, uv_poll_init, fd);
  if (rc == 0) rc = uv_poll_start(h.get(), UV_READABLE, cb);
  if (rc < 0) h.reset();
  return rc;
}

}  // namespace tether
