// Spam rules: parsing the rule file and matching with one Hyperscan database per scope (rules.h).
#include "milters/spam/rules/rules.h"

#include <hs.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/util/text.h"

namespace mailward::spam {

std::string_view to_string(RuleScope scope) noexcept {
  switch (scope) {
    case RuleScope::header: return "header";
    case RuleScope::body: return "body";
    case RuleScope::rawbody: return "rawbody";
    case RuleScope::uri: return "uri";
    case RuleScope::meta: return "meta";
  }
  return "?";
}

namespace {

constexpr std::size_t kMaxMetaDepth = 64;

bool valid_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!text::is_alpha(c) && !text::is_digit(c) && c != '_') return false;
  return true;
}

bool valid_field(std::string_view f) {
  if (f.empty() || f.size() > 128) return false;
  if (f == ":content-types") return true;
  for (char c : f) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 32 || u >= 127 || c == ':') return false;
  }
  return true;
}

// Splits off the next whitespace-delimited token.
std::string_view next_token(std::string_view& rest) {
  rest = text::trim(rest);
  std::size_t end = 0;
  while (end < rest.size() && !text::is_space_or_tab(rest[end])) ++end;
  std::string_view tok = rest.substr(0, end);
  rest.remove_prefix(end);
  return tok;
}

bool parse_score(std::string_view s, double& out) {
  if (s.empty() || s.size() > 32) return false;
  if (s.front() == '+') s.remove_prefix(1);
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out, std::chars_format::fixed);
  return ec == std::errc() && p == end && out > -100000 && out < 100000;
}

// "/RE/FLAGS" at the start of rest; '\/' keeps the slash escaped (Hyperscan reads "\/" as "/").
bool parse_regex(std::string_view& rest, Rule& rule, std::string& problem) {
  rest = text::trim(rest);
  if (rest.empty() || rest.front() != '/') {
    problem = "expected /pattern/";
    return false;
  }
  std::size_t i = 1;
  bool closed = false;
  while (i < rest.size()) {
    if (rest[i] == '\\' && i + 1 < rest.size()) {
      i += 2;
      continue;
    }
    if (rest[i] == '/') {
      closed = true;
      break;
    }
    ++i;
  }
  if (!closed) {
    problem = "pattern has no closing '/'";
    return false;
  }
  rule.pattern = std::string(rest.substr(1, i - 1));
  if (rule.pattern.empty()) {
    problem = "empty pattern";
    return false;
  }
  ++i;
  while (i < rest.size() && !text::is_space_or_tab(rest[i])) {
    if (rest[i] == 'i') rule.caseless = true;
    else if (rest[i] == 's') rule.dotall = true;
    else {
      problem = std::string("unknown pattern flag '") + rest[i] + "' (known: i, s)";
      return false;
    }
    ++i;
  }
  rest.remove_prefix(i);
  return true;
}

// SCORE ["description"] at the end of a rule line.
bool parse_tail(std::string_view rest, Rule& rule, std::string& problem) {
  std::string_view score = next_token(rest);
  if (!parse_score(score, rule.score)) {
    problem = score.empty() ? "missing score" : "'" + std::string(score) + "' is not a score";
    return false;
  }
  rest = text::trim(rest);
  if (rest.empty()) return true;
  if (rest.size() < 2 || rest.front() != '"' || rest.back() != '"') {
    problem = "description must be one \"quoted string\"";
    return false;
  }
  rule.description = std::string(rest.substr(1, rest.size() - 2));
  for (char& c : rule.description)
    if (static_cast<unsigned char>(c) < 32) c = ' ';
  return true;
}

// Meta expressions, compiled to postfix: operands are rule indices, operators negative codes.
constexpr int kNot = -1, kAnd = -2, kOr = -3;

struct MetaParser {
  std::string_view s;
  std::size_t pos = 0;
  const std::vector<Rule>& rules;
  std::size_t count;  // only rules[0, count) may be named: those defined above
  std::vector<int>& out;
  std::string problem;
  std::size_t depth = 0;

