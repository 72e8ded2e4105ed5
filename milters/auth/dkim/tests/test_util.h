// Helpers shared by the DKIM tests: reading corpus files, and a hand-built signature maker that
// lets tests choose every tag (c=, l=, t=, x=, i=, h=, q=, a=) the production Signer does not.
#pragma once

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/mail/message.h"
#include "common/util/text.h"
#include "milters/auth/dkim/base64.h"
#include "milters/auth/dkim/canon.h"
#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/signature.h"

namespace mailward::dkim::testing {

inline std::string corpus_dir() {
  const char* env = std::getenv("MAILWARD_CORPORA");
  return std::string(env && *env ? env : MAILWARD_CORPORA_DEFAULT) + "/dkim-test-vectors";
}

inline std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CraftOptions {
  std::string a = "rsa-sha256";
  Canon hc = Canon::relaxed, bc = Canon::relaxed;
  std::optional<std::uint64_t> l;
  std::optional<std::int64_t> t, x;
  std::string i;                         // empty: no i=
  std::string h = "from:to:subject";
  std::string q;                         // empty: no q=
  std::string domain = "example.com", selector = "sel";
};

// Signs `m` like a signer would, with exactly the tags in `o`; returns the DKIM-Signature value.
inline std::string craft_signature(const mail::Message& m, const SigningKey& key, const CraftOptions& o) {
  BodyCanonicalizer bc(o.bc);
  BodyLimiter lim(o.l);
  crypto::Digest d(o.a == "rsa-sha1" ? crypto::Hash::sha1 : crypto::Hash::sha256);
  d.update(lim.take(bc.update(m.body)));
  d.update(lim.take(bc.finish()));
  std::string v = " v=1; a=" + o.a + "; c=" + std::string(to_string(o.hc)) + "/" + std::string(to_string(o.bc)) +
                  "; d=" + o.domain + "; s=" + o.selector + ";";
  if (!o.i.empty()) v += " i=" + o.i + ";";
  if (o.l) v += " l=" + std::to_string(*o.l) + ";";
  if (o.t) v += " t=" + std::to_string(*o.t) + ";";
  if (o.x) v += " x=" + std::to_string(*o.x) + ";";
  if (!o.q.empty()) v += " q=" + o.q + ";";
  v += "\r\n\th=" + o.h + "; bh=" + base64_encode(d.final()) + ";\r\n\tb=";
  std::string data;
  std::vector<std::size_t> used(m.headers.size(), 0);
  std::vector<std::string> names;
  for (auto n : text::split(o.h, ':')) names.emplace_back(n);
  std::vector<bool> taken(m.headers.size(), false);
  for (const std::string& n : names) {
    for (std::size_t k = m.headers.size(); k-- > 0;) {
      if (!taken[k] && text::iequals(m.headers[k].name, n)) {
        taken[k] = true;
        append_canonical_header(data, o.hc, m.headers[k].name, m.headers[k].value);
        data += "\r\n";
        break;
      }
    }
  }
  append_canonical_header(data, o.hc, "DKIM-Signature", v);
  std::string sig = crypto::sign_digest(key.key.get(), key.type, crypto::sha256(data));
  return v + base64_encode(sig);
}

inline mail::Message sample_message() {
  return mail::parse_message(
      "From: Joe <joe@example.com>\r\n"
      "To: Suzie <suzie@example.net>\r\n"
      "Subject: Is  dinner ready?\r\n"
      "Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
      "\r\n"
      "Hi.\r\n"
      "\r\n"
      "We lost the game.  Are you hungry yet?\r\n"
      "\r\n"
      "Joe.\r\n"
      "\r\n");
}

}  // namespace mailward::dkim::testing
