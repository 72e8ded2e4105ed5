// The spam score and its actions (spam.h): rules, GTUBE, DNSBL, authentication evidence, classifier.
#include "milters/spam/rules/spam.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

#include "common/util/text.h"

namespace mailward::spam {

namespace {

double read_score(const config::Config& c, std::string_view key, double fallback) {
  const config::Entry* e = c.find("spam", key);
  if (!e) return fallback;
  std::string_view v = text::trim(e->value);
  if (!v.empty() && v.front() == '+') v.remove_prefix(1);
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, std::chars_format::fixed);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || out < -100000 || out > 100000)
    config::Config::fail(*e, "'" + e->value + "' is not a score like 5.0");
  return out;
}

}  // namespace

SpamSettings load_spam_settings(const config::Config& c) {
  static const std::set<std::string, std::less<>> kKnown = {
      "enabled", "rules_file", "required_score", "reject_score", "score_outgoing", "add_headers",
      "max_scan_bytes", "client_zones", "uri_zones", "check_loopback", "max_uri_hosts",
      "spf_fail_score", "spf_softfail_score", "dmarc_fail_score", "dmarc_none_score",
      "dkim_aligned_score"};
  for (const config::Entry& e : c.entries()) {
    if (e.section != "spam" || kKnown.count(e.key) || text::istarts_with(e.key, "bayes_")) continue;
    config::Config::fail(e, "unknown key (known: enabled, rules_file, required_score, reject_score, "
                            "score_outgoing, add_headers, max_scan_bytes, client_zones, uri_zones, "
                            "check_loopback, max_uri_hosts, *_score, bayes_*)");
  }
  SpamSettings s;
  s.enabled = c.get_bool("spam", "enabled", false);
  s.rules_file = c.get_string("spam", "rules_file", "");
  if (!s.rules_file.empty() && s.rules_file.front() != '/')
    config::Config::fail(*c.find("spam", "rules_file"), "must be an absolute path");
  s.required_score = read_score(c, "required_score", s.required_score);
  if (const config::Entry* e = c.find("spam", "reject_score")) {
    if (text::iequals(text::trim(e->value), "off")) s.reject_score.reset();
    else s.reject_score = read_score(c, "reject_score", 15.0);
    if (s.reject_score && *s.reject_score < s.required_score)
      config::Config::fail(*e, "must not be below required_score (or 'off')");
  }
  s.score_outgoing = c.get_bool("spam", "score_outgoing", false);
  s.add_headers = c.get_bool("spam", "add_headers", true);
  s.max_scan_bytes = static_cast<std::size_t>(
      c.get_int("spam", "max_scan_bytes", static_cast<long long>(s.max_scan_bytes), 4096, 64ll << 20));
  for (const char* key : {"client_zones", "uri_zones"}) {
    for (const config::Entry* e : c.find_all("spam", key)) {
      std::string problem;
      bool client = std::string_view(key) == "client_zones";
      if (!parse_zone_list(e->value, client ? "RCVD_IN_" : "URIBL_",
                           client ? s.dnsbl.client_zones : s.dnsbl.uri_zones, problem))
        config::Config::fail(*e, problem);
    }
  }
  s.dnsbl.check_loopback = c.get_bool("spam", "check_loopback", false);
  s.dnsbl.max_uri_hosts = static_cast<std::size_t>(c.get_int("spam", "max_uri_hosts", 10, 0, 100));
  s.spf_fail_score = read_score(c, "spf_fail_score", s.spf_fail_score);
  s.spf_softfail_score = read_score(c, "spf_softfail_score", s.spf_softfail_score);
  s.dmarc_fail_score = read_score(c, "dmarc_fail_score", s.dmarc_fail_score);
  s.dmarc_none_score = read_score(c, "dmarc_none_score", s.dmarc_none_score);
  s.dkim_aligned_score = read_score(c, "dkim_aligned_score", s.dkim_aligned_score);
  return s;
}