  void skip() {
    while (pos < s.size() && text::is_space_or_tab(s[pos])) ++pos;
  }
  bool parse_or() {
    if (!parse_and()) return false;
    for (skip(); s.substr(pos, 2) == "||"; skip()) {
      pos += 2;
      if (!parse_and()) return false;
      out.push_back(kOr);
    }
    return true;
  }
  bool parse_and() {
    if (!parse_unary()) return false;
    for (skip(); s.substr(pos, 2) == "&&"; skip()) {
      pos += 2;
      if (!parse_unary()) return false;
      out.push_back(kAnd);
    }
    return true;
  }
  bool parse_unary() {
    if (++depth > kMaxMetaDepth) {
      problem = "expression nested too deeply";
      return false;
    }
    skip();
    bool ok = false;
    if (pos < s.size() && s[pos] == '!') {
      ++pos;
      ok = parse_unary();
      if (ok) out.push_back(kNot);
    } else if (pos < s.size() && s[pos] == '(') {
      ++pos;
      ok = parse_or();
      skip();
      if (ok && (pos >= s.size() || s[pos] != ')')) {
        problem = "missing ')'";
        ok = false;
      }
      ++pos;
    } else {
      std::size_t start = pos;
      while (pos < s.size() && (text::is_alpha(s[pos]) || text::is_digit(s[pos]) || s[pos] == '_'))
        ++pos;
      std::string_view name = s.substr(start, pos - start);
      if (name.empty()) {
        problem = "expected a rule name at column " + std::to_string(start + 1) + " of the expression";
      } else {
        auto last = rules.begin() + static_cast<std::ptrdiff_t>(count);
        auto it = std::find_if(rules.begin(), last, [&](const Rule& r) { return r.name == name; });
        if (it == last) problem = "unknown rule '" + std::string(name) + "' (define it above)";
        else {
          out.push_back(static_cast<int>(it - rules.begin()));
          ok = true;
        }
      }
    }
    --depth;
    return ok;
  }
};

bool compile_meta(std::string_view expr, const std::vector<Rule>& rules, std::size_t count,
                  std::vector<int>& program, std::string& problem) {
  MetaParser p{expr, 0, rules, count, program, {}, 0};
  if (!p.parse_or()) {
    problem = p.problem;
    return false;
  }
  p.skip();
  if (p.pos != expr.size()) {
    problem = "unexpected text at column " + std::to_string(p.pos + 1) + " of the expression";
    return false;
  }
  return true;
}

bool eval_meta(const std::vector<int>& program, const std::vector<char>& fired) {
  std::vector<char> stack;
  stack.reserve(program.size());
  for (int op : program) {
    if (op >= 0) {
      stack.push_back(fired[static_cast<std::size_t>(op)]);
    } else if (op == kNot) {
      stack.back() = !stack.back();
    } else {
      char b = stack.back();
      stack.pop_back();
      stack.back() = op == kAnd ? (stack.back() && b) : (stack.back() || b);
    }
  }
  return !stack.empty() && stack.back();
}

