// An owning, decoded q value: for the control plane, joins' metadata, qmock and the tools.
// Never used on the data plane (it allocates); the data plane uses walker.h spans.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/types.h"
#include "qgate/qipc/walker.h"

namespace qgate::qipc {

/// Representation by type:
///  * atoms and vectors of fixed width (incl. char, guid, temporal): `raw` holds the elements
///    little-endian, `count()` = raw.size() / width (1 for atoms);
///  * symbol atom / symbol vector / error (-128): `syms` (1 entry for atoms and errors);
///  * general list: `items`; dict and sorted dict (99, 127): items = {keys, values};
///  * table (98): items = {dict}; keyed table is a dict of two tables;
///  * lambda (100): syms = {context}, items = {source char vector};
///  * unary / binary / iterator (101..103): raw = {index byte};
///  * projection / composition (104, 105): items; adverb forms (106..111): items = {function}.
struct value {
    int8_t type = qtype::kUnary;  // default: generic null `::` (101 with index 0)
    uint8_t attr = 0;
    std::vector<uint8_t> raw{0};
    std::vector<std::string> syms;
    std::vector<value> items;

    /// q's `count`: 1 for atoms, errors, functions and `::`; elements for vectors and lists;
    /// keys for dicts (so rows for keyed tables); rows for tables (0 when the table has no
    /// columns or is a splayed-table reference, whose row count is not on the wire).
    uint64_t count() const;
    bool operator==(const value&) const = default;

    static value generic_null();
    static value boolean(bool b);
    static value byte(uint8_t b);
    static value short_(int16_t v);
    static value int_(int32_t v);
    static value long_(int64_t v);
    static value real(float v);
    static value float_(double v);
    static value char_(char c);
    static value symbol(std::string s);
    static value error(std::string text);
    static value string(std::string_view s);  ///< char vector
    static value symbols(std::vector<std::string> s);
    static value longs(std::span<const int64_t> v);
    static value floats(std::span<const double> v);
    static value list(std::vector<value> items);
    static value dict(value keys, value values);
    /// Table from column names and column values (each a vector or general list).
    static value table(std::vector<std::string> names, std::vector<value> columns);
    /// Fixed-width atom (t < 0) or vector (t > 0) from little-endian element bytes.
    static value fixed(int8_t t, std::vector<uint8_t> raw_le);
};

/// Decodes exactly one object filling the whole body.
status decode(std::span<const uint8_t> body, bool little_endian, value& out, walk_limits lim = {});

/// Decodes a whole plain message (header + body, exactly header.length bytes). Fails with the
/// header's errc, truncated / trailing_bytes when `msg` is not exactly the declared length, or
/// bad_compressed_flag (offset 2) for a compressed message: decompress it first (compress.h).
/// Offsets are from the start of `msg`.
status decode_message(std::span<const uint8_t> msg, frame_header& header, value& out,
                      walk_limits lim = {}, const header_limits& hlim = {});

}  // namespace qgate::qipc
