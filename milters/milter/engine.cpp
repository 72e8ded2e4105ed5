#include "milters/milter/engine.h"

#include <algorithm>

#include "common/log/log.h"
#include "common/util/text.h"
#include "milters/auth/spf/spf.h"
#include "milters/milter/authres.h"
#include "milters/spam/content/parsed_mail.h"

namespace mailward::milter {

dkim::SignOptions sign_options(const Settings& s, std::int64_t now) {
  dkim::SignOptions o;
  if (!s.dkim_signed_headers.empty()) o.signed_headers = s.dkim_signed_headers;
  if (!s.dkim_oversigned_headers.empty()) o.oversigned_headers = s.dkim_oversigned_headers;
  o.now = now;
  o.expire_after = s.dkim_signature_lifetime.count();
  return o;
}

std::string_view to_string(Action action) noexcept {
  switch (action) {
    case Action::accept: return "accept";
    case Action::reject: return "reject";
    case Action::tempfail: return "tempfail";
    case Action::hold: return "hold";
  }
  return "?";
}

namespace {

constexpr std::string_view kAuthResults = "Authentication-Results";

// The identity DMARC aligns with SPF: MAIL FROM's domain, or the HELO name for the null sender
// (RFC 7489 §4.1 via RFC 7208 §2.4).
std::string spf_identity_domain(const spf::Verdict& v) {
  std::size_t at = v.sender.rfind('@');
  return text::normalize_domain(at == std::string::npos ? v.sender : v.sender.substr(at + 1));
}

std::string smtp_reply_safe(std::string_view s) {
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 32 || u >= 127 || c == '%' ? ' ' : c);
  }
  return out;
}

}  // namespace

Engine::Engine(Settings settings, dns::Resolver& resolver, dmarc::PublicSuffixList psl,
               std::vector<dkim::SigningKey> signing_keys, Clock clock, PercentDraw draw)
    : settings_(std::move(settings)),
      resolver_(resolver),
      psl_(std::move(psl)),
      signing_keys_(std::move(signing_keys)),
      clock_(std::move(clock)),
      draw_(std::move(draw)) {
  if (settings_.authserv_id.empty()) settings_.authserv_id = default_authserv_id();
  if (settings_.spam.enabled) {
    spam_ = std::make_unique<spam::SpamChecker>(settings_.spam);
    // URL hosts are looked up in URI blocklists by registrable domain (RFC 5782 §2.3 convention).
    spam_->set_domain_mapper([psl = psl_](std::string_view host) {
      auto domain = psl.registrable_domain(host);
      return domain ? *domain : text::normalize_domain(host);
    });
  }
}

void Engine::set_spam_classifier(std::shared_ptr<spam::SpamClassifier> classifier) {
  if (spam_) spam_->set_classifier(std::move(classifier));
}

Engine::~Engine() = default;

std::unique_ptr<MessageScan> Engine::begin(Envelope envelope) {
  return std::make_unique<MessageScan>(*this, std::move(envelope));
}

bool Engine::is_outgoing(const Envelope& e) const {
  if (e.direction != Direction::automatic) return e.direction == Direction::outgoing;
  if (!e.auth_user.empty()) return true;
  if (!e.client_ip) return true;  // submitted on this host (Postfix's sendmail / pickup)
  for (const net::Network& n : settings_.trusted_networks)
    if (n.contains(*e.client_ip)) return true;
  return false;
}

std::vector<dkim::SigningKey> Engine::keys_for(std::string_view from_domain) const {
  std::string domain = text::normalize_domain(from_domain);
  while (!domain.empty()) {
    std::vector<dkim::SigningKey> out;
    for (const dkim::SigningKey& k : signing_keys_)
      if (k.domain == domain) out.push_back(k);
    if (!out.empty()) return out;
    std::size_t dot = domain.find('.');
    if (dot == std::string::npos) break;
    domain.erase(0, dot + 1);
  }
  return {};
}

MessageScan::MessageScan(Engine& engine, Envelope envelope)
    : engine_(engine), envelope_(std::move(envelope)) {
  outgoing_ = engine_.is_outgoing(envelope_);
  spam_ = engine_.spam_ && (!outgoing_ || engine_.settings_.spam.score_outgoing);
}

