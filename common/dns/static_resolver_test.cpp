#include "common/dns/static_resolver.h"

#include <gtest/gtest.h>

using namespace mailward::dns;

TEST(StaticResolver, AnswersNodataNxdomainAndFailures) {
  StaticResolver r;
  r.add_txt("Example.com.", "v=spf1 -all");
  r.add_failure("broken.example", Status::timeout);
  Answer txt = r.lookup("example.COM", RecordType::txt);
  ASSERT_EQ(txt.status, Status::ok);
  ASSERT_EQ(txt.texts.size(), 1u);
  EXPECT_EQ(txt.texts[0], "v=spf1 -all");
  Answer nodata = r.lookup("example.com", RecordType::a);
  EXPECT_EQ(nodata.status, Status::ok);
  EXPECT_TRUE(nodata.is_void());
  EXPECT_EQ(r.lookup("nothing.example", RecordType::a).status, Status::nxdomain);
  EXPECT_TRUE(r.lookup("broken.example", RecordType::txt).is_temporary_failure());
  EXPECT_EQ(r.lookup_count(), 4u);
}

TEST(StaticResolver, FollowsCnameAndStopsLoops) {
  StaticResolver r;
  r.add_cname("alias.example", "target.example");
  r.add_address("target.example", *mailward::net::IpAddress::parse("192.0.2.7"));
  Answer a = r.lookup("alias.example", RecordType::a);
  ASSERT_EQ(a.addresses.size(), 1u);
  EXPECT_EQ(a.addresses[0].to_string(), "192.0.2.7");
  r.add_cname("loop1.example", "loop2.example");
  r.add_cname("loop2.example", "loop1.example");
  EXPECT_EQ(r.lookup("loop1.example", RecordType::a).status, Status::server_failure);
}
