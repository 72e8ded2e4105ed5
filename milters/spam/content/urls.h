// URLs in plain text and their host names, for URL tokens and URL blocklists.
//
// find_urls() recognises "http://", "https://", "ftp://" and a bare "www." at a word start, and
// ends a URL at whitespace, a control character, or one of < > " ' ` { } | \ ^; trailing
// sentence punctuation (. , ; : ! ? and an unbalanced closing bracket) is not part of it.
// url_host() takes the authority of an absolute or protocol-relative URL (RFC 3986 §3.2):
// userinfo and port dropped, lowercased (ASCII), trailing dot removed, IPv6 brackets removed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::spam {

// URL spans in `text` (views into it), in order, at most `max`.
std::vector<std::string_view> find_urls(std::string_view text, std::size_t max = 1000);

// The host of `url`, or "" when it has none we can use (relative, mailto:, data:, bad syntax).
std::string url_host(std::string_view url);

}  // namespace mailward::spam
