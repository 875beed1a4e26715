// tetherd: flags, config, then the loop until shutdown.
#include <curl/curl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent.hpp"
#include "config.hpp"
#include "log.hpp"
#include "logfile.hpp"
#include "options.hpp"
#include "version.hpp"

using namespace tether;

namespace {

// The default path may legitimately be absent (a first boot with built-in
// defaults); a path given with -c must exist.
bool read_config(const Options& opt, Config* cfg) {
  struct stat st;
  if (!opt.config_given && stat(opt.config.c_str(), &st) != 0) {
    *cfg = Config{};
    return true;
  }
  std::vector<ConfigError> errors;
  if (load_config(opt.config, cfg, &errors)) return true;
  for (const auto& e : errors) fprintf(stderr, "%s\n", e.str().c_str());
  fprintf(stderr, "tetherd: %zu error%s in %s; nothing was started\n", errors.size(), errors.size() == 1 ? "" : "s",
          opt.config.c_str());
  return false;
}

// Every tunnel costs descriptors (its pipes, the agent's HTTP sockets) and
// so does every client; the soft limit is often 1024 under a hard limit far
// above it, and nothing is gained by stopping short of the hard one.
void raise_nofile_limit() {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= r.rlim_max) return;
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0)
    log_warn("cannot raise the open file limit to %llu", static_cast<unsigned long long>(r.rlim_max));
}

// Runs the close callbacks of what destructors closed, then closes the
// loop. Every owner closes its handles on shutdown, so one still open here
// is a leak (and, for a process, maybe a zombie): a debug build names each
// and aborts, so tests catch it; a release build warns and exits normally.
void close_loop(uv_loop_t* loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  if (rc == 0) return;
  uv_walk(
      loop,
      [](uv_handle_t* h, void*) {
        log_error("a %s handle is still open at exit%s%s", uv_handle_type_name(uv_handle_get_type(h)),
                  uv_is_active(h) ? " (active)" : "", uv_is_closing(h) ? " (closing)" : "");
      },
      nullptr);
#ifndef NDEBUG
  log_error("the loop cannot be closed (%s): a handle leaked; aborting (debug build)", uv_strerror(rc));
  abort();
#else
  log_warn("the loop cannot be closed (%s): a handle leaked", uv_strerror(rc));
#endif
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  std::string bad = parse_options(std::vector<std::string>(argv + 1, argv + argc), &opt);
  if (!bad.empty()) {
    fprintf(stderr, "tetherd: %s\n", bad.c_str());
    return 2;
  }
  if (opt.help) {
    fputs(usage_text().c_str(), stdout);
    return 0;
  }
  if (opt.version) {
    printf("%s\n", version_line().c_str());
    return 0;
  }
  // Before the configuration is read, so its errors are in the log too;
  // --check-config answers on the terminal.
  if (!opt.log_file.empty() && !opt.check_config) {
    std::string err;
    if (log_file_open(opt.log_file, &err) < 0) {
      fprintf(stderr, "tetherd: %s\n", err.c_str());
      return 2;
    }
  }
  Config cfg;
  if (!read_config(opt, &cfg)) return 2;
  bad = apply_options(opt, &cfg);
  if (!bad.empty()) {
    fprintf(stderr, "tetherd: %s\n", bad.c_str());
    return 2;
  }
  if (opt.check_config) {
    printf("%s: configuration is valid (%zu tunnel%s)\n", cfg.path.empty() ? "built-in defaults" : cfg.path.c_str(),
           cfg.tunnels.size(), cfg.tunnels.size() == 1 ? "" : "s");
    return 0;
  }
  log_set_level(cfg.agent.log_level);
  // A client that disconnects mid-reply must not kill the agent; write
  // errors are handled where they happen.
  signal(SIGPIPE, SIG_IGN);
  raise_nofile_limit();
  // The agent holds API, bot and tunnel tokens: no core dump may write them
  // to disk, and no other process of the same user may ptrace them out.
  // Children are unaffected (execve resets it).
  prctl(PR_SET_DUMPABLE, 0);

  curl_global_init(CURL_GLOBAL_DEFAULT);
  uv_loop_t* loop = uv_default_loop();
  int code = 0;
  bool started = true;
  {
    Agent agent(loop, cfg, opt);
    std::string err;
    if (agent.start(&err) < 0) {
      log_error("%s", err.c_str());
      agent.shutdown();
      uv_run(loop, UV_RUN_DEFAULT);
      started = false;
    } else {
      uv_run(loop, UV_RUN_DEFAULT);
      code = agent.exit_code();
    }
  }
  close_loop(loop);
  if (!started) return 1;
  curl_global_cleanup();
  log_info("tetherd stopped");
  return code;
}