bool SpamScore::has(std::string_view name) const {
  return std::any_of(contributions.begin(), contributions.end(),
                     [&](const Contribution& c) { return c.name == name; });
}

SpamChecker::SpamChecker(SpamSettings settings, std::shared_ptr<SpamClassifier> classifier)
    : settings_(std::move(settings)), classifier_(std::move(classifier)) {
  RuleSetLoad load = settings_.rules_file.empty()
                         ? RuleSet::parse(default_rules_text(), "default.rules")
                         : RuleSet::load_file(settings_.rules_file);
  if (load.error != RuleError::none) throw std::runtime_error(load.detail);
  rules_ = std::move(load.rules);
}

bool SpamChecker::score(const ParsedMail& mail, std::string_view raw_body, const SpamRequest& request,
                        dns::Resolver* resolver, SpamScore& out, std::string& error) const {
  try {
    // Rules: header values RFC 2047-decoded (Subject/From/To already are), texts, raw body, URLs.
    ScanInput in;
    std::vector<std::string> decoded;
    decoded.reserve(mail.headers.size());
    for (const mail::HeaderField& h : mail.headers) {
      if (text::iequals(h.name, "subject")) decoded.push_back(mail.subject);
      else if (text::iequals(h.name, "from")) decoded.push_back(mail.from);
      else if (text::iequals(h.name, "to")) decoded.push_back(mail.to);
      else decoded.push_back(decode_header_value(h.value));
    }
    for (std::size_t i = 0; i < mail.headers.size(); ++i)
      in.headers.emplace_back(mail.headers[i].name, decoded[i]);
    for (const TextPart& t : mail.texts) {
      in.texts.push_back(t.text);
      in.content_types.push_back(t.content_type);
    }
    for (const Attachment& a : mail.attachments) in.content_types.push_back(a.content_type);
    for (const std::string& u : mail.urls) in.urls.push_back(u);
    in.raw_body = raw_body;
    std::vector<RuleHit> hits;
    if (!rules_->match(in, hits, error)) return false;
    for (RuleHit& h : hits) out.contributions.push_back({std::move(h.name), h.score, std::move(h.description)});

    // Already over the reject score on rules alone (GTUBE): no DNS lookups for a message we refuse.
    double rules_total = 0;
    for (const Contribution& c : out.contributions) rules_total += c.score;
    bool decided = settings_.reject_score && rules_total >= *settings_.reject_score;
    if (request.use_dns && resolver && !decided) {
      DnsblOutcome dnsbl = check_dnsbl(*resolver, settings_.dnsbl, request.client, mail.url_hosts, mapper_);
      for (RuleHit& h : dnsbl.hits)
        out.contributions.push_back({std::move(h.name), h.score, std::move(h.description)});
      for (std::string& p : dnsbl.problems) out.problems.push_back("dnsbl: " + std::move(p));
    }

    const AuthEvidence& a = request.auth;
    if (a.known) {
      auto add = [&](bool cond, const char* name, double score, const char* desc) {
        if (cond && score != 0) out.contributions.push_back({name, score, desc});
      };
      add(a.spf_fail, "SPF_FAIL", settings_.spf_fail_score, "SPF check failed");
      add(a.spf_softfail, "SPF_SOFTFAIL", settings_.spf_softfail_score, "SPF check soft-failed");
      add(a.dmarc_fail, "DMARC_FAIL", settings_.dmarc_fail_score, "DMARC check failed");
      add(a.dmarc_none, "DMARC_NONE", settings_.dmarc_none_score, "No DMARC policy published");
      add(a.dkim_aligned_pass, "DKIM_VALID_ALIGNED", settings_.dkim_aligned_score,
          "Valid DKIM signature aligned with the From domain");
    }

    if (classifier_ && !decided) {
      if (auto r = classifier_->classify(mail, request.user)) {
        if (!r->name.empty()) out.contributions.push_back({r->name, r->score, r->description});
      }
    }
  } catch (const std::exception& e) {
    error = std::string("spam scoring failed: ") + e.what();
    return false;
  }
  out.total = 0;
  for (const Contribution& c : out.contributions) out.total += c.score;
  return true;
}

