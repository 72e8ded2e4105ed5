// IPv4 and IPv6 addresses and networks, as SPF (RFC 7208 §5.6), DNS and the trusted-network checks
// need them. An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is kept as given; unmapped() turns it
// into the IPv4 address that SPF evaluates (RFC 7208 §5: "IPv4-mapped IPv6 addresses ... are treated
// as IPv4").
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailward::net {

class IpAddress {
 public:
  enum class Family : std::uint8_t { v4, v6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress v4(std::uint32_t host_order);
  static IpAddress v6(const std::array<std::uint8_t, 16>& bytes);
  // Parses dotted-quad IPv4 or any RFC 4291 §2.2 IPv6 text form; rejects everything else
  // (leading zeros in IPv4 octets included: "010.0.0.1" is ambiguous).
  static std::optional<IpAddress> parse(std::string_view text);

  Family family() const noexcept { return family_; }
  bool is_v4() const noexcept { return family_ == Family::v4; }
  bool is_v6() const noexcept { return family_ == Family::v6; }
  bool is_v4_mapped() const noexcept;
  // The IPv4 address for a v4-mapped IPv6 address; otherwise the address itself.
  IpAddress unmapped() const noexcept;
  bool is_loopback() const noexcept;

  // IPv4: 4 bytes; IPv6: 16 bytes, network order.
  const std::uint8_t* bytes() const noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return is_v4() ? 4 : 16; }

  // Canonical text: dotted quad, or RFC 5952 for IPv6.
  std::string to_string() const;
  // RFC 7208 §7.3 "i" macro form: dotted quad, or 32 dot-separated nibbles for IPv6.
  std::string to_dotted_nibbles() const;
  // The name a PTR lookup asks for: d.c.b.a.in-addr.arpa or nibbles.ip6.arpa.
  std::string reverse_name() const;
  // True when the first `prefix_bits` bits equal those of `network` (same family required).
  bool in_prefix(const IpAddress& network, unsigned prefix_bits) const noexcept;

  friend bool operator==(const IpAddress& a, const IpAddress& b) noexcept {
    return a.family_ == b.family_ && a.bytes_ == b.bytes_;
  }

 private:
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};
};

// An address block such as 192.0.2.0/24 or 2001:db8::/32; a bare address is a host route.
struct Network {
  IpAddress base;
  unsigned prefix_bits = 32;

  static std::optional<Network> parse(std::string_view text);
  // An IPv4 network also contains the IPv4-mapped IPv6 forms of its addresses.
  bool contains(const IpAddress& address) const noexcept;
  std::string to_string() const;
};

}  // namespace mailward::net
