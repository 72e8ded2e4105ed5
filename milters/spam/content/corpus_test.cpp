// Corpus tests over ../shared/corpora/mime-torture (stalwart mail-parser, mime4j, MimeKit; see its
// PROVENANCE.md): every message parses without crash and quickly; where the corpus gives expected
// results they are compared and every difference is printed with the file name.
//  - stalwart: the decoded text/plain bodies and the HTML bodies (reduced with html_to_text, both
//    sides whitespace-collapsed) of the whole part tree, nested messages included, and the
//    top-level Subject, against NNN.json.
//  - mime4j: the number of leaf parts (X_decoded_<path>.txt|.bin files) against our texts +
//    attachments.
// Thresholds are the counts measured when the test was written; a regression fails.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <string>

#include "milters/spam/content/html.h"
#include "milters/spam/content/parsed_mail.h"
#include "milters/spam/content/tokenize.h"

namespace mailward::spam {
namespace {

namespace fs = std::filesystem;

fs::path corpus_root() {
  const char* env = std::getenv("MAILWARD_CORPORA");
  return fs::path(env != nullptr ? env : MAILWARD_CORPORA_DEFAULT) / "mime-torture";
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string out(static_cast<std::size_t>(fs::file_size(p)), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

std::string collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool is_message_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::string name = p.filename().string();
  if (ext == ".json" || ext == ".xml" || ext == ".out" || ext == ".md" || name.starts_with("LICENSE") ||
      name == "NOTICE" || name == "COPYING" || name.find("_decoded") != std::string::npos ||
      name.find("ARTISTIC") != std::string::npos)
    return false;
  return fs::is_regular_file(p);
}

TEST(MimeTorture, EveryMessageParses) {
  fs::path root = corpus_root();
  if (!fs::exists(root)) GTEST_SKIP() << "corpus absent: " << root;
  std::size_t n = 0;
  double worst_ms = 0;
  std::string worst;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!is_message_file(e.path())) continue;
    std::string raw = read_file(e.path());
    auto t0 = std::chrono::steady_clock::now();
    ParsedMail m = parse_mail(raw);
    std::vector<std::uint64_t> tokens = tokenize(m);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms > worst_ms) {
      worst_ms = ms;
      worst = e.path().string();
    }
    EXPECT_EQ(m.raw_size, raw.size());
    EXPECT_LE(m.part_count, 500u);
    ++n;
  }
  std::cout << "parsed " << n << " files; slowest " << worst_ms << " ms: " << worst << "\n";
  EXPECT_GE(n, 200u);
  EXPECT_LT(worst_ms, 250.0);  // generous for sanitizer builds; ~1 ms in a release build
}

// MimeKit's stack-overflow.txt: a To field of ~3,000 folded encoded-words (it overflowed
// recursive header parsers). Decoded in one linear pass; the body after it is still found.
TEST(MimeTorture, MimekitEndlessEncodedWords) {
  fs::path p = corpus_root() / "mimekit" / "messages" / "stack-overflow.txt";
  if (!fs::exists(p)) GTEST_SKIP() << "corpus absent: " << p;
  ParsedMail m = parse_mail(read_file(p));
  EXPECT_EQ(m.subject, "Message Subject");
  ASSERT_EQ(m.texts.size(), 1u);
  EXPECT_EQ(m.texts[0].text, "Message Body");
  EXPECT_TRUE(m.to.starts_with("\"test\" <test@test.com>, date>2017-08-20T10:08:28.617</prdate>")) << m.to.substr(0, 100);
}

// Expected texts of a stalwart JSON message (recursively through Message bodies).
void expected_texts(const nlohmann::json& msg, std::multiset<std::string>& texts) {
  for (const auto& part : msg.at("parts")) {
    const auto& body = part.at("body");
    if (!body.is_object()) continue;
    std::string t;
    if (body.contains("Text")) t = collapse(body["Text"].get<std::string>());
    if (body.contains("Html")) t = collapse(html_to_text(body["Html"].get<std::string>()).text);
    if (!t.empty()) texts.insert(t);  // empty parts are not compared
    if (body.contains("Message")) expected_texts(body["Message"], texts);
  }
}

