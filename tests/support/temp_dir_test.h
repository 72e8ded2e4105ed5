// A GoogleTest fixture with a fresh temporary directory, dir_ (/tmp/PREFIX-XXXXXX), removed with its
// contents after the test. Derived fixtures that override SetUp call TempDirTest::SetUp first.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string_view>

#include "tests/support/files.h"

namespace mailward::test_support {

class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string_view prefix) : tmp_(prefix) {}
  void SetUp() override { ASSERT_FALSE(dir_.empty()) << "mkdtemp in /tmp failed"; }

  TempDir tmp_;
  const std::filesystem::path& dir_ = tmp_.path();
};

}  // namespace mailward::test_support
