#include "child.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string_view>

extern char** environ;

namespace tether {
namespace {

// If cloudflared exited but something escaped its group and still holds
// the pipes, stop waiting for their end after this long.
constexpr uint64_t kDrainMs = 2000;

void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  // Shared: the loop is single threaded and each read is consumed at once.
  static char chunk[64 * 1024];
  *buf = uv_buf_init(chunk, sizeof chunk);
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(&s[0]);
  out.push_back(nullptr);
  return out;
}

}  // namespace

Child::Child(uv_loop_t* loop) : loop_(loop), drain_(loop) {
  out_.owner = this;
  err_.owner = this;
}

Child::~Child() {
  if (!proc_) return;  // never started, or already reaped
  signal_group(SIGKILL);
  // Not closed here: libuv reaps only the processes of open handles, and
  // the killed child would stay a zombie for as long as the agent runs. The
  // handle goes to exited(), which closes it once the child is reaped (and
  // keeps the loop running until then).
  proc_.release();
}

int Child::spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, LineFn on_line,
                 ExitFn on_exit, std::string* err) {
  on_line_ = std::move(on_line);
  on_exit_ = std::move(on_exit);
  out_.pipe.init(loop_, &out_, uv_pipe_init, 0);
  err_.pipe.init(loop_, &err_, uv_pipe_init, 0);

  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;  // libuv connects it to /dev/null
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = out_.pipe.stream();
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = err_.pipe.stream();

  std::vector<std::string> args = argv, envs = env;
  std::vector<char*> c_args = c_strings(args), c_env = c_strings(envs);
  uv_process_options_t opts = {};
  opts.file = c_args[0];
  opts.args = c_args.data();
  opts.env = c_env.data();
  opts.exit_cb = exited;
  // Own session and process group: signals to the agent (a terminal's ^C,
  // systemd's KillMode=mixed) do not reach the child, and the agent can
  // signal the whole group, grandchildren included.
  opts.flags = UV_PROCESS_DETACHED;
  opts.stdio_count = 3;
  opts.stdio = stdio;

  auto* h = new uv_process_t();
  int rc = uv_spawn(loop_, h, &opts);
  proc_.adopt(h, this);  // initialised by uv_spawn even when it fails
  if (rc < 0) {
    *err = "cannot start " + argv[0] + ": " + uv_strerror(rc);
    proc_.reset();
    out_.pipe.reset();
    err_.pipe.reset();
    return rc;
  }
  pid_ = h->pid;
  // Still ours: libuv reaps it only from the loop, which has not run since.
  leader_ = PidFd(pid_);
  start_ticks_ = proc_start_ticks(pid_);
  uv_read_start(out_.pipe.stream(), on_alloc, on_read);
  uv_read_start(err_.pipe.stream(), on_alloc, on_read);
  return 0;
}

void Child::signal_group(int signum) {
  if (pid_ <= 0) return;
  // A pidfd that still reaches the leader (a zombie included) proves it
  // unreaped; without pidfds, the exit callback not having run does.
  int r = leader_.signal(0);
  if (r == 0 || (r == -ENOSYS && !exited_)) kill(-pid_, signum);
  else signal_own_group(pid_, start_ticks_, signum);
}

void Child::exited(uv_process_t* h, int64_t status, int term_signal) {
  auto* self = static_cast<Child*>(h->data);
  if (!self) {  // its Child is gone (~Child): reaped now, the handle may go
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* p) { delete reinterpret_cast<uv_process_t*>(p); });
    return;
  }
  self->exited_ = true;
  self->status_ = status;
  self->signal_ = term_signal;
  // Whatever else is left in the group (a grandchild) would be an orphan.
  self->signal_group(SIGKILL);
  self->leader_ = PidFd();
  self->proc_.reset();
  self->drain_.start(kDrainMs, [self] {
    self->close_stream(self->out_);
    self->close_stream(self->err_);
    self->maybe_done();
  });
  self->maybe_done();
}

void Child::on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* stream = static_cast<Stream*>(s->data);
  if (!stream) return;
  Child* self = stream->owner;
  if (n > 0) {
    stream->split.feed(std::string_view(buf->base, static_cast<size_t>(n)),
                       [self](std::string_view line, bool) { self->on_line_(line); });
    return;
  }
  if (n == 0) return;
  self->close_stream(*stream);
  self->maybe_done();
}

void Child::close_stream(Stream& s) {
  if (!s.pipe) return;
  s.split.finish([this](std::string_view line, bool) { on_line_(line); });
  s.pipe.reset();
}

void Child::maybe_done() {
  if (!exited_ || out_.pipe || err_.pipe || !on_exit_) return;
  drain_.stop();
  pid_ = 0;
  // Moved out: the callback may destroy this Child, so it is the last thing
  // that happens here and every caller returns right after.
  ExitFn done = std::move(on_exit_);
  on_exit_ = nullptr;
  done(status_, signal_);
}

std::string find_executable(const std::string& name) {
  auto usable = [](const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.find('/') != std::string::npos) {
    if (!usable(name)) return "";
    if (name[0] == '/') return name;
    char cwd[4096];
    return getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + name : name;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (!dir.empty() && usable(dir + "/" + name)) return dir + "/" + name;
    start = end + 1;
  }
  return "";
}

int pick_free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<struct sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string signal_name(int signum) {
  // sigabbrev_np() needs glibc 2.32; older Raspberry Pi OS images lack it.
  static const struct {
    int num;
    const char* name;
  } kNames[] = {{SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
                {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
                {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
                {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
                {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"}};
  for (const auto& n : kNames)
    if (n.num == signum) return n.name;
  return "signal " + std::to_string(signum);
}

std::vector<std::string> child_environment(const std::vector<std::string>& extra,
                                           const std::vector<std::string>& pass) {
  static const std::vector<std::string> kAllowed = {
      "PATH",      "HOME",          "LANG",         "LANGUAGE",   "LC_*",        "TZ",
      "TMPDIR",    "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
      "ALL_PROXY", "http_proxy",    "https_proxy",  "no_proxy",   "all_proxy"};
  static const std::vector<std::string> kNever = {"NOTIFY_SOCKET", "WATCHDOG_USEC",  "WATCHDOG_PID", "LISTEN_FDS",
                                                  "LISTEN_PID",    "LISTEN_FDNAMES", "TUNNEL_TOKEN"};
  auto matches = [](const std::vector<std::string>& patterns, std::string_view name) {
    for (const auto& p : patterns) {
      bool prefix = !p.empty() && p.back() == '*';
      if (prefix ? name.substr(0, p.size() - 1) == std::string_view(p).substr(0, p.size() - 1) : name == p) return true;
    }
    return false;
  };
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (matches(kNever, name) || !(matches(kAllowed, name) || matches(pass, name))) continue;
    // A variable tether sets itself wins: Go reads the first of two.
    if (std::any_of(extra.begin(), extra.end(), [&](const std::string& x) {
          return x.size() > name.size() && x.compare(0, name.size(), name) == 0 && x[name.size()] == '=';
        }))
      continue;
    env.emplace_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace tether
