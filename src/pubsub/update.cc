// Update parsing (update.h). Design note: this runs for every update on the shard that
// receives it, before any filtering, on bytes from an upstream tickerplant or a feed handler.
// It validates the whole body once (walker::validate) so the filter and the encoder can trust
// every span afterwards. Navigation then avoids re-walking: the data (last item of the call)
// and a table's values (last item of its dict) are taken by their head and the parent's end
// (trusted_tail); only the column names and one pass over the columns (count and type checks)
// are walked again. Cost: ~2 walks of the body. No allocation, no exceptions. Any thread.

#include "qgate/pubsub/update.h"

#include "qgate/pubsub/schema.h"
#include "qgate/qipc/frame.h"

namespace qgate::pubsub {
namespace {

using qipc::object_view;
namespace qt = qipc::qtype;

status fail(errc e, uint64_t offset) { return status{e, qipc::errc::ok, offset}; }

std::string_view callee(const object_view& v) {
    if (v.type == -qt::kSymbol) return qipc::symbol_text(v);
    if (v.type == qt::kChar) return qipc::char_text(v);
    return {};
}

bool column_like(const object_view& v) { return v.type == qt::kList || v.is_vector(); }

/// Finds "sym" in the table's column-name vector.
bool find_sym_name(const object_view& names, uint32_t& index) {
    const uint8_t* p = qipc::vector_data(names);
    const uint8_t* end = names.bytes.data() + names.bytes.size();
    for (uint64_t i = 0; p != nullptr && i < names.count && p < end; ++i) {
        const uint8_t* q = p;
        while (q < end && *q != 0) ++q;
        if (q - p == 3 && p[0] == 's' && p[1] == 'y' && p[2] == 'm') {
            index = static_cast<uint32_t>(i);
            return true;
        }
        p = q + 1;
    }
    return false;
}

/// Checks that every column has the same count, records the sym column and the row count.
status scan_columns(const qipc::walker& w, update_view& u) {
    qipc::child_cursor cur(w, u.columns);
    object_view col;
    bool found = false;
    for (uint32_t i = 0; cur.next(col); ++i) {
        if (!column_like(col)) return fail(errc::bad_data, col.offset);
        if (i == 0) u.rows = col.count;
        if (col.count != u.rows) return fail(errc::ragged_columns, col.offset);
        if (i == u.sym_column) {
            u.sym = col;
            found = true;
        }
    }
    if (!found) return fail(errc::no_sym_column, u.columns.offset);
    if (u.sym.type != qt::kSymbol) return fail(errc::sym_not_symbols, u.sym.offset);
    return {};
}

/// The LAST child of a parent in an already validated body: it starts at `pos` and ends where
/// the parent ends, so only its head is read — no second walk of the (large) data. Vectors,
/// lists, tables and dicts get their fields; anything else is walked as usual.
object_view trusted_tail(const qipc::walker& w, uint64_t pos, uint64_t end) {
    const std::span<const uint8_t> b = w.body();
    object_view v;
    v.type = static_cast<int8_t>(b[pos]);
    v.offset = pos;
    v.bytes = b.subspan(pos, end - pos);
    if (v.type >= qt::kList && v.type <= 19 && end - pos >= 6) {
        v.attr = b[pos + 1];
        v.count = qipc::load_u32(b.data() + pos + 2, w.little_endian());
    } else if (v.type == qt::kTable && end - pos >= 2) {
        v.attr = b[pos + 1];
    } else if (v.type == qt::kDict || v.type == qt::kSortedDict) {
        v.count = 2;
    } else {
        (void)w.at(pos, v);  // validated already: cannot fail
    }
    return v;
}

uint64_t end_of(const object_view& v) { return v.offset + v.bytes.size(); }

status parse_table(const qipc::walker& w, update_view& u) {
    // table = 62 attr <dict>; dict = 63 <names> <values>: walk only the names.
    const object_view dict = trusted_tail(w, u.data.offset + 2, end_of(u.data));
    object_view vals;
    if (dict.type == qt::kDict && w.at(dict.offset + 1, u.names).ok()) {
        vals = trusted_tail(w, end_of(u.names), end_of(dict));
    }
    if (dict.type != qt::kDict || u.names.type != qt::kSymbol || vals.type != qt::kList ||
        vals.count != u.names.count) {
        return fail(errc::bad_data, u.data.offset);  // also a splayed-table reference
    }
    u.shape = data_shape::table;
    u.columns = vals;
    u.column_count = static_cast<uint32_t>(vals.count);
    if (!find_sym_name(u.names, u.sym_column)) return fail(errc::no_sym_column, u.names.offset);
    return scan_columns(w, u);
}

/// One row of atoms (tick.q: the first item is an atom). Other items may be strings.
status parse_row(const qipc::walker& w, update_view& u) {
    u.shape = data_shape::row;
    u.rows = 1;
    qipc::child_cursor cur(w, u.columns);
    object_view item;
    bool found = false;
    for (uint32_t i = 0; cur.next(item); ++i) {
        if (!item.is_atom() && !column_like(item)) return fail(errc::bad_data, item.offset);
        if (i == u.sym_column) {
            u.sym = item;
            found = true;
        }
    }
    if (!found) return fail(errc::no_sym_column, u.columns.offset);
    if (u.sym.type != -qt::kSymbol) return fail(errc::sym_not_symbols, u.sym.offset);
    return {};
}

/// Number of columns of a stored schema (0 when it has no plain column-name vector).
uint32_t schema_width(const schema_store& s, uint32_t id) {
    const std::span<const uint8_t> names = s.column_names(id);
    return names.size() >= 6 ? qipc::load_u32(names.data() + 2, true) : 0;
}

status parse_data(const qipc::walker& w, update_view& u, const schema_store* schemas) {
    if (u.data.type == qt::kTable) return parse_table(w, u);
    if (u.data.type != qt::kList || u.data.count == 0) return fail(errc::bad_data, u.data.offset);
    u.columns = u.data;
    u.column_count = static_cast<uint32_t>(u.data.count);
    const int32_t id = schemas == nullptr ? -1 : schemas->find(u.table);
    u.sym_column = id >= 0 ? schemas->sym_column(static_cast<uint32_t>(id)) : kDefaultSymColumn;
    const auto first = static_cast<int8_t>(w.body()[u.data.offset + 6]);  // count > 0
    const bool row = first < 0 && first != qt::kError;  // an atom: one row
    // tick.q's .u.upd adds a time column when the data's first one is not timespans. We do
    // when that also makes the width the schema's (a feed sending its own timestamps in a
    // schema of that width is taken as is); the sym index (counted with time) is one less.
    const bool untimed = first != (row ? -qt::kTimespan : qt::kTimespan);
    u.time_missing = u.kind == upd_kind::u_upd && untimed && id >= 0 &&
                     schema_width(*schemas, uint32_t(id)) == u.column_count + 1;
    if (u.time_missing && u.sym_column > 0) --u.sym_column;
    if (row) return parse_row(w, u);
    u.shape = data_shape::columns;
    return scan_columns(w, u);
}

}  // namespace

bool is_update_call(std::span<const uint8_t> body, bool little_endian) {
    // Reads only the list head and the first item: O(1) however big the update.
    constexpr uint64_t kHead = 6;
    if (body.size() < kHead || static_cast<int8_t>(body[0]) != qt::kList) return false;
    if (qipc::load_u32(body.data() + 2, little_endian) == 0) return false;
    const qipc::walker w(body, little_endian);
    object_view f;
    if (!w.at(kHead, f).ok()) return false;
    const std::string_view name = callee(f);
    return name == "upd" || name == ".u.upd";
}

status parse_update(std::span<const uint8_t> body, bool little_endian, update_view& out,
                    const schema_store* schemas) {
    out = update_view{};
    out.body = body;
    out.little_endian = little_endian;
    const qipc::walker w(body, little_endian);
    object_view top, f;
    const qipc::status qs = w.validate(&top);
    if (!qs) return status{errc::malformed, qs.code, qs.offset};
    if (top.type != qt::kList || top.count == 0) return fail(errc::not_a_call, 0);
    qipc::child_cursor cur(w, top);
    cur.next(f);
    const std::string_view name = callee(f);
    if (name != "upd" && name != ".u.upd") return fail(errc::wrong_function, f.offset);
    if (top.count != 3) return fail(errc::rank, top.offset);
    out.kind = name == "upd" ? upd_kind::upd : upd_kind::u_upd;
    cur.next(out.table_sym);
    out.data = trusted_tail(w, end_of(out.table_sym), end_of(top));
    if (out.table_sym.type != -qt::kSymbol || qipc::symbol_text(out.table_sym).empty()) {
        return fail(errc::bad_table_arg, out.table_sym.offset);
    }
    out.table = qipc::symbol_text(out.table_sym);
    status st = parse_data(w, out, schemas);
    if (!st) return st;
    out.forwardable = out.shape == data_shape::table && f.type == -qt::kSymbol &&
                      out.kind == upd_kind::upd;
    return {};
}

}  // namespace qgate::pubsub
