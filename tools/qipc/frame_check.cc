// check_frame: the validation behind `qipc check` and `qipc decode`.
//
// Design note: each step reports the codec's own error code (errc_name) and a byte offset, so
// the tool's answer names the same failure the gateway would count. Offsets are from the start
// of the frame as given; for a compressed frame, body errors are found after decompression and
// are reported as offsets into the decompressed message (said explicitly in the text), because
// the compressed stream has no byte that corresponds to them.

#include "frame_check.h"

#include "qgate/qipc/compress.h"
#include "qgate/qipc/walker.h"

namespace qgate::tools {

namespace {

using qipc::errc;

const char* explain(errc e) {
    switch (e) {
        case errc::truncated: return "the input ends before the structure does";
        case errc::bad_endian: return "header byte 0 (byte order) must be 0 or 1";
        case errc::bad_msg_type: return "header byte 1 (message type) must be 0, 1 or 2";
        case errc::bad_compressed_flag: return "header byte 2 (compressed flag) must be 0 or 1";
        case errc::large_not_negotiated: return "header byte 3 is set but no capability >= 5";
        case errc::length_too_small: return "declared length is below the smallest valid message";
        case errc::length_too_large: return "declared length is above the limit";
        case errc::bad_type: return "unknown type byte";
        case errc::bad_attribute: return "vector attribute byte above 4";
        case errc::count_too_large: return "a count larger than the remaining bytes";
        case errc::unterminated: return "symbol or error text without its NUL";
        case errc::too_deep: return "nesting deeper than the limit";
        case errc::trailing_bytes: return "bytes after the end of the object";
        case errc::bad_table: return "a table not followed by a dictionary";
        case errc::bad_compressed: return "compressed stream refers outside its bounds";
        case errc::bad_uncompressed_len: return "declared uncompressed length is invalid";
        case errc::inflate_limit: return "would inflate past the inflate limits";
        default: return "invalid";
    }
}

bool fail(std::string& problem, qipc::status st, const std::string& detail) {
    problem = std::string(qipc::errc_name(st.code)) + " at byte " + std::to_string(st.offset) +
              ": " + (detail.empty() ? explain(st.code) : detail);
    return false;
}

// Decompresses into out.plain; errors carry offsets into the compressed frame.
bool inflate(std::span<const uint8_t> msg, checked_frame& out, std::string& problem) {
    uint64_t ulen = 0;
    qipc::status st = qipc::uncompressed_length(msg, kToolLengthMax, ulen);
    if (!st) return fail(problem, st, "");
    out.plain.assign(ulen, 0);
    st = qipc::decompress(msg, out.plain);
    if (!st) return fail(problem, st, "");
    return true;
}

}  // namespace

bool check_frame(std::span<const uint8_t> msg, checked_frame& out, std::string& problem) {
    if (msg.size() < qipc::kHeaderSize) {
        return fail(problem, {errc::truncated, msg.size()},
                    "a frame needs an 8-byte header, got " + std::to_string(msg.size()) + " bytes");
    }
    qipc::header_limits lim;
    lim.length_max = kToolLengthMax;
    qipc::status st = qipc::parse_header(msg, out.header, lim);
    if (!st) return fail(problem, st, "");
    const uint64_t len = out.header.length;
    if (msg.size() < len) {
        return fail(problem, {errc::truncated, msg.size()},
                    "header declares " + std::to_string(len) + " bytes but only " +
                        std::to_string(msg.size()) + " are present");
    }
    if (msg.size() > len) {
        return fail(problem, {errc::trailing_bytes, len},
                    std::to_string(msg.size() - len) + " bytes after the declared end (length " +
                        std::to_string(len) + ")");
    }
    if (out.header.compressed) {
        if (!inflate(msg, out, problem)) return false;
    } else {
        out.plain.assign(msg.begin(), msg.end());
    }
    const std::span<const uint8_t> body =
        std::span<const uint8_t>(out.plain).subspan(qipc::kHeaderSize);
    st = qipc::walker(body, out.header.little_endian).validate();
    if (!st) {
        st.offset += qipc::kHeaderSize;
        const std::string where =
            out.header.compressed ? " (offset in the decompressed message)" : "";
        return fail(problem, st, std::string(explain(st.code)) + where);
    }
    return true;
}

}  // namespace qgate::tools