std::string regex_escape(std::string_view lit) {
  std::string out;
  for (char c : lit) {
    if (!text::is_alpha(c) && !text::is_digit(c)) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

RuleError RuleSet::parse_rules(std::string_view input, std::string_view file, std::vector<Rule>& out,
                               std::string& detail) {
  out.clear();
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos <= input.size()) {
    std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    std::string_view line = text::trim(input.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    std::string where = std::string(file) + ":" + std::to_string(line_no);
    auto fail = [&](RuleError kind, const std::string& problem) {
      detail = where + ": " + problem;
      return kind;
    };
    for (char c : line)
      if (static_cast<unsigned char>(c) < 32 && c != '\t') return fail(RuleError::syntax, "control character in line");
    Rule r;
    r.where = where;
    std::string_view rest = line;
    std::string_view kind = next_token(rest);
    if (kind == "header") r.scope = RuleScope::header;
    else if (kind == "body") r.scope = RuleScope::body;
    else if (kind == "rawbody") r.scope = RuleScope::rawbody;
    else if (kind == "uri") r.scope = RuleScope::uri;
    else if (kind == "meta") r.scope = RuleScope::meta;
    else
      return fail(RuleError::syntax, "unknown rule type '" + std::string(kind) +
                                         "' (known: header, body, rawbody, uri, meta)");
    std::string_view name = next_token(rest);
    if (!valid_name(name))
      return fail(RuleError::syntax, "'" + std::string(name) + "' is not a rule name (letters, digits, _)");
    r.name = std::string(name);
    if (r.name == "GTUBE" ||
        std::any_of(out.begin(), out.end(), [&](const Rule& o) { return o.name == r.name; }))
      return fail(RuleError::duplicate_name, "rule '" + r.name + "' is defined twice (GTUBE is built in)");
    std::string problem;
    if (r.scope == RuleScope::header) {
      std::string_view field = next_token(rest);
      if (text::istarts_with(field, "exists:") || text::istarts_with(field, "missing:")) {
        bool exists = text::istarts_with(field, "exists:");
        field.remove_prefix(exists ? 7 : 8);
        r.header_test = exists ? Rule::HeaderTest::exists : Rule::HeaderTest::missing;
      } else {
        std::string_view op = next_token(rest);
        if (op == "=~") r.header_test = Rule::HeaderTest::match;
        else if (op == "!~") r.header_test = Rule::HeaderTest::not_match;
        else return fail(RuleError::syntax, "expected '=~' or '!~' after the field name");
        if (!parse_regex(rest, r, problem)) return fail(RuleError::syntax, problem);
      }
      if (!valid_field(field)) return fail(RuleError::syntax, "'" + std::string(field) + "' is not a header field name");
      r.field = text::to_lower(field);
      if (r.field == ":content-types" &&
          (r.header_test == Rule::HeaderTest::exists || r.header_test == Rule::HeaderTest::missing))
        return fail(RuleError::syntax, "exists:/missing: take a real header field name");
    } else if (r.scope == RuleScope::meta) {
      std::size_t quote = rest.find('"');
      std::string_view head = text::trim(rest.substr(0, quote));
      std::size_t sp = head.find_last_of(" \t");
      if (sp == std::string_view::npos) return fail(RuleError::syntax, "expected EXPRESSION SCORE");
      r.expression = std::string(text::trim(head.substr(0, sp)));
      std::string tail(head.substr(sp + 1));
      if (quote != std::string_view::npos) tail.append(" ").append(rest.substr(quote));
      std::vector<int> program;
      if (!compile_meta(r.expression, out, out.size(), program, problem)) return fail(RuleError::unknown_name, problem);
      if (!parse_tail(tail, r, problem)) return fail(RuleError::syntax, problem);
      if (r.sub_rule()) r.score = 0;
      out.push_back(std::move(r));
      continue;
    } else {
      if (!parse_regex(rest, r, problem)) return fail(RuleError::syntax, problem);
    }
    if (!parse_tail(rest, r, problem)) return fail(RuleError::syntax, problem);
    if (r.sub_rule()) r.score = 0;
    out.push_back(std::move(r));
    if (out.size() > 100000) return fail(RuleError::syntax, "too many rules");
  }
  return RuleError::none;
}

namespace {

struct Database {
  hs_database_t* db = nullptr;
  ~Database() { hs_free_database(db); }
};

}  // namespace

struct RuleSet::Impl {
  Database header, body, rawbody, uri;
  std::vector<std::string> fields;        // distinct lowercase field names the header rules read
  std::vector<int> rule_field;            // per rule: index in fields, or -1
  std::vector<std::vector<int>> meta;     // per rule: postfix program (meta rules only)
  hs_scratch_t* prototype = nullptr;
  mutable std::mutex mutex;
  mutable std::vector<hs_scratch_t*> pool;

  ~Impl() {
    for (hs_scratch_t* s : pool) hs_free_scratch(s);
    hs_free_scratch(prototype);
  }
  hs_scratch_t* acquire() const {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!pool.empty()) {
        hs_scratch_t* s = pool.back();
        pool.pop_back();
        return s;
      }
    }
    hs_scratch_t* s = nullptr;
    if (hs_clone_scratch(prototype, &s) != HS_SUCCESS) return nullptr;
    return s;
  }
  void release(hs_scratch_t* s) const {
    std::lock_guard<std::mutex> lock(mutex);
    pool.push_back(s);
  }
};

RuleSet::RuleSet() : impl_(std::make_unique<Impl>()) {}
RuleSet::~RuleSet() = default;

RuleSetLoad RuleSet::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {nullptr, RuleError::io, path + ": cannot read the rule file"};
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

