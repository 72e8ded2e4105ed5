// Fuzz target dkim_key: the DKIM key-record parser (RFC 6376 §3.6.1) and, for records that
// parse, OpenSSL key loading (crypto::load_public_key) on the decoded p= bytes.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milters/auth/dkim/crypto.h"
#include "milters/auth/dkim/key_record.h"

using namespace mailward::dkim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  KeyRecordParse p = parse_key_record(in);
  if (p.ok()) {
    if (p.record.public_key.empty()) std::abort();
    std::string error;
    auto key = crypto::load_public_key(p.record.type, p.record.public_key, error);
    if (!key && error.empty()) std::abort();
    if (key && !key->pkey) std::abort();
  } else if (p.detail.empty()) {
    std::abort();
  }
  return 0;
}
