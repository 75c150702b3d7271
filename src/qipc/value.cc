// The owning q value: factories, q-style count and the allocating decoder.
//
// Design note: control-plane only (config, admin, joins' metadata, qmock, the tools); the data
// plane never builds a value tree. decode() first validates the whole body with the walker, so
// every error code, every bound and the depth limit are the walker's and hostile input costs
// nothing beyond a failed walk. The builder then reuses child_cursor on bytes already known to
// be good, which keeps one parser for the format (a child cursor revalidates its child, making
// decode O(size x depth); fine off the hot path).
//
// Round-trip contract: for little-endian input, encode(decode(b)) == b byte for byte. That is
// why a value keeps the attribute byte of vectors, lists and tables, the 127 sorted-dict type,
// the lambda context and all fixed-width elements as raw bytes (a NaN keeps the producer's bit
// pattern; q wrote 7ff8.., node-q writes fff8..). Big-endian input is converted element by
// element to little-endian; guids are 16 bytes in text order in both byte orders and are never
// swapped. Values are plain data: any thread, no shared state.

#include "qgate/qipc/value.h"

#include <bit>
#include <cstring>

namespace qgate::qipc {

namespace {

template <class U>
void put_le(std::vector<uint8_t>& out, U bits) {
    for (std::size_t i = 0; i < sizeof(U); ++i) {
        out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    }
}

value make(int8_t type) {
    value v;
    v.type = type;
    v.raw.clear();
    return v;
}

// Copies `n` elements of width `w` to little-endian. Widths 2/4/8 are numbers and are reversed
// when the source is big-endian; widths 1 and 16 (guid) are byte strings and copied as is.
std::vector<uint8_t> copy_elements(const uint8_t* p, uint64_t n, int w, bool le) {
    std::vector<uint8_t> out(p, p + n * uint64_t(w));
    if (le || w == 1 || w == 16) return out;
    for (uint64_t i = 0; i < n; ++i) {
        uint8_t* e = out.data() + i * uint64_t(w);
        for (int a = 0, b = w - 1; a < b; ++a, --b) std::swap(e[a], e[b]);
    }
    return out;
}

std::vector<std::string> split_symbols(const object_view& v) {
    std::vector<std::string> out;
    out.reserve(v.count);
    const char* p = reinterpret_cast<const char*>(vector_data(v));
    for (uint64_t i = 0; i < v.count; ++i) {
        const std::size_t len = std::strlen(p);  // NUL presence proven by the walker
        out.emplace_back(p, len);
        p += len + 1;
    }
    return out;
}

status build(const walker& w, const object_view& v, value& out);

status build_children(const walker& w, const object_view& v, value& out) {
    out.items.reserve(v.count);
    child_cursor cur(w, v);
    object_view child;
    while (cur.next(child)) {
        out.items.emplace_back();
        status st = build(w, child, out.items.back());
        if (!st) return st;
    }
    return cur.error();
}

status build(const walker& w, const object_view& v, value& out) {
    out = make(v.type);
    out.attr = v.attr;
    const int t = v.type;
    if (t == -qtype::kSymbol || t == qtype::kError) {
        out.syms.emplace_back(symbol_text(v));
    } else if (t < 0) {
        out.raw = copy_elements(v.bytes.data() + 1, 1, atom_size(t), w.little_endian());
    } else if (t == qtype::kSymbol) {
        out.syms = split_symbols(v);
    } else if (t >= 1 && t <= 19) {
        out.raw = copy_elements(vector_data(v), v.count, elem_size(t), w.little_endian());
    } else if (t >= qtype::kUnary && t <= qtype::kIterator) {
        out.raw.push_back(v.bytes[1]);
    } else {
        if (t == qtype::kLambda) {
            out.syms.emplace_back(reinterpret_cast<const char*>(v.bytes.data()) + 1);
        }
        return build_children(w, v, out);
    }
    return {};
}

uint64_t table_rows(const value& table) {
    if (table.items.empty() || table.items[0].items.size() < 2) return 0;
    const value& columns = table.items[0].items[1];
    // A splayed table's value is its path symbol: the row count is not on the wire.
    if (columns.type != qtype::kList || columns.items.empty()) return 0;
    return columns.items[0].count();
}

}  // namespace

uint64_t value::count() const {
    if (type < 0) return 1;
    if (type == qtype::kSymbol) return syms.size();
    if (type >= 1 && type <= 19) {
        const int w = elem_size(type);
        return w > 0 ? raw.size() / uint64_t(w) : 0;
    }
    switch (type) {
    case qtype::kList:
    case qtype::kProjection:
    case qtype::kComposition: return items.size();
    case qtype::kDict:
    case qtype::kSortedDict: return items.empty() ? 0 : items[0].count();
    case qtype::kTable: return table_rows(*this);
    default: return 1;  // functions and `::` count as one, like atoms
    }
}

value value::generic_null() { return value{}; }
value value::boolean(bool b) { return fixed(-qtype::kBool, {uint8_t(b ? 1 : 0)}); }
value value::byte(uint8_t b) { return fixed(-qtype::kByte, {b}); }
value value::char_(char c) { return fixed(-qtype::kChar, {static_cast<uint8_t>(c)}); }

value value::short_(int16_t v) {
    value out = make(-qtype::kShort);
    put_le(out.raw, static_cast<uint16_t>(v));
    return out;
}

value value::int_(int32_t v) {
    value out = make(-qtype::kInt);
    put_le(out.raw, static_cast<uint32_t>(v));
    return out;
}

value value::long_(int64_t v) {
    value out = make(-qtype::kLong);
    put_le(out.raw, static_cast<uint64_t>(v));
    return out;
}

value value::real(float v) {
    value out = make(-qtype::kReal);
    put_le(out.raw, std::bit_cast<uint32_t>(v));
    return out;
}

value value::float_(double v) {
    value out = make(-qtype::kFloat);
    put_le(out.raw, std::bit_cast<uint64_t>(v));
    return out;
}

value value::symbol(std::string s) {
    value out = make(-qtype::kSymbol);
    out.syms.push_back(std::move(s));
    return out;
}

value value::error(std::string text) {
    value out = make(qtype::kError);
    out.syms.push_back(std::move(text));
    return out;
}

value value::string(std::string_view s) {
    value out = make(qtype::kChar);
    out.raw.assign(s.begin(), s.end());
    return out;
}

value value::symbols(std::vector<std::string> s) {
    value out = make(qtype::kSymbol);
    out.syms = std::move(s);
    return out;
}

value value::longs(std::span<const int64_t> v) {
    value out = make(qtype::kLong);
    out.raw.reserve(v.size() * 8);
    for (int64_t x : v) put_le(out.raw, static_cast<uint64_t>(x));
    return out;
}

value value::floats(std::span<const double> v) {
    value out = make(qtype::kFloat);
    out.raw.reserve(v.size() * 8);
    for (double x : v) put_le(out.raw, std::bit_cast<uint64_t>(x));
    return out;
}

value value::list(std::vector<value> items) {
    value out = make(qtype::kList);
    out.items = std::move(items);
    return out;
}

value value::dict(value keys, value values) {
    value out = make(qtype::kDict);
    out.items.reserve(2);
    out.items.push_back(std::move(keys));
    out.items.push_back(std::move(values));
    return out;
}

value value::table(std::vector<std::string> names, std::vector<value> columns) {
    value out = make(qtype::kTable);
    out.items.push_back(dict(symbols(std::move(names)), list(std::move(columns))));
    return out;
}

value value::fixed(int8_t t, std::vector<uint8_t> raw_le) {
    value out = make(t);
    out.raw = std::move(raw_le);
    return out;
}

status decode(std::span<const uint8_t> body, bool little_endian, value& out, walk_limits lim) {
    const walker w(body, little_endian, lim);
    object_view top;
    status st = w.validate(&top);
    if (!st) return st;
    return build(w, top, out);
}

status decode_message(std::span<const uint8_t> msg, frame_header& header, value& out,
                      walk_limits lim, const header_limits& hlim) {
    status st = parse_header(msg, header, hlim);
    if (!st) return st;
    if (header.compressed) return {errc::bad_compressed_flag, 2};
    if (msg.size() < header.length) return {errc::truncated, msg.size()};
    if (msg.size() > header.length) return {errc::trailing_bytes, header.length};
    st = decode(msg.subspan(kHeaderSize), header.little_endian, out, lim);
    if (!st) st.offset += kHeaderSize;
    return st;
}

}  // namespace qgate::qipc
