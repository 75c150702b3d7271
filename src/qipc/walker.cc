// Zero-copy walker over an encoded q body (reference section 3, walking rules in 3.10).
//
// Design note: this is the data plane's only view of message contents, run on bytes from
// untrusted peers, so it follows three rules:
//   * every read is bounds-checked against the body span; nothing is copied or allocated and
//     no exception is thrown;
//   * every count is checked against the bytes left BEFORE anything loops over it. Each element
//     of a vector has a known width, each symbol needs at least its NUL and each nested object
//     at least 2 bytes (no q object is shorter than `65 00`), so a lying count of 4 billion is
//     rejected in O(1) instead of costing 4 billion iterations;
//   * recursion happens only to enter a child and is bounded by walk_limits::depth_max, so
//     deep (e.g. a megabyte of 0x6a adverb bytes) input cannot exhaust the stack.
// Walking is linear in the body size. Counts are read unsigned (capability 6 allows vectors
// over 2^31 items). Big-endian bodies walk too: only counts are byte-order dependent here.
//
// Error semantics: `truncated` means a fixed-width field runs past the end of the body,
// `unterminated` that a NUL-terminated text (symbol, error, lambda context) does, and
// `count_too_large` that a declared count cannot fit in what is left. Offsets are those of the
// field at fault, from the start of the body. Thread-compatible: a walker is an immutable view.

#include "qgate/qipc/walker.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "qgate/qipc/frame.h"

namespace qgate::qipc {

namespace {

// Smallest encoding of any q object: a type byte plus at least one byte (`65 00`, `ff 01`).
constexpr uint64_t kMinObjectSize = 2;
// Largest attribute byte: 0 none, 1 `s#, 2 `u#, 3 `p#, 4 `g#.
constexpr uint8_t kMaxAttribute = 4;
// Offset of the first element of a vector or list: type, attribute, 4-byte count.
constexpr uint64_t kVectorHeadSize = 6;

struct walk_ctx {
    const uint8_t* b;
    uint64_t n;
    bool le;
    uint32_t depth_max;
};

constexpr status fail(errc e, uint64_t offset) { return status{e, offset}; }

bool is_function_leaf(int t) { return t >= qtype::kUnary && t <= qtype::kIterator; }
bool is_adverb(int t) { return t >= qtype::kEach && t <= qtype::kEachRight; }
bool has_counted_items(int t) {
    return t == qtype::kList || t == qtype::kProjection || t == qtype::kComposition;
}

// Reads the 4-byte count at `p` and checks that `count` units of `unit` bytes fit after it.
status read_count(const walk_ctx& c, uint64_t p, uint64_t unit, uint64_t& count) {
    if (c.n - p < 4) return fail(errc::truncated, p);
    count = load_u32(c.b + p, c.le);
    // count < 2^32 and unit <= 16: the product cannot overflow 64 bits.
    if (count * unit > c.n - p - 4) return fail(errc::count_too_large, p);
    return {};
}

// Finds the NUL ending the text that starts at `p`; `end` is just past it.
status scan_text(const walk_ctx& c, uint64_t p, uint64_t& end) {
    const void* nul = p < c.n ? std::memchr(c.b + p, 0, c.n - p) : nullptr;
    if (nul == nullptr) return fail(errc::unterminated, p);
    end = static_cast<uint64_t>(static_cast<const uint8_t*>(nul) - c.b) + 1;
    return {};
}

#if defined(__SSE2__)
// Set bits in a 16-bit mask. Baseline x86-64 has no POPCNT instruction, and there
// __builtin_popcount is a call to libgcc's __popcountdi2, which cost more than the SSE2
// compare itself; this branch-free SWAR sum is a handful of ALU operations.
inline uint64_t popcount16(unsigned x) {
#if defined(__POPCNT__)
    return static_cast<uint64_t>(__builtin_popcount(x));
#else
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0f0fu;
    return (x + (x >> 8)) & 0x1fu;
#endif
}
#endif

// Skips `n` consecutive NUL-terminated texts starting at b[p], reading only b[p..len).
// Returns the offset just past the n-th NUL with `n` set to 0; when the bytes run out first,
// returns the start of the first unterminated text with `n` > 0. This is the symbol-vector hot
// loop (a 35 000-row trade table spends almost all its walk time here): on x86 it counts NULs
// 16 bytes at a time (SSE2 compare + movemask + popcount) instead of one memchr per symbol,
// 9x faster on 4-byte tickers (bench/RESULTS.md). A 16-byte load is made only while 16 bytes
// remain; the last 0..15 bytes, and every byte on other targets, go through memchr.
uint64_t skip_texts(const uint8_t* b, uint64_t len, uint64_t p, uint64_t& n) {
    const uint64_t first = p;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128();
    while (n > 0 && len - p >= 16) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + p));
        unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)));
        const uint64_t k = popcount16(mask);
        if (k < n) {
            n -= k;
            p += 16;
            continue;
        }
        for (; n > 1; --n) mask &= mask - 1;  // drop the NULs before the n-th
        n = 0;
        return p + static_cast<uint64_t>(__builtin_ctz(mask)) + 1;
    }
