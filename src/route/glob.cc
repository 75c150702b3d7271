// Glob matching for route rules (see glob.h). The classic two-pointer matcher: on a mismatch
// after a `*`, retry with the star swallowing one more byte. O(len(pattern) * len(text)) worst
// case, no recursion and no allocation, so it is safe on any client-supplied name.

#include "qgate/route/glob.h"

namespace qgate::route {

bool glob_match(std::string_view pattern, std::string_view text) {
    constexpr size_t kNone = std::string_view::npos;
    size_t p = 0;
    size_t t = 0;
    size_t star = kNone;  // position of the last `*` seen in the pattern
    size_t mark = 0;      // text position that star is currently matched up to
    while (t < text.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = t;
        } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (star != kNone) {
            p = star + 1;
            t = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

}  // namespace qgate::route
