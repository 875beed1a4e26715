// The dispatcher with fake targets: usage errors, which target each verb
// reaches with which arguments, and the replies it builds from their answers.
#include <catch2/catch.hpp>
#include <map>

#include "dispatcher.hpp"

using namespace tether;

namespace {

// Records every call into the agent; answers from canned values.
struct FakeAgent {
  Config cfg;
  std::vector<std::string> calls;
  std::vector<TunnelInfo> tunnels;
  std::string reload_errors;
  std::map<std::string, std::string> tokens;  // names that have a token
  std::vector<Reply> replies;

  FakeAgent() {
    cfg.path = "/etc/tether/tether.ini";
    cfg.cloudflared.path = "/bin/sh";  // any executable: start looks it up
    TunnelConfig web;
    web.name = "web";
    web.kind = TunnelKind::quick;
    web.port = 8080;
    cfg.tunnels.push_back(web);
    TunnelConfig cam;
    cam.name = "cam";
    cam.routes = {{"cam.example.com", "http://localhost:81", {}, 3}, {"api.example.com", "http://localhost:82", {}, 4}};
    cfg.tunnels.push_back(cam);
    TunnelInfo info;
    info.id = "8080";
    info.state = "running";
    info.url = "https://a-b.trycloudflare.com";
    tunnels.push_back(info);
  }

  Dispatcher::Targets targets() {
    Dispatcher::Targets t;
    t.config = [this]() -> const Config& { return cfg; };
    t.tunnel_spec = [this](const std::string& id, TunnelSpec* out, std::string* err) {
      if (!std::isdigit(static_cast<unsigned char>(id[0])) && !tokens.count(id)) {
        *err = "no tunnel '" + id + "'";
        return false;
      }
      out->id = id;
      return true;
    };
    t.start = [this](const TunnelSpec& spec, bool wait, ReplyFn done) {
      calls.push_back("start " + spec.id + (wait ? " wait" : " nowait"));
      done(Reply::Ok(spec.id + " https://x.trycloudflare.com"));
    };
    t.stop = [this](const std::string& id, ReplyFn done) {
      calls.push_back("stop " + id);
      done(Reply::Ok("stopped " + id));
    };
    t.restart = [this](const std::string& id, ReplyFn done) {
      calls.push_back("restart " + id);
      done(Reply::Ok(id + " pending"));
    };
    t.killall = [this](ReplyFn done) {
      calls.push_back("killall");
      done(Reply::Ok("stopped 0 tunnels"));
    };
    t.infos = [this] { return tunnels; };
    t.info = [this](const std::string& id, TunnelInfo* out) {
      for (const auto& i : tunnels)
        if (i.id == id) return *out = i, true;
      return false;
    };
    t.logs = [this](const std::string& id, size_t n, std::vector<std::string>* out) {
      calls.push_back("logs " + id + " " + std::to_string(n));
      if (id != "8080") return false;
      *out = {"line 1", "line 2"};
      return true;
    };
    t.reload = [this] {
      calls.push_back("reload");
      return reload_errors;
    };
    t.provision = [this](const std::string& name, const std::string& service, bool start, ReplyFn done) {
      calls.push_back("provision " + name + " service=" + service + (start ? " start" : ""));
      done(Reply::Ok("provisioned " + name));
    };
    t.deprovision = [this](const std::string& name, ReplyFn done) {
      calls.push_back("deprovision " + name);
      done(Reply::Ok("deprovisioned " + name));
    };
    t.metrics = [] {
      MetricsSnapshot m;
      m.version = "9.9.9";
      return m;
    };
    return t;
  }

  Reply run(Dispatcher& d, const std::string& verb, std::vector<std::string> args = {}, bool json = false) {
    Request req;
    req.verb = verb;
    req.args = std::move(args);
    req.json = json;
    size_t before = replies.size();
    d.dispatch(req, Caller{}, [this](Reply r) { replies.push_back(std::move(r)); });
    REQUIRE(replies.size() == before + 1);  // exactly one reply, here at once with these fakes
    return replies.back();
  }
};

}  // namespace

TEST_CASE("dispatcher: unknown verbs and wrong argument counts are usage errors") {
  FakeAgent a;
  Dispatcher d(a.targets());
  Reply r = a.run(d, "frobnicate");
  REQUIRE(r.code == "usage");
  REQUIRE(r.message == "unknown command 'frobnicate' (try 'help')");
  r = a.run(d, "stop");
  REQUIRE(r.code == "usage");
  REQUIRE(r.message == "stop <id>");
  r = a.run(d, "ping", {"extra"});
  REQUIRE(r.message == "ping");
  r = a.run(d, "logs", {"8080", "1", "2"});
  REQUIRE(r.message == "logs <id> [n]");
  REQUIRE(a.calls.empty());
}

TEST_CASE("dispatcher: bad tunnel ids name what is wrong and reach nothing") {
  FakeAgent a;
  Dispatcher d(a.targets());
  Reply r = a.run(d, "stop", {"70000"});
  REQUIRE(r.code == "usage");
  REQUIRE(r.message == "stop <id>: port must be a number from 1 to 65535, got '70000'");
  r = a.run(d, "restart", {"Bad_Name"});
  REQUIRE(
      r.message ==
      "restart <id>: 'Bad_Name' is neither a port (1-65535) nor a tunnel name (a-z, 0-9, '-', starting with a letter)");
  r = a.run(d, "logs", {"8080", "0"});
  REQUIRE(r.message == "logs <id> [n]: n must be a number from 1 to 9999");
  r = a.run(d, "start", {"8080", "later"});
  REQUIRE(r.message == "start <port>|<name> [nowait]: unknown option 'later'");
  REQUIRE(a.calls.empty());
}

