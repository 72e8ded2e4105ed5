// DKIM key record parser, RFC 6376 §3.6.1 (tags v, h, k, n, p, s, t) and RFC 8463 §4 (k=ed25519).
#include "milters/auth/dkim/key_record.h"

#include "common/util/text.h"
#include "milters/auth/dkim/base64.h"
#include "milters/auth/dkim/signature.h"

namespace mailward::dkim {

std::string_view to_string(KeyType t) noexcept { return t == KeyType::rsa ? "rsa" : "ed25519"; }

std::string_view to_string(KeyRecordError e) noexcept {
  switch (e) {
    case KeyRecordError::ok: return "ok";
    case KeyRecordError::syntax: return "syntax";
    case KeyRecordError::bad_version: return "bad_version";
    case KeyRecordError::unsupported_key_type: return "unsupported_key_type";
    case KeyRecordError::not_for_email: return "not_for_email";
    case KeyRecordError::revoked: return "revoked";
    case KeyRecordError::bad_base64: return "bad_base64";
  }
  return "unknown";
}

bool KeyRecord::allows_hash(std::string_view hash) const noexcept {
  if (hashes.empty()) return true;
  for (const std::string& h : hashes)
    if (h == hash) return true;
  return false;
}

KeyRecordParse parse_key_record(std::string_view txt) {
  KeyRecordParse r;
  auto fail = [&r](KeyRecordError e, std::string detail) {
    r.error = e;
    r.detail = std::move(detail);
    return r;
  };
  TagList tl = parse_tag_list(txt);
  if (tl.error != TagListError::ok) return fail(KeyRecordError::syntax, "key record " + tl.detail);
  KeyRecord& k = r.record;

  // §3.6.1 v=: if present it MUST be "DKIM1" (and first; the position is not enforced —
  // interpretation: a record with v=DKIM1 elsewhere is still unambiguous).
  if (const Tag* v = tl.find("v"); v && v->value != "DKIM1")
    return fail(KeyRecordError::bad_version, "key record v= is not DKIM1");

  if (const Tag* h = tl.find("h")) {
    // Unknown hash names are ignored (§3.6.1 h=: "Unrecognized algorithms MUST be ignored").
    const std::string list = strip_fws(h->value);  // outlives the views split() returns
    for (std::string_view a : text::split(list, ':'))
      if (!a.empty()) k.hashes.push_back(text::to_lower(a));
    if (k.hashes.empty()) return fail(KeyRecordError::syntax, "key record h= is empty");
  }

  if (const Tag* kt = tl.find("k")) {
    std::string v = strip_fws(kt->value);
    if (text::iequals(v, "rsa")) k.type = KeyType::rsa;
    else if (text::iequals(v, "ed25519")) k.type = KeyType::ed25519;  // RFC 8463 §4
    else return fail(KeyRecordError::unsupported_key_type, "unsupported key type k=" + v);
  }

  if (const Tag* s = tl.find("s")) {
    // §3.6.1 s=: colon-separated service types; "*" matches all.
    bool email = false;
    const std::string list = strip_fws(s->value);  // outlives the views split() returns
    for (std::string_view t : text::split(list, ':'))
      if (t == "*" || text::iequals(t, "email")) email = true;
    if (!email) return fail(KeyRecordError::not_for_email, "key record s= does not allow email");
  }

  if (const Tag* t = tl.find("t")) {
    // §3.6.1 t=: colon-separated flags; unknown flags MUST be ignored.
    const std::string list = strip_fws(t->value);  // outlives the views split() returns
    for (std::string_view f : text::split(list, ':')) {
      if (f == "y") k.testing = true;
      if (f == "s") k.strict = true;
    }
  }

  const Tag* p = tl.find("p");
  if (!p) return fail(KeyRecordError::syntax, "key record has no p=");
  if (strip_fws(p->value).empty()) return fail(KeyRecordError::revoked, "key revoked (empty p=)");  // §3.6.1 p=
  auto der = base64_decode(p->value);
  if (!der || der->empty()) return fail(KeyRecordError::bad_base64, "key record p= is not base64");
  k.public_key = std::move(*der);
  return r;
}

}  // namespace mailward::dkim
