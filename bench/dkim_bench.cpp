// dkim_bench: DKIM verification and signing throughput on 10 KB messages, rsa-2048 and ed25519,
// single thread, all in one run:
//   mailward      Verifier / Signer (KeyCache warm, keys parsed once)
//   libopendkim   Debian's libopendkim on the same messages, keys fed from memory through
//                 dkim_set_key_lookup (it re-parses the key per message: that is how it works)
//   bare OpenSSL  the floor: SHA-256 of the whole message + one RSA/Ed25519 verify (resp. sign),
//                 for RSA verify with one context set up once and reused
// Rates are per second of thread CPU time. Prints each figure (best of 5 interleaved rounds) and the ratios ours / bare
// (also as the median over 400 short alternating slices, the robust figure on a shared machine) and ours / libopendkim. Targets (issue): verify
// >= 80 % of bare and >= 4x libopendkim. Not a test: run `build-dkim/bench/dkim_bench`.
// For profilers: `dkim_bench --loop ours|bare [--spaced] [--count N]` runs only that rsa-2048
// verification N times (default 2000) and prints nothing else (e.g. under valgrind --tool=callgrind);
// `dkim_bench --paired` prints only the rsa-2048 verify paired median ours/bare (2000 slices) for
// both bodies, a few seconds, for quick A/B runs.
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "common/dns/static_resolver.h"
#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/dkim.h"
#include "milters/auth/dkim/tests/opendkim_oracle.h"

using namespace mailward;
using namespace mailward::dkim;

