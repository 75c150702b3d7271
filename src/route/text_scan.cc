// q source scanning for string calls (see text_scan.h). Pure functions over a string_view; no
// allocation. Runs on the data plane for every string-form request, so each scan is one pass.

#include "route/text_scan.h"

namespace qgate::route::text {
namespace {

/// Moves past the string literal whose opening quote is at `i`; returns the index after the
/// closing quote, or s.size() when it is unterminated.
size_t skip_string(std::string_view s, size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') {
            ++i;  // the escaped byte, whatever it is
        } else if (s[i] == '"') {
            return i + 1;
        }
    }
    return s.size();
}

/// Calls `on_sep(pos)` for every top-level `;` until it returns false.
template <class F>
void for_each_separator(std::string_view s, F&& on_sep) {
    int depth = 0;
    for (size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (c == '"') {
            i = skip_string(s, i);
            continue;
        }
        if (c == '(' || c == '[' || c == '{') ++depth;
        if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
        if (c == ';' && depth == 0 && !on_sep(i)) return;
        ++i;
    }
}

}  // namespace

size_t leading_ident(std::string_view s) {
    if (s.empty() || !(is_alpha(s[0]) || s[0] == '.')) return 0;
    size_t n = 0;
    bool letter = false;
    while (n < s.size() && is_ident_char(s[n])) {
        letter = letter || is_alpha(s[n]);
        ++n;
    }
    return letter ? n : 0;
}

size_t match_close(std::string_view s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size();) {
        const char c = s[i];
        if (c == '"') {
            i = skip_string(s, i);
            continue;
        }
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') {
            if (--depth == 0) return i;
        }
        ++i;
    }
    return std::string_view::npos;
}

uint32_t count_parts(std::string_view args) {
    if (trim(args).empty()) return 0;
    uint32_t n = 1;
    for_each_separator(args, [&n](size_t) {
        ++n;
        return true;
    });
    return n;
}

bool nth_part(std::string_view args, uint32_t k, std::string_view& out) {
    if (k == 0 || trim(args).empty()) return false;
    uint32_t part = 1;
    size_t begin = 0;
    size_t end = args.size();
    for_each_separator(args, [&](size_t pos) {
        if (part == k) {
            end = pos;
            return false;
        }
        ++part;
        begin = pos + 1;
        return true;
    });
    if (part != k) return false;
    out = trim(args.substr(begin, end - begin));
    return true;
}

}  // namespace qgate::route::text
