// q-IPC type codes, element sizes and the codec's error codes.
// Dependency-free: included by every layer that touches q bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qgate::qipc {

/// Message type, header byte 1.
enum class msg_type : uint8_t { async = 0, sync = 1, response = 2 };

/// Type bytes as they appear on the wire (signed; atoms are negative).
namespace qtype {
inline constexpr int8_t kList = 0;
inline constexpr int8_t kBool = 1;
inline constexpr int8_t kGuid = 2;
inline constexpr int8_t kByte = 4;
inline constexpr int8_t kShort = 5;
inline constexpr int8_t kInt = 6;
inline constexpr int8_t kLong = 7;
inline constexpr int8_t kReal = 8;
inline constexpr int8_t kFloat = 9;
inline constexpr int8_t kChar = 10;
inline constexpr int8_t kSymbol = 11;
inline constexpr int8_t kTimestamp = 12;
inline constexpr int8_t kMonth = 13;
inline constexpr int8_t kDate = 14;
inline constexpr int8_t kDatetime = 15;
inline constexpr int8_t kTimespan = 16;
inline constexpr int8_t kMinute = 17;
inline constexpr int8_t kSecond = 18;
inline constexpr int8_t kTime = 19;
inline constexpr int8_t kTable = 98;
inline constexpr int8_t kDict = 99;
inline constexpr int8_t kLambda = 100;
inline constexpr int8_t kUnary = 101;
inline constexpr int8_t kBinary = 102;
inline constexpr int8_t kIterator = 103;
inline constexpr int8_t kProjection = 104;
inline constexpr int8_t kComposition = 105;
inline constexpr int8_t kEach = 106;       // f'   (106..111 are the adverb-derived forms)
inline constexpr int8_t kEachRight = 111;  // f\:
inline constexpr int8_t kForeign = 112;    // dynamic load; never expected on the wire
inline constexpr int8_t kSortedDict = 127; // `s# dict or sorted keyed table
inline constexpr int8_t kError = -128;
}  // namespace qtype

/// Width in bytes of one element of vector type t (1..19), 0 for symbol (variable) and
/// -1 for anything that is not a simple vector type.
constexpr int elem_size(int t) {
    switch (t) {
    case 1: case 4: case 10: return 1;
    case 2: return 16;
    case 5: return 2;
    case 6: case 8: case 13: case 14: case 17: case 18: case 19: return 4;
    case 7: case 9: case 12: case 15: case 16: return 8;
    case 11: return 0;
    default: return -1;
    }
}

/// Width of an atom of type t (t < 0), 0 for symbol/error (NUL-terminated), -1 if invalid.
constexpr int atom_size(int t) { return (t == qtype::kError) ? 0 : (t < 0 ? elem_size(-t) : -1); }

/// Every way a frame, handshake or body can be wrong. Each has a distinct name (errc_name)
/// so `qipc check` and the counters can say exactly what failed.
enum class errc : uint8_t {
    ok = 0,
    truncated,            ///< input ends before the structure does
    bad_endian,           ///< header byte 0 is neither 0 nor 1
    bad_msg_type,         ///< header byte 1 is not 0, 1 or 2
    bad_compressed_flag,  ///< header byte 2 is neither 0 nor 1
    large_not_negotiated, ///< header byte 3 != 0 but capability < 5
    length_too_small,     ///< total length below the smallest valid message
    length_too_large,     ///< total length above the configured maximum
    bad_type,             ///< unknown or not-on-the-wire type byte
    bad_attribute,        ///< vector attribute byte > 4
    count_too_large,      ///< a count that cannot fit in the remaining bytes
    unterminated,         ///< symbol / error / lambda context missing its NUL
    too_deep,             ///< nesting deeper than the configured limit
    trailing_bytes,       ///< bytes left after the single top-level object
    bad_table,            ///< table not followed by a dictionary
    bad_handshake,        ///< handshake without NUL terminator or otherwise malformed
    handshake_too_long,   ///< no NUL within the handshake length limit
    bad_compressed,       ///< compressed stream references data outside its bounds
    bad_uncompressed_len, ///< declared uncompressed length is invalid or over the limit
    no_space,             ///< caller's output buffer too small
    parse_error,          ///< q-literal text could not be parsed (tool only)
    inflate_limit,        ///< a compressed message would inflate past the inflate limits
};

const char* errc_name(errc e);

/// What one compressed message may inflate to (limits.inflate_bytes_max, inflate_ratio_max).
/// Inflating costs the receiving thread memory and time in proportion to the uncompressed
/// length, which a peer chooses: up to ~121x its bytes (compress.h, uncompressed_length).
struct inflate_limits {
    uint64_t bytes_max = uint64_t{64} << 20;  ///< most uncompressed total length
    uint64_t ratio_max = 0;  ///< most uncompressed / compressed total length; 0 = unbounded
};

/// An error together with the byte offset (from the start of the inspected buffer) where it
/// was detected.
struct status {
    errc code = errc::ok;
    uint64_t offset = 0;
    constexpr bool ok() const { return code == errc::ok; }
    constexpr explicit operator bool() const { return ok(); }
};

}  // namespace qgate::qipc