std::string expected_subject(const nlohmann::json& msg) {
  const auto& parts = msg.at("parts");
  if (parts.empty()) return {};
  for (const auto& h : parts[0].at("headers"))
    if (h.at("name") == "subject" && h.at("value").is_object() && h["value"].contains("Text"))
      return collapse(h["value"]["Text"].get<std::string>());
  return {};
}

TEST(MimeTorture, StalwartExpectedTexts) {
  fs::path root = corpus_root() / "stalwart-mail-parser" / "eml";
  if (!fs::exists(root)) GTEST_SKIP() << "corpus absent: " << root;
  std::size_t messages = 0, texts_found = 0, texts_expected = 0, ours = 0, ours_matched = 0;
  std::size_t subjects = 0, subjects_matched = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".eml") continue;
    fs::path json_path = e.path();
    json_path.replace_extension(".json");
    if (!fs::exists(json_path)) continue;
    nlohmann::json expected = nlohmann::json::parse(read_file(json_path), nullptr, false);
    if (expected.is_discarded()) continue;
    ++messages;
    ParsedMail m = parse_mail(read_file(e.path()));
    std::multiset<std::string> want;
    expected_texts(expected, want);
    std::multiset<std::string> got;
    for (const TextPart& t : m.texts)
      if (!t.text.empty()) got.insert(collapse(t.text));
    std::string name = e.path().parent_path().filename().string() + "/" + e.path().filename().string();
    for (const std::string& t : got) {
      ++ours;
      if (want.count(t) > 0) ++ours_matched;
      else std::cout << "[stalwart] " << name << ": our text not expected: " << t.substr(0, 80) << "\n";
    }
    for (const std::string& t : want) {
      ++texts_expected;
      if (got.count(t) > 0) ++texts_found;
      else std::cout << "[stalwart] " << name << ": expected text missing: " << t.substr(0, 80) << "\n";
    }
    std::string subject = expected_subject(expected);
    if (!subject.empty()) {
      ++subjects;
      if (collapse(m.subject) == subject) ++subjects_matched;
      else std::cout << "[stalwart] " << name << ": subject '" << m.subject << "' expected '" << subject << "'\n";
    }
  }
  std::cout << "stalwart: " << messages << " messages; expected texts found " << texts_found << "/"
            << texts_expected << "; our texts expected " << ours_matched << "/" << ours << "; subjects "
            << subjects_matched << "/" << subjects << "\n";
  EXPECT_EQ(messages, 107u);
  EXPECT_GE(texts_found, 159u);
  EXPECT_GE(ours_matched, 158u);
  EXPECT_GE(subjects_matched, 74u);
}

TEST(MimeTorture, Mime4jLeafCounts) {
  fs::path root = corpus_root() / "mime4j";
  if (!fs::exists(root)) GTEST_SKIP() << "corpus absent: " << root;
  std::size_t messages = 0, matched = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".msg") continue;
    std::string stem = e.path().stem().string() + "_decoded_";
    std::size_t leaves = 0;
    for (const auto& f : fs::directory_iterator(e.path().parent_path())) {
      std::string fn = f.path().filename().string();
      if (fn.starts_with(stem) && (f.path().extension() == ".txt" || f.path().extension() == ".bin")) ++leaves;
    }
    if (leaves == 0) continue;
    ++messages;
    ParsedMail m = parse_mail(read_file(e.path()));
    std::size_t ours = m.texts.size() + m.attachments.size();
    if (ours == leaves) ++matched;
    else std::cout << "[mime4j] " << e.path().filename().string() << ": " << ours << " leaves, expected " << leaves << "\n";
  }
  std::cout << "mime4j: leaf counts equal in " << matched << "/" << messages << "\n";
  EXPECT_GE(matched, 75u);
}

}  // namespace
}  // namespace mailward::spam
