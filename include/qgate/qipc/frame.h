// The 8-byte q-IPC frame header: parse, validate, write. No I/O, no allocation.
#pragma once

#include <cstdint>
#include <span>

#include "qgate/qipc/types.h"

namespace qgate::qipc {

inline constexpr std::size_t kHeaderSize = 8;
/// Smallest valid plain message: header + a 2-byte body (e.g. `::` = 65 00).
inline constexpr uint64_t kMinPlainLength = 10;
/// Smallest valid compressed message: header + 4-byte uncompressed length + control byte.
inline constexpr uint64_t kMinCompressedLength = 13;
/// 40-bit length (byte 3 is bits 32..39): 1 TB, q's own limit since 3.4.
inline constexpr uint64_t kMaxLength40 = (uint64_t{1} << 40) - 1;

struct frame_header {
    bool little_endian = true;
    msg_type type = msg_type::async;
    bool compressed = false;
    uint64_t length = 0;  ///< total message length, header included
    uint64_t body_length() const { return length - kHeaderSize; }
};

struct header_limits {
    uint64_t length_max = kMaxLength40;  ///< reject longer messages (length_too_large)
    uint8_t capability = 6;              ///< byte 3 may be non-zero only when >= 5
};

/// Parses and validates the first 8 bytes of `in`. Offsets in the returned status point at
/// the offending header byte.
status parse_header(std::span<const uint8_t> in, frame_header& out, const header_limits& lim = {});

/// Writes `h` as 8 bytes (byte order per h.little_endian; byte 3 carries bits 32..39).
void write_header(const frame_header& h, uint8_t* out);

/// Reads an unsigned 32-bit value in the given byte order.
inline uint32_t load_u32(const uint8_t* p, bool le) {
    return le ? (uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24)
              : (uint32_t(p[3]) | uint32_t(p[2]) << 8 | uint32_t(p[1]) << 16 |
                 uint32_t(p[0]) << 24);
}
inline void store_u32(uint8_t* p, uint32_t v, bool le) {
    for (int i = 0; i < 4; ++i) p[le ? i : 3 - i] = uint8_t(v >> (8 * i));
}

}  // namespace qgate::qipc
