#include "control.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "atomicfile.hpp"
#include "events.hpp"
#include "log.hpp"

namespace tether {
namespace {

// Past this much unsent reply data a client is not read from (requests) or
// is dropped (watch streams): a client that does not read must not grow the
// agent's memory.
constexpr size_t kMaxOutput = 64 * 1024;
// Requests split out of the input but not yet answered. The rest of the
// input stays as raw bytes (at most one read's worth) and reading pauses,
// so a client that pipelines faster than it reads costs a bounded amount.
constexpr size_t kMaxQueued = 64;
// A finished connection gets this long to read its last replies, then this
// long to stop sending, before it is closed anyway.
constexpr uint64_t kFlushMs = 30000;
constexpr uint64_t kLingerMs = 2000;
// Of RLIMIT_NOFILE, the share clients may never use (and at least this many).
constexpr int kFdReserveDivisor = 4;
constexpr int kMinFdReserve = 32;

int check_existing_socket(const std::string& path, std::string* err) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK(st.st_mode)) {
    *err = path + " exists and is not a socket; refusing to replace it (remove it or use --socket)";
    return -EEXIST;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  int rc = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int e = errno;
  ::close(fd);
  if (rc == 0) {
    *err = "another tetherd is already answering on " + path +
           "; stop it first or give this one another --socket";
    return -EADDRINUSE;
  }
  if (e != ECONNREFUSED) {
    *err = "cannot check existing socket " + path + ": " + std::strerror(e);
    return -e;
  }
  log_info("removing stale socket %s (nothing answers on it)", path.c_str());
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    *err = "cannot remove stale socket " + path + ": " + std::strerror(errno);
    return -errno;
  }
  return 0;
}

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

// One client. Its memory holds the uv_pipe_t, so it lives until the pipe's
// close callback; replies that arrive later hold only a weak_ptr to it.
class Control::Conn : public std::enable_shared_from_this<Conn> {
 public:
  explicit Conn(Control& server)
      : server_(server), splitter_(kMaxRequest), linger_(server.loop_), idle_(server.loop_) {
    uv_pipe_init(server.loop_, &pipe_, 0);
    pipe_.data = this;
  }
  ~Conn() {
    if (watch_token_) server_.events_.unsubscribe(watch_token_);
  }