TEST_CASE("dispatcher: verbs reach their target with the normalised id") {
  FakeAgent a;
  Dispatcher d(a.targets());
  REQUIRE(a.run(d, "stop", {"08080"}).message == "stopped 8080");
  // A quick section's name means its port.
  REQUIRE(a.run(d, "restart", {"web"}).message == "8080 pending");
  REQUIRE(a.run(d, "start", {"web", "nowait"}).ok);
  REQUIRE(a.run(d, "killall").ok);
  REQUIRE(a.run(d, "logs", {"8080", "5"}).message == "2 lines");
  REQUIRE(a.calls ==
          std::vector<std::string>{"stop 8080", "restart 8080", "start 8080 nowait", "killall", "logs 8080 5"});
}

TEST_CASE("dispatcher: start refuses a missing cloudflared and an unknown name") {
  FakeAgent a;
  Dispatcher d(a.targets());
  Reply r = a.run(d, "start", {"drone"});
  REQUIRE(r.code == "notfound");
  REQUIRE(r.message == "no tunnel 'drone'");
  a.cfg.cloudflared.path = "/nonexistent/cloudflared";
  r = a.run(d, "start", {"8080"});
  REQUIRE(r.code == "nocloudflared");
  REQUIRE(r.message.find("(looked for '/nonexistent/cloudflared')") != std::string::npos);
  REQUIRE(a.calls.empty());
}

TEST_CASE("dispatcher: list, status and logs replies") {
  FakeAgent a;
  Dispatcher d(a.targets());
  Reply r = a.run(d, "list");
  REQUIRE(r.message == "1 tunnels");
  REQUIRE(r.lines.size() == 2);  // header and the one tunnel
  REQUIRE(r.data.empty());
  r = a.run(d, "list", {}, true);
  REQUIRE(r.lines.empty());
  REQUIRE(r.data["tunnels"][0]["id"] == "8080");
  r = a.run(d, "status", {"8080"});
  REQUIRE(r.message == "8080 running");
  REQUIRE(r.data["tunnel"]["url"] == "https://a-b.trycloudflare.com");
  r = a.run(d, "status", {"9090"});
  REQUIRE(r.code == "notfound");
  r = a.run(d, "logs", {"9090"});
  REQUIRE(r.code == "notfound");
  REQUIRE(a.calls.back() == "logs 9090 20");
}

TEST_CASE("dispatcher: reload reports the kept configuration on errors, on one line") {
  FakeAgent a;
  Dispatcher d(a.targets());
  REQUIRE(a.run(d, "reload").message == "reloaded /etc/tether/tether.ini");
  a.reload_errors = "tether.ini:3: bad\ntether.ini:7: worse";
  Reply r = a.run(d, "reload");
  REQUIRE(r.code == "config");
  REQUIRE(r.message == "the running configuration is kept: tether.ini:3: bad;tether.ini:7: worse");
}

TEST_CASE("dispatcher: provision and deprovision arguments") {
  FakeAgent a;
  Dispatcher d(a.targets());
  REQUIRE(a.run(d, "provision", {"drone-7"}).ok);
  REQUIRE(a.run(d, "provision", {"drone-7", "service=http://localhost:8080", "start"}).ok);
  REQUIRE(a.run(d, "deprovision", {"drone-7"}).ok);
  REQUIRE(a.calls == std::vector<std::string>{
                         "provision drone-7 service=", "provision drone-7 service=http://localhost:8080 start",
                         "deprovision drone-7"});
  a.calls.clear();
  Reply r = a.run(d, "provision", {"web"});
  REQUIRE(r.message == "provision <name> [service=<url>] [start]: [tunnel web] is a quick tunnel");
  r = a.run(d, "provision", {"drone-7", "now"});
  REQUIRE(r.message.find("unknown argument 'now'") != std::string::npos);
  r = a.run(d, "provision", {"drone-7", "service=localhost"});
  REQUIRE(r.code == "usage");
  // One service for several routes would be ambiguous.
  r = a.run(d, "provision", {"cam", "service=http://localhost:8080"});
  REQUIRE(r.message ==
          "provision <name> [service=<url>] [start]: service= applies only to a one-route tunnel; "
          "[tunnel cam] has 2 routes: change their services in /etc/tether/tether.ini");
  REQUIRE(a.run(d, "provision", {"cam", "start"}).ok);
  REQUIRE(a.calls == std::vector<std::string>{"provision cam service= start"});
  a.calls.clear();
  r = a.run(d, "provision", {"8080"});
  REQUIRE(r.message.find("'8080' is not a tunnel name") != std::string::npos);
  r = a.run(d, "deprovision", {"Drone"});
  REQUIRE(r.message == "deprovision <name>: 'Drone' is not a tunnel name");
  REQUIRE(a.calls.empty());
}

TEST_CASE("dispatcher: help, version, metrics, watch and quit") {
  FakeAgent a;
  Dispatcher d(a.targets());
  Reply r = a.run(d, "help", {}, true);
  REQUIRE(r.message == "16 commands");
  REQUIRE(r.data["commands"][0]["command"] == "help");
  REQUIRE(a.run(d, "ping").message == "pong");
  REQUIRE(a.run(d, "version").data.contains("version"));
  r = a.run(d, "metrics");
  REQUIRE(r.message == "metrics");
  REQUIRE_FALSE(r.lines.empty());
  REQUIRE(a.run(d, "watch").after == Reply::After::watch);
  REQUIRE(a.run(d, "quit").after == Reply::After::close);
}
