// open_store: backends chosen by configuration, bad values named with file and line.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/config/config.h"
#include "common/store/store.h"
#include "common/store/test_backends.h"

namespace mailward::store {
namespace {

std::string error_of(const std::string& text) {
  try {
    auto c = config::Config::parse(text, "t.conf");
    open_store(c, "store");
  } catch (const config::ConfigError& e) {
    return e.what();
  } catch (const StoreError& e) {
    return std::string("StoreError: ") + e.what();
  }
  return "";
}

TEST(OpenStore, Backends) {
  TempDir dir;
  auto mem = open_store(config::Config::parse("[store]\nbackend = memory\n", "t.conf"), "store");
  EXPECT_EQ(mem->describe(), "memory");
  auto lm = open_store(config::Config::parse(
                           "[store]\nbackend = embedded\npath = " + dir.path + "/x.mdb\n", "t.conf"),
                       "store");
  EXPECT_EQ(lm->describe(), "lmdb:" + dir.path + "/x.mdb");
  auto def = open_store(config::Config::parse("[store]\npath = " + dir.path + "/y.mdb\n", "t.conf"),
                        "store");
  EXPECT_EQ(def->describe(), "lmdb:" + dir.path + "/y.mdb");
  auto rd = open_store(config::Config::parse("[store]\nbackend = redis\nredis_host = 10.9.8.7\n"
                                             "redis_port = 6380\nredis_timeout = 50ms\n",
                                             "t.conf"),
                       "store");
  EXPECT_EQ(rd->describe(), "redis:10.9.8.7:6380");
  auto us = open_store(config::Config::parse("[store]\nbackend = redis\nredis_host = " + dir.path +
                                                 "/r.sock\n",
                                             "t.conf"),
                       "store");
  EXPECT_EQ(us->describe(), "redis:" + dir.path + "/r.sock");
}

TEST(OpenStore, ReadingTheChoiceOpensNothing) {
  TempDir dir;
  const std::string path = dir.path + "/never.mdb";
  auto c = config::Config::parse("[store]\nbackend = embedded\npath = " + path + "\n", "t.conf");
  StoreChoice choice = read_store_choice(c, "store");
  EXPECT_EQ(choice.backend, StoreChoice::Backend::embedded);
  EXPECT_EQ(choice.describe(), "lmdb:" + path);
  EXPECT_FALSE(std::filesystem::exists(path));  // a --check as root must not create it
  EXPECT_EQ(open_store(choice)->describe(), choice.describe());
  EXPECT_TRUE(std::filesystem::exists(path));
  auto r = read_store_choice(
      config::Config::parse("[store]\nbackend = redis\nredis_host = 10.9.8.7\n", "t.conf"), "store");
  EXPECT_EQ(r.describe(), "redis:10.9.8.7:6379");
  EXPECT_EQ(read_store_choice(config::Config::parse("[store]\nbackend = memory\n", "t.conf"), "store")
                .describe(),
            "memory");
}

TEST(OpenStore, ErrorsNameTheLine) {
  struct Case {
    std::string text;
    std::string expected_substring;
  } cases[] = {
      {"[store]\nbackend = sqlite\n", "t.conf:2: [store] backend"},
      {"[store]\nbakend = redis\n", "t.conf:2"},
      {"[store]\npath = relative.mdb\n", "t.conf:2: [store] path: must be an absolute path"},
      {"[store]\nbackend = redis\nredis_port = 0\n", "t.conf:3: [store] redis_port"},
      {"[store]\nbackend = redis\nredis_timeout = 60s\n", "t.conf:3: [store] redis_timeout"},
      {"[store]\nfail_mode = maybe\n", "t.conf:2: [store] fail_mode"},
      {"[store]\nbackend = redis\nredis_password_file = /nonexistent/pw\n", "StoreError: "},
      {"[store]\npath = /nonexistent-mw-dir/s.mdb\n", "StoreError: "},
  };
  for (const auto& c : cases) {
    EXPECT_NE(error_of(c.text).find(c.expected_substring), std::string::npos)
        << c.text << " -> " << error_of(c.text);
  }
}

TEST(OpenStore, FailMode) {
  EXPECT_EQ(fail_mode(config::Config::parse("[store]\n", "t"), "store"), FailMode::allow);
  EXPECT_EQ(fail_mode(config::Config::parse("[store]\nfail_mode = refuse\n", "t"), "store"),
            FailMode::refuse);
}

}  // namespace
}  // namespace mailward::store
