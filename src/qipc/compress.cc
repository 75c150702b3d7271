// q-IPC compression (reference section 4): q's LZ77-style coder, byte for byte, and a
// bounds-checked decoder fast enough for the join data path.
//
// Design note: both directions work over caller-owned spans. They allocate nothing (the
// 256-entry position table is 1 KB, on the stack or inside an inflater), throw nothing and share
// no state, so any thread may call them. Decompression is resumable (inflater): its whole state
// is the read and write positions, the pair table and the control byte being read, so it can
// stop between any two items and go on later with byte-identical results; decompress() is one
// unbounded step, the same code path. The compressor is a literal port of reference 4.5
// (javakdb's compress, which reproduces q's -18! output); its quirks are kept on purpose
// because a byte-different output would still decode but would not match what q sends (see
// compress()).
//
// The decoder runs on bytes from untrusted peers; q itself "does not validate the integrity of
// compressed messages" (reference 4.1), so every hazard is checked here:
//   * every read of the stream is checked against the declared compressed length, which must
//     itself lie within `msg` (truncated);
//   * a back-reference to an empty table slot (position 0, i.e. into the header) is rejected;
//     every other slot holds a position at least 2 bytes behind the write position, so the
//     source of a copy is always already-written output (bad_compressed);
//   * no item may write past the declared uncompressed length (bad_compressed), and the stream
//     must end exactly where the output is full (trailing_bytes), so a lying length is caught
//     whether it is too large (the stream runs dry: truncated) or too small;
//   * the declared uncompressed length is never used to size anything: the caller sizes `out`
//     from uncompressed_length(), which caps it at `length_max` and at the largest output the
//     declared compressed length could possibly expand to.
//
// Speed: a group is one control byte and 8 items. When the stream has a whole group left and
// the output has room for 8 maximal matches plus a little slack, the group is decoded without
// per-item bounds checks, and long match copies move 8 bytes at a time (possibly writing a few
// bytes past the match, which later items overwrite); short matches, the common case, are
// copied byte by byte (see kShortMatch). Near either end the checked item-by-item path runs.
// Overlapping copies keep q's byte-at-a-time meaning in both paths. bench/RESULTS.md has the
// numbers against a plain transcription of the reference decoder.

#include "qgate/qipc/compress.h"

#include <cstring>

#include "qgate/qipc/frame.h"

