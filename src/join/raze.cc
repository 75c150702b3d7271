// Built-in joins over successful partial bodies: raze, list, first. Each computes an upper
// bound of the new bytes it writes, then emits the frame as new heads (in `meta`) plus
// references to element bytes of the partials; no element byte is copied.
//
// raze follows q's `raze` (`,/`) where that is a concatenation, and falls back to a general
// list of the partials (DESIGN §6) where q would have to rebuild items:
//   * all tables (98) with the same column names → one table; each column is the
//     concatenation of the partial columns (same type, or an empty general list `()` in some
//     parts, which adds nothing). Names differ → q's 'mismatch. Types differ → 'type (q would
//     build a mixed column of atoms, which means re-encoding every element: not done here).
//   * all atoms / vectors of one type 1..19 → one vector (q: `raze (1;2 3)` is 1 2 3).
//   * all general lists → one general list of all their items.
//   * anything else (dicts and keyed tables, mixed types, functions) → the general list of
//     the partials, which is `list`. q's raze would merge dicts (upsert) or flatten mixed
//     lists into atoms; a custom join (`{raze x}` via the reducer) gives exactly q's answer.
// Attributes are cleared (the table's, every column's, the vector's): q keeps `s#`/`u#` on
// `,` only when the result still qualifies, and `~` ignores attributes, so the result matches.
// Runs on the joining shard; the output references `parts`, which must outlive it.

#include <array>

#include "builder.h"
#include "qgate/qipc/walker.h"

