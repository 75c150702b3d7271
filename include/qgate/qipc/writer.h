// Encoding: sizes are computed up front so a message is written with one allocation, or into
// a caller's buffer. Output is always little-endian (as q on x86 writes it).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/value.h"

namespace qgate::qipc {

/// Bytes `v` occupies as a body (no header).
uint64_t encoded_size(const value& v);
/// Writes `v` at `out` (which must hold encoded_size(v) bytes); returns the end pointer.
uint8_t* encode_into(const value& v, uint8_t* out);
/// Header + body in one vector (one allocation).
std::vector<uint8_t> encode_message(const value& v, msg_type type);

/// Error reply without a value tree (hot path): 8-byte header + 0x80 + text + NUL.
constexpr uint64_t error_message_size(std::string_view text) { return kHeaderSize + 2 + text.size(); }
/// Writes an error message into `out`; returns bytes written or 0 when `out` is too small.
uint64_t write_error_message(std::string_view text, msg_type type, std::span<uint8_t> out);

}  // namespace qgate::qipc
