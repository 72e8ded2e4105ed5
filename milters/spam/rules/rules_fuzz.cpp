// Fuzz target: the rule-file parser (any bytes), and for short inputs the Hyperscan compile and one
// match over a fixed message, which must never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "milters/spam/rules/rules.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mailward::spam;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<Rule> rules;
  std::string detail;
  RuleError e = RuleSet::parse_rules(text, "fuzz.rules", rules, detail);
  if (e != RuleError::none && detail.rfind("fuzz.rules:", 0) != 0) __builtin_trap();
  if (e == RuleError::none && size <= 300) {
    RuleSetLoad load = RuleSet::parse(text, "fuzz.rules");
    if (load.rules) {
      ScanInput in;
      in.headers = {{"Subject", "Hello WORLD"}, {"From", "a@b.example"}, {"Subject", ""}};
      in.texts = {"some text\nwith lines", "second part"};
      in.raw_body = "raw=3D body\r\n";
      in.urls = {"http://192.0.2.1/x", "https://example.com"};
      in.content_types = {"text/html"};
      std::vector<RuleHit> hits;
      std::string error;
      load.rules->match(in, hits, error);
    }
  }
  return 0;
}
