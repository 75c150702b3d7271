// Helpers for the join tests: partial replies built with the codec (as a q backend sends
// them), a gather fed with them, and decoding a joined output back into a value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "qgate/join.h"
#include "qgate/qipc/compress.h"
#include "qgate/qipc/value.h"
#include "qgate/qipc/writer.h"

namespace qgate::join::test {

using qipc::value;
using msg = std::vector<uint8_t>;

/// A response message carrying `v`, as a backend answers.
inline msg reply(const value& v) { return qipc::encode_message(v, qipc::msg_type::response); }

/// The same message compressed the way q compresses it (must be compressible).
inline msg compressed(const msg& plain) {
    msg out(plain.size() / 2);
    const uint64_t n = qipc::compress(plain, out);
    REQUIRE(n > 0);
    out.resize(n);
    return out;
}

/// Plain part views of whole messages (no decompression: plain messages only).
/// A body (no frame header) for `v`, as the classifier and the `.gw.*` parser see it.
inline msg body_of(const value& v) { return qipc::encode_body(v); }

/// The call `(`f;2)`: the query most plan and TorQ tests carry.
inline value f2() { return value::list({value::symbol("f"), value::long_(2)}); }

inline std::vector<part_view> views(const std::vector<msg>& msgs) {
    std::vector<part_view> v;
    for (const msg& m : msgs) v.push_back({std::span<const uint8_t>(m).subspan(8), true});
    return v;
}

/// Decodes a joined output (flattened; decompressed first when compressed).
inline value decoded(const join_output& out, qipc::msg_type expect = qipc::msg_type::response) {
    msg m = flatten(out);
    REQUIRE(m.size() == out.total_bytes);
    if (out.compressed) {
        uint64_t ulen = 0;
        REQUIRE(qipc::uncompressed_length(m, 1u << 30, ulen));
        msg plain(ulen);
        REQUIRE(qipc::decompress(m, plain));
        m = std::move(plain);
    }
    qipc::frame_header h;
    value v;
    const qipc::status st = qipc::decode_message(m, h, v);
    REQUIRE(st.ok());
    CHECK(h.type == expect);
    return v;
}

inline value ints(std::initializer_list<int32_t> xs) {
    std::vector<uint8_t> raw;
    for (int32_t x : xs)
        for (int i = 0; i < 4; ++i) raw.push_back(static_cast<uint8_t>(uint32_t(x) >> 8 * i));
    return value::fixed(qipc::qtype::kInt, raw);
}

inline value longs(std::initializer_list<int64_t> xs) {
    return value::longs(std::vector<int64_t>(xs));
}

/// A lambda `src` in the root context, as decode() builds it.
inline value lambda(std::string_view src) {
    value v;
    v.type = qipc::qtype::kLambda;
    v.raw.clear();
    v.syms = {""};
    v.items = {value::string(src)};
    return v;
}

inline value with_attr(value v, uint8_t attr) {
    v.attr = attr;
    return v;
}

}  // namespace qgate::join::test