std::string format_score(double score) {
  char buf[64];
  double rounded = std::round(score * 10.0) / 10.0;
  if (rounded == 0) rounded = 0;  // no "-0.0"
  std::snprintf(buf, sizeof buf, "%.1f", rounded);
  return buf;
}

const std::vector<std::string>& spam_header_names() {
  static const std::vector<std::string> kNames = {"x-spam-flag", "x-spam-score", "x-spam-status",
                                                  "x-spam-level", "x-spam-report", "x-spam-checker-version"};
  return kNames;
}

namespace {

std::string reply_safe(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 32 || u >= 127 || c == '%' ? ' ' : c);
  }
  return out;
}

}  // namespace

SpamActions decide(const SpamScore& score, const SpamSettings& s) {
  SpamActions a;
  a.spam = score.total >= s.required_score;
  a.reject = s.reject_score && score.total >= *s.reject_score;
  if (a.reject) {
    // The largest positive contributions, so the sender can see why.
    std::vector<const Contribution*> top;
    for (const Contribution& c : score.contributions)
      if (c.score > 0) top.push_back(&c);
    std::stable_sort(top.begin(), top.end(),
                     [](const Contribution* x, const Contribution* y) { return x->score > y->score; });
    std::string why;
    for (std::size_t i = 0; i < top.size() && i < 3; ++i) {
      if (!why.empty()) why += "; ";
      why += top[i]->name;
      if (!top[i]->description.empty()) why += " (" + top[i]->description + ")";
    }
    a.reply_text = reply_safe("Message rejected as spam (score " + format_score(score.total) +
                              ", limit " + format_score(*s.reject_score) + ")" +
                              (why.empty() ? "" : ": " + why));
    if (a.reply_text.size() > 400) a.reply_text.resize(400);
  }
  if (!s.add_headers) return a;
  std::vector<std::string> names;
  for (const Contribution& c : score.contributions) names.push_back(c.name);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string status = std::string(a.spam ? " Yes" : " No") + ", score=" + format_score(score.total) +
                       " required=" + format_score(s.required_score) + " tests=";
  if (names.empty()) status += "none";
  // Folded between tests (after a comma) to keep lines short, as SpamAssassin does.
  std::size_t line = status.size() + 15;  // "X-Spam-Status:" precedes
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string item = names[i] + (i + 1 < names.size() ? "," : "");
    if (i > 0 && line + item.size() > 76) {
      status += "\r\n\t";
      line = 8;
    }
    status += item;
    line += item.size();
  }
  if (a.spam) a.headers.emplace_back("X-Spam-Flag", " YES");
  a.headers.emplace_back("X-Spam-Score", " " + format_score(score.total));
  a.headers.emplace_back("X-Spam-Status", status);
  return a;
}

SpamScore score_message(const SpamChecker& checker, std::string_view raw, std::string_view user,
                        std::string* error) {
  SpamScore s;
  std::string err;
  try {
    std::string_view limited = raw.substr(0, std::min(raw.size(), checker.settings().max_scan_bytes));
    ParsedMail mail = parse_mail(limited);
    SpamRequest req;
    req.user = std::string(user);
    req.use_dns = false;
    std::string_view body = limited;
    // The raw body: after the first empty line (LF or CRLF).
    std::size_t sep = body.find("\n\n");
    std::size_t sep2 = body.find("\r\n\r\n");
    if (sep2 != std::string_view::npos && (sep == std::string_view::npos || sep2 < sep)) body.remove_prefix(sep2 + 4);
    else if (sep != std::string_view::npos) body.remove_prefix(sep + 2);
    else body = {};
    checker.score(mail, body, req, nullptr, s, err);
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (error) *error = err;
  return s;
}

}  // namespace mailward::spam
