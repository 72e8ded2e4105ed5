#include "common/config/config.h"

#include <gtest/gtest.h>

using mailward::config::Config;
using mailward::config::ConfigError;

namespace {
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Config, ReadsTypedValues) {
  Config c = Config::parse(
      "# comment\n[milter]\nsocket = /run/x.sock\nworkers = 8\nstrip = yes\n"
      "timeout = 250ms\nnets = 10.0.0.0/8, ::1\nnets = 192.0.2.0/24\nname = \" spaced \"\n",
      "t.conf");
  EXPECT_EQ(c.get_string("milter", "socket", ""), "/run/x.sock");
  EXPECT_EQ(c.get_int("milter", "workers", 1, 1, 64), 8);
  EXPECT_TRUE(c.get_bool("milter", "strip", false));
  EXPECT_EQ(c.get_duration("milter", "timeout", {}).count(), 250);
  EXPECT_EQ(c.get_list("milter", "nets", {}).size(), 3u);
  EXPECT_EQ(c.get_string("milter", "name", ""), " spaced ");
  EXPECT_EQ(c.get_string("milter", "absent", "dflt"), "dflt");
}

TEST(Config, ErrorsNameFileLineAndKey) {
  Config c = Config::parse("[milter]\n\nworkers = many\nmode = maybe\n", "m.conf");
  EXPECT_EQ(error_of([&] { c.get_int("milter", "workers", 1, 1, 64); }),
            "m.conf:3: [milter] workers: 'many' is not a whole number");
  EXPECT_EQ(error_of([&] { c.get_choice("milter", "mode", "a", {"a", "b"}); }),
            "m.conf:4: [milter] mode: 'maybe' is not one of: a, b");
  EXPECT_EQ(error_of([&] { c.require_known_keys("milter", {"workers"}); }),
            "m.conf:4: [milter] mode: unknown key");
}

TEST(Config, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(error_of([] { Config::parse("[a]\nnot a pair\n", "s.conf"); }),
            "s.conf:2: expected 'key = value', got 'not a pair'");
  EXPECT_EQ(error_of([] { Config::parse("k = v\n", "s.conf"); }),
            "s.conf:1: key 'k' appears before any [section]");
  EXPECT_EQ(error_of([] { Config::parse("[Bad Section\n", "s.conf"); }),
            "s.conf:1: section header must end with ']'");
  EXPECT_EQ(error_of([] { Config::load_file("/nonexistent/mailward.conf"); }),
            "/nonexistent/mailward.conf: cannot open configuration file");
}

TEST(Config, SectionsWithArguments) {
  Config c = Config::parse("[dkim-key  example.com ]\nselector = s1\n[other]\n", "k.conf");
  auto keys = c.sections_with_prefix("dkim-key ");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0], "dkim-key example.com");
  EXPECT_EQ(error_of([&] { c.require_known_sections({"milter"}, {"dkim-key "}); }),
            "k.conf:3: unknown section [other]");
}