MessageScan::~MessageScan() = default;

void MessageScan::add_header(mail::HeaderField field) {
  std::size_t bytes = field.name.size() + field.value.size();
  if (headers_.size() >= engine_.limits_.max_header_fields ||
      header_bytes_ + bytes > engine_.limits_.max_header_bytes) {
    ++dropped_headers_;
    return;
  }
  header_bytes_ += bytes;
  headers_.push_back(std::move(field));
}

void MessageScan::end_of_headers() {
  const Settings& s = engine_.settings_;
  if (dropped_headers_ > 0)
    log::for_message(log::Level::warning, envelope_.queue_id, "header limits exceeded: ",
                     dropped_headers_, " fields not examined");
  if (outgoing_) {
    if (!s.dkim_sign) return;
    dmarc::FromDomain from = dmarc::from_domain_of(headers_);
    if (from.domain.empty()) return;
    auto keys = engine_.keys_for(from.domain);
    if (keys.empty()) return;
    signing_domain_ = keys.front().domain;
    signer_ = std::make_unique<dkim::Signer>(std::move(keys), sign_options(s, engine_.clock_()));
    signer_->set_headers(headers_);
    return;
  }
  if (s.dkim_verify) {
    dkim::VerifyOptions o;
    o.min_rsa_bits = s.dkim_min_rsa_bits;
    o.now = engine_.clock_();
    verifier_ = std::make_unique<dkim::Verifier>(engine_.resolver_, engine_.key_cache_, o);
    verifier_->set_headers(headers_);
  }
}

void MessageScan::add_body(std::string_view chunk) {
  if (signer_) signer_->add_body(chunk);
  if (verifier_) verifier_->add_body(chunk);
  if (spam_) {
    // Bounded: what lies beyond max_scan_bytes is not scored (as SpamAssassin's size limit).
    std::size_t room = engine_.settings_.spam.max_scan_bytes - std::min(spam_body_.size(),
                                                                        engine_.settings_.spam.max_scan_bytes);
    spam_body_.append(chunk.substr(0, std::min(room, chunk.size())));
  }
}

Decision MessageScan::finish() {
  Decision d = outgoing_ ? finish_outgoing() : finish_incoming();
  remove_forged_results(d);
  if (spam_) score_spam(d);
  if (!envelope_.queue_id.empty() || !d.log.empty())
    log::for_message(log::Level::info, envelope_.queue_id, d.log, " action=", to_string(d.action));
  return d;
}

void MessageScan::remove_forged_results(Decision& d) const {
  const std::string& ours = engine_.settings_.authserv_id;
  int occurrence = 0;
  int removed = 0;
  std::vector<HeaderEdit> removals;
  for (const mail::HeaderField& h : headers_) {
    if (!text::iequals(h.name, kAuthResults)) continue;
    ++occurrence;
    if (text::iequals(authserv_id_of(h.value), ours)) {
      // Removing shifts later occurrences down by one, so each index accounts for earlier removals.
      removals.push_back({HeaderEdit::Kind::remove, std::string(kAuthResults), "",
                          occurrence - removed});
      ++removed;
    }
  }
  // Removals come first: they count occurrences among the fields the message arrived with.
  d.edits.insert(d.edits.begin(), removals.begin(), removals.end());
  if (removed > 0) d.log += " removed_forged_authentication_results=" + std::to_string(removed);
}

