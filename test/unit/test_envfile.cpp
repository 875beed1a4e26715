#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "atomicfile.hpp"
#include "envfile.hpp"
#include "testfiles.hpp"

using namespace tether;
using namespace tether::test;

namespace {

struct stat stat_of(const std::string& path) {
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st;
}

std::string set_one(std::string text, const std::string& key, const std::string& value) {
  EnvFile env = EnvFile::parse(text);
  REQUIRE(env.set(key, value));
  return env.render();
}

auto setter(const char* key, const char* value) {
  return [=](EnvFile& env) { return env.set(key, value); };
}

const char* const kOperatorFile =
    "# tunnels for the garage pi\n"
    "\n"
    "FOO=bar\n"
    "  # indented comment\n"
    "this line is not an assignment\n"
    "CF_TUNNEL_TOKEN_WEB=eyJhIjoiMSJ9\n"
    "\t\n"
    "LAST=1\n";

}  // namespace

TEST_CASE("env_key_valid") {
  CHECK(env_key_valid("CF_TUNNEL_TOKEN_WEB"));
  CHECK(env_key_valid("_x1"));
  CHECK(env_key_valid("a"));
  CHECK_FALSE(env_key_valid(""));
  CHECK_FALSE(env_key_valid("1A"));
  CHECK_FALSE(env_key_valid("A-B"));
  CHECK_FALSE(env_key_valid("A B"));
  CHECK_FALSE(env_key_valid("A="));
}

TEST_CASE("parse and render keep comments, blank lines and order") {
  EnvFile env = EnvFile::parse(kOperatorFile);
  CHECK(env.render() == kOperatorFile);
  CHECK(env.get("FOO") == "bar");
  CHECK(env.get("CF_TUNNEL_TOKEN_WEB") == "eyJhIjoiMSJ9");
  CHECK(env.keys() == std::vector<std::string>{"FOO", "CF_TUNNEL_TOKEN_WEB", "LAST"});
  CHECK_FALSE(env.get("this").has_value());
  CHECK_FALSE(env.get("MISSING").has_value());
}

TEST_CASE("lines that are not assignments are kept verbatim and have no key") {
  const std::string text =
      "=value\n1KEY=x\nKEY\nexport\nexport =1\n  \xff\xfe junk\n#KEY=commented\n"
      "KEY WORD=1\n";
  EnvFile env = EnvFile::parse(text);
  CHECK(env.render() == text);
  CHECK(env.keys().empty());
}

TEST_CASE("set replaces a value in place") {
  std::string out = set_one(kOperatorFile, "CF_TUNNEL_TOKEN_WEB", "new-token");
  std::string want = kOperatorFile;
  want.replace(want.find("eyJhIjoiMSJ9"), 12, "new-token");
  CHECK(out == want);
}

TEST_CASE("set appends a new key at the end") {
  CHECK(set_one(kOperatorFile, "CF_TUNNEL_TOKEN_NAS", "abc") ==
        std::string(kOperatorFile) + "CF_TUNNEL_TOKEN_NAS=abc\n");
  CHECK(set_one("", "A", "1") == "A=1\n");
}

TEST_CASE("remove drops the key's lines only") {
  EnvFile env = EnvFile::parse(kOperatorFile);
  CHECK(env.remove("CF_TUNNEL_TOKEN_WEB"));
  std::string want = kOperatorFile;
  want.erase(want.find("CF_TUNNEL_TOKEN_WEB"), std::string("CF_TUNNEL_TOKEN_WEB=eyJhIjoiMSJ9\n").size());
  CHECK(env.render() == want);
  CHECK_FALSE(env.get("CF_TUNNEL_TOKEN_WEB").has_value());
  CHECK_FALSE(env.remove("CF_TUNNEL_TOKEN_WEB"));
  CHECK(env.render() == want);
}

TEST_CASE("export lines and blanks around the key") {
  const std::string text = "export A=1\n  export\tB = 2\n\tC =3\nexport=4\nexportD=5\n";
  EnvFile env = EnvFile::parse(text);
  CHECK(env.get("A") == "1");
  CHECK(env.get("B") == "2");
  CHECK(env.get("C") == "3");
  CHECK(env.get("export") == "4");
  CHECK(env.get("exportD") == "5");
  CHECK(env.render() == text);

  SECTION("set keeps the export prefix") {
    CHECK(env.set("A", "9"));
    CHECK(env.render().rfind("export A=9\n", 0) == 0);
  }
  SECTION("remove takes export lines too") {
    CHECK(env.remove("B"));
    CHECK(env.render() == "export A=1\n\tC =3\nexport=4\nexportD=5\n");
  }
}

TEST_CASE("quoted values") {
  EnvFile env = EnvFile::parse(
      "D=\"two words\"\n"
      "S='it''s'\n"
      "E=\"a \\\"q\\\" b\\\\c \\$HOME \\n\"\n"
      "L='a \\ \"b\"'\n"
      "T=\"x\"   # trailing comment\n"
      "U=plain value  \n"
      "O=\"open\n"
      "EMPTY=\n"
      "EQ=a=b\n");
  CHECK(env.get("D") == "two words");
  CHECK(env.get("S") == "it");
  CHECK(env.get("E") == "a \"q\" b\\c $HOME \\n");
  CHECK(env.get("L") == "a \\ \"b\"");
  CHECK(env.get("T") == "x");
  CHECK(env.get("U") == "plain value");
  CHECK(env.get("O") == "\"open");
  CHECK(env.get("EMPTY") == "");
  CHECK(env.get("EQ") == "a=b");
}

