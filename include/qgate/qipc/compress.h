// q-IPC compression, byte-identical to q's (-18!) algorithm, and bounds-checked decompression.
//
// Decompressing untrusted input is two calls, and every check either makes is listed below with
// the errc it returns and the offset (from the start of `msg`) it reports. Decompression of a
// message is:
//     uint64_t ulen;
//     if (!uncompressed_length(msg, length_max, ulen)) -> reject;   // sizes nothing yet
//     out.resize(ulen);                                           // the caller's allocation
//     if (!decompress(msg, out)) -> reject;
// Byte 3 of the header is bits 32..39 of the compressed length, as for plain messages;
// compressed messages never need it, so a non-zero byte 3 makes that length exceed the input.
// Bytes after the declared compressed length are ignored.
#pragma once

#include <cstdint>
#include <span>

#include "qgate/qipc/types.h"

namespace qgate::qipc {

/// q compresses only messages whose total length exceeds this.
inline constexpr uint64_t kCompressThreshold = 2000;

/// Compresses a whole plain message (header + body) the way q does. `out` must hold at least
/// msg.size() / 2 bytes. Returns the compressed total length, which is at most
/// msg.size() / 2 (it can be exactly half: like q, the limit is tested only where a group of
/// 8 items starts, when the output must still be at or below msg.size() / 2 - 17). Returns 0
/// when q would send the message uncompressed: msg.size() <= kCompressThreshold or
/// > UINT32_MAX, `out` shorter than msg.size() / 2, or the output passing that limit.
uint64_t compress(std::span<const uint8_t> msg, std::span<uint8_t> out);

/// Reads and validates the declared uncompressed total length (header included) of a
/// compressed message, so the caller can size the output before decompress(). It never trusts
/// that length beyond `length_max` or beyond what the stream could expand to. Checks, in order:
///   * msg.size() < 12 (header + uncompressed-length field)      -> truncated at msg.size()
///   * header byte 0 (endianness) not 0 or 1                      -> bad_endian at 0
///   * declared compressed length < 13 (kMinCompressedLength)     -> length_too_small at 4
///   * declared uncompressed length < 10 (kMinPlainLength)        -> bad_uncompressed_len at 8
///   * declared uncompressed length > `length_max`                -> bad_uncompressed_len at 8
///   * expansion bound: body bytes (length - 8) > 121 x stream bytes (compressed length - 12)
///                                                                -> bad_uncompressed_len at 8
/// The expansion bound is qgate's, derived from the format (q enforces none): a group of one
/// control byte and 8 two-byte match items (17 stream bytes) yields at most 8 x 257 = 2056
/// bytes, 120.9 per stream byte, so no genuine stream exceeds 121x; a 13-byte message cannot
/// claim a gigabyte. It does not check the message type, the compressed flag or that the
/// declared compressed length fits in `msg`: decompress() does.
status uncompressed_length(std::span<const uint8_t> msg, uint64_t length_max, uint64_t& ulen);

/// (inflate_limits, in types.h: what one compressed message may inflate to.)


/// uncompressed_length(msg, length_max, ulen), then `lim`: any error of that call as it is, or
///   * declared uncompressed length > lim.bytes_max                    -> inflate_limit at 8
///   * declared uncompressed length > lim.ratio_max x declared compressed length
///                                                                     -> inflate_limit at 8
/// so a caller can tell a malformed message from a well-formed one it refuses to inflate.
status inflate_length(std::span<const uint8_t> msg, uint64_t length_max,
                      const inflate_limits& lim, uint64_t& ulen);

/// Decompresses `msg` (a whole compressed message) into `out`, which must be exactly the
/// uncompressed length obtained from uncompressed_length(). Writes a fresh plain header (same
/// byte order and type, flag 0) then the body. No input, however hostile, makes it read or
/// write outside the two spans. It does not repeat the `length_max` and expansion checks
/// (they bound the allocation, which `out` already is). Checks, in order:
///   * msg.size() < 12                                            -> truncated at msg.size()
///   * header byte 0 (endianness) not 0 or 1                      -> bad_endian at 0
///   * header byte 1 (message type) not 0, 1 or 2                 -> bad_msg_type at 1
///   * header byte 2 (compressed flag) not 1                      -> bad_compressed_flag at 2
///   * declared compressed length < 13                            -> length_too_small at 4
///   * declared compressed length > msg.size()                    -> truncated at msg.size()
///   * declared uncompressed length < 10                          -> bad_uncompressed_len at 8
///   * out.size() != declared uncompressed length (a caller bug)  -> no_space at 8
/// then, while decoding the stream (bytes 12 up to the declared compressed length):
///   * the stream ends before the output is full (a control byte, a literal or a 2-byte match
///     item missing; the uncompressed length is too large)
///                                           -> truncated at the declared compressed length
///   * a match refers to an empty slot of the pair table, i.e. to output not yet written
///                                           -> bad_compressed at the match item
///   * a match would write past the declared uncompressed length
///                                           -> bad_compressed at the match's length byte
///   * the output is full but stream bytes remain (the uncompressed length is too small)
///                                           -> trailing_bytes at the first unread byte
/// On failure `out` holds partial output and must not be used. It is inflater::start then one
/// unbounded step().
status decompress(std::span<const uint8_t> msg, std::span<uint8_t> out);

/// decompress() in steps, so a thread that serves other connections can inflate a big message a
/// slice at a time between its other work (request mode: src/proxy/request_inflate.cc). It is
/// the same decoder, so the output and every error (errc and offset) are those of decompress()
/// whatever the budgets. The whole output must stay: a match may copy from anywhere behind it.
///     inflater f;
///     if (!f.start(msg, out)) -> reject;           // the header checks of decompress()
///     while (!f.done()) if (!f.step(budget)) -> reject;
/// `msg` and `out` must stay valid and unmoved until done() or the last step; nothing is
/// allocated (the pair table is 1 KB inside the object).
class inflater {
  public:
    /// The decoder's position: the stream, the output, the pair table and the control byte
    /// being read (state of decompress(); its functions are in compress.cc).
    struct state {
        const uint8_t* in = nullptr;
        uint64_t c = 0;       ///< read position in the message
        uint64_t in_end = 0;  ///< declared compressed length (<= msg.size())
        uint8_t* d = nullptr;
        uint64_t s = 0;  ///< write position in the output
        uint64_t p = 0;  ///< next output position whose pair is still to enter the table
        uint64_t ulen = 0;
        unsigned ctl = 0;  ///< the control byte of the group being decoded
        unsigned bit = 0;  ///< its next item's bit; 0: the next stream byte is a control byte
        uint32_t tab[256] = {};
    };

    /// The header checks of decompress() with the same errc and offsets, then the plain
    /// header is written to `out`. Must be called once, before step().
    status start(std::span<const uint8_t> msg, std::span<uint8_t> out);
    /// Decodes until the output is full or at least `budget` more bytes of it are written,
    /// stopping between two items: at most budget + 256 bytes (one match) per call, and at
    /// least one item (a budget of 0 counts as 1). The errors of decompress()'s stream
    /// decoding; after one, every later call returns it again.
    status step(uint64_t budget);
    /// The whole output is written and the stream ended exactly there.
    bool done() const { return done_; }
    /// Output bytes written so far, the header included.
    uint64_t written() const { return dc_.s; }

  private:
    state dc_;
    status err_;
    bool done_ = false;
};

}  // namespace qgate::qipc
