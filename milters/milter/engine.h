// The checking engine of mailward-milter: SPF, DKIM and DMARC in one pass over a message.
//
// It knows nothing of libmilter. An adapter (libmilter_adapter.cpp, or `mailward verify`) hands it
// an Envelope, then the header fields, then body chunks, and gets back one Decision to render.
//
//   Engine engine(settings, resolver, psl, keys, clock, draw);   // once per process, thread-safe
//   auto scan = engine.begin(envelope);                           // once per message
//   scan->set_headers(fields); scan->add_body(chunk)...; Decision d = scan->finish();
//
// Direction (the definition): mail is *outgoing* when the client authenticated with SASL
// or connected from a trusted network; outgoing mail whose From domain has a signing key is signed
// and not verified. Everything else is *incoming*: verified, given one Authentication-Results field,
// and held to the From domain's DMARC policy. In both directions, Authentication-Results fields that
// claim our authserv-id are removed (RFC 8601 §5).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dns/resolver.h"
#include "common/mail/message.h"
#include "common/net/ip_address.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dmarc/dmarc.h"
#include "milters/milter/decision.h"
#include "milters/milter/settings.h"
#include "milters/spam/rules/spam.h"

namespace mailward::milter {

enum class Direction { automatic, incoming, outgoing };

struct Envelope {
  Direction direction = Direction::automatic;  // tools may force one; the milter never does
  std::optional<net::IpAddress> client_ip;  // absent for mail submitted on the host (sendmail)
  std::string client_name;
  std::string helo;
  std::string mail_from;  // without angle brackets; "" for the null reverse-path
  std::vector<std::string> recipients;
  std::string auth_user;  // {auth_authen}: non-empty when the client authenticated with SASL
  std::string queue_id;   // Postfix's queue id, for log lines
};

// Bounds on what one message may make the engine keep (hostile input never grows memory unbounded).
struct Limits {
  std::size_t max_header_fields = 2000;
  std::size_t max_header_bytes = 2 * 1024 * 1024;
};

class MessageScan;

// The DKIM signing options the settings ask for ([dkim] sign_headers, oversign_headers,
// signature_lifetime), signing at `now`. Shared by the milter and `mailward dkim sign`.
dkim::SignOptions sign_options(const Settings& settings, std::int64_t now);

class Engine {
 public:
  using Clock = std::function<std::int64_t()>;           // unix seconds
  using PercentDraw = std::function<unsigned()>;         // uniform in [0, 100), for DMARC pct

  Engine(Settings settings, dns::Resolver& resolver, dmarc::PublicSuffixList psl,
         std::vector<dkim::SigningKey> signing_keys, Clock clock, PercentDraw draw);
  ~Engine();

  std::unique_ptr<MessageScan> begin(Envelope envelope);
  const Settings& settings() const noexcept { return settings_; }
  // True when the envelope is outgoing by the definition above.
  bool is_outgoing(const Envelope& envelope) const;
  // The keys for a From domain: its own, or else those of its nearest parent domain with keys.
  std::vector<dkim::SigningKey> keys_for(std::string_view from_domain) const;
  // Spam scoring ([spam] enabled): built by the constructor from settings().spam, which throws
  // std::runtime_error naming file:line when the rule file is bad. Null when spam scoring is off.
  spam::SpamChecker* spam_checker() noexcept { return spam_.get(); }
  // The Bayes classifier; set once before the first message (not synchronised).
  void set_spam_classifier(std::shared_ptr<spam::SpamClassifier> classifier);

 private:
  friend class MessageScan;
  Settings settings_;
  dns::Resolver& resolver_;
  dmarc::PublicSuffixList psl_;
  std::vector<dkim::SigningKey> signing_keys_;
  dkim::KeyCache key_cache_;
  Clock clock_;
  PercentDraw draw_;
  Limits limits_;
  std::unique_ptr<spam::SpamChecker> spam_;
};

class MessageScan {
 public:
  MessageScan(Engine& engine, Envelope envelope);
  ~MessageScan();
  MessageScan(const MessageScan&) = delete;
  MessageScan& operator=(const MessageScan&) = delete;

  // One field at a time, top first (libmilter's order). Fields past the limits are counted, not kept.
  void add_header(mail::HeaderField field);
  // After the last header: the verifier or signer can start hashing the body.
  void end_of_headers();
  void add_body(std::string_view crlf_chunk);
  Decision finish();

  bool outgoing() const noexcept { return outgoing_; }

 private:
  Decision finish_incoming();
  Decision finish_outgoing();
  void remove_forged_results(Decision& decision) const;
  void score_spam(Decision& decision);

  Engine& engine_;
  Envelope envelope_;
  bool outgoing_ = false;
  std::vector<mail::HeaderField> headers_;
  std::size_t header_bytes_ = 0;
  std::size_t dropped_headers_ = 0;
  std::unique_ptr<dkim::Verifier> verifier_;
  std::unique_ptr<dkim::Signer> signer_;
  std::string signing_domain_;
  // Spam scoring: the body kept (up to [spam] max_scan_bytes) and what authentication found.
  bool spam_ = false;
  std::string spam_body_;
  spam::AuthEvidence auth_;
};

}  // namespace mailward::milter