  uv_pipe_t* pipe() { return &pipe_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe_); }

  void start() {
    arm_idle();
    resume_reading();
  }

  // Sends one line and ends, for connections refused at the door.
  void refuse(const std::string& line) {
    out_ += line + "\n";
    finish();
  }

  // Refused for lack of room: the line goes out if the socket takes it at
  // once, and the connection is closed now, so refused clients never pile
  // up. What the client already sent is read first: closing a Unix socket
  // with unread input resets it, and the client could lose the line.
  void refuse_now(const std::string& line) {
    std::string text = line + "\n";
    uv_buf_t buf = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
    uv_try_write(stream(), &buf, 1);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) == 0) {
      char sink[4096];
      for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
      }
    }
    close();
  }

  void close() {
    if (closing_) return;
    pause_reading();
    closing_ = true;
    linger_.stop();
    idle_.stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      c->server_.forget(c);
    });
  }

 private:
  struct Pending {
    std::string line;
    bool toolong;
  };

  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    // One static buffer is enough: the loop is single threaded and every
    // read is consumed before the next one starts.
    static char chunk[64 * 1024];
    *buf = uv_buf_init(chunk, sizeof chunk);
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    if (n == 0) return;
    if (c->finishing_) {  // draining what the client still sends
      if (n < 0) c->close();
      return;
    }
    if (n > 0) c->take(std::string_view(buf->base, static_cast<size_t>(n)));
    else c->end_of_input(n);
  }

  void take(std::string_view data) {
    if (watching_) return;  // a watch stream ignores further input
    arm_idle();
    raw_.append(data);
    split_input();
    process();
  }

  // Moves whole lines from raw_ into the queue while it has room.
  void split_input() {
    size_t used = 0;
    while (used < raw_.size() && queue_.size() < kMaxQueued && !stop_taking_) {
      size_t nl = raw_.find('\n', used);
      size_t end = nl == std::string::npos ? raw_.size() : nl + 1;
      splitter_.feed(std::string_view(raw_).substr(used, end - used), [this](std::string_view line, bool truncated) {
        if (stop_taking_) return;
        queue_.push_back({std::string(line), truncated});
        // Nothing after an over-long line is read: the connection ends there.
        if (truncated) stop_taking_ = true;
      });
      used = end;
    }
    raw_.erase(0, stop_taking_ ? raw_.size() : used);
  }

  void end_of_input(ssize_t status) {
    eof_ = true;
    pause_reading();
    if (status != UV_EOF) {  // reset by peer: nobody to answer
      close();
      return;
    }
    process();
  }

  void process() {
    if (processing_) return;  // a synchronous reply finished inside dispatch
    processing_ = true;
    for (;;) {
      if (queue_.size() < kMaxQueued / 2 && !raw_.empty()) split_input();
      if (eof_ && queue_.empty() && raw_.empty() && !stop_taking_ && !watching_ && !ended_) {
        ended_ = true;  // the unterminated last line, if any
        splitter_.finish([this](std::string_view line, bool) { queue_.push_back({std::string(line), false}); });
      }
      if (busy_ || queue_.empty() || closing_ || finishing_ || watching_ || output_full()) break;
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      if (p.toolong) {
        send_reply(Reply::Err("toolong", "request line longer than " + std::to_string(kMaxRequest) +
                                             " bytes; closing the connection"),
                   false);
        finish();
        break;
      }
      ParseResult pr = parse_request(p.line);
      if (pr.status == ParseStatus::empty) continue;
      if (pr.status == ParseStatus::invalid) {
        send_reply(Reply::Err("usage", pr.error), false);
        continue;
      }
      busy_ = true;
      bool json = pr.request.json;
      std::weak_ptr<Conn> weak = shared_from_this();
      server_.commands_.dispatch(pr.request, Caller{}, [weak, json](Reply r) {
        if (auto c = weak.lock()) c->on_reply(std::move(r), json);
      });
    }
    processing_ = false;
    flush();
    if (closing_ || finishing_) return;
    if (eof_ && !busy_ && queue_.empty() && raw_.empty() && !watching_) {
      finish();
      return;
    }
    if (!eof_ && !stop_taking_ && raw_.empty() && !output_full()) resume_reading();
    if (!raw_.empty() || output_full()) pause_reading();
  }

  void on_reply(Reply r, bool json) {
    if (closing_ || finishing_) return;
    busy_ = false;
    send_reply(r, json);
    if (r.after == Reply::After::close) {
      finish();
    } else if (r.after == Reply::After::watch) {
      start_watching(json);
    }
    process();
  }

  // A client that sends nothing for client_idle_s holds a slot for
  // nothing. One waiting for a reply (a slow provision) is not idle, and
  // watchers are expected to be quiet.
  void arm_idle() {
    if (!server_.idle_ms_) return;
    idle_.start(server_.idle_ms_, [this] {
      if (watching_ || closing_ || finishing_) return;
      if (busy_ || !queue_.empty()) return arm_idle();
      log_info("control: closing a client idle for %llus",
               static_cast<unsigned long long>(server_.idle_ms_ / 1000));
      refuse("ERR idle no request for " + std::to_string(server_.idle_ms_ / 1000) +
             "s ([agent] client_idle_s); connect again when needed");
    });
  }

  void start_watching(bool json) {
    idle_.stop();
    watching_ = true;
    queue_.clear();
    raw_.clear();
    if (!eof_) resume_reading();  // only to notice the client leaving
    std::weak_ptr<Conn> weak = shared_from_this();
    watch_token_ = server_.events_.subscribe([weak, json](const Event& ev) {
      auto c = weak.lock();
      if (!c || c->closing_ || c->finishing_) return;
      if (c->output_full()) {
        log_warn("control: dropping a watcher that does not read its events");
        c->send("ERR slow watcher: events were not read fast enough; dropped");
        c->finish();
        return;
      }
      c->send(json ? ev.json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : ev.text());
    });
  }

  void send_reply(const Reply& r, bool json) {
    std::string text = format_reply(r, json);
    redact(&text);
    if (out_.empty()) out_ = std::move(text);
    else out_ += text;
  }

  // Appends a line to the output and writes it unless a read is being
  // processed: then process() writes everything in one go at its end.
  void send(std::string line) {
    redact(&line);
    out_ += line;
    out_ += '\n';
    if (!processing_) flush();
  }

  void flush() {
    if (out_.empty() || closing_) return;
    auto* w = new WriteReq;
    w->data.swap(out_);
    uv_buf_t buf = uv_buf_init(&w->data[0], static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, stream(), &buf, 1, on_write);
    if (rc < 0) {
      delete w;
      close();
    }
  }

  static void on_write(uv_write_t* req, int status) {
    uv_stream_t* s = req->handle;
    delete reinterpret_cast<WriteReq*>(req);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) return;
    auto* c = static_cast<Conn*>(s->data);
    if (status < 0) {
      c->close();
      return;
    }
    if (!c->output_full() && !c->finishing_) c->process();
  }

  // No more requests: write what is pending, shut our side down (which
  // waits for queued writes), then read and discard whatever the client
  // still sends until its end of input, or kLingerMs. Closing with unread
  // input would reset the connection, and the client could lose the last
  // reply (an ERR toolong, ERR busy or ERR denied). A client that reads
  // nothing is closed after kFlushMs.
  void finish() {
    if (finishing_ || closing_) return;
    finishing_ = true;
    queue_.clear();
    raw_.clear();
    flush();
    linger_.start(kFlushMs, [this] { close(); });
    auto* req = new uv_shutdown_t;
    int rc = uv_shutdown(req, stream(), [](uv_shutdown_t* r, int status) {
      uv_stream_t* s = r->handle;
      delete r;
      if (uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) return;
      auto* c = static_cast<Conn*>(s->data);
      if (status < 0 || c->eof_) {
        c->close();
        return;
      }
      c->resume_reading();
      c->linger_.start(kLingerMs, [c] { c->close(); });
    });
    if (rc < 0) {
      delete req;
      close();
    }
  }

  bool output_full() const {
    return out_.size() + uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&pipe_)) > kMaxOutput;
  }

  void resume_reading() {
    if (!reading_ && !closing_) reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  }

  void pause_reading() {
    if (reading_) uv_read_stop(stream());
    reading_ = false;
  }

  Control& server_;
  uv_pipe_t pipe_;
  LineSplitter splitter_;
  Timer linger_;
  Timer idle_;
  std::deque<Pending> queue_;
  std::string raw_;  // input not yet split into the queue
  std::string out_;
  uint64_t watch_token_ = 0;
  bool reading_ = false, busy_ = false, eof_ = false, closing_ = false, finishing_ = false;
  bool processing_ = false, stop_taking_ = false, watching_ = false, ended_ = false;
};

