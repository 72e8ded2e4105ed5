// Tests for `mailward notify` without a network: usage, enqueue + queue, errors, and `test`
// against an address nothing listens on.
#include "tools/notify_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace mailward {
namespace {

namespace fs = std::filesystem;

struct Result {
  int rc;
  std::string out, err;
};
Result run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int rc = run_notify_command(args, out, err);
  return {rc, out.str(), err.str()};
}

class NotifyCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("mw-notify-cmd-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    conf_ = (root_ / "m.conf").string();
    std::ofstream(conf_) << "[notify]\nspool = " << (root_ / "spool").string()
                         << "\n[target.phone]\nurl = http://127.0.0.1:9/hook\nusers = *\ntimeout = 2s\n";
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
  std::string conf_;
};

TEST_F(NotifyCommand, Usage) {
  EXPECT_EQ(run({}).rc, 2);
  EXPECT_EQ(run({"queue"}).rc, 2);  // no --config
  EXPECT_EQ(run({"frobnicate", "--config", conf_}).rc, 2);
  Result r = run({"queue", "--config", (root_ / "absent.conf").string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("absent.conf"), std::string::npos) << r.err;
}

TEST_F(NotifyCommand, EnqueueThenQueue) {
  Result e = run({"enqueue", "--config", conf_, "--target", "phone", "--user", "a@example.org", "--count", "2"});
  ASSERT_EQ(e.rc, 0) << e.err;
  EXPECT_EQ(e.out.size(), 2u * 33u);  // two ids and newlines
  Result q = run({"queue", "--config", conf_});
  ASSERT_EQ(q.rc, 0);
  EXPECT_TRUE(q.out.starts_with("pending 2, dead 0\npending ")) << q.out;
  EXPECT_NE(q.out.find(" target=phone age="), std::string::npos) << q.out;
  EXPECT_NE(q.out.find(e.out.substr(0, 32)), std::string::npos) << q.out;
  EXPECT_EQ(run({"enqueue", "--config", conf_, "--target", "phone"}).rc, 2);
}

TEST_F(NotifyCommand, TestTarget) {
  Result r = run({"test", "nope", "--config", conf_});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "mailward notify: no target \"nope\"\n");
  r = run({"test", "phone", "--config", conf_});  // port 9: nothing listens
  EXPECT_EQ(r.rc, 1);
  EXPECT_TRUE(r.out.starts_with("no response: ")) << r.out;
}

}  // namespace
}  // namespace mailward
