// q's decompressor as the reference (qipc-reference 4.4) gives it, transcribed one byte at a
// time with every index checked: the oracle the fuzz target compares the fast decoder with,
// and the baseline codec_bench measures it against. Test and benchmark support only.
#pragma once

#include <cstdint>
#include <span>

namespace qgate::qipc::test {

/// Decompresses message `m` (header included; the stream ends at byte `end`) into `d`, whose
/// size is the uncompressed length. False on any out-of-range index or when the stream does
/// not end exactly where the output is full. `d`'s first 8 bytes (the header) are not written.
inline bool reference_decompress(std::span<const uint8_t> m, uint64_t end, std::span<uint8_t> d) {
    const uint64_t ulen = d.size();
    uint64_t tab[256] = {};
    uint64_t s = 8, p = 8, c = 12;
    unsigned bit = 0, ctl = 0;
    while (s < ulen) {
        if (bit == 0) {
            if (c >= end) return false;
            ctl = m[c++];
            bit = 1;
        }
        uint64_t n = 0;
        const bool match = (ctl & bit) != 0;
        if (match) {
            if (c + 2 > end) return false;
            const uint64_t r = tab[m[c++]];
            n = m[c++];
            if (r == 0 || s + 2 + n > ulen) return false;
            for (uint64_t k = 0; k < n + 2; ++k) d[s + k] = d[r + k];  // may overlap: bytewise
            s += 2;
        } else {
            if (c >= end) return false;
            d[s++] = m[c++];
        }
        while (p + 1 < s) {
            tab[d[p] ^ d[p + 1]] = p;
            ++p;
        }
        if (match) {
            s += n;
            p = s;
        }
        bit = (bit << 1) & 0xff;
    }
    return c == end;
}

}  // namespace qgate::qipc::test