// Spam scoring on the message the engine accumulated (one MIME parse), after authentication: its
// results are evidence (in process, never read back from header fields). A message already refused
// is not scored. An internal error gives the milter's fail mode, never a permanent reject.
void MessageScan::score_spam(Decision& d) {
  const spam::SpamSettings& ss = engine_.settings_.spam;
  if (d.action == Action::reject || d.action == Action::tempfail) return;
  // X-Spam-* fields from outside are removed so that nobody can forge our verdict. Each index
  // counts the occurrences of that name in the message as it arrived, less those removed before.
  std::vector<HeaderEdit> removals;
  for (const std::string& name : spam::spam_header_names()) {
    int occurrence = 0;
    int removed = 0;
    for (const mail::HeaderField& h : headers_) {
      if (!text::iequals(h.name, name)) continue;
      ++occurrence;
      removals.push_back({HeaderEdit::Kind::remove, h.name, "", occurrence - removed});
      ++removed;
    }
  }
  if (!removals.empty()) d.log += " removed_x_spam_fields=" + std::to_string(removals.size());

  spam::SpamScore score;
  std::string error;
  bool ok = false;
  try {
    std::string raw;
    raw.reserve(header_bytes_ + 4 * headers_.size() + 2 + spam_body_.size());
    for (const mail::HeaderField& h : headers_) raw.append(h.name).append(":").append(h.value).append("\r\n");
    raw.append("\r\n");
    std::size_t body_offset = raw.size();
    raw.append(spam_body_);
    spam::ParsedMail mail = spam::parse_mail(raw);
    spam::SpamRequest request;
    request.client = envelope_.client_ip;
    request.auth = auth_;
    // Interpretation: per-user Bayes data needs the recipient, which the milter does not ask for
    // (SMFIP_NORCPT); with exactly one known recipient it is used, otherwise the global data.
    if (envelope_.recipients.size() == 1) request.user = envelope_.recipients.front();
    ok = engine_.spam_->score(mail, std::string_view(raw).substr(body_offset), request, &engine_.resolver_,
                              score, error);
  } catch (const std::exception& e) {
    error = e.what();
  }
  for (const std::string& p : score.problems)
    log::for_message(log::Level::warning, envelope_.queue_id, "spam: ", p);
  if (!ok) {
    log::for_message(log::Level::error, envelope_.queue_id, "spam scoring failed: ", error);
    d.log += " spam=error";
    if (engine_.settings_.fail_mode == FailMode::tempfail) {
      d.action = Action::tempfail;
      d.reply_code = "451";
      d.enhanced_code = "4.3.0";
      d.reply_text = "Cannot check the message right now; try again later";
    }
    d.edits.insert(d.edits.begin(), removals.begin(), removals.end());
    return;
  }
  spam::SpamActions actions = spam::decide(score, ss);
  std::string tests;
  for (const spam::Contribution& c : score.contributions)
    tests += (tests.empty() ? "" : ",") + c.name + "=" + spam::format_score(c.score);
  d.log += " spam=" + spam::format_score(score.total) + (tests.empty() ? "" : " spam_tests=" + tests);
  if (actions.reject) {
    d.action = Action::reject;
    d.reply_code = "550";
    d.enhanced_code = "5.7.1";
    d.reply_text = actions.reply_text;
    d.edits.clear();  // nothing is delivered
    return;
  }
  // Our fields go on top, in the order X-Spam-Flag, X-Spam-Score, X-Spam-Status.
  for (auto it = actions.headers.rbegin(); it != actions.headers.rend(); ++it)
    d.edits.push_back({HeaderEdit::Kind::insert, it->first, it->second, 0});
  d.edits.insert(d.edits.begin(), removals.begin(), removals.end());
}

Decision MessageScan::finish_outgoing() {
  Decision d;
  d.action = Action::accept;
  d.log = "outgoing";
  if (!envelope_.auth_user.empty()) d.log += " sasl_user=" + envelope_.auth_user;
  if (!signer_) {
    d.log += " dkim=not-signed (no key for the From domain)";
    return d;
  }
  std::vector<mail::HeaderField> signatures = signer_->finish();
  // Prepended in reverse so that the first signature ends up on top.
  for (auto it = signatures.rbegin(); it != signatures.rend(); ++it)
    d.edits.push_back({HeaderEdit::Kind::insert, it->name, it->value, 0});
  d.log += " dkim=signed d=" + signing_domain_ + " signatures=" + std::to_string(signatures.size());
  return d;
}

