// The 8-byte q-IPC frame header (reference section 2.1 and 2.3).
//
// Design note: parse_header is the first thing the data plane runs on every message from an
// untrusted peer, so it checks each byte in wire order and reports the first bad one with its
// own errc and offset (the counters then tell a byte-order bug from a hostile length). It
// allocates nothing and touches only the 8 bytes it is given. Any thread.
//
// Byte 3 was "reserved" before q 3.4; with capability >= 5 it carries bits 32..39 of the length
// (1 TB messages). A non-zero byte 3 on a link negotiated below 5 is a protocol error, not a
// large message, because such a peer promised never to send one.
//
// The 32-bit length is read unsigned: messages between 2 GB and 4 GB have byte 3 == 0 and the
// top bit of the uint32 set (qPython#69 broke on exactly this by reading it signed).

#include "qgate/qipc/frame.h"

namespace qgate::qipc {

namespace {

// Capability from which byte 3 may carry length bits (reference 1.2: 5 and 6 allow > 2 GB).
constexpr uint8_t kLargeCapability = 5;

constexpr uint64_t kHeaderLengthOffset = 4;

}  // namespace

status parse_header(std::span<const uint8_t> in, frame_header& out, const header_limits& lim) {
    if (in.size() < kHeaderSize) return {errc::truncated, in.size()};
    const uint8_t* p = in.data();
    if (p[0] > 1) return {errc::bad_endian, 0};
    if (p[1] > 2) return {errc::bad_msg_type, 1};
    if (p[2] > 1) return {errc::bad_compressed_flag, 2};
    if (p[3] != 0 && lim.capability < kLargeCapability) return {errc::large_not_negotiated, 3};

    const bool le = p[0] == 1;
    const bool compressed = p[2] == 1;
    const uint64_t length = uint64_t{load_u32(p + kHeaderLengthOffset, le)} | uint64_t{p[3]} << 32;
    const uint64_t length_min = compressed ? kMinCompressedLength : kMinPlainLength;
    if (length < length_min) return {errc::length_too_small, kHeaderLengthOffset};
    if (length > lim.length_max) {
        // Point at byte 3 when it alone makes the length too large: that is the byte to blame.
        const bool high_byte = p[3] != 0 && (length & 0xffffffffu) <= lim.length_max;
        return {errc::length_too_large, high_byte ? 3 : kHeaderLengthOffset};
    }

    out.little_endian = le;
    out.type = static_cast<msg_type>(p[1]);
    out.compressed = compressed;
    out.length = length;
    return {};
}

void write_header(const frame_header& h, uint8_t* out) {
    out[0] = h.little_endian ? 1 : 0;
    out[1] = static_cast<uint8_t>(h.type);
    out[2] = h.compressed ? 1 : 0;
    out[3] = static_cast<uint8_t>(h.length >> 32);
    store_u32(out + kHeaderLengthOffset, static_cast<uint32_t>(h.length), h.little_endian);
}

}  // namespace qgate::qipc