RuleSetLoad RuleSet::parse(std::string_view text_in, std::string_view file) {
  RuleSetLoad load;
  std::vector<Rule> rules;
  Rule gtube;
  gtube.name = "GTUBE";
  gtube.scope = RuleScope::rawbody;
  gtube.score = kGtubeScore;
  gtube.description = "Generic Test for Unsolicited Bulk Email";
  gtube.pattern = regex_escape(kGtube);
  gtube.where = "built-in";
  load.error = parse_rules(text_in, file, rules, load.detail);
  if (load.error != RuleError::none) return load;
  rules.insert(rules.begin(), std::move(gtube));

  std::shared_ptr<RuleSet> set(new RuleSet());
  Impl& impl = *set->impl_;
  impl.rule_field.assign(rules.size(), -1);
  impl.meta.resize(rules.size());
  struct Scope {
    std::vector<std::string> patterns;
    std::vector<unsigned> flags, ids;
  } header, body, rawbody, uri;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Rule& r = rules[i];
    if (r.scope == RuleScope::meta) {
      std::string problem;
      compile_meta(r.expression, rules, i, impl.meta[i], problem);
      continue;
    }
    if (r.scope == RuleScope::header) {
      auto it = std::find(impl.fields.begin(), impl.fields.end(), r.field);
      if (it == impl.fields.end()) it = impl.fields.insert(impl.fields.end(), r.field);
      impl.rule_field[i] = static_cast<int>(it - impl.fields.begin());
      if (r.header_test == Rule::HeaderTest::exists || r.header_test == Rule::HeaderTest::missing) continue;
    }
    unsigned flags = HS_FLAG_MULTILINE;
    if (r.caseless) flags |= HS_FLAG_CASELESS;
    if (r.dotall) flags |= HS_FLAG_DOTALL;
    // Header rules need every match (the first may be in another field); elsewhere one is enough.
    if (r.scope == RuleScope::header) flags |= HS_FLAG_ALLOWEMPTY;
    else flags |= HS_FLAG_SINGLEMATCH;
    Scope& scope = r.scope == RuleScope::header ? header
                   : r.scope == RuleScope::body ? body
                   : r.scope == RuleScope::uri  ? uri
                                                : rawbody;
    scope.patterns.push_back(r.pattern);
    scope.flags.push_back(flags);
    scope.ids.push_back(static_cast<unsigned>(i));
    if (i == 0) {  // GTUBE: also in decoded text (a base64 body)
      body.patterns.push_back(r.pattern);
      body.flags.push_back(flags);
      body.ids.push_back(0);
    }
  }
  auto compile = [&](Scope& scope, Database& out) -> bool {
    if (scope.patterns.empty()) return true;
    std::vector<const char*> ptrs;
    for (const std::string& p : scope.patterns) ptrs.push_back(p.c_str());
    hs_compile_error_t* err = nullptr;
    if (hs_compile_multi(ptrs.data(), scope.flags.data(), scope.ids.data(),
                         static_cast<unsigned>(ptrs.size()), HS_MODE_BLOCK, nullptr, &out.db,
                         &err) != HS_SUCCESS) {
      const Rule* bad = nullptr;
      if (err && err->expression >= 0 && static_cast<std::size_t>(err->expression) < scope.ids.size())
        bad = &rules[scope.ids[static_cast<std::size_t>(err->expression)]];
      std::string msg = err && err->message ? err->message : "cannot compile";
      load.error = RuleError::bad_pattern;
      load.detail = bad ? bad->where + ": rule " + bad->name + ": bad pattern /" + bad->pattern + "/: " + msg
                        : std::string(file) + ": " + msg;
      hs_free_compile_error(err);
      return false;
    }
    if (hs_alloc_scratch(out.db, &impl.prototype) != HS_SUCCESS) {
      load.error = RuleError::io;
      load.detail = std::string(file) + ": cannot allocate Hyperscan scratch space";
      return false;
    }
    return true;
  };
  if (!compile(header, impl.header) || !compile(body, impl.body) ||
      !compile(rawbody, impl.rawbody) || !compile(uri, impl.uri)) {
    return load;
  }
  set->rules_ = std::move(rules);
  load.rules = std::move(set);
  return load;
}

namespace {

struct HeaderContext {
  const std::vector<std::size_t>* line_ends;
  const std::vector<int>* line_field;
  const std::vector<int>* rule_field;
  std::vector<char>* fired;
};

int on_header_match(unsigned id, unsigned long long, unsigned long long to, unsigned, void* ctx) {
  auto* c = static_cast<HeaderContext*>(ctx);
  const auto& ends = *c->line_ends;
  auto it = std::lower_bound(ends.begin(), ends.end(), static_cast<std::size_t>(to));
  if (it == ends.end()) return 0;
  auto line = static_cast<std::size_t>(it - ends.begin());
  if ((*c->line_field)[line] == (*c->rule_field)[id]) (*c->fired)[id] = 1;
  return 0;
}

int on_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* ctx) {
  (*static_cast<std::vector<char>*>(ctx))[id] = 1;
  return 0;
}

}  // namespace

