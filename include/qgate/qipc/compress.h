// q-IPC compression, byte-identical to q's (-18!) algorithm, and bounds-checked decompression.
#pragma once

#include <cstdint>
#include <span>

#include "qgate/qipc/types.h"

namespace qgate::qipc {

/// q compresses only messages whose total length exceeds this.
inline constexpr uint64_t kCompressThreshold = 2000;

/// Compresses a whole plain message (header + body) the way q does. `out` must hold at least
/// msg.size() / 2 bytes. Returns the compressed total length, or 0 when q would send the
/// message uncompressed (too short, or the result would not be under half the size).
uint64_t compress(std::span<const uint8_t> msg, std::span<uint8_t> out);

/// Reads and validates the declared uncompressed total length (header included) of a
/// compressed message. Fails with bad_uncompressed_len when it is below 10 or above `length_max`.
status uncompressed_length(std::span<const uint8_t> msg, uint64_t length_max, uint64_t& ulen);

/// Decompresses `msg` (a whole compressed message) into `out`, which must be exactly the
/// uncompressed length. Writes a fresh plain header (same byte order and type, flag 0) then
/// the body. No input, however hostile, makes it read or write outside the two spans.
status decompress(std::span<const uint8_t> msg, std::span<uint8_t> out);

}  // namespace qgate::qipc
