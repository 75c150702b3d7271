// Private helpers for the q text the pub/sub parsers accept (".u.sub[`trade;`a`b]"): trimming,
// bracket matching and top-level `;` splitting. The arguments are symbol literals, so there are
// no strings to skip; nested ()[]{} do not split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qgate::pubsub::text {

constexpr bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
/// Characters q allows in a symbol literal after the backtick (`a.b_c, `:host:5010, `a/b).
constexpr bool is_sym_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '/';
}

constexpr std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

/// Position of the bracket closing the one at `open`; npos when unbalanced.
size_t match_close(std::string_view s, size_t open);
/// Number of top-level `;`-separated parts: 0 for blank text, else separators + 1.
uint32_t count_parts(std::string_view s);
/// Part k (1-based), trimmed; false when there are fewer parts.
bool nth_part(std::string_view s, uint32_t k, std::string_view& out);

}  // namespace qgate::pubsub::text
