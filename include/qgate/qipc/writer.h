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
/// The body alone (no header) in one vector: one allocation, control plane and tests.
std::vector<uint8_t> encode_body(const value& v);
/// Header + body in one vector (one allocation).
std::vector<uint8_t> encode_message(const value& v, msg_type type);
/// Header + body into a caller's buffer; returns bytes written, or 0 when `out` is too small.
uint64_t encode_message_into(const value& v, msg_type type, std::span<uint8_t> out);

/// Bounds-checked little-endian writer into a caller's buffer, for building bodies on the hot
/// path without a value tree (e.g. wrapping walked objects into a `(`upd;`t;data)` list).
/// A write that does not fit is dropped and makes ok() false for good, so a sequence of calls
/// needs one check at the end. Texts are cut at their first NUL (q symbols cannot hold one).
class body_writer {
  public:
    explicit body_writer(std::span<uint8_t> out) : out_(out) {}

    body_writer& u8(uint8_t v);
    body_writer& u16(uint16_t v);
    body_writer& u32(uint32_t v);
    body_writer& u64(uint64_t v);
    body_writer& bytes(std::span<const uint8_t> b);
    /// Text + NUL: a symbol-vector element or a lambda context.
    body_writer& text(std::string_view s);
    /// Symbol atom: f5 text 00.
    body_writer& symbol(std::string_view s);
    /// Char vector: 0a 00 count text.
    body_writer& string(std::string_view s);
    /// Type, attribute and count of a vector (1..19) or general list (0).
    body_writer& vector_head(int8_t type, uint8_t attr, uint32_t count);
    /// Copies a walked object as is (byte-identical only when its body was little-endian).
    body_writer& object(const object_view& v) { return bytes(v.bytes); }
    /// Encodes a value tree (encoded_size(v) bytes).
    body_writer& encode(const value& v);

    uint64_t size() const { return pos_; }
    bool ok() const { return ok_; }
    /// ok, or no_space with the offset of the first write that did not fit.
    status result() const { return ok_ ? status{} : status{errc::no_space, pos_}; }
    std::span<uint8_t> written() const { return out_.first(pos_); }

  private:
    uint8_t* reserve(uint64_t n);

    std::span<uint8_t> out_;
    uint64_t pos_ = 0;
    bool ok_ = true;
};

/// Error reply without a value tree (hot path): 8-byte header + 0x80 + text + NUL.
constexpr uint64_t error_message_size(std::string_view text) {
    return kHeaderSize + 2 + text.size();
}
/// Writes an error message into `out`; returns bytes written or 0 when `out` is too small.
uint64_t write_error_message(std::string_view text, msg_type type, std::span<uint8_t> out);

}  // namespace qgate::qipc
