// Tests for DKIM canonicalisation (RFC 6376 §3.4): header simple/relaxed, body simple/relaxed with
// every chunk split, and the l= limiter.
#include "milters/auth/dkim/canon.h"
#include "milters/auth/dkim/tests/canon_reference.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mailward::dkim {
namespace {

struct HeaderCase {
  Canon canon;
  const char* name;
  const char* value;
  const char* expected;
};

TEST(DkimCanon, Headers) {
  const HeaderCase cases[] = {
      {Canon::relaxed, "Subject", " Hello  World \r\n\t again ", "subject:Hello World again"},
      {Canon::relaxed, "From \t", "  a@b", "from:a@b"},  // WSP before the colon (§3.4.2)
      {Canon::relaxed, "X-Empty", "", "x-empty:"},
      {Canon::relaxed, "X-Blank", " \t \r\n ", "x-blank:"},
      {Canon::relaxed, "A", "B\t\tC", "a:B C"},
      // RFC 6376 §3.4.6 example: "A: X" and "B : Y\t\r\n\tZ  " -> "a:X" and "b:Y Z".
      {Canon::relaxed, "A", " X", "a:X"},
      {Canon::relaxed, "B ", " Y\t\r\n\tZ  ", "b:Y Z"},
      {Canon::simple, "B ", " Y\t\r\n\tZ  ", "B : Y\t\r\n\tZ  "},
      {Canon::simple, "Subject", " A  B", "Subject: A  B"},
  };
  for (const auto& c : cases) {
    std::string out;
    append_canonical_header(out, c.canon, c.name, c.value);
    EXPECT_EQ(out, c.expected) << c.name << ":" << c.value;
  }
}

struct BodyCase {
  Canon canon;
  std::string input;
  std::string expected;
};

std::string canonicalize(Canon c, const std::string& in, std::size_t chunk) {
  BodyCanonicalizer bc(c);
  std::string out;
  for (std::size_t i = 0; i < in.size(); i += chunk) out.append(bc.update(std::string_view(in).substr(i, chunk)));
  out.append(bc.finish());
  EXPECT_EQ(bc.emitted(), out.size());
  return out;
}

TEST(DkimCanon, BodiesInEveryChunking) {
  const BodyCase cases[] = {
      {Canon::simple, "", "\r\n"},  // §3.4.3: empty body -> CRLF
      {Canon::relaxed, "", ""},     // §3.4.4: empty body -> nothing
      {Canon::simple, "\r\n\r\n\r\n", "\r\n"},
      {Canon::relaxed, "\r\n\r\n", ""},
      {Canon::relaxed, " \t \r\n\r\n", ""},
      // RFC 6376 §3.4.6 example body.
      {Canon::relaxed, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n"},
      {Canon::simple, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n"},
      {Canon::simple, "abc", "abc\r\n"},
      {Canon::relaxed, "abc  ", "abc\r\n"},
      {Canon::simple, "a\r\n\r\nb", "a\r\n\r\nb\r\n"},
      {Canon::relaxed, "a\r\n \r\n\tb \r\n\r\n", "a\r\n\r\n b\r\n"},
      {Canon::simple, "a\nb\r\n", "a\nb\r\n"},        // bare LF is data
      {Canon::simple, "a\rb\r\n\r", "a\rb\r\n\r\r\n"},  // lone CR is data, even last
      {Canon::relaxed, "a \rb\r\n", "a \rb\r\n"},
      {Canon::relaxed, "a\r \r\n", "a\r\r\n"},
      {Canon::simple, "x\r\n\r\n\r\ny\r\n\r\n", "x\r\n\r\n\r\ny\r\n"},
  };
  for (const auto& c : cases) {
    for (std::size_t chunk = 1; chunk <= c.input.size() + 1; ++chunk)
      EXPECT_EQ(canonicalize(c.canon, c.input, chunk), c.expected)
          << to_string(c.canon) << " chunk " << chunk << " input [" << c.input << "]";
  }
}

// Random bodies dense in the bytes relaxed canonicalisation cares about (SP, TAB, CR, LF, and a
// byte >= 0x80), long enough for the 64-byte block scanners (SIMD paths), fed whole and in random
// chunks through the sink interface, against the reference implementation.
TEST(DkimCanon, RandomBodiesMatchReference) {
  struct Collect final : CanonSink {
    std::string out;
    void write(std::string_view canonical) override { out.append(canonical); }
  };
  std::mt19937 rng(20261128);
  const char alphabet[] = {'a', 'b', ' ', ' ', '\t', '\r', '\n', '\r', '\n', static_cast<char>(0xC3)};
  int checked = 0;
  for (int round = 0; round < 3000; ++round) {
    // Sparse specials in some rounds (long clean runs, as in prose), dense in others.
    const unsigned letters = round % 3 == 0 ? 60 : 2;
    std::string body(rng() % 700, 'x');
    for (char& c : body) {
      const auto r = static_cast<unsigned>(rng() % (letters + sizeof alphabet));
      c = r < letters ? static_cast<char>('a' + r % 26) : alphabet[r - letters];
    }
    for (Canon canon : {Canon::simple, Canon::relaxed}) {
      const std::string want = testing::reference_body(canon, body);
      for (bool whole : {true, false}) {
        BodyCanonicalizer bc(canon);
        Collect sink;
        for (std::size_t pos = 0; pos < body.size();) {
          const std::size_t n = whole ? body.size() : std::min<std::size_t>(1 + rng() % 200, body.size() - pos);
          bc.update(std::string_view(body).substr(pos, n), sink);
          pos += n;
        }
        bc.finish(sink);
        ASSERT_EQ(sink.out, want) << "round " << round << " canon " << to_string(canon) << (whole ? " whole" : " chunked");
        ASSERT_EQ(bc.emitted(), want.size());
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 12000);
}

// Header values of every length up to 90 (so the 16-byte scanner, its 16-byte window over the
// last bytes, and the byte loop all run), random mixes of letters, SP, TAB, CR, LF, against the
// reference; and write_canonical_header with the value cut in two at every position (the
// verifier's DKIM-Signature around b=) gives the same as the whole value.
TEST(DkimCanon, RandomHeaderValuesMatchReference) {
  std::mt19937 rng(20261128);
  const char alphabet[] = {' ', ' ', '\t', '\r', '\n', ':', ';', static_cast<char>(0xC3)};
  int checked = 0;
  for (int round = 0; round < 4000; ++round) {
    const unsigned letters = round % 2 == 0 ? 30 : 3;
    std::string value(static_cast<std::size_t>(round % 91), 'x');
    for (char& c : value) {
      const auto r = static_cast<unsigned>(rng() % (letters + sizeof alphabet));
      c = r < letters ? static_cast<char>('a' + r % 26) : alphabet[r - letters];
    }
    const std::string name = round % 3 == 0 ? "Subject \t" : "X-Long-Header-Name";
    for (Canon canon : {Canon::simple, Canon::relaxed}) {
      const std::string want = testing::reference_header(canon, name, value);
      std::string got = "prefix";
      append_canonical_header(got, canon, name, value);
      ASSERT_EQ(got, "prefix" + want) << "round " << round << " " << to_string(canon);
      for (std::size_t cut = 0; cut <= value.size(); ++cut) {
        const std::string_view a = std::string_view(value).substr(0, cut), b = std::string_view(value).substr(cut);
        std::string buf(canonical_header_room(name, a, b), '#');
        char* end = write_canonical_header(buf.data(), canon, name, a, b);
        ASSERT_EQ(std::string(buf.data(), end), want) << "round " << round << " cut " << cut;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 100000);
}

// A sink that feeds another canonicaliser on the same thread while the outer one flushes its
// staging buffer: the thread's shared buffer is in use then, and the inner one (reading its input
// from that buffer) must stage elsewhere. The outer one is "simple" over short lines and empty
// lines (all of it goes through its staging buffer), the inner one "relaxed" over dense WSP
// (compacted through a staging buffer).
TEST(DkimCanon, SinkFeedingAnotherCanonicalizer) {
  struct Collect final : CanonSink {
    std::string out;
    void write(std::string_view canonical) override { out.append(canonical); }
  };
  struct Chain final : CanonSink {
    BodyCanonicalizer inner{Canon::relaxed};
    Collect collected;
    void write(std::string_view canonical) override { inner.update(canonical, collected); }
  };
  std::string body;
  for (int i = 0; i < 300; ++i)
    body += "w  x \t y\t\tz  q  r \t s  t  u  v  w  x  y  z  a  b  c  d  e  f  g " + std::to_string(i) + "\r\n\r\n";
  BodyCanonicalizer outer(Canon::simple);
  Chain chain;
  for (std::size_t pos = 0; pos < body.size(); pos += 1000) outer.update(std::string_view(body).substr(pos, 1000), chain);
  outer.finish(chain);
  chain.inner.finish(chain.collected);
  const std::string simple = testing::reference_body(Canon::simple, body);
  ASSERT_GT(simple.size(), 4096u);  // more than two staging buffers
  EXPECT_EQ(chain.collected.out, testing::reference_body(Canon::relaxed, simple));
}

// Relaxed header names of every length up to 40 made of every byte value (8-byte lowercasing with
// an overlapping last word), against the reference.
TEST(DkimCanon, HeaderNamesOfAnyBytesLowercased) {
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string name(static_cast<std::size_t>(round % 41), 'x');
    for (char& c : name) c = static_cast<char>(rng() % 256);
    if (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.back() = 'Q';
    std::string got;
    append_canonical_header(got, Canon::relaxed, name, " v");
    ASSERT_EQ(got, testing::reference_header(Canon::relaxed, name, " v")) << "round " << round;
  }
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  all.back() = 'Z';
  std::string got;
  append_canonical_header(got, Canon::relaxed, all, "");
  EXPECT_EQ(got, testing::reference_header(Canon::relaxed, all, ""));
}

// Whitespace-dense bodies (the 64-byte block compaction of WSP runs): lines of words separated by
// SP/TAB runs, some runs before CRLF, some lines empty or starting with WSP, a few lone CR/LF, and
// up to 5 trailing empty or blank lines; fed
// whole, in random chunks, and split in two at every position (so boundaries fall inside runs and
// between CR and LF).
TEST(DkimCanon, WhitespaceDenseBodiesMatchReference) {
  struct Collect final : CanonSink {
    std::string out;
    void write(std::string_view canonical) override { out.append(canonical); }
  };
  std::mt19937 rng(16);
  auto make_body = [&rng](std::size_t target) {
    std::string body;
    while (body.size() < target) {
      const unsigned kind = static_cast<unsigned>(rng() % 16);
      if (kind == 0) body += "\r\n";                    // empty line
      else if (kind == 1) body += " \t";                // leading WSP
      else if (kind == 2) body += rng() % 2 ? "\r" : "\n";  // lone CR / LF: data
      const unsigned words = 1 + static_cast<unsigned>(rng() % 12);
      for (unsigned w = 0; w < words; ++w) {
        body.append(1 + rng() % 7, static_cast<char>('a' + rng() % 26));
        const unsigned run = static_cast<unsigned>(rng() % 5);  // 0..4 WSP
        for (unsigned k = 0; k < run; ++k) body.push_back(rng() % 3 == 0 ? '\t' : ' ');
      }
      body += "\r\n";
    }
    const unsigned trailing = static_cast<unsigned>(rng() % 6);  // trailing empty / blank lines
    for (unsigned k = 0; k < trailing; ++k) body += rng() % 3 == 0 ? " \t\r\n" : "\r\n";
    return body;
  };
  auto run = [](Canon canon, std::string_view body, const std::vector<std::size_t>& cuts) {
    BodyCanonicalizer bc(canon);
    Collect sink;
    std::size_t pos = 0;
    for (std::size_t cut : cuts) {
      bc.update(body.substr(pos, cut - pos), sink);
      pos = cut;
    }
    bc.update(body.substr(pos), sink);
    bc.finish(sink);
    EXPECT_EQ(bc.emitted(), sink.out.size());
    return sink.out;
  };
  int checked = 0;
  for (int round = 0; round < 400; ++round) {
    const std::string body = make_body(static_cast<std::size_t>(rng() % 900));
    const std::string want = testing::reference_body(Canon::relaxed, body);
    ASSERT_EQ(run(Canon::relaxed, body, {}), want) << "round " << round << " whole";
    std::vector<std::size_t> cuts;
    for (std::size_t pos = 0;;) {
      pos += 1 + rng() % 150;
      if (pos >= body.size()) break;
      cuts.push_back(pos);
    }
    ASSERT_EQ(run(Canon::relaxed, body, cuts), want) << "round " << round << " chunked";
    checked += 2;
    if (round % 20 == 0) {
      for (std::size_t cut = 1; cut < body.size(); ++cut) {
        ASSERT_EQ(run(Canon::relaxed, body, {cut}), want) << "round " << round << " cut " << cut;
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 800);
}

// The bench's whitespace-heavy lines (double SP, SP-TAB-SP), and runs placed on every offset of a
// 64-byte block, ending right before CRLF or at the block's edge.
TEST(DkimCanon, WhitespaceRunsAtEveryBlockOffset) {
  for (std::size_t offset = 0; offset < 130; ++offset) {
    for (const char* run : {"  ", " \t ", "\t", "\t\t\t\t", " "}) {
      std::string body = std::string(offset, 'x') + run + "y" + run + "\r\nz" + std::string(70, 'w') + run + "\r\n" +
                         "Line: the quick brown fox,  twice \t and then rests.\r\n\r\nNext  line\t\r\n";
      body += body;
      const std::string want = testing::reference_body(Canon::relaxed, body);
      for (std::size_t chunk : {body.size(), std::size_t{67}, std::size_t{65}, std::size_t{64}, std::size_t{63}}) {
        BodyCanonicalizer bc(Canon::relaxed);
        std::string out;
        for (std::size_t i = 0; i < body.size(); i += chunk) out.append(bc.update(std::string_view(body).substr(i, chunk)));
        out.append(bc.finish());
        ASSERT_EQ(out, want) << "offset " << offset << " run [" << run << "] chunk " << chunk;
      }
    }
  }
}

TEST(DkimCanon, Limiter) {
  BodyLimiter lim(5);
  EXPECT_EQ(lim.take("abc"), "abc");
  EXPECT_EQ(lim.take("defg"), "de");
  EXPECT_EQ(lim.take("hij"), "");
  EXPECT_EQ(lim.seen(), 10u);
  BodyLimiter none(std::nullopt);
  EXPECT_EQ(none.take("abc"), "abc");
  BodyLimiter zero(0);
  EXPECT_EQ(zero.take("abc"), "");
}

TEST(DkimCanon, ParseWords) {
  EXPECT_EQ(parse_canon("Relaxed"), Canon::relaxed);
  EXPECT_EQ(parse_canon("simple"), Canon::simple);
  EXPECT_EQ(parse_canon("future"), std::nullopt);
  EXPECT_EQ(parse_canon(""), std::nullopt);
}

}  // namespace
}  // namespace mailward::dkim
