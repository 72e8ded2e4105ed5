#include "common/net/ip_address.h"

#include <arpa/inet.h>

#include <cstring>

#include "common/util/text.h"

namespace mailward::net {

IpAddress IpAddress::v4(std::uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::v4;
  a.bytes_[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::v6(const std::array<std::uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = Family::v6;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  // inet_pton accepts exactly dotted-quad decimal for AF_INET (no leading-zero octal forms).
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, buf, a.bytes_.data()) != 1) return std::nullopt;
    a.family_ = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes_.data()) != 1) return std::nullopt;
  a.family_ = Family::v6;
  return a;
}

bool IpAddress::is_v4_mapped() const noexcept {
  if (!is_v6()) return false;
  for (int i = 0; i < 10; ++i)
    if (bytes_[static_cast<std::size_t>(i)] != 0) return false;
  return bytes_[10] == 0xff && bytes_[11] == 0xff;
}

IpAddress IpAddress::unmapped() const noexcept {
  if (!is_v4_mapped()) return *this;
  IpAddress a;
  a.family_ = Family::v4;
  std::memcpy(a.bytes_.data(), bytes_.data() + 12, 4);
  return a;
}

bool IpAddress::is_loopback() const noexcept {
  IpAddress a = unmapped();
  if (a.is_v4()) return a.bytes_[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (a.bytes_[static_cast<std::size_t>(i)] != 0) return false;
  return a.bytes_[15] == 1;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  const char* r = inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return r ? std::string(r) : std::string();
}

static const char kHex[] = "0123456789abcdef";

std::string IpAddress::to_dotted_nibbles() const {
  if (is_v4()) return to_string();
  std::string out;
  out.reserve(63);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i) out.push_back('.');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back('.');
    out.push_back(kHex[bytes_[i] & 0xf]);
  }
  return out;
}

std::string IpAddress::reverse_name() const {
  std::string out;
  if (is_v4()) {
    for (int i = 3; i >= 0; --i) {
      out += std::to_string(bytes_[static_cast<std::size_t>(i)]);
      out.push_back('.');
    }
    return out + "in-addr.arpa";
  }
  for (int i = 15; i >= 0; --i) {
    out.push_back(kHex[bytes_[static_cast<std::size_t>(i)] & 0xf]);
    out.push_back('.');
    out.push_back(kHex[bytes_[static_cast<std::size_t>(i)] >> 4]);
    out.push_back('.');
  }
  return out + "ip6.arpa";
}

bool IpAddress::in_prefix(const IpAddress& network, unsigned prefix_bits) const noexcept {
  if (family_ != network.family_) return false;
  unsigned max_bits = is_v4() ? 32 : 128;
  if (prefix_bits > max_bits) return false;
  unsigned full = prefix_bits / 8, rest = prefix_bits % 8;
  if (std::memcmp(bytes_.data(), network.bytes_.data(), full) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (bytes_[full] & mask) == (network.bytes_[full] & mask);
}

std::optional<Network> Network::parse(std::string_view text) {
  Network n;
  std::size_t slash = text.find('/');
  auto address = IpAddress::parse(text.substr(0, slash));
  if (!address) return std::nullopt;
  n.base = *address;
  unsigned max_bits = address->is_v4() ? 32 : 128;
  n.prefix_bits = max_bits;
  if (slash != std::string_view::npos) {
    unsigned long long bits = 0;
    if (!text::parse_uint(text.substr(slash + 1), max_bits, bits)) return std::nullopt;
    n.prefix_bits = static_cast<unsigned>(bits);
  }
  return n;
}

bool Network::contains(const IpAddress& address) const noexcept {
  if (address.in_prefix(base, prefix_bits)) return true;
  return base.is_v4() && address.is_v4_mapped() && address.unmapped().in_prefix(base, prefix_bits);
}

std::string Network::to_string() const {
  return base.to_string() + "/" + std::to_string(prefix_bits);
}

}  // namespace mailward::net
