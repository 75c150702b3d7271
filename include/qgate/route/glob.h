// Shell-style glob matching for route rules: `*` any run (also empty), `?` exactly one byte,
// everything else literal and case-sensitive (q names are). No escapes: q names cannot hold
// `*` or `?`. Linear backtracking (no recursion), so hostile names cannot blow up the matcher.
#pragma once

#include <string_view>

namespace qgate::route {

/// True when `text` matches `pattern` as a whole.
bool glob_match(std::string_view pattern, std::string_view text);
/// True when `pattern` holds `*` or `?`.
constexpr bool is_glob(std::string_view pattern) {
    return pattern.find_first_of("*?") != std::string_view::npos;
}

}  // namespace qgate::route
