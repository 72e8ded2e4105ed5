// A thin C++ wrapper around Debian's libopendkim, used as an independent DKIM implementation in
// the interoperability tests and in bench/dkim_bench.cpp. Keys come from an in-memory map through
// dkim_set_key_lookup(), so no DNS is involved. Test/bench code only; not part of mailward_dkim.
#pragma once

// dkim.h is C99 and spells its booleans _Bool; C's _Bool and C++'s bool share the ABI.
#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool

#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/mail/message.h"

namespace mailward::dkim::testing {

class OpenDkim {
 public:
  OpenDkim() : lib_(dkim_init(nullptr, nullptr)) {
    dkim_set_key_lookup(lib_, &OpenDkim::lookup);
  }
  ~OpenDkim() { dkim_close(lib_); }
  OpenDkim(const OpenDkim&) = delete;
  OpenDkim& operator=(const OpenDkim&) = delete;

  bool supports_ed25519() const { return dkim_libfeature(lib_, DKIM_FEATURE_ED25519); }

  // TXT records by "selector._domainkey.domain" (shared by every instance: the C callback has no
  // closure).
  static void add_key(const std::string& name, const std::string& txt) {
    std::lock_guard<std::mutex> lock(mutex());
    keys()[name] = txt;
  }

  struct Verdict {
    int eom_status = -1;           // DKIM_STAT_* of dkim_eom
    std::vector<bool> passed;      // per signature: signature and body hash good
    std::vector<int> errors;       // per signature: DKIM_SIGERROR_*
    std::string error;             // dkim_geterror
  };

  Verdict verify(const mail::Message& m) {
    Verdict v;
    DKIM_STAT st = DKIM_STAT_OK;
    DKIM* d = dkim_verify(lib_, id(), nullptr, &st);
    if (!d) return v;
    feed(d, m);
    bool testkey = false;
    v.eom_status = dkim_eom(d, &testkey);
    DKIM_SIGINFO** sigs = nullptr;
    int n = 0;
    if (dkim_getsiglist(d, &sigs, &n) == DKIM_STAT_OK) {
      for (int i = 0; i < n; ++i) {
        bool ok = (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_PASSED) != 0 && dkim_sig_getbh(sigs[i]) == DKIM_SIGBH_MATCH;
        v.passed.push_back(ok);
        v.errors.push_back(dkim_sig_geterror(sigs[i]));
      }
    }
    if (const char* e = dkim_geterror(d)) v.error = e;
    dkim_free(d);
    return v;
  }

  // Returns the DKIM-Signature value (with a leading space), or "" on failure.
  std::string sign(const mail::Message& m, const std::string& key, const std::string& domain,
                   const std::string& selector, bool ed25519, bool relaxed = true) {
    DKIM_STAT st = DKIM_STAT_OK;
    dkim_canon_t canon = relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
    std::string key_copy = key;  // dkim_sigkey_t is a non-const pointer
    DKIM* d = dkim_sign(lib_, id(), nullptr, reinterpret_cast<unsigned char*>(key_copy.data()),
                        reinterpret_cast<const unsigned char*>(selector.c_str()),
                        reinterpret_cast<const unsigned char*>(domain.c_str()), canon, canon,
                        ed25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256, -1, &st);
    if (!d) return "";
    feed(d, m);
    bool testkey = false;
    std::string out;
    if (dkim_eom(d, &testkey) == DKIM_STAT_OK) {
      unsigned char* buf = nullptr;
      size_t len = 0;
      if (dkim_getsighdr_d(d, std::strlen("DKIM-Signature: "), &buf, &len) == DKIM_STAT_OK)
        out = " " + std::string(reinterpret_cast<const char*>(buf), len);
    }
    dkim_free(d);
    return out;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  static std::map<std::string, std::string>& keys() {
    static std::map<std::string, std::string> k;
    return k;
  }
  static const unsigned char* id() { return reinterpret_cast<const unsigned char*>("mailward-test"); }

  static void feed(DKIM* d, const mail::Message& m) {
    for (const auto& h : m.headers) {
      std::string field = h.name + ":" + h.value;
      dkim_header(d, reinterpret_cast<unsigned char*>(field.data()), field.size());
    }
    dkim_eoh(d);
    std::string body = m.body;
    if (!body.empty()) dkim_body(d, reinterpret_cast<unsigned char*>(body.data()), body.size());
  }

  static DKIM_CBSTAT lookup(DKIM*, DKIM_SIGINFO* sig, unsigned char* buf, size_t buflen) {
    std::string name = std::string(reinterpret_cast<const char*>(dkim_sig_getselector(sig))) + "._domainkey." +
                       reinterpret_cast<const char*>(dkim_sig_getdomain(sig));
    std::lock_guard<std::mutex> lock(mutex());
    auto it = keys().find(name);
    if (it == keys().end() || it->second.size() + 1 > buflen) return DKIM_CBSTAT_NOTFOUND;
    std::memcpy(buf, it->second.c_str(), it->second.size() + 1);
    return DKIM_CBSTAT_CONTINUE;
  }

  DKIM_LIB* lib_;
};

}  // namespace mailward::dkim::testing