TEST_CASE("set quotes values only when needed, and they read back") {
  for (std::string value :
       {"eyJhIjoi+/=_.:@-Z09", "two words", "say \"hi\"", "back\\slash", "it's", "$HOME", "#x", "tab\there", ""}) {
    EnvFile env = EnvFile::parse("# x\n");
    REQUIRE(env.set("K", value));
    CHECK(EnvFile::parse(env.render()).get("K") == value);
  }
  CHECK(set_one("", "K", "eyJhIjoi+/=_.:@-Z09") == "K=eyJhIjoi+/=_.:@-Z09\n");
  CHECK(set_one("", "K", "two words") == "K=\"two words\"\n");
  CHECK(set_one("", "K", "say \"hi\" \\o/") == "K=\"say \\\"hi\\\" \\\\o/\"\n");
  CHECK(set_one("", "K", "") == "K=\n");
}

TEST_CASE("set refuses line breaks in values and invalid keys") {
  EnvFile env = EnvFile::parse(kOperatorFile);
  CHECK_FALSE(env.set("FOO", "a\nINJECTED=1"));
  CHECK_FALSE(env.set("FOO", "a\rb"));
  CHECK_FALSE(env.set("FOO", std::string("a\0b", 3)));
  CHECK_FALSE(env.set("NEW", "x\n"));
  CHECK_FALSE(env.set("BAD KEY", "x"));
  CHECK_FALSE(env.set("", "x"));
  CHECK(env.render() == kOperatorFile);
}

TEST_CASE("CRLF files") {
  const std::string text = "# c\r\nA=1\r\nB=\"q\"\r\n\r\nodd\r\n";
  EnvFile env = EnvFile::parse(text);
  CHECK(env.get("A") == "1");
  CHECK(env.get("B") == "q");
  CHECK(env.render() == text);

  SECTION("replace keeps CRLF") {
    CHECK(env.set("A", "2"));
    CHECK(env.render() == "# c\r\nA=2\r\nB=\"q\"\r\n\r\nodd\r\n");
  }
  SECTION("append uses CRLF") {
    CHECK(env.set("C", "3"));
    CHECK(env.render() == text + "C=3\r\n");
  }
  SECTION("the first line decides") {
    EnvFile lf = EnvFile::parse("A=1\nB=2\r\n");
    CHECK(lf.get("B") == "2");
    CHECK(lf.set("C", "3"));
    CHECK(lf.render() == "A=1\nB=2\r\nC=3\n");
  }
}

TEST_CASE("missing trailing newline") {
  const std::string text = "# c\nA=1";
  EnvFile env = EnvFile::parse(text);
  CHECK(env.get("A") == "1");
  CHECK(env.render() == text);

  SECTION("append terminates the last line first") {
    CHECK(env.set("B", "2"));
    CHECK(env.render() == "# c\nA=1\nB=2\n");
  }
  SECTION("replace keeps it unterminated") {
    CHECK(env.set("A", "2"));
    CHECK(env.render() == "# c\nA=2");
  }
  SECTION("after a comment, in a CRLF file") {
    EnvFile crlf = EnvFile::parse("A=1\r\n# end");
    CHECK(crlf.set("B", "2"));
    CHECK(crlf.render() == "A=1\r\n# end\r\nB=2\r\n");
  }
  SECTION("a stray CR at the very end is not part of the value") { CHECK(EnvFile::parse("A=1\r").get("A") == "1"); }
}

TEST_CASE("duplicate keys: the last wins, a write cleans them up") {
  const std::string text = "A=first\n# between\nA=second\nB=1\nA=third\n";
  EnvFile env = EnvFile::parse(text);
  CHECK(env.get("A") == "third");
  CHECK(env.keys() == std::vector<std::string>{"A", "B"});

  SECTION("set puts the value on the first line") {
    CHECK(env.set("A", "new"));
    CHECK(env.render() == "A=new\n# between\nB=1\n");
  }
  SECTION("set to the value of the first line still removes the others") {
    CHECK(env.set("A", "first"));
    CHECK(env.render() == "A=first\n# between\nB=1\n");
    CHECK(env.get("A") == "first");
  }
  SECTION("remove takes all of them") {
    CHECK(env.remove("A"));
    CHECK(env.render() == "# between\nB=1\n");
  }
}

TEST_CASE("set to the current value changes nothing") {
  const std::string text = "export A=1\nB=\"quoted\"\nC='single'\n  D = spaced  \nE=1";
  EnvFile env = EnvFile::parse(text);
  CHECK_FALSE(env.set("A", "1"));
  CHECK_FALSE(env.set("B", "quoted"));
  CHECK_FALSE(env.set("C", "single"));
  CHECK_FALSE(env.set("D", "spaced"));
  CHECK_FALSE(env.set("E", "1"));
  CHECK(env.render() == text);
}