namespace qgate::qipc {

namespace {

constexpr uint64_t kLengthOffset = 4;       // compressed total length (header field)
constexpr uint64_t kUlenOffset = 8;         // uncompressed total length
constexpr uint64_t kStreamOffset = 12;      // first control byte
constexpr uint64_t kMatchMax = 2 + 255;     // longest output of one match item
// The compressor's room check: one group can add a control byte and 8 two-byte items.
constexpr uint64_t kGroupOutMax = 17;
// Largest output any stream can produce per stream byte: a full group of 17 bytes yields at
// most 8 x 257 = 2056 bytes (120.9 per byte); partial groups yield less per byte.
constexpr uint64_t kExpansionMax = 121;
// Fast-path preconditions: stream bytes after the control byte, output room for 8 matches plus
// the overrun of the last 8-byte copy.
constexpr uint64_t kFastInNeed = 16;
constexpr uint64_t kCopySlack = 16;
constexpr uint64_t kFastOutNeed = 8 * kMatchMax + kCopySlack;
// Matches up to this length are copied byte by byte even on the fast path. Their source is
// usually output written moments ago by several narrow stores, and an 8-byte load spanning
// those stores cannot be store-forwarded: it stalls until they retire (measured: til 131072,
// 7-byte matches at distance 8, took twice as long with 8-byte copies as byte by byte).
constexpr uint64_t kShortMatch = 16;

constexpr status fail(errc e, uint64_t offset) { return status{e, offset}; }

uint64_t declared_length(const uint8_t* m, bool le) {
    return uint64_t{load_u32(m + kLengthOffset, le)} | uint64_t{m[3]} << 32;
}

// ---------------------------------------------------------------------------------------------
// Compression: reference 4.5, transcribed. Variable names follow the pseudo-code.

struct encoder {
    const uint8_t* y;
    uint8_t* o;
    uint64_t t;
    uint32_t tab[256];
};

// Extends a match whose first two bytes at `s` equal those at `p`; returns the new read
// position. At most 255 extra bytes, never past the end of the input.
inline uint64_t extend_match(const uint8_t* y, uint64_t p, uint64_t s, uint64_t t) {
    const uint64_t q = s + 255 < t ? s + 255 : t;
    while (s < q && y[p] == y[s]) {
        ++p;
        ++s;
    }
    return s;
}

// Runs the item loop; returns the compressed length, or 0 when the output would not stay within
// half the input. The half-size test is made only at group starts (d > E - 17), exactly as q
// does, so outputs within 17 bytes of the limit are accepted or refused just as q would.
uint64_t encode_items(encoder& en, uint64_t e) {
    const uint8_t* y = en.y;
    uint8_t* o = en.o;
    const uint64_t t = en.t;
    uint64_t c = kStreamOffset, d = kStreamOffset, s = kHeaderSize;
    unsigned bit = 0, ctl = 0;
    // h survives between iterations: for the last two input bytes it is not recomputed, and
    // the stale value becomes h0 (q's behaviour; it only touches table slots never read again).
    unsigned h = 0, h0 = 0;
    uint64_t s0 = 0;
    while (s < t) {
        if (bit == 0) {
            if (d > e - kGroupOutMax) return 0;
            bit = 1;
            o[c] = static_cast<uint8_t>(ctl);  // the first group writes a dummy 0 at o[12]
            c = d++;
            ctl = 0;
        }
        bool literal = s > t - 3;
        uint64_t p = 0;
        if (!literal) {
            h = y[s] ^ y[s + 1];
            p = en.tab[h];
            // Equal pair hash plus equal first byte implies an equal second byte.
            literal = p == 0 || y[s] != y[p];
        }
        if (s0 > 0) {  // a literal's position enters the table one step late
            en.tab[h0] = static_cast<uint32_t>(s0);
            s0 = 0;
        }
        if (literal) {
            h0 = h;
            s0 = s;
            o[d++] = y[s++];
        } else {
            en.tab[h] = static_cast<uint32_t>(s);
            ctl |= bit;
            const uint64_t r = s + 2;
            s = extend_match(y, p + 2, r, t);
            o[d] = static_cast<uint8_t>(h);
            o[d + 1] = static_cast<uint8_t>(s - r);
            d += 2;
        }
        bit = (bit << 1) & 0xff;
    }
    o[c] = static_cast<uint8_t>(ctl);
    return d;
}

// ---------------------------------------------------------------------------------------------
// Decompression: reference 4.4 plus the checks listed in the design note.

using decoder = inflater::state;

// Byte-forward copy of `len` bytes from d[r] to d[s] (r < s), 8 bytes at a time. May write up
// to 7 bytes past s + len; the caller guarantees the room. When source and destination are
// under 8 bytes apart the copy repeats a period of `dist` bytes: short ones go one byte at a
// time; long ones copy the first `m` bytes (m the smallest multiple of dist that is at least 8)
// one at a time, after which d[x] == d[x - m] and 8-byte chunks read only finished bytes.
inline void copy_match_wide(uint8_t* d, uint64_t r, uint64_t s, uint64_t len) {
    static constexpr uint8_t kPeriodAtLeast8[8] = {0, 8, 8, 9, 8, 10, 12, 14};
    uint8_t* dst = d + s;
    const uint8_t* src = d + r;
    const uint64_t dist = s - r;
    if (len <= kShortMatch) {
        for (uint64_t i = 0; i < len; ++i) dst[i] = src[i];
        return;
    }
    if (dist >= 8) {
        for (uint64_t i = 0; i < len; i += 8) std::memcpy(dst + i, src + i, 8);
        return;
    }
    const uint64_t m = kPeriodAtLeast8[dist];
    for (uint64_t i = 0; i < m; ++i) dst[i] = src[i];
    for (uint64_t i = m; i < len; i += 8) std::memcpy(dst + i, dst + i - m, 8);
}

// Records the pairs finished by a match starting at s: the one ending at d[s] (when the
// previous item was a literal) and the match's own first pair. Pairs inside the match's
// extension never enter the table (reference 4.4).
inline void add_match_pairs(uint32_t* tab, const uint8_t* d, uint64_t p, uint64_t s) {
    if (p < s) tab[d[p] ^ d[p + 1]] = static_cast<uint32_t>(p);
    tab[d[s] ^ d[s + 1]] = static_cast<uint32_t>(s);
}

// Decodes the 8 items of control byte `ctl` without bounds checks: the caller has checked
// that kFastInNeed stream bytes and kFastOutNeed output bytes remain. False on a reference
// to an empty table slot (dc.c is then left on the offending item).
inline bool decode_group_fast(decoder& dc, unsigned ctl) {
    const uint8_t* in = dc.in;
    uint8_t* d = dc.d;
    uint64_t c = dc.c, s = dc.s, p = dc.p;
    for (unsigned bit = 1; bit < 0x100; bit <<= 1) {
        if (ctl & bit) {
            const uint64_t r = dc.tab[in[c]];
            const uint64_t len = 2 + uint64_t{in[c + 1]};
            if (r == 0) {
                dc.c = c;
                return false;
            }
            c += 2;
            copy_match_wide(d, r, s, len);
            add_match_pairs(dc.tab, d, p, s);
            s += len;
            p = s;
        } else {
            d[s] = in[c++];
            if (p < s) {  // p == s - 1: the pair ending at this literal is complete
                dc.tab[d[p] ^ d[s]] = static_cast<uint32_t>(p);
                ++p;
            }
            ++s;
        }
    }
    dc.c = c;
    dc.s = s;
    dc.p = p;
    return true;
}

// One item with every bound checked (near the end of the stream or of the output).
inline status decode_item_checked(decoder& dc, bool match) {
    if (!match) {
        if (dc.c >= dc.in_end) return fail(errc::truncated, dc.c);
        dc.d[dc.s] = dc.in[dc.c++];
        if (dc.p < dc.s) {
            dc.tab[dc.d[dc.p] ^ dc.d[dc.s]] = static_cast<uint32_t>(dc.p);
            ++dc.p;
        }
        ++dc.s;
        return {};
    }
    if (dc.in_end - dc.c < 2) return fail(errc::truncated, dc.in_end);
    const uint64_t r = dc.tab[dc.in[dc.c]];
    const uint64_t len = 2 + uint64_t{dc.in[dc.c + 1]};
    if (r == 0) return fail(errc::bad_compressed, dc.c);
    if (len > dc.ulen - dc.s) return fail(errc::bad_compressed, dc.c + 1);
    dc.c += 2;
    // Forward, one byte at a time: the source may overlap the bytes being written (runs).
    for (uint64_t i = 0; i < len; ++i) dc.d[dc.s + i] = dc.d[r + i];
    add_match_pairs(dc.tab, dc.d, dc.p, dc.s);
    dc.s += len;
    dc.p = dc.s;
    return {};
}

// A group may take the fast path when no bound can be crossed inside it: its stream bytes,
// the output's room with the copy slack, and the caller's budget (`stop`) for 8 matches.
inline bool fast_group_fits(const decoder& dc, uint64_t stop) {
    return dc.in_end - dc.c >= kFastInNeed && dc.ulen - dc.s >= kFastOutNeed &&
           stop - dc.s >= 8 * kMatchMax;
}

// Decodes items until the output reaches `stop` (<= ulen), pausing only between items.
status decode_until(decoder& dc, uint64_t stop) {
    while (dc.s < stop) {
        if (dc.bit == 0) {
            if (dc.c >= dc.in_end) return fail(errc::truncated, dc.c);
            dc.ctl = dc.in[dc.c++];
            dc.bit = 1;
            if (fast_group_fits(dc, stop)) {
                if (!decode_group_fast(dc, dc.ctl)) return fail(errc::bad_compressed, dc.c);
                dc.bit = 0;
                continue;
            }
        }
        for (; dc.bit < 0x100 && dc.s < stop; dc.bit <<= 1) {
            const status st = decode_item_checked(dc, (dc.ctl & dc.bit) != 0);
            if (!st) return st;
        }
        if (dc.bit >= 0x100) dc.bit = 0;
    }
    return {};
}

// decompress()'s checks before the stream (compress.h lists them in order).
status header_checks(std::span<const uint8_t> msg, std::span<const uint8_t> out) {
    if (msg.size() < kStreamOffset) return fail(errc::truncated, msg.size());
    const uint8_t* m = msg.data();
    if (m[0] > 1) return fail(errc::bad_endian, 0);
    if (m[1] > 2) return fail(errc::bad_msg_type, 1);
    if (m[2] != 1) return fail(errc::bad_compressed_flag, 2);
    const bool le = m[0] == 1;
    const uint64_t clen = declared_length(m, le);
    if (clen < kMinCompressedLength) return fail(errc::length_too_small, kLengthOffset);
    if (clen > msg.size()) return fail(errc::truncated, msg.size());
    const uint64_t ulen = load_u32(m + kUlenOffset, le);
    if (ulen < kMinPlainLength) return fail(errc::bad_uncompressed_len, kUlenOffset);
    // `out` was sized by the caller from uncompressed_length(); anything else is a caller bug
    // that must not turn into a write past the span.
    if (out.size() != ulen) return fail(errc::no_space, kUlenOffset);
    return {};
}

}  // namespace

uint64_t compress(std::span<const uint8_t> msg, std::span<uint8_t> out) {
    const uint64_t t = msg.size();
    // The uncompressed length field is 32 bits; a larger message is sent as is.
    if (t <= kCompressThreshold || t > UINT32_MAX) return 0;
    const uint64_t e = t / 2;  // q refuses output over half the input (tested per group)
    if (out.size() < e) return 0;
    const bool le = msg[0] == 1;

    encoder en{msg.data(), out.data(), t, {}};
    const uint64_t d = encode_items(en, e);
    if (d == 0) return 0;
    uint8_t* o = out.data();
    o[0] = msg[0];
    o[1] = msg[1];
    o[2] = 1;
    o[3] = 0;  // d < t < 2^32: no length bits 32..39
    store_u32(o + kLengthOffset, static_cast<uint32_t>(d), le);
    store_u32(o + kUlenOffset, static_cast<uint32_t>(t), le);
    return d;
}

status uncompressed_length(std::span<const uint8_t> msg, uint64_t length_max, uint64_t& ulen) {
    if (msg.size() < kStreamOffset) return fail(errc::truncated, msg.size());
    if (msg[0] > 1) return fail(errc::bad_endian, 0);
    const bool le = msg[0] == 1;
    const uint64_t clen = declared_length(msg.data(), le);
    if (clen < kMinCompressedLength) return fail(errc::length_too_small, kLengthOffset);
    const uint64_t n = load_u32(msg.data() + kUlenOffset, le);
    if (n < kMinPlainLength || n > length_max) return fail(errc::bad_uncompressed_len, kUlenOffset);
    // A length no stream of this size could produce is a lie: refuse it before the caller
    // allocates for it (a 13-byte message must not be able to claim a gigabyte).
    if (n - kHeaderSize > (clen - kStreamOffset) * kExpansionMax)
        return fail(errc::bad_uncompressed_len, kUlenOffset);
    ulen = n;
    return {};
}

status inflate_length(std::span<const uint8_t> msg, uint64_t length_max,
                      const inflate_limits& lim, uint64_t& ulen) {
    uint64_t n = 0;
    const status st = uncompressed_length(msg, length_max, n);
    if (!st) return st;
    const uint64_t clen = declared_length(msg.data(), msg[0] == 1);  // >= 13: checked above
    // Multiplied only when clen < n < 2^32: with ratio_max < 2^32 the product fits 64 bits.
    const bool over_ratio = lim.ratio_max != 0 && clen < n && n > lim.ratio_max * clen;
    if (n > lim.bytes_max || over_ratio) return fail(errc::inflate_limit, kUlenOffset);
    ulen = n;
    return {};
}

status inflater::start(std::span<const uint8_t> msg, std::span<uint8_t> out) {
    err_ = header_checks(msg, out);
    if (!err_) return err_;
    const uint8_t* m = msg.data();
    const bool le = m[0] == 1;
    const uint64_t ulen = out.size();
    out[0] = m[0];
    out[1] = m[1];
    out[2] = 0;
    out[3] = 0;
    store_u32(out.data() + kLengthOffset, static_cast<uint32_t>(ulen), le);
    dc_.in = m;
    dc_.c = kStreamOffset;
    dc_.in_end = declared_length(m, le);
    dc_.d = out.data();
    dc_.s = dc_.p = kHeaderSize;
    dc_.ulen = ulen;
    return {};
}

status inflater::step(uint64_t budget) {
    if (!err_ || done_) return err_;
    const uint64_t room = dc_.ulen - dc_.s;
    if (budget == 0) budget = 1;  // always progress
    err_ = decode_until(dc_, budget < room ? dc_.s + budget : dc_.ulen);
    if (!err_ || dc_.s < dc_.ulen) return err_;
    // A stream made by q ends exactly when the output is full.
    if (dc_.c != dc_.in_end) err_ = fail(errc::trailing_bytes, dc_.c);
    done_ = err_.ok();
    return err_;
}

status decompress(std::span<const uint8_t> msg, std::span<uint8_t> out) {
    inflater f;
    const status st = f.start(msg, out);
    if (!st) return st;
    return f.step(UINT64_MAX);
}

}  // namespace qgate::qipc