#endif
    for (; n > 0; --n) {
        const void* nul = std::memchr(b + p, 0, len - p);
        if (nul == nullptr) break;
        p = static_cast<uint64_t>(static_cast<const uint8_t*>(nul) - b) + 1;
    }
    if (n == 0) return p;
    // Error path only: the first unterminated text starts after the last NUL in [first, len).
    uint64_t start = len;
    while (start > first && b[start - 1] != 0) --start;
    return start;
}

// Parses the fixed part of the object at `pos` (type, attribute, count) into `v`, checking the
// count against the remaining bytes. `p` is left on the first byte after that fixed part.
status read_head(const walk_ctx& c, uint64_t pos, object_view& v, uint64_t& p) {
    if (pos >= c.n) return fail(errc::truncated, pos);
    const int t = static_cast<int8_t>(c.b[pos]);
    v.type = static_cast<int8_t>(t);
    v.attr = 0;
    v.offset = pos;
    v.count = 1;
    p = pos + 1;
    if (t < 0) return atom_size(t) < 0 ? fail(errc::bad_type, pos) : status{};
    if (t <= 19 || t == qtype::kTable) {
        // Type 3 is unused; 0 (list) and 98 (table) have no element width but do carry an
        // attribute byte.
        const bool known = t == qtype::kList || t == qtype::kTable || elem_size(t) >= 0;
        if (!known) return fail(errc::bad_type, pos);
        if (p >= c.n) return fail(errc::truncated, p);
        v.attr = c.b[p];
        if (v.attr > kMaxAttribute) return fail(errc::bad_attribute, p);
        ++p;
        if (t == qtype::kTable) return {};
        const int w = elem_size(t);
        const uint64_t unit = t == qtype::kList ? kMinObjectSize : (w == 0 ? 1 : uint64_t(w));
        status st = read_count(c, p, unit, v.count);
        p += 4;
        return st;
    }
    if (t == qtype::kDict || t == qtype::kSortedDict) {
        v.count = 2;
        return {};
    }
    if (t == qtype::kLambda || is_adverb(t)) return {};
    if (is_function_leaf(t)) {
        v.count = 0;
        return {};
    }
    if (t == qtype::kProjection || t == qtype::kComposition) {
        status st = read_count(c, p, kMinObjectSize, v.count);
        p += 4;
        return st;
    }
    // 20..97 enumerations and on-disk types, 112 foreign, 113..126: never valid on the wire.
    return fail(errc::bad_type, pos);
}

status walk(const walk_ctx& c, uint64_t pos, uint32_t depth, uint64_t& end);

// Walks `count` consecutive child objects starting at `p`, one level deeper.
status walk_children(const walk_ctx& c, uint64_t p, uint64_t count, uint32_t depth,
                     uint64_t& end) {
    for (uint64_t i = 0; i < count; ++i) {
        status st = walk(c, p, depth + 1, p);
        if (!st) return st;
    }
    end = p;
    return {};
}