bool RuleSet::match(const ScanInput& in, std::vector<RuleHit>& hits, std::string& error) const {
  const Impl& impl = *impl_;
  std::vector<char> fired(rules_.size(), 0);
  std::vector<char> field_present(impl.fields.size(), 0);
  hs_scratch_t* scratch = impl.prototype ? impl.acquire() : nullptr;
  if (impl.prototype && !scratch) {
    error = "cannot allocate Hyperscan scratch space";
    return false;
  }
  struct Release {
    const Impl& impl;
    hs_scratch_t* s;
    ~Release() {
      if (s) impl.release(s);
    }
  } release{impl, scratch};
  auto field_index = [&](std::string_view name) -> int {
    for (std::size_t f = 0; f < impl.fields.size(); ++f)
      if (text::iequals(impl.fields[f], name)) return static_cast<int>(f);
    return -1;
  };
  bool ok = true;
  // Header scope: the values of the fields some rule reads, one per line.
  std::string doc;
  std::vector<std::size_t> line_ends;
  std::vector<int> line_field;
  auto add_line = [&](int f, std::string_view value) {
    std::size_t start = doc.size();
    doc.append(value);
    for (std::size_t k = start; k < doc.size(); ++k)
      if (doc[k] == '\n' || doc[k] == '\r') doc[k] = ' ';
    line_ends.push_back(doc.size());
    line_field.push_back(f);
    doc.push_back('\n');
  };
  for (const auto& [name, value] : in.headers) {
    int f = field_index(name);
    if (f < 0) continue;
    field_present[static_cast<std::size_t>(f)] = 1;
    add_line(f, value);
  }
  int ct = field_index(":content-types");
  if (ct >= 0) {
    std::string types;
    for (std::string_view t : in.content_types) types.append(types.empty() ? "" : " ").append(t);
    field_present[static_cast<std::size_t>(ct)] = 1;
    add_line(ct, types);
  }
  if (impl.header.db && !doc.empty()) {
    HeaderContext ctx{&line_ends, &line_field, &impl.rule_field, &fired};
    ok = ok && hs_scan(impl.header.db, doc.data(), static_cast<unsigned>(doc.size()), 0, scratch,
                       on_header_match, &ctx) == HS_SUCCESS;
  }
  auto scan = [&](const Database& d, std::string_view data) {
    if (!d.db || data.empty()) return;
    // Hyperscan takes an unsigned length: anything longer is scanned up to 4 GB (callers bound it far lower).
    auto len = static_cast<unsigned>(std::min<std::size_t>(data.size(), 0xffffffffu));
    ok = ok && hs_scan(d.db, data.data(), len, 0, scratch, on_match, &fired) == HS_SUCCESS;
  };
  if (impl.body.db) {
    std::string body;
    for (std::string_view t : in.texts) body.append(t).push_back('\n');
    scan(impl.body, body);
  }
  scan(impl.rawbody, in.raw_body);
  if (impl.uri.db) {
    std::string urls;
    for (std::string_view u : in.urls) urls.append(u).push_back('\n');
    scan(impl.uri, urls);
  }
  if (!ok) {
    error = "Hyperscan scan failed";
    return false;
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Rule& r = rules_[i];
    if (r.scope == RuleScope::header) {
      bool present = field_present[static_cast<std::size_t>(impl.rule_field[i])] != 0;
      switch (r.header_test) {
        case Rule::HeaderTest::exists: fired[i] = present; break;
        case Rule::HeaderTest::missing: fired[i] = !present; break;
        case Rule::HeaderTest::not_match: fired[i] = !fired[i]; break;
        case Rule::HeaderTest::match: break;
      }
    } else if (r.scope == RuleScope::meta) {
      fired[i] = eval_meta(impl.meta[i], fired);
    }
    if (fired[i] && !r.sub_rule()) hits.push_back({r.name, r.score, r.description});
  }
  return true;
}

}  // namespace mailward::spam