namespace qgate::join {

using detail::builder;
using detail::kHeadSize;
namespace qt = qipc::qtype;

bool flattenable(const qipc::object_view& v);
join_error raze_mixed(std::span<const qipc::object_view> tops, const join_options& opt,
                      join_output& out);

namespace {

struct top_info {
    std::array<qipc::object_view, kPartsMax> top{};
    uint32_t n = 0;
};

/// True when every part's body starts with a table's type byte.
bool all_tables(std::span<const part_view> parts) {
    for (const part_view& p : parts)
        if (p.body.empty() || static_cast<int8_t>(p.body[0]) != qt::kTable) return false;
    return true;
}

/// Checks the parts' count and byte order; walks (validates) each top object in full unless
/// they are all tables, which raze_tables validates column by column in its single pass.
join_error walk_tops(std::span<const part_view> parts, uint64_t extra, top_info& t,
                      uint32_t& bad) {
    if (parts.empty()) return join_error::no_parts;
    if (parts.size() > kPartsMax) return join_error::too_many;
    t.n = static_cast<uint32_t>(parts.size());
    for (uint32_t i = 0; i < t.n; ++i) {
        bad = i;
        if (!parts[i].little_endian) return join_error::big_endian;
    }
    if (all_tables(parts)) {
        for (uint32_t i = 0; i < t.n; ++i) t.top[i].type = qt::kTable;
        return join_error::ok;
    }
    for (uint32_t i = 0; i < t.n; ++i) {
        bad = i;
        if (!qipc::walker(parts[i].body, true, detail::nested_limits(extra)).at(0, t.top[i]) ||
            t.top[i].bytes.size() != parts[i].body.size())
            return join_error::bad_partial;
    }
    return join_error::ok;
}

/// Vector type of an atom or vector of types 1..19; 0 for anything else.
int8_t simple_type(const qipc::object_view& v) {
    if (v.is_vector()) return v.type;
    if (v.type < 0 && v.type >= -19 && v.type != -3) return static_cast<int8_t>(-v.type);
    return 0;
}

/// Element bytes of an atom (after the type byte) or vector / general list (after the head).
std::span<const uint8_t> elements(const qipc::object_view& v) {
    return v.type < 0 ? v.bytes.subspan(1) : v.bytes.subspan(kHeadSize);
}

raze_shape shape_of(const top_info& t) {
    const int8_t t0 = t.top[0].type;
    const int8_t s0 = simple_type(t.top[0]);
    bool tables = true, vectors = s0 != 0, lists = true;
    for (uint32_t i = 0; i < t.n; ++i) {
        tables = tables && t.top[i].type == qt::kTable;
        vectors = vectors && simple_type(t.top[i]) == s0;
        lists = lists && t.top[i].type == qt::kList;
    }
    if (tables) return raze_shape::table;
    if (vectors) return raze_shape::vector;
    if (lists && t0 == qt::kList) return raze_shape::list_concat;
    for (uint32_t i = 0; i < t.n; ++i)
        if (!flattenable(t.top[i])) return raze_shape::general;
    return raze_shape::mixed;
}

/// Concatenation of atoms / vectors of one type, or of general lists: one new head.
join_error concat(const top_info& t, int8_t type, const join_options& opt, join_output& out) {
    uint64_t count = 0;
    for (uint32_t i = 0; i < t.n; ++i) count += t.top[i].type < 0 ? 1 : t.top[i].count;
    if (count > uint64_t{INT32_MAX}) return join_error::limit;
    builder b(out, detail::envelope_meta(opt.envelope) + kHeadSize, opt.envelope.size() + t.n + 1);
    b.envelope(opt.envelope);
    b.head(type, 0, count);
    for (uint32_t i = 0; i < t.n; ++i) b.ref(elements(t.top[i]));
    return b.finish(opt.type, opt.length_max);
}

/// The whole body is exactly one valid object, still valid `extra` levels deeper (what list /
/// first forward as an item).
bool valid(const part_view& p, uint64_t extra) {
    return qipc::walker(p.body, p.little_endian, detail::nested_limits(extra)).validate().ok();
}

}  // namespace

join_error raze_tables(std::span<const part_view> parts, const join_options& opt,
                       join_output& out);

join_error raze(std::span<const part_view> parts, const join_options& opt, join_output& out) {
    top_info t;
    uint32_t bad = 0;
    if (join_error e = walk_tops(parts, detail::envelope_depth(opt.envelope), t, bad);
        e != join_error::ok) {
        out.error_part = bad;
        return e;
    }
    const raze_shape shape = shape_of(t);
    join_error e = join_error::ok;
    switch (shape) {
    case raze_shape::table: e = raze_tables(parts, opt, out); break;
    case raze_shape::vector: e = concat(t, simple_type(t.top[0]), opt, out); break;
    case raze_shape::list_concat: e = concat(t, qt::kList, opt, out); break;
    case raze_shape::mixed: e = raze_mixed({t.top.data(), t.n}, opt, out); break;
    default: e = list(parts, opt, out); break;
    }
    out.shape = shape;
    return e;
}

join_error list(std::span<const part_view> parts, const join_options& opt, join_output& out) {
    if (parts.empty()) return join_error::no_parts;
    if (parts.size() > kPartsMax) return join_error::too_many;
    for (uint32_t i = 0; i < parts.size(); ++i) {
        out.error_part = i;
        if (!parts[i].little_endian) return join_error::big_endian;
        if (!valid(parts[i], detail::envelope_depth(opt.envelope) + 1)) {
            return join_error::bad_partial;
        }
    }
    builder b(out, detail::envelope_meta(opt.envelope) + kHeadSize,
              opt.envelope.size() + parts.size() + 1);
    b.envelope(opt.envelope);
    b.head(qt::kList, 0, parts.size());
    for (const part_view& p : parts) b.ref(p.body);
    const join_error e = b.finish(opt.type, opt.length_max);
    out.shape = raze_shape::general;
    return e;
}

join_error first(std::span<const part_view> parts, const join_options& opt, join_output& out) {
    if (parts.empty()) return join_error::no_parts;
    // A big-endian partial passes through as is (its own byte order in the header), unless it
    // has to sit inside a little-endian envelope.
    const bool le = parts[0].little_endian;
    if (!le && !opt.envelope.empty()) return join_error::big_endian;
    if (!valid(parts[0], detail::envelope_depth(opt.envelope))) return join_error::bad_partial;
    builder b(out, detail::envelope_meta(opt.envelope), opt.envelope.size() + 2);
    b.envelope(opt.envelope);
    b.ref(parts[0].body);
    return b.finish(opt.type, opt.length_max, le);
}

join_error run_join(join_kind kind, std::span<const part_view> parts, const join_options& opt,
                    join_output& out) {
    switch (kind) {
    case join_kind::raze: return raze(parts, opt, out);
    case join_kind::list: return list(parts, opt, out);
    case join_kind::first: return first(parts, opt, out);
    default: return join_error::type;  // custom joins go to the reducer (reducer_request)
    }
}

}  // namespace qgate::join
