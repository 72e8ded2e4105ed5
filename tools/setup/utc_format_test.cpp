// utc_format: the two forms `mailward setup` and `mailward dns` use, at fixed instants.
#include "tools/setup/utc_format.h"

#include <gtest/gtest.h>

namespace mailward::setup {
namespace {

TEST(UtcFormat, FormsAtFixedInstants) {
  struct Case {
    std::time_t t;
    const char* fmt;
    const char* want;
  } cases[] = {
      {0, "%Y%m%dT%H%M%SZ", "19700101T000000Z"},
      {1798365600, "%Y%m%dT%H%M%SZ", "20261227T100000Z"},  // backup suffix (postfix_io.h)
      {1798365600, "%Y%m%d%H%M%S", "20261227100000"},       // MTA-STS id (RFC 8461 §3.1: 1-32 alnum)
      {1798365659, "%Y%m%d%H%M%S", "20261227100059"},
      {1798365600, "", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(utc_format(c.t, c.fmt), c.want) << c.t << " " << c.fmt;
}

}  // namespace
}  // namespace mailward::setup
