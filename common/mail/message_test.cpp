#include "common/mail/message.h"

#include <gtest/gtest.h>

using namespace mailward::mail;

TEST(Message, ParsesFoldedHeadersAndBody) {
  std::size_t bad = 0;
  Message m = parse_message("From: a@example.com\nSubject: one\n two\nnot a header\n\nbody\n", &bad);
  ASSERT_EQ(m.headers.size(), 2u);
  EXPECT_EQ(m.headers[0].name, "From");
  EXPECT_EQ(m.headers[0].value, " a@example.com");
  EXPECT_EQ(m.headers[1].value, " one\r\n two");
  EXPECT_EQ(m.headers[1].unfolded(), "one two");
  EXPECT_EQ(m.body, "body\r\n");
  EXPECT_EQ(bad, 1u);
  ASSERT_NE(m.find("subject"), nullptr);
  EXPECT_EQ(render(m), "From: a@example.com\r\nSubject: one\r\n two\r\n\r\nbody\r\n");
}

TEST(Message, HeaderOnlyAndEmptyInput) {
  Message m = parse_message("X-A: 1");
  ASSERT_EQ(m.headers.size(), 1u);
  EXPECT_TRUE(m.body.empty());
  EXPECT_TRUE(parse_message("").headers.empty());
}
