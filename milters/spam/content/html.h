// HTML reduced to the text a reader sees, for tokens and body rules (HTML Living Standard's
// tokenizer states, simplified: no DOM, no tree construction).
//
// Drops <script>, <style>, <head> contents, comments, declarations and processing instructions;
// decodes character references (a common named set plus &#N; / &#xN;); block-level elements and
// <br> become line breaks; collects href/src/action URLs; counts text inside elements styled
// display:none / visibility:hidden / font-size 0-1px or with the hidden attribute. Linear time,
// never throws; input is UTF-8 (call to_utf8 first).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mailward::spam {

struct HtmlText {
  std::string text;                 // UTF-8; whitespace collapsed, '\n' at block boundaries
  std::vector<std::string> urls;    // href/src/action values, entity-decoded, trimmed, in order
  std::size_t hidden_chars = 0;     // bytes of visible-text characters inside hidden elements
  std::size_t tags = 0;             // start/end tags seen
  bool truncated = false;           // input longer than max_bytes: the rest was ignored
};

HtmlText html_to_text(std::string_view html, std::size_t max_bytes = 2u << 20,
                      std::size_t max_urls = 1000);

// Decodes character references in `s` (used for attribute values and text).
std::string decode_html_entities(std::string_view s);

}  // namespace mailward::spam
