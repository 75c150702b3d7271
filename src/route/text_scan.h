// Private helpers for reading q source text (string calls such as "getTrades[`AAPL;2]"):
// identifiers, bracket matching and top-level `;` splitting. Best effort by design: qgate does
// not parse q, it only finds a function name and argument texts to route on. Strings ("..."
// with backslash escapes) and nested ()[]{} are skipped so `;` inside them does not split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace qgate::route::text {

constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
constexpr bool is_ident_char(char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '.'; }

constexpr std::string_view trim(std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
    return s;
}

/// Length of the q identifier at the start of `s` (letter or `.` first, then letters, digits,
/// `_` and `.`, holding at least one letter); 0 when there is none.
size_t leading_ident(std::string_view s);

/// Position of the bracket closing the one at `open` (which must be `(`, `[` or `{`);
/// npos when unbalanced.
size_t match_close(std::string_view s, size_t open);

/// Number of top-level `;`-separated parts: 0 for blank text (f[]), else separators + 1.
uint32_t count_parts(std::string_view args);

/// Part k (1-based) of `args`, trimmed; false when there are fewer parts.
bool nth_part(std::string_view args, uint32_t k, std::string_view& out);

}  // namespace qgate::route::text