Decision MessageScan::finish_incoming() {
  const Settings& s = engine_.settings_;
  Decision d;
  auth_ = {};
  auth_.known = true;
  std::vector<AuthResultEntry> entries;
  std::string log_line = "incoming";
  if (envelope_.client_ip) log_line += " client=" + envelope_.client_ip->to_string();

  // SPF (RFC 7208): the MAIL FROM identity, which is postmaster@HELO for the null sender.
  std::optional<spf::Verdict> spf_verdict;
  if (s.spf_enabled && envelope_.client_ip) {
    spf::Request req;
    req.client_ip = *envelope_.client_ip;
    req.mail_from = envelope_.mail_from;
    req.helo = envelope_.helo;
    req.receiver = s.authserv_id;
    req.now = engine_.clock_();
    spf_verdict = spf::check_mail_from(engine_.resolver_, req);
    AuthResultEntry e{"spf", std::string(spf::to_string(spf_verdict->result)), {}, {}};
    if (!spf_verdict->problem.empty()) e.comment = spf_verdict->problem;
    else if (!spf_verdict->mechanism.empty())
      e.comment = spf_verdict->domain + ": " + req.client_ip.to_string() + " matched " +
                  spf_verdict->mechanism;
    if (envelope_.mail_from.empty()) e.properties.emplace_back("smtp.helo", envelope_.helo);
    else e.properties.emplace_back("smtp.mailfrom", spf_verdict->sender);
    entries.push_back(std::move(e));
    log_line += " spf=" + std::string(spf::to_string(spf_verdict->result));
    auth_.spf_fail = spf_verdict->result == spf::Result::fail;
    auth_.spf_softfail = spf_verdict->result == spf::Result::softfail;
    if (!spf_verdict->problem.empty()) log_line += " (" + spf_verdict->problem + ")";
  }

  // DKIM (RFC 6376): one result per signature.
  std::vector<dkim::SignatureResult> signatures;
  if (verifier_) {
    signatures = verifier_->finish();
    if (signatures.empty()) {
      entries.push_back({"dkim", "none", {}, {}});
      log_line += " dkim=none";
    }
    for (const dkim::SignatureResult& r : signatures) {
      AuthResultEntry e{"dkim", std::string(dkim::to_string(r.status)), r.reason, {}};
      if (!r.domain.empty()) e.properties.emplace_back("header.d", r.domain);
      if (!r.selector.empty()) e.properties.emplace_back("header.s", r.selector);
      if (!r.algorithm.empty()) e.properties.emplace_back("header.a", r.algorithm);
      if (!r.b_prefix.empty()) e.properties.emplace_back("header.b", r.b_prefix);
      entries.push_back(std::move(e));
      log_line += " dkim=" + std::string(dkim::to_string(r.status)) + " d=" + r.domain;
      if (!r.reason.empty() && r.status != dkim::Status::pass) log_line += " (" + r.reason + ")";
    }
  }

  d.action = Action::accept;
  // DMARC (RFC 7489), handed the SPF and DKIM results computed above: nothing is re-derived from
  // headers another program wrote.
  if (s.dmarc_enabled) {
    dmarc::FromDomain from = dmarc::from_domain_of(headers_);
    // Several distinct author domains: each is evaluated and the strictest outcome applies
    // (RFC 7489 §6.6.1), so a sender cannot choose the weakest policy by adding a second address.
    std::string from_label = from.domain;
    if (from.domain.empty() && from.domains.size() > 1) {
      for (const std::string& dom : from.domains) from_label += (from_label.empty() ? "" : ",") + dom;
    }
    if (from_label.empty()) {
      // No usable From at all: reported, not enforced (there is no policy to look up).
      entries.push_back({"dmarc", "none", from.problem, {}});
      log_line += " dmarc=none (" + from.problem + ")";
    } else {
      dmarc::Input in;
      in.from_domain = from.domain.empty() ? from.domains.front() : from.domain;
      bool spf_temperror = false;
      if (spf_verdict) {
        in.spf_pass = spf_verdict->result == spf::Result::pass;
        in.spf_domain = spf_identity_domain(*spf_verdict);
        spf_temperror = spf_verdict->result == spf::Result::temperror;
      }
      bool dkim_temperror = false;
      for (const dkim::SignatureResult& r : signatures) {
        if (r.status == dkim::Status::pass) in.dkim_pass_domains.push_back(r.domain);
        dkim_temperror = dkim_temperror || r.status == dkim::Status::temperror;
      }
      dmarc::Result r =
          from.domain.empty()
              ? dmarc::evaluate_all(engine_.resolver_, engine_.psl_, from.domains, in, engine_.draw_())
              : dmarc::evaluate(engine_.resolver_, engine_.psl_, in, engine_.draw_());
      auth_.dmarc_fail = r.status == dmarc::Status::fail;
      auth_.dmarc_none = r.status == dmarc::Status::none;
      auth_.dkim_aligned_pass = r.dkim_aligned;
      // Everything below names the domain whose policy decided.
      std::string decided_by = r.header_from.empty() ? from_label : r.header_from;
      std::string policy(dmarc::to_string(r.published));
      AuthResultEntry e{"dmarc", std::string(dmarc::to_string(r.status)), {}, {}};
      if (r.status == dmarc::Status::pass || r.status == dmarc::Status::fail)
        e.comment = "p=" + policy + " dis=" + std::string(dmarc::to_string(r.applied));
      else
        e.comment = r.reason;
      e.properties.emplace_back("header.from", decided_by);
      if (r.status == dmarc::Status::pass || r.status == dmarc::Status::fail)
        e.properties.emplace_back("policy.dmarc", policy);
      log_line += " dmarc=" + std::string(dmarc::to_string(r.status)) + " from=" + decided_by;

      bool forwarder = false;
      for (const net::Network& n : s.trusted_forwarders)
        forwarder = forwarder || (envelope_.client_ip && n.contains(*envelope_.client_ip));

      if (r.status == dmarc::Status::temperror && s.dmarc_tempfail_on_temperror) {
        d.action = Action::tempfail;
        d.reply_code = "451";
        d.enhanced_code = "4.7.5";  // RFC 7372: cryptographic failure... closest "try later" for auth
        d.reply_text = "Cannot check the DMARC policy of " + decided_by + " right now; try again later";
        log_line += " (" + r.reason + ")";
      } else if (r.status == dmarc::Status::fail && s.dmarc_enforce && !forwarder &&
                 r.applied != dmarc::Policy::none) {
        if ((spf_temperror || dkim_temperror) && s.dmarc_tempfail_on_temperror) {
          // A temporary DNS failure may be what made authentication fail: never reject on it.
          d.action = Action::tempfail;
          d.reply_code = "451";
          d.enhanced_code = "4.7.1";
          d.reply_text = "Cannot authenticate mail from " + decided_by + " right now; try again later";
        } else if (r.applied == dmarc::Policy::reject) {
          d.action = Action::reject;
          d.reply_code = "550";
          d.enhanced_code = "5.7.1";
          d.reply_text = "Rejected by DMARC policy of " + decided_by + ": " + r.reason;
        } else if (s.dmarc_quarantine == QuarantineAction::hold) {
          d.action = Action::hold;
          d.hold_reason = "DMARC quarantine policy of " + decided_by;
        } else {
          d.edits.push_back({HeaderEdit::Kind::insert, s.dmarc_quarantine_header,
                             " DMARC policy of " + smtp_reply_safe(decided_by) +
                                 " is quarantine; authentication failed",
                             0});
        }
        log_line += " (" + r.reason + ")";
      } else if (r.status == dmarc::Status::fail && forwarder) {
        e.comment += "; not enforced: trusted forwarder";
        log_line += " (not enforced: trusted forwarder)";
      }
      entries.push_back(std::move(e));
    }
  }

  // SPF hard fail rejected on its own only when the operator asked for it (DMARC usually decides).
  if (d.action == Action::accept && s.spf_reject_fail && spf_verdict &&
      spf_verdict->result == spf::Result::fail) {
    d.action = Action::reject;
    d.reply_code = "550";
    d.enhanced_code = "5.7.23";  // RFC 7372 §3.2: SPF validation failed
    d.reply_text = "SPF check failed for " + spf_verdict->domain +
                   (spf_verdict->explanation.empty() ? "" : ": " + spf_verdict->explanation);
  }
  d.reply_text = smtp_reply_safe(d.reply_text);

  // RFC 8601 §5: our field goes on top.
  d.edits.insert(d.edits.begin(), {HeaderEdit::Kind::insert, std::string(kAuthResults),
                                   format_authentication_results(s.authserv_id, entries), 0});
  d.log = std::move(log_line);
  return d;
}

}  // namespace mailward::milter
