// Internal: appends texts into a caller's char buffer, cutting at its end (never overflowing),
// for the TorQ and plan texts. No allocation.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

namespace qgate::join::detail {

struct text_out {
    std::span<char> out;
    std::size_t n = 0;
    text_out& add(std::string_view s) {
        const std::size_t k = std::min(s.size(), out.size() - n);
        if (k > 0) std::memcpy(out.data() + n, s.data(), k);
        n += k;
        return *this;
    }
    std::string_view view() const { return {out.data(), n}; }
};

}  // namespace qgate::join::detail
