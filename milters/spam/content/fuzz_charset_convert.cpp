// Fuzz target: to_utf8 with a charset label taken from the first bytes of the input; the output
// must be valid UTF-8 and within max_out. Also decode_header_value on the whole input.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "milters/spam/content/charset.h"
#include "milters/spam/content/parsed_mail.h"

namespace {
constexpr std::string_view kLabels[] = {
    "utf-8", "us-ascii", "iso-8859-1", "windows-1252", "iso-2022-jp", "shift_jis", "euc-jp", "gb2312",
    "gb18030", "big5", "koi8-r", "utf-16", "utf-16le", "utf-7", "ks_c_5601-1987", "iso-8859-5",
    "windows-1251", "x-unknown", "", "utf-32", "hz-gb-2312", "tis-620", "iso-2022-kr", "cp932"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  std::string_view label = kLabels[data[0] % std::size(kLabels)];
  std::size_t max_out = (data[1] & 0x80) != 0 ? static_cast<std::size_t>(data[1] & 0x7F) : static_cast<std::size_t>(-1);
  std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
  mailward::spam::Utf8Result r = mailward::spam::to_utf8(in, label, max_out);
  if (r.text.size() > max_out) std::abort();
  std::string copy = r.text;
  if (mailward::spam::repair_utf8(copy)) std::abort();
  // The label itself from the input too (bounded, arbitrary bytes).
  std::string_view free_label = in.substr(0, std::min<std::size_t>(in.size(), data[1] % 24));
  r = mailward::spam::to_utf8(in, free_label);
  copy = r.text;
  if (mailward::spam::repair_utf8(copy)) std::abort();
  std::string h = mailward::spam::decode_header_value(in);
  if (mailward::spam::repair_utf8(h)) std::abort();
  return 0;
}
