// raze of unkeyed tables with one schema: the joined table gets new table / dict / column
// heads (summed counts, attributes cleared) written into `meta`; the column names are
// referenced from part 0 and every column's element bytes from each partial. Column data is
// never copied, symbol columns included (their elements are NUL-terminated byte runs, which
// concatenate as bytes). See raze.cc for the q semantics kept and the ones not kept.
// Runs on the joining shard; the output references `parts`, which must outlive it.

#include <algorithm>
#include <array>

#include "builder.h"
#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"

namespace qgate::join {

using detail::builder;
using detail::kHeadSize;
namespace qt = qipc::qtype;

namespace {

/// A table's names vector and columns list, positioned in its part's body.
struct table_parts {
    std::array<qipc::object_view, kPartsMax> names{};
    std::array<uint64_t, kPartsMax> pos{};  // next column's offset, per part
};

/// Finds the names vector of part p's table (validated) and the head of its columns list.
/// The columns themselves are validated one by one by raze_column, so each byte is walked once.
join_error split_table(const part_view& p, qipc::object_view& names, uint64_t& columns_at) {
    const std::span<const uint8_t> b = p.body;
    if (b.size() < 3 || static_cast<int8_t>(b[2]) != qt::kDict) return join_error::bad_partial;
    if (!qipc::walker(b, true).at(3, names)) return join_error::bad_partial;
    if (names.type != qt::kSymbol) return join_error::type;
    const uint64_t at = 3 + names.bytes.size();
    if (b.size() < at + kHeadSize) return join_error::bad_partial;
    if (static_cast<int8_t>(b[at]) != qt::kList) {  // e.g. a splayed-table reference
        qipc::object_view v;
        return qipc::walker(b, true).at(at, v) ? join_error::type : join_error::bad_partial;
    }
    if (qipc::load_u32(b.data() + at + 2, true) != names.count) return join_error::bad_partial;
    columns_at = at + kHeadSize;
    return join_error::ok;
}

bool same_names(const qipc::object_view& a, const qipc::object_view& b) {
    const auto ea = a.bytes.subspan(kHeadSize), eb = b.bytes.subspan(kHeadSize);
    return a.count == b.count && std::equal(ea.begin(), ea.end(), eb.begin(), eb.end());
}

join_error check_schema(std::span<const part_view> parts, table_parts& t, join_output& out) {
    for (uint32_t i = 0; i < parts.size(); ++i) {
        out.error_part = i;
        if (join_error e = split_table(parts[i], t.names[i], t.pos[i]); e != join_error::ok)
            return e;
        if (!same_names(t.names[0], t.names[i])) return join_error::mismatch;
    }
    return join_error::ok;
}

/// Every part's columns must end exactly where its body does.
join_error check_ends(std::span<const part_view> parts, const table_parts& t, join_output& out) {
    for (uint32_t i = 0; i < parts.size(); ++i) {
        out.error_part = i;
        if (t.pos[i] != parts[i].body.size()) return join_error::bad_partial;
    }
    return join_error::ok;
}

/// A column lies 3 levels below its table: table → dict → columns list → column.
constexpr uint64_t kColumnDepth = 3;

/// An empty general list `()` joins with a column of any type and adds nothing.
bool is_empty_list(const qipc::object_view& c) { return c.type == qt::kList && c.count == 0; }

/// Column j of every part: checks one type, then writes the head and the references.
join_error raze_column(std::span<const part_view> parts, uint64_t extra, table_parts& t,
                       builder& b, join_output& out) {
    const qipc::walk_limits lim = detail::nested_limits(extra);
    std::array<qipc::object_view, kPartsMax> col{};
    int8_t type = qt::kList;
    uint64_t count = 0;
    for (uint32_t i = 0; i < parts.size(); ++i) {
        out.error_part = i;
        if (!qipc::walker(parts[i].body, true, lim).at(t.pos[i], col[i]))
            return join_error::bad_partial;
        t.pos[i] += col[i].bytes.size();
        if (col[i].type < qt::kList || col[i].type > qt::kTime) return join_error::type;
        if (!is_empty_list(col[i])) {
            if (type == qt::kList && count == 0) type = col[i].type;
            if (col[i].type != type) return join_error::type;
        }
        count += col[i].count;
    }
    if (count > uint64_t{INT32_MAX}) return join_error::limit;
    b.head(type, 0, count);
    for (uint32_t i = 0; i < parts.size(); ++i) b.ref(col[i].bytes.subspan(kHeadSize));
    return join_error::ok;
}

}  // namespace

join_error raze_tables(std::span<const part_view> parts, const join_options& opt,
                       join_output& out) {
    table_parts t;
    if (join_error e = check_schema(parts, t, out); e != join_error::ok) return e;
    const uint64_t cols = t.names[0].count;
    const uint64_t meta = detail::envelope_meta(opt.envelope) + 3 + kHeadSize * (cols + 1);
    const uint64_t iovs = opt.envelope.size() + 3 + cols * (parts.size() + 1);
    builder b(out, meta, iovs);
    b.envelope(opt.envelope);
    b.u8(static_cast<uint8_t>(qt::kTable));
    b.u8(0);  // attribute cleared: a razed `s# table need not be sorted
    b.u8(static_cast<uint8_t>(qt::kDict));
    b.ref(t.names[0].bytes);
    b.head(qt::kList, 0, cols);
    for (uint64_t j = 0; j < cols; ++j) {
        out.error_column = static_cast<uint32_t>(j);
        if (join_error e = raze_column(parts, kColumnDepth + detail::envelope_depth(opt.envelope),
                                       t, b, out);
            e != join_error::ok)
            return e;
    }
    if (join_error e = check_ends(parts, t, out); e != join_error::ok) return e;
    out.error_part = out.error_column = 0;
    return b.finish(opt.type, opt.length_max);
}

}  // namespace qgate::join
