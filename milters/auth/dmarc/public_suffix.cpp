// Organizational domains (RFC 7489 §3.2) from the Public Suffix List through libpsl.
// libpsl contexts are immutable once loaded, so one PublicSuffixList may serve every thread.
#include <libpsl.h>

#include <stdexcept>

#include "common/net/ip_address.h"
#include "common/util/text.h"
#include "milters/auth/dmarc/dmarc.h"

namespace mailward::dmarc {

struct PublicSuffixList::Context {
  psl_ctx_t* owned = nullptr;        // freed with psl_free
  const psl_ctx_t* psl = nullptr;    // owned, or libpsl's static built-in list
  Context() = default;
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    if (owned != nullptr) psl_free(owned);
  }
};

PublicSuffixList PublicSuffixList::load_file(const std::string& path) {
  auto ctx = std::make_shared<Context>();
  ctx->owned = psl_load_file(path.c_str());
  if (ctx->owned == nullptr) throw std::runtime_error("cannot load the public suffix list " + path);
  ctx->psl = ctx->owned;
  if (psl_suffix_count(ctx->psl) == 0)  // -1: a DAFSA, whose count is unknown
    throw std::runtime_error("the public suffix list " + path + " holds no rules");
  return PublicSuffixList(std::move(ctx));
}

PublicSuffixList PublicSuffixList::system_default() {
  auto ctx = std::make_shared<Context>();
  // psl_latest(NULL): the newer of the distribution file (Debian: /usr/share/publicsuffix) and the
  // list compiled into libpsl.
  ctx->owned = psl_latest(nullptr);
  if (ctx->owned != nullptr && psl_suffix_count(ctx->owned) != 0) {
    ctx->psl = ctx->owned;
    return PublicSuffixList(std::move(ctx));
  }
  if (ctx->owned != nullptr) {
    psl_free(ctx->owned);
    ctx->owned = nullptr;
  }
  ctx->psl = psl_builtin();
  if (ctx->psl == nullptr || psl_suffix_count(ctx->psl) == 0)  // -1: a DAFSA, whose count is unknown
    throw std::runtime_error("no public suffix list: neither the distribution file nor libpsl's built-in list");
  return PublicSuffixList(std::move(ctx));
}

namespace {

// Lowercases (UTF-8 aware through libpsl when the name is not ASCII) and drops one trailing dot.
std::string normalise(std::string_view domain) {
  std::string ascii = text::normalize_domain(domain);
  bool non_ascii = false;
  for (char c : ascii) non_ascii = non_ascii || static_cast<unsigned char>(c) >= 0x80;
  if (!non_ascii) return ascii;
  char* lower = nullptr;
  if (psl_str_to_utf8lower(ascii.c_str(), "utf-8", nullptr, &lower) == PSL_SUCCESS && lower != nullptr) {
    std::string out(lower);
    psl_free_string(lower);
    return out;
  }
  return ascii;
}

bool has_empty_label(std::string_view d) {
  if (d.empty() || d.front() == '.' || d.back() == '.') return true;
  return d.find("..") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> PublicSuffixList::registrable_domain(std::string_view domain) const {
  const std::string d = normalise(domain);
  if (has_empty_label(d) || d.find('\0') != std::string::npos) return std::nullopt;
  const char* reg = psl_registrable_domain(ctx_->psl, d.c_str());
  if (reg == nullptr) return std::nullopt;
  return std::string(reg);
}

std::string PublicSuffixList::organizational_domain(std::string_view domain) const {
  const std::string d = normalise(domain);
  // An address literal has no organizational domain; libpsl would treat "1" as a TLD.
  if (net::IpAddress::parse(d)) return d;
  if (std::optional<std::string> reg = registrable_domain(d)) return *reg;
  return d;
}

}  // namespace mailward::dmarc
