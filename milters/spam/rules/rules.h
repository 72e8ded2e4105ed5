// Spam rules: a small rule-file format, compiled into one Hyperscan database per scope.
//
// Rule file (one rule per line; '#' starts a comment line; blank lines ignored):
//   header  NAME FIELD =~ /RE/FLAGS SCORE ["description"]   a value of FIELD matches RE
//   header  NAME FIELD !~ /RE/FLAGS SCORE ["description"]   FIELD is absent or no value matches RE
//   header  NAME exists:FIELD SCORE ["description"]         FIELD is present
//   header  NAME missing:FIELD SCORE ["description"]        FIELD is absent
//   body    NAME /RE/FLAGS SCORE ["description"]            the decoded text parts (HTML as text)
//   rawbody NAME /RE/FLAGS SCORE ["description"]            the body as received, undecoded
//   uri     NAME /RE/FLAGS SCORE ["description"]            each URL found in the message
//   meta    NAME EXPR SCORE ["description"]                 EXPR: rule names, !, &&, ||, ( )
// NAME: letters, digits, '_'; unique. A NAME starting with "__" is a sub-rule: it scores nothing and
// is not reported, it only feeds meta rules. FLAGS: i (case-insensitive), s ('.' matches newlines).
// FIELD is a header name (case-insensitive) or a pseudo-field: ":content-types" (the MIME types of
// the leaf parts, space-separated, lowercase). '/' inside RE is written "\/". SCORE: a decimal number,
// may be negative. Meta rules may name only rules defined above them (so there are no cycles).
//
// Matching semantics: header values are unfolded (CRLF removed); `^`/`$` anchor each value. Body and
// uri text are scanned line by line in one buffer (multi-line mode: `^`/`$` anchor lines / URLs).
// Interpretation, documented: a header pattern that can match a newline (e.g. `\s`) could in principle
// span two values; we count the match for the field in which it ends.
//
// GTUBE (the SpamAssassin test string) is built in as rule GTUBE, score 1000, in body and rawbody.
//
// Parsing returns errors as values naming "file:line"; matching never throws. A RuleSet is immutable
// after compile and safe to share between threads (scratch space comes from an internal pool).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailward::spam {

// What the rules look at. The caller owns every string; views must outlive the match() call.
struct ScanInput {
  // Header fields in order: name as written, value unfolded (RFC 2047 decoded where available).
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  std::vector<std::string_view> texts;          // decoded text parts, HTML reduced to text
  std::string_view raw_body;                    // the body as received
  std::vector<std::string_view> urls;           // URLs found in the texts / HTML
  std::vector<std::string_view> content_types;  // leaf part MIME types, lowercase
};

enum class RuleScope { header, body, rawbody, uri, meta };
std::string_view to_string(RuleScope scope) noexcept;

struct Rule {
  std::string name;
  RuleScope scope = RuleScope::header;
  double score = 0;
  std::string description;
  std::string where;  // file:line
  // header rules
  std::string field;  // lowercase
  enum class HeaderTest { match, not_match, exists, missing } header_test = HeaderTest::match;
  // regex rules
  std::string pattern;
  bool caseless = false;
  bool dotall = false;
  // meta rules: the expression as written
  std::string expression;
  bool sub_rule() const { return name.size() >= 2 && name[0] == '_' && name[1] == '_'; }
};

struct RuleHit {
  std::string name;
  double score = 0;
  std::string description;
};

enum class RuleError { none, syntax, bad_pattern, duplicate_name, unknown_name, io };

class RuleSet;

struct RuleSetLoad {
  std::shared_ptr<const RuleSet> rules;  // set when error == none
  RuleError error = RuleError::none;
  std::string detail;  // "file:line: what is wrong"
};

class RuleSet {
 public:
  ~RuleSet();
  RuleSet(const RuleSet&) = delete;
  RuleSet& operator=(const RuleSet&) = delete;

  // Parses and compiles. `file` names the text in messages.
  static RuleSetLoad parse(std::string_view text, std::string_view file);
  static RuleSetLoad load_file(const std::string& path);
  // Parses only (no Hyperscan compile): what the fuzz target exercises.
  static RuleError parse_rules(std::string_view text, std::string_view file, std::vector<Rule>& out,
                               std::string& detail);

  // The rules that fired, in rule-file order (GTUBE first), sub-rules excluded.
  // Returns false (and sets `error`) only when Hyperscan itself fails (out of memory).
  bool match(const ScanInput& input, std::vector<RuleHit>& hits, std::string& error) const;

  const std::vector<Rule>& rules() const noexcept { return rules_; }

 private:
  RuleSet();
  struct Impl;
  std::vector<Rule> rules_;
  std::unique_ptr<Impl> impl_;
};

// The GTUBE string (SpamAssassin's Generic Test for Unsolicited Bulk Email).
inline constexpr std::string_view kGtube =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
inline constexpr double kGtubeScore = 1000.0;

}  // namespace mailward::spam
