#include <catch2/catch.hpp>
#include <functional>
#include <memory>

#include "uvpp.hpp"

using tether::Lifetime;

namespace {

struct Owner {
  int calls = 0;
  Lifetime lifetime;
};

}  // namespace

TEST_CASE("a guarded callback runs while its owner lives") {
  Owner o;
  std::function<void(int)> cb = o.lifetime.guard([&o](int n) { o.calls += n; });
  cb(2);
  cb(3);
  REQUIRE(o.calls == 5);
}

TEST_CASE("a guarded callback does nothing once its owner is gone") {
  int ran = 0;
  std::function<void()> cb;
  {
    Owner o;
    cb = o.lifetime.guard([&ran] { ++ran; });
  }
  cb();
  REQUIRE(ran == 0);
}

TEST_CASE("copies of a guarded callback all end with the owner") {
  int ran = 0;
  auto o = std::make_unique<Owner>();
  std::function<void()> a = o->lifetime.guard([&ran] { ++ran; });
  std::function<void()> b = a;
  a();
  o.reset();
  a();
  b();
  REQUIRE(ran == 1);
}

TEST_CASE("an owner may be destroyed inside its own guarded callback") {
  auto o = std::make_unique<Owner>();
  bool after = false;
  std::function<void(const std::string&)> cb = o->lifetime.guard([&](const std::string& s) {
    o.reset();  // ends the Lifetime while the guard is running
    after = s == "still valid";
  });
  cb("still valid");
  REQUIRE(after);
  REQUIRE(o == nullptr);
  cb("again");  // now a no-op
}
