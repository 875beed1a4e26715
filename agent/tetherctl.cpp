// tetherctl: send one request to tetherd and print the reply.
// Exit status: see kUsage below; scripts tell a tunnel that is not up yet
// and an agent that is not there from an error the agent answered.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

const char* const kDefaultSocket = "/run/tether/tether.sock";

enum Exit { kOk = 0, kErr = 1, kUsage = 2, kUnreachable = 3, kPending = 4 };

void usage(FILE* out) {
  fprintf(out,
          "usage: tetherctl [-s SOCKET] [-t SECONDS] COMMAND [ARGS...]\n"
          "Sends one command to tetherd and prints its reply.\n"
          "\n"
          "  -s SOCKET   control socket (default $TETHER_SOCKET, else %s)\n"
          "  -t SECONDS  give up waiting for the reply after this long (default: wait)\n"
          "  -V, --version  print tetherctl's version and exit\n"
          "\n"
          "Examples: tetherctl start 8080 | tetherctl list | tetherctl json status 8080 |\n"
          "          tetherctl watch | tetherctl help (the agent's own command list)\n"
          "Exit status: 0 OK; 1 the agent answered ERR; 2 usage error (of tetherctl itself);\n"
          "3 agent unreachable (no socket, no reply, connection lost); 4 start/restart\n"
          "answered pending (the tunnel is starting but has no URL yet).\n",
          kDefaultSocket);
}

bool is_status(const std::string& line) {
  return line == "OK" || line.rfind("OK ", 0) == 0 || line.rfind("ERR ", 0) == 0;
}

int fail(const std::string& socket, const char* what, int err) {
  fprintf(stderr, "tetherctl: %s %s: %s (is tetherd running? use -s or TETHER_SOCKET)\n", what, socket.c_str(),
          std::strerror(err));
  return kUnreachable;
}

// start/restart answered "OK <id> pending" (or JSON without a URL): the
// request worked but the tunnel is not reachable yet.
bool pending_reply(const std::string& verb, const std::string& line, bool json) {
  if (verb != "start" && verb != "restart") return false;
  if (json) return line.find("\"url\":null") != std::string::npos || line.find(" pending\"") != std::string::npos;
  return line.size() > 8 && line.compare(line.size() - 8, 8, " pending") == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = getenv("TETHER_SOCKET");
  std::string socket_path = env && *env ? env : kDefaultSocket;
  int timeout_ms = -1;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    }
    if (a == "-V" || a == "--version") {
      printf("tetherctl %s\n", TETHER_VERSION);
      return 0;
    }
    if ((a == "-s" || a == "-t") && i + 1 < argc) {
      if (a == "-s") socket_path = argv[++i];
      else timeout_ms = static_cast<int>(std::atof(argv[++i]) * 1000);
      continue;
    }
    fprintf(stderr, "tetherctl: unknown option '%s'\n", argv[i]);
    usage(stderr);
    return kUsage;
  }
  if (i >= argc) {
    usage(stderr);
    return kUsage;
  }
  std::string request;
  for (; i < argc; ++i) {
    if (std::strpbrk(argv[i], "\r\n")) {
      fprintf(stderr, "tetherctl: arguments cannot contain line breaks\n");
      return kUsage;
    }
    request += (request.empty() ? "" : " ") + std::string(argv[i]);
  }
  bool json = request.rfind("json ", 0) == 0 || request.rfind("JSON ", 0) == 0;
  std::string verb = request.substr(json ? 5 : 0);
  verb = verb.substr(0, verb.find(' '));
  for (char& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool watch = request == "watch" || request == "json watch";

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return fail(socket_path, "socket path too long:", ENAMETOOLONG);
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0)
    return fail(socket_path, "cannot connect to", errno);
  request += "\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size()))
    return fail(socket_path, "cannot send to", errno);
  // One request per invocation: say so, and the agent closes after replying.
  shutdown(fd, SHUT_WR);

  std::string buf, line;
  int status = -1;
  char chunk[4096];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int ready = poll(&p, 1, timeout_ms);
    if (ready == 0) {
      fprintf(stderr, "tetherctl: no reply from %s within the timeout\n", socket_path.c_str());
      return kUnreachable;
    }
    ssize_t n = ready < 0 ? -1 : read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      line = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (json) {
        puts(line.c_str());
        if (status < 0)
          status = line.rfind("{\"ok\":true", 0) != 0 ? kErr : pending_reply(verb, line, true) ? kPending : kOk;
      } else if (status < 0 && is_status(line)) {
        status = line.rfind("ERR ", 0) == 0 ? kErr : pending_reply(verb, line, false) ? kPending : kOk;
        fprintf(status == kErr ? stderr : stdout, "%s\n", line.c_str());
      } else {
        // Events after "OK watching" or, at most, a final ERR of a dropped watcher.
        fprintf(line.rfind("ERR ", 0) == 0 ? stderr : stdout, "%s\n", line.c_str());
        if (line.rfind("ERR ", 0) == 0) status = kErr;
      }
      fflush(stdout);
      if (status >= 0 && !watch) {
        close(fd);
        return status;
      }
    }
  }
  close(fd);
  if (status < 0) {
    fprintf(stderr, "tetherctl: %s closed the connection without a reply\n", socket_path.c_str());
    return kUnreachable;
  }
  return status;
}