TEST_CASE("env_file_update writes with mode 0600") {
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  std::string err;

  SECTION("a new file") {
    REQUIRE(env_file_update(path, setter("CF_TUNNEL_TOKEN_WEB", "tok"), &err) == 0);
    CHECK(slurp(path) == "CF_TUNNEL_TOKEN_WEB=tok\n");
  }
  SECTION("an existing 0644 file") {
    make_file(path, "# mine\nCF_TUNNEL_TOKEN_WEB=old\n", 0644);
    REQUIRE(env_file_update(path, setter("CF_TUNNEL_TOKEN_WEB", "tok"), &err) == 0);
    CHECK(slurp(path) == "# mine\nCF_TUNNEL_TOKEN_WEB=tok\n");
  }
  CHECK((stat_of(path).st_mode & 07777) == 0600);
}

TEST_CASE("env_file_update leaves the file untouched when nothing changes") {
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  const std::string text = "# mine\r\nCF_TUNNEL_TOKEN_WEB=\"tok\"\r\nOTHER=1";
  make_file(path, text, 0644);
  // An old mtime, so that any rewrite would show.
  struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), old, 0) == 0);
  struct stat before = stat_of(path);
  std::string err;

  SECTION("set to the same value") { CHECK(env_file_update(path, setter("CF_TUNNEL_TOKEN_WEB", "tok"), &err) == 0); }
  SECTION("remove of a missing key") {
    CHECK(env_file_update(
              path, [](EnvFile& env) { return env.remove("NOPE"); }, &err) == 0);
  }
  SECTION("an edit that claims a change it did not make") {
    CHECK(env_file_update(
              path, [](EnvFile&) { return true; }, &err) == 0);
  }
  SECTION("an edit that reports no change") {
    CHECK(env_file_update(
              path,
              [](EnvFile& env) {
                env.set("X", "1");
                return false;
              },
              &err) == 0);
  }
  struct stat after = stat_of(path);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK((after.st_mode & 07777) == 0644);
  CHECK(slurp(path) == text);
}

TEST_CASE("env_file_update does not create a file for nothing") {
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  std::string err;
  CHECK(env_file_update(
            path, [](EnvFile& env) { return env.remove("A"); }, &err) == 0);
  CHECK(access(path.c_str(), F_OK) != 0);
}

TEST_CASE("env_file_update refuses a symlink") {
  TempDir dir("envfile");
  std::string real = dir.file("real.env"), link = dir.file("tunnels.env");
  make_file(real, "A=1\n", 0600);
  REQUIRE(symlink(real.c_str(), link.c_str()) == 0);
  std::string err;
  CHECK(env_file_update(link, setter("A", "2"), &err) == -ELOOP);
  CHECK(err == link + " is a symlink; refusing to replace it (point env_file at the real file)");
  CHECK(S_ISLNK(stat_of(link).st_mode));
  CHECK(slurp(real) == "A=1\n");
  CHECK(env_file_check(link, nullptr) == -ELOOP);
}

TEST_CASE("env_file_update refuses what is not a regular file") {
  TempDir dir("envfile");
  std::string err;
  CHECK(env_file_update(dir.path, setter("A", "2"), &err) == -EINVAL);
  CHECK(err == dir.path + " is not a regular file; refusing to replace it");
}

TEST_CASE("env_file_update refuses a file owned by another uid") {
  if (geteuid() != 0) {
    WARN("not root: cannot chown a file to another uid");
    return;
  }
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  make_file(path, "A=1\n", 0600);
  REQUIRE(chown(path.c_str(), 12345, static_cast<gid_t>(-1)) == 0);
  std::string err;
  CHECK(env_file_update(path, setter("A", "2"), &err) == -EPERM);
  CHECK(err == path +
                   " is owned by uid 12345 but tether runs as uid 0; refusing to replace it "
                   "(chown the file)");
  CHECK(slurp(path) == "A=1\n");
  CHECK(stat_of(path).st_uid == 12345);
}

TEST_CASE("env_file_update keeps the old file when the write fails") {
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  const std::string text = "# mine\nCF_TUNNEL_TOKEN_WEB=old\n";
  make_file(path, text, 0600);
  HookGuard guard;
  atomicfile_hooks().write = write_enospc;
  std::string err;
  CHECK(env_file_update(path, setter("CF_TUNNEL_TOKEN_WEB", "s3cr3t-token"), &err) == -ENOSPC);
  CHECK(err.rfind("write " + path + ".tmp.", 0) == 0);
  CHECK(err.find("No space left on device") != std::string::npos);
  CHECK(err.find("s3cr3t") == std::string::npos);
  CHECK(slurp(path) == text);
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("env_file_update reports an unreadable file") {
  TempDir dir("envfile");
  std::string path = dir.file("tunnels.env");
  make_file(path, std::string((1 << 20) + 1, '#'), 0600);
  std::string err;
  CHECK(env_file_update(path, setter("A", "1"), &err) == -EFBIG);
  CHECK(err == path + " is larger than 1048576 bytes");
}