Control::Control(uv_loop_t* loop, Dispatcher& commands, EventBus& events)
    : loop_(loop), commands_(commands), events_(events) {}

Control::~Control() { close(); }

int Control::listen(const AgentConfig& cfg, std::string* err) {
  path_ = cfg.socket;
  max_clients_ = static_cast<size_t>(cfg.max_clients);
  allow_uids_ = cfg.allow_uids;
  set_client_idle_s(cfg.client_idle_s);
  struct rlimit nofile;
  int limit = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
                  ? static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20))
                  : 1 << 20;
  max_client_fd_ = limit - std::max(kMinFdReserve, limit / kFdReserveDivisor);
  // --socket run/x.sock just works.
  make_parent_dirs(path_);
  int rc = check_existing_socket(path_, err);
  if (rc < 0) {
    if (err->empty()) *err = "cannot use socket " + path_ + ": " + uv_strerror(rc);
    return rc;
  }
  server_.init(loop_, this, uv_pipe_init, 0);
  // The socket must never be reachable with wider permissions than asked,
  // not even between bind() and chmod().
  mode_t old = umask(0777 & ~cfg.socket_mode);
  rc = uv_pipe_bind(server_.get(), path_.c_str());
  umask(old);
  if (rc == 0) rc = chmod(path_.c_str(), cfg.socket_mode) == 0 ? 0 : -errno;
  // A burst of clients (a fleet script, a reconnect storm) waits in the
  // kernel's queue instead of being refused.
  if (rc == 0) rc = uv_listen(server_.stream(), SOMAXCONN, on_connection);
  if (rc < 0) {
    *err = "cannot listen on " + path_ + ": " + uv_strerror(rc);
    server_.reset();
    return rc;
  }
  struct stat st;
  if (stat(path_.c_str(), &st) == 0) inode_ = st.st_ino;
  log_info("listening on %s (mode %04o)", path_.c_str(), cfg.socket_mode);
  return 0;
}

void Control::close() {
  if (server_) {
    server_.reset();
    struct stat st;
    if (stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
  }
  std::vector<std::shared_ptr<Conn>> all;
  for (auto& kv : conns_) all.push_back(kv.second);
  for (auto& c : all) c->close();
}

void Control::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Control*>(server->data);
  if (!self) return;
  if (status < 0) {
    log_warn("accept on control socket failed: %s", uv_strerror(status));
    return;
  }
  self->accept_one();
}

void Control::accept_one() {
  auto c = std::make_shared<Conn>(*this);
  conns_.emplace(c.get(), c);
  if (uv_accept(server_.stream(), c->stream()) != 0) {
    c->close();
    return;
  }
  ++accepted_;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(c->pipe()), &fd) == 0 && fd >= max_client_fd_) {
    log_warn("control: refused a client: descriptor %d reaches the reserve kept for tunnels (limit %d)", fd,
             max_client_fd_);
    c->refuse_now("ERR busy the agent is short of file descriptors; try again later (raise LimitNOFILE)");
    return;
  }
  uid_t uid = 0;
  if (!peer_allowed(c->pipe(), &uid)) {
    log_warn("control: refused a client with uid %u (not in [agent] allow_uids)", static_cast<unsigned>(uid));
    c->refuse_now("ERR denied uid " + std::to_string(uid) +
              " may not use this socket (add it to [agent] allow_uids)");
    return;
  }
  if (conns_.size() > max_clients_) {
    log_warn("control: refused a client: %zu clients already connected", max_clients_);
    c->refuse_now("ERR busy too many clients (limit " + std::to_string(max_clients_) +
              ", [agent] max_clients); try again later");
    return;
  }
  c->start();
}

bool Control::peer_allowed(uv_pipe_t* pipe, uid_t* uid) const {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe), &fd) != 0) return false;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  *uid = cred.uid;
  if (cred.uid == 0 || cred.uid == geteuid()) return true;
  for (uid_t u : allow_uids_)
    if (u == cred.uid) return true;
  return false;
}

void Control::forget(Conn* c) { conns_.erase(c); }

}  // namespace tether
