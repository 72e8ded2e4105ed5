// Fuzz target mail_address: parse_address_list() and envelope_domain() on arbitrary bytes, and
// from_domain_of() on From fields built from the input (split on NUL into several fields). Checks:
// every parsed mailbox has a local part and a lowercase domain; re-parsing the printed address of a
// dot-atom mailbox gives the same mailbox; from_domain_of() returns a domain xor a problem.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/mail/address.h"
#include "milters/auth/dmarc/dmarc.h"

namespace {
bool has_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const mailward::mail::AddressList list = mailward::mail::parse_address_list(input);
  for (const mailward::mail::Mailbox& m : list.mailboxes) {
    if (m.local_part.empty() || m.domain.empty() || has_upper(m.domain)) std::abort();
    if (list.ok() && m.local_part.find('"') == std::string::npos) {
      const mailward::mail::AddressList again = mailward::mail::parse_address_list("<" + m.address() + ">");
      if (!again.ok() || again.mailboxes.size() != 1 || again.mailboxes[0].local_part != m.local_part ||
          again.mailboxes[0].domain != m.domain)
        std::abort();
    }
  }
  (void)mailward::mail::envelope_domain(input);

  std::vector<mailward::mail::HeaderField> headers;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= input.size(); ++i) {
    if (i == input.size() || input[i] == '\0') {
      headers.push_back({"From", std::string(input.substr(start, i - start))});
      start = i + 1;
    }
  }
  headers.push_back({"To", "someone@example.com"});
  const mailward::dmarc::FromDomain from = mailward::dmarc::from_domain_of(headers);
  if (from.domain.empty() == from.problem.empty()) std::abort();
  if (!from.domain.empty() && !mailward::dmarc::is_domain_name(from.domain)) std::abort();
  return 0;
}