namespace {

// CPU time of this thread: the machine is shared, so wall-clock time would count other processes.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Runs `op` repeatedly for about `seconds` of thread CPU time; returns operations per CPU second.
double rate(const std::function<void()>& op, double seconds = 1.0) {
  for (int i = 0; i < 20; ++i) op();  // warm-up
  long n = 0;
  double start = thread_seconds();
  double elapsed = 0;
  do {
    for (int i = 0; i < 50; ++i) op();
    n += 50;
    elapsed = thread_seconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(n) / elapsed;
}

// `spaced`: every line carries a double space and a SP-TAB-SP run, the worst case for relaxed
// canonicalisation; otherwise ordinary single-spaced prose.
mail::Message make_message(bool spaced) {
  std::string raw =
      "Received: from mail.example.net (mail.example.net [192.0.2.1])\r\n\tby mx.example.com with ESMTPS id 4Abc\r\n"
      "From: Joe Example <joe@example.com>\r\nTo: Suzie <suzie@example.net>\r\nCc: team@example.net\r\n"
      "Subject: Quarterly report, draft 3\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
      "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\nMIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
  std::string body;
  int line = 0;
  while (body.size() < 10 * 1024) {
    body += "Line " + std::to_string(++line) +
            (spaced ? ": the quick brown fox jumps over the lazy dog,  twice \t and then rests.\r\n"
                    : ": the quick brown fox jumps over the lazy dog, twice, and then rests.\r\n");
    if (line % 12 == 0) body += "\r\n";
  }
  return mail::parse_message(raw + body);
}

struct Row {
  const char* what;
  double ours = 0, opendkim = 0, bare = 0;
  double paired = 0;  // median over short alternating slices of (bare time / ours time)
};

// ours/bare from many short slices that alternate between the two (a few ms each): both sides see
// the same load at nearly the same moment, and the median of the per-slice ratios ignores the
// slices a neighbour process disturbed. On a shared machine this is the figure to read; the
// best-of-rounds rates below can pair a lucky round of one with an unlucky round of the other.
double paired_ratio(const std::function<void()>& ours, const std::function<void()>& bare, int slices = 400,
                    int batch = 8) {
  std::vector<double> ratios;
  ratios.reserve(static_cast<std::size_t>(slices));
  for (int i = 0; i < slices; ++i) {
    const bool ours_first = i % 2 == 0;  // alternate the order as well
    double t_ours = 0, t_bare = 0;
    for (int side = 0; side < 2; ++side) {
      const bool run_ours = (side == 0) == ours_first;
      const double start = thread_seconds();
      for (int k = 0; k < batch; ++k) (run_ours ? ours : bare)();
      (run_ours ? t_ours : t_bare) = thread_seconds() - start;
    }
    if (t_ours > 0) ratios.push_back(t_bare / t_ours);
  }
  std::sort(ratios.begin(), ratios.end());
  return ratios.empty() ? 0 : ratios[ratios.size() / 2];
}

// The machine is shared: measure the three interleaved, several rounds, and keep each one's best.
Row measure(const char* what, const std::function<void()>& ours, const std::function<void()>& opendkim,
            const std::function<void()>& bare, int rounds = 5) {
  Row r{what};
  for (int i = 0; i < rounds; ++i) {
    r.ours = std::max(r.ours, rate(ours, 0.4));
    r.opendkim = std::max(r.opendkim, rate(opendkim, 0.4));
    r.bare = std::max(r.bare, rate(bare, 0.4));
  }
  r.paired = paired_ratio(ours, bare);
  return r;
}

void print(const char* alg, const Row& r) {
  // bare/libopendkim bounds what any implementation can reach against libopendkim (the issue's
  // ">= 4x libopendkim" is out of reach when it is below 4x, as for ed25519).
  std::printf("%-14s %-6s mailward %9.0f/s  libopendkim %9.0f/s  bare-openssl %9.0f/s  ours/bare %5.1f%% (paired median %5.1f%%)  ours/libopendkim %5.2fx  bare/libopendkim %5.2fx\n",
              alg, r.what, r.ours, r.opendkim, r.bare, 100.0 * r.ours / r.bare, 100.0 * r.paired, r.ours / r.opendkim,
              r.bare / r.opendkim);
}

// The profiling loop, a named function so that callgrind can count it alone:
// valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*run_loop*' dkim_bench --loop ours
__attribute__((noinline)) void run_loop(const std::function<void()>& op, long count) {
  for (long i = 0; i < count; ++i) op();
}

}  // namespace

int main(int argc, char** argv) {
  std::string loop;  // "ours" / "bare": profiling mode (see the header comment)
  bool loop_spaced = false;
  long loop_count = 2000;
  bool paired_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--loop" && i + 1 < argc) loop = argv[++i];
    else if (a == "--spaced") loop_spaced = true;
    else if (a == "--paired") paired_only = true;
    else if (a == "--count" && i + 1 < argc) loop_count = std::atol(argv[++i]);
    else {
      std::fprintf(stderr, "usage: dkim_bench [--paired | --loop ours|bare [--spaced] [--count N]]\n");
      return 2;
    }
  }
  if (!loop.empty() && loop != "ours" && loop != "bare") {
    std::fprintf(stderr, "dkim_bench: --loop takes ours or bare\n");
    return 2;
  }
  testing::OpenDkim od;
  if (loop.empty()) std::printf("one thread; OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION));
  for (bool spaced : {false, true}) {
  if (!loop.empty() && spaced != loop_spaced) continue;
  const mail::Message msg = make_message(spaced);
  const std::string wire = mail::render(msg);
  if (loop.empty())
    std::printf("message: %zu bytes (%zu headers, body %zu bytes), %s body\n", wire.size(), msg.headers.size(),
              msg.body.size(), spaced ? "whitespace-heavy" : "single-spaced");

  for (KeyType type : {KeyType::rsa, KeyType::ed25519}) {
    const bool ed = type == KeyType::ed25519;
    if ((!loop.empty() || paired_only) && ed) continue;
    const char* alg = ed ? "ed25519-sha256" : "rsa2048-sha256";
    if (ed && !od.supports_ed25519()) {
      std::printf("%s: libopendkim has no ed25519 support; skipped\n", alg);
      continue;
    }
    GeneratedKey gk = generate_key(type, 2048);
    const std::string selector = ed ? "bed" : "brsa";
    testing::OpenDkim::add_key(selector + "._domainkey.example.com", gk.dns_txt);
    dns::StaticResolver resolver;
    resolver.add_txt(selector + "._domainkey.example.com", gk.dns_txt);
    SigningKey key = SigningKey::load_pem("example.com", selector, gk.private_pem);

    // Our signature on the message (relaxed/relaxed), verified by both.
    Signer signer({key}, {});
    signer.set_headers(msg.headers);
    signer.add_body(msg.body);
    mail::Message signed_msg = msg;
    signed_msg.headers.insert(signed_msg.headers.begin(), signer.finish().at(0));

    KeyCache cache;
    const VerifyOptions vo{};
    auto ours_verify = [&] {
      Verifier v(resolver, cache, vo);
      v.set_headers(signed_msg.headers);
      v.add_body(signed_msg.body);
      if (v.finish().at(0).status != Status::pass) std::abort();
    };
    auto od_verify = [&] {
      auto r = od.verify(signed_msg);
      if (r.passed.empty() || !r.passed[0]) std::abort();
    };
    // Bare verify: SHA-256 over the message bytes + one signature check with a parsed key.
    std::string err;
    KeyRecordParse kr = parse_key_record(gk.dns_txt);
    auto pub = crypto::load_public_key(kr.record.type, kr.record.public_key, err);
    std::string digest = crypto::sha256(wire);
    std::string sig = crypto::sign_digest(key.key.get(), type, digest);
    // RSA: one context set up once and reused, the cheapest way OpenSSL offers (Ed25519's one-shot
    // EVP_DigestVerify needs a fresh init per message anyway).
    EVP_PKEY_CTX* rsa_ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pub->pkey.get(), nullptr);
    EVP_PKEY_verify_init(rsa_ctx);
    EVP_PKEY_CTX_set_rsa_padding(rsa_ctx, RSA_PKCS1_PADDING);
    EVP_PKEY_CTX_set_signature_md(rsa_ctx, EVP_sha256());
    auto bare_verify = [&] {
      std::string d = crypto::sha256(wire);
      bool ok = ed ? crypto::verify_digest(*pub, d, sig)
                   : EVP_PKEY_verify(rsa_ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                                     reinterpret_cast<const unsigned char*>(d.data()), d.size()) == 1;
      if (!ok) std::abort();
    };
    if (!loop.empty()) {
      if (loop == "ours") ours_verify(); else bare_verify();  // warm (the key cache's one miss) outside the count
      run_loop(loop == "ours" ? std::function<void()>(ours_verify) : std::function<void()>(bare_verify), loop_count);
      EVP_PKEY_CTX_free(rsa_ctx);
      return 0;
    }
    if (paired_only) {
      std::printf("rsa2048-sha256 verify, %s body: paired median ours/bare %5.1f%%\n",
                  spaced ? "whitespace-heavy" : "single-spaced", 100.0 * paired_ratio(ours_verify, bare_verify, 2000));
      EVP_PKEY_CTX_free(rsa_ctx);
      continue;
    }
    Row v = measure("verify", ours_verify, od_verify, bare_verify);
    EVP_PKEY_CTX_free(rsa_ctx);

    auto ours_sign = [&] {
      Signer s({key}, {});
      s.set_headers(msg.headers);
      s.add_body(msg.body);
      if (s.finish().size() != 1) std::abort();
    };
    auto od_sign = [&] {
      if (od.sign(msg, gk.private_pem, "example.com", selector, ed).empty()) std::abort();
    };
    auto bare_sign = [&] {
      std::string d = crypto::sha256(wire);
      if (crypto::sign_digest(key.key.get(), type, d).empty()) std::abort();
    };
    Row s = measure("sign", ours_sign, od_sign, bare_sign);
    print(alg, v);
    print(alg, s);
    std::printf("%-14s key cache: %llu hits, %llu misses (one key parse for the whole run)\n", alg,
                static_cast<unsigned long long>(cache.hits()), static_cast<unsigned long long>(cache.misses()));
  }
  }
  return 0;
}
