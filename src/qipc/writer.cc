// Encoding values and error replies (always little-endian, as q on x86 writes them).
//
// Design note: the size of every encoding is computed before anything is written, so a message
// costs exactly one allocation (encode_message) or none at all (encode_message_into,
// body_writer, write_error_message on the hot path). encoded_size and encode_into walk the tree
// with the same rules and must stay in step; the tests check size == bytes written on every
// vector.
//
// Tolerated misuse, so that writing never fails and never emits bytes a peer would reject:
//   * a symbol, error text or lambda context is cut at its first NUL (q symbols cannot hold
//     one; javakdb does the same);
//   * a fixed-width atom writes exactly its width, zero-padding a short `raw`; a vector writes
//     raw.size() / width elements;
//   * a missing child (a dict with no items) is written as `::`, and a type that never appears
//     on the wire (enumerations, 112, ...) is written as `::` too.
// Values built by the factories or by decode() never hit these cases. Any thread.

#include "qgate/qipc/writer.h"

#include <algorithm>
#include <cstring>

namespace qgate::qipc {

namespace {

constexpr uint64_t kVectorHeadSize = 6;  // type, attribute, 4-byte count
constexpr uint64_t kCountedHeadSize = 5; // projection/composition: type, 4-byte count

std::string_view cut_at_nul(std::string_view s) { return s.substr(0, s.find('\0')); }

std::string_view first_sym(const value& v) {
    return v.syms.empty() ? std::string_view{} : cut_at_nul(v.syms[0]);
}

const value& child(const value& v, std::size_t i) {
    static const value kGenericNull;
    return i < v.items.size() ? v.items[i] : kGenericNull;
}

bool is_function_leaf(int t) { return t >= qtype::kUnary && t <= qtype::kIterator; }

bool is_wire_type(int t) {
    if (t < 0) return atom_size(t) >= 0;
    if (t == qtype::kList || (t <= 19 && elem_size(t) >= 0)) return true;
    return (t >= qtype::kTable && t <= qtype::kEachRight) || t == qtype::kSortedDict;
}

uint64_t items_size(const value& v) {
    uint64_t n = 0;
    for (const value& item : v.items) n += encoded_size(item);
    return n;
}

uint8_t* put_text(uint8_t* o, std::string_view s) {
    s = cut_at_nul(s);
    if (!s.empty()) std::memcpy(o, s.data(), s.size());
    o[s.size()] = 0;
    return o + s.size() + 1;
}

uint8_t* put_u32(uint8_t* o, uint64_t v) {
    store_u32(o, static_cast<uint32_t>(v), true);
    return o + 4;
}

// Writes exactly `n` bytes from `raw`, zero-padding when raw is shorter.
uint8_t* put_fixed(uint8_t* o, const std::vector<uint8_t>& raw, uint64_t n) {
    const uint64_t have = std::min<uint64_t>(raw.size(), n);
    if (have > 0) std::memcpy(o, raw.data(), have);
    if (n > have) std::memset(o + have, 0, n - have);
    return o + n;
}

uint8_t* put_items(const value& v, uint8_t* o) {
    for (const value& item : v.items) o = encode_into(item, o);
    return o;
}

uint8_t* put_vector(const value& v, uint8_t* o) {
    *o++ = v.attr;
    if (v.type == qtype::kSymbol) {
        o = put_u32(o, v.syms.size());
        for (const std::string& s : v.syms) o = put_text(o, s);
        return o;
    }
    const uint64_t w = uint64_t(elem_size(v.type));
    const uint64_t n = v.raw.size() / w;
    o = put_u32(o, n);
    return put_fixed(o, v.raw, n * w);
}

}  // namespace

uint64_t encoded_size(const value& v) {
    const int t = v.type;
    if (!is_wire_type(t)) return 2;
    if (t == -qtype::kSymbol || t == qtype::kError) return 2 + first_sym(v).size();
    if (t < 0) return 1 + uint64_t(atom_size(t));
    if (t == qtype::kSymbol) {
        uint64_t n = kVectorHeadSize;
        for (const std::string& s : v.syms) n += cut_at_nul(s).size() + 1;
        return n;
    }
    if (t >= 1 && t <= 19) {
        const uint64_t w = uint64_t(elem_size(t));
        return kVectorHeadSize + v.raw.size() / w * w;
    }
    if (t == qtype::kList) return kVectorHeadSize + items_size(v);
    if (t == qtype::kProjection || t == qtype::kComposition) {
        return kCountedHeadSize + items_size(v);
    }
    if (t == qtype::kTable) return 2 + encoded_size(child(v, 0));
    if (t == qtype::kDict || t == qtype::kSortedDict) {
        return 1 + encoded_size(child(v, 0)) + encoded_size(child(v, 1));
    }
    if (t == qtype::kLambda) return 2 + first_sym(v).size() + encoded_size(child(v, 0));
    if (is_function_leaf(t)) return 2;
    return 1 + encoded_size(child(v, 0));  // adverb form
}

uint8_t* encode_into(const value& v, uint8_t* out) {
    const int t = v.type;
    if (!is_wire_type(t)) {
        out[0] = static_cast<uint8_t>(qtype::kUnary);
        out[1] = 0;
        return out + 2;
    }
    uint8_t* o = out;
    *o++ = static_cast<uint8_t>(t);
    if (t == -qtype::kSymbol || t == qtype::kError) return put_text(o, first_sym(v));
    if (t < 0) return put_fixed(o, v.raw, uint64_t(atom_size(t)));
    if (t >= 1 && t <= 19) return put_vector(v, o);
    if (t == qtype::kList) {
        *o++ = v.attr;
        return put_items(v, put_u32(o, v.items.size()));
    }
    if (t == qtype::kProjection || t == qtype::kComposition) {
        return put_items(v, put_u32(o, v.items.size()));
    }
    if (t == qtype::kTable) {
        *o++ = v.attr;
        return encode_into(child(v, 0), o);
    }
    if (t == qtype::kDict || t == qtype::kSortedDict) {
        return encode_into(child(v, 1), encode_into(child(v, 0), o));
    }
    if (t == qtype::kLambda) return encode_into(child(v, 0), put_text(o, first_sym(v)));
    if (is_function_leaf(t)) {
        *o++ = v.raw.empty() ? 0 : v.raw[0];
        return o;
    }
    return encode_into(child(v, 0), o);  // adverb form
}

std::vector<uint8_t> encode_body(const value& v) {
    std::vector<uint8_t> out(encoded_size(v));
    encode_into(v, out.data());
    return out;
}

std::vector<uint8_t> encode_message(const value& v, msg_type type) {
    const uint64_t length = kHeaderSize + encoded_size(v);
    std::vector<uint8_t> out(length);
    write_header(frame_header{true, type, false, length}, out.data());
    encode_into(v, out.data() + kHeaderSize);
    return out;
}

uint64_t encode_message_into(const value& v, msg_type type, std::span<uint8_t> out) {
    const uint64_t length = kHeaderSize + encoded_size(v);
    if (out.size() < length) return 0;
    write_header(frame_header{true, type, false, length}, out.data());
    encode_into(v, out.data() + kHeaderSize);
    return length;
}

uint64_t write_error_message(std::string_view text, msg_type type, std::span<uint8_t> out) {
    // A NUL would end the error early and leave junk after it: cut there, so the real length
    // may be below error_message_size(text), which stays a safe upper bound for the caller.
    text = cut_at_nul(text);
    const uint64_t length = error_message_size(text);
    if (out.size() < length) return 0;
    write_header(frame_header{true, type, false, length}, out.data());
    out[kHeaderSize] = static_cast<uint8_t>(qtype::kError);
    put_text(out.data() + kHeaderSize + 1, text);
    return length;
}

uint8_t* body_writer::reserve(uint64_t n) {
    if (!ok_ || out_.size() - pos_ < n) {
        ok_ = false;
        return nullptr;
    }
    uint8_t* p = out_.data() + pos_;
    pos_ += n;
    return p;
}

body_writer& body_writer::u8(uint8_t v) {
    if (uint8_t* p = reserve(1)) *p = v;
    return *this;
}

body_writer& body_writer::u16(uint16_t v) {
    if (uint8_t* p = reserve(2)) {
        p[0] = static_cast<uint8_t>(v);
        p[1] = static_cast<uint8_t>(v >> 8);
    }
    return *this;
}

body_writer& body_writer::u32(uint32_t v) {
    if (uint8_t* p = reserve(4)) store_u32(p, v, true);
    return *this;
}

body_writer& body_writer::u64(uint64_t v) {
    if (uint8_t* p = reserve(8)) {
        store_u32(p, static_cast<uint32_t>(v), true);
        store_u32(p + 4, static_cast<uint32_t>(v >> 32), true);
    }
    return *this;
}

body_writer& body_writer::bytes(std::span<const uint8_t> b) {
    uint8_t* p = reserve(b.size());
    if (p != nullptr && !b.empty()) std::memcpy(p, b.data(), b.size());
    return *this;
}

body_writer& body_writer::text(std::string_view s) {
    s = cut_at_nul(s);
    if (uint8_t* p = reserve(s.size() + 1)) put_text(p, s);
    return *this;
}

body_writer& body_writer::symbol(std::string_view s) {
    return u8(static_cast<uint8_t>(-qtype::kSymbol)).text(s);
}

body_writer& body_writer::string(std::string_view s) {
    vector_head(qtype::kChar, 0, static_cast<uint32_t>(s.size()));
    return bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

body_writer& body_writer::vector_head(int8_t type, uint8_t attr, uint32_t count) {
    return u8(static_cast<uint8_t>(type)).u8(attr).u32(count);
}

body_writer& body_writer::encode(const value& v) {
    if (uint8_t* p = reserve(encoded_size(v))) encode_into(v, p);
    return *this;
}

}  // namespace qgate::qipc