// Walks the variable part of an object whose head `v` was read; `p` is just after the head.
status walk_rest(const walk_ctx& c, const object_view& v, uint64_t p, uint32_t depth,
                 uint64_t& end) {
    const int t = v.type;
    if (t < 0) {
        const int w = atom_size(t);
        if (w == 0) return scan_text(c, p, end);
        if (c.n - p < uint64_t(w)) return fail(errc::truncated, p);
        end = p + uint64_t(w);
        return {};
    }
    if (t == qtype::kSymbol) {
        uint64_t missing = v.count;
        const uint64_t q = skip_texts(c.b, c.n, p, missing);
        if (missing > 0) return fail(errc::unterminated, q);
        end = q;
        return {};
    }
    if (t >= 1 && t <= 19) {
        end = p + v.count * uint64_t(elem_size(t));  // fits: checked by read_count
        return {};
    }
    if (has_counted_items(t)) return walk_children(c, p, v.count, depth, end);
    if (t == qtype::kTable) {
        if (p >= c.n) return fail(errc::truncated, p);
        const int8_t inner = static_cast<int8_t>(c.b[p]);
        if (inner != qtype::kDict && inner != qtype::kSortedDict) return fail(errc::bad_table, p);
        return walk(c, p, depth + 1, end);
    }
    if (t == qtype::kDict || t == qtype::kSortedDict) return walk_children(c, p, 2, depth, end);
    if (t == qtype::kLambda) {
        status st = scan_text(c, p, p);  // context name, empty for the root namespace
        if (!st) return st;
        return walk(c, p, depth + 1, end);
    }
    if (is_function_leaf(t)) {
        if (p >= c.n) return fail(errc::truncated, p);
        end = p + 1;
        return {};
    }
    return walk(c, p, depth + 1, end);  // adverb form: exactly one function object
}

status walk(const walk_ctx& c, uint64_t pos, uint32_t depth, uint64_t& end) {
    if (depth > c.depth_max) return fail(errc::too_deep, pos);
    object_view v;
    uint64_t p = 0;
    status st = read_head(c, pos, v, p);
    if (!st) return st;
    return walk_rest(c, v, p, depth, end);
}

}  // namespace

status walker::at(uint64_t pos, object_view& out) const {
    const walk_ctx c{body_.data(), body_.size(), le_, lim_.depth_max};
    object_view v;
    uint64_t p = 0;
    status st = read_head(c, pos, v, p);
    if (!st) return st;
    uint64_t end = 0;
    st = walk_rest(c, v, p, 0, end);
    if (!st) return st;
    v.bytes = body_.subspan(pos, end - pos);
    out = v;
    return {};
}

status walker::validate(object_view* top) const {
    object_view v;
    status st = at(0, v);
    if (!st) return st;
    if (v.bytes.size() != body_.size()) return fail(errc::trailing_bytes, v.bytes.size());
    if (top != nullptr) *top = v;
    return {};
}

child_cursor::child_cursor(const walker& w, const object_view& parent) : w_(&w) {
    const int t = parent.type;
    const uint64_t base = parent.offset;
    if (has_counted_items(t)) {
        pos_ = base + (t == qtype::kList ? kVectorHeadSize : 5);
        left_ = parent.count;
    } else if (t == qtype::kDict || t == qtype::kSortedDict || is_adverb(t)) {
        pos_ = base + 1;
        left_ = t == qtype::kDict || t == qtype::kSortedDict ? 2 : 1;
    } else if (t == qtype::kTable) {
        pos_ = base + 2;
        left_ = 1;
    } else if (t == qtype::kLambda && parent.bytes.size() > 1) {
        const void* nul = std::memchr(parent.bytes.data() + 1, 0, parent.bytes.size() - 1);
        if (nul != nullptr) {
            pos_ = base + uint64_t(static_cast<const uint8_t*>(nul) - parent.bytes.data()) + 1;
            left_ = 1;
        }
    }
}

bool child_cursor::next(object_view& out) {
    if (left_ == 0) return false;
    st_ = w_->at(pos_, out);
    if (!st_) {
        left_ = 0;
        return false;
    }
    pos_ = out.offset + out.bytes.size();
    --left_;
    return true;
}

std::string_view symbol_text(const object_view& v) {
    if ((v.type != -qtype::kSymbol && v.type != qtype::kError) || v.bytes.size() < 2) return {};
    return {reinterpret_cast<const char*>(v.bytes.data()) + 1, v.bytes.size() - 2};
}

std::string_view char_text(const object_view& v) {
    if (v.type != qtype::kChar || v.bytes.size() < kVectorHeadSize) return {};
    return {reinterpret_cast<const char*>(v.bytes.data()) + kVectorHeadSize,
            v.bytes.size() - kVectorHeadSize};
}

const uint8_t* vector_data(const object_view& v) {
    if (!v.is_vector() || v.bytes.size() < kVectorHeadSize) return nullptr;
    return v.bytes.data() + kVectorHeadSize;
}

}  // namespace qgate::qipc
