// Schema store, .u.sub reply and .u.end (schema.h). Design note: control-plane code — it runs
// when the upstream answers our own .u.sub, when a publisher's first update names a new table,
// and once per subscription — so it may allocate; it never throws on peer input (errors are
// statuses). Replies are sized first and written with qipc::body_writer into one exact-size
// vector. Schemas are stored little-endian because they are copied into replies as they are.

#include "qgate/pubsub/schema.h"

#include "qgate/qipc/frame.h"
#include "qgate/qipc/writer.h"

namespace qgate::pubsub {
namespace {

using qipc::object_view;
namespace qt = qipc::qtype;

constexpr uint64_t kListHead = 6;  // type, attribute, count
constexpr uint8_t kGrouped = 4;    // `g#
constexpr std::string_view kEnd = ".u.end";

status fail(errc e, uint64_t offset = 0) { return status{e, qipc::errc::ok, offset}; }

std::string_view callee(const object_view& v) {
    if (v.type == -qt::kSymbol) return qipc::symbol_text(v);
    if (v.type == qt::kChar) return qipc::char_text(v);
    return {};
}

/// Index of the column named sym in a symbol vector, or kDefaultSymColumn.
uint32_t sym_index(const object_view& names) {
    const uint8_t* p = qipc::vector_data(names);
    const uint8_t* end = names.bytes.data() + names.bytes.size();
    for (uint32_t i = 0; p != nullptr && i < names.count && p < end; ++i) {
        const std::string_view n(reinterpret_cast<const char*>(p));
        if (n == "sym") return i;
        p += n.size() + 1;
    }
    return kDefaultSymColumn;
}

/// Every table id a request names (all of them for `); false with `missing` when unknown.
bool requested_ids(const schema_store& s, const sub_request& r, std::vector<uint32_t>& ids,
                   std::string_view& missing) {
    if (r.all_tables) {
        for (uint32_t i = 0; i < s.size(); ++i) ids.push_back(i);
        return true;
    }
    name_iter it(r.tables);
    for (std::string_view n; it.next(n);) {
        const int32_t id = s.find(n);
        if (id < 0) return missing = n, false;
        ids.push_back(static_cast<uint32_t>(id));
    }
    return true;
}

uint64_t pair_size(const schema_store& s, uint32_t id) {
    return kListHead + 2 + s.name(id).size() + s.schema(id).size();
}

void write_pair(qipc::body_writer& w, const schema_store& s, uint32_t id) {
    w.vector_head(qt::kList, 0, 2).symbol(s.name(id)).bytes(s.schema(id));
}

}  // namespace

status schema_store::add(std::string_view name, std::span<const uint8_t> table_object,
                         bool little_endian) {
    if (!little_endian) return fail(errc::big_endian);
    const qipc::walker w(table_object, little_endian);
    object_view top;
    const qipc::status qs = w.validate(&top);
    if (!qs) return status{errc::malformed, qs.code, qs.offset};
    if (top.type != qt::kTable && top.type != qt::kDict) return fail(errc::bad_data);
    table t{std::string(name), std::vector<uint8_t>(table_object.begin(), table_object.end())};
    if (top.type == qt::kTable) {
        object_view dict, names;
        qipc::child_cursor tc(w, top);
        tc.next(dict);
        qipc::child_cursor dc(w, dict);
        if (dc.next(names) && names.type == qt::kSymbol) {
            t.names_offset = static_cast<uint32_t>(names.offset);
            t.names_size = static_cast<uint32_t>(names.bytes.size());
            t.sym_column = sym_index(names);
        }
    }
    const int32_t id = find(name);
    if (id >= 0) tables_[static_cast<uint32_t>(id)] = std::move(t);
    else tables_.push_back(std::move(t));
    return {};
}

status schema_store::load_pair(const qipc::walker& w, const object_view& pair) {
    object_view n, schema;
    qipc::child_cursor cur(w, pair);
    if (pair.type != qt::kList || pair.count != 2 || !cur.next(n) || !cur.next(schema) ||
        n.type != -qt::kSymbol) {
        return fail(errc::bad_data, pair.offset);
    }
    return add(qipc::symbol_text(n), schema.bytes, w.little_endian());
}

status schema_store::load_sub_reply(std::span<const uint8_t> body, bool little_endian) {
    tables_.clear();
    const qipc::walker w(body, little_endian);
    object_view top, a, b, b0;
    const qipc::status qs = w.validate(&top);
    if (!qs) return status{errc::malformed, qs.code, qs.offset};
    if (top.type != qt::kList) return fail(errc::bad_data);
    qipc::child_cursor cur(w, top);
    if (top.count == 2 && cur.next(a) && cur.next(b)) {
        if (a.type == -qt::kSymbol) return load_pair(w, top);  // (t;schema)
        qipc::child_cursor bc(w, b);
        const bool rdb = b.type == qt::kList && b.count == 2 && bc.next(b0) &&
                         b0.type != -qt::kSymbol;
        if (rdb) top = a;  // ((t;schema)...;(i;L))
    }
    qipc::child_cursor pairs(w, top);
    object_view p;
    while (pairs.next(p)) {
        status st = load_pair(w, p);
        if (!st) return st;
    }
    return {};
}

status schema_store::learn(const update_view& u) {
    if (find(u.table) >= 0) return {};
    if (u.shape != data_shape::table) return fail(errc::unknown_table, u.table_sym.offset);
    if (!u.little_endian) return fail(errc::big_endian);
    const uint64_t size = 3 + u.names.bytes.size() + kListHead + u.column_count * kListHead;
    std::vector<uint8_t> obj(size);
    qipc::body_writer out(obj);
    out.u8(static_cast<uint8_t>(qt::kTable)).u8(0).u8(static_cast<uint8_t>(qt::kDict));
    out.object(u.names).vector_head(qt::kList, 0, u.column_count);
    const qipc::walker w(u.body, true);
    qipc::child_cursor cur(w, u.columns);
    object_view col;
    for (uint32_t i = 0; cur.next(col); ++i) {
        out.vector_head(col.type, i == u.sym_column ? kGrouped : 0, 0);
    }
    if (!out.ok() || out.size() != size) return fail(errc::no_space);
    return add(u.table, obj, true);
}

int32_t schema_store::find(std::string_view name) const {
    for (size_t i = 0; i < tables_.size(); ++i) {
        if (tables_[i].name == name) return static_cast<int32_t>(i);
    }
    return -1;
}

std::span<const uint8_t> schema_store::column_names(uint32_t id) const {
    const table& t = tables_[id];
    return std::span<const uint8_t>(t.schema).subspan(t.names_offset, t.names_size);
}

status build_sub_reply(const schema_store& s, const sub_request& r, std::vector<uint8_t>& out,
                       std::string_view& missing) {
    std::vector<uint32_t> ids;
    if (!requested_ids(s, r, ids, missing)) return fail(errc::unknown_table);
    const bool single = !r.all_tables && ids.size() == 1 &&
                        r.tables.k != name_args::kind::sym_vector &&
                        r.tables.k != name_args::kind::sym_list;
    uint64_t body = single ? 0 : kListHead;
    for (uint32_t id : ids) body += pair_size(s, id);
    constexpr uint64_t kLogInfo = kListHead + 9 + 2;  // (0N;`)
    if (r.with_log_info) body += kListHead + kLogInfo;
    out.assign(qipc::kHeaderSize + body, 0);
    qipc::write_header({true, qipc::msg_type::response, false, out.size()}, out.data());
    qipc::body_writer w(std::span<uint8_t>(out).subspan(qipc::kHeaderSize));
    if (r.with_log_info) w.vector_head(qt::kList, 0, 2);
    if (!single) w.vector_head(qt::kList, 0, static_cast<uint32_t>(ids.size()));
    for (uint32_t id : ids) write_pair(w, s, id);
    if (r.with_log_info) {
        w.vector_head(qt::kList, 0, 2).u8(static_cast<uint8_t>(-qt::kLong));
        w.u64(uint64_t{1} << 63).symbol("");  // 0N: r.q's .u.rep skips the log replay
    }
    return w.ok() && w.size() == body ? status{} : fail(errc::no_space);
}

uint64_t write_end_message(int32_t date, std::span<uint8_t> out) {
    if (out.size() < kEndMessageSize) return 0;
    qipc::write_header({true, qipc::msg_type::async, false, kEndMessageSize}, out.data());
    qipc::body_writer w(out.subspan(qipc::kHeaderSize, kEndMessageSize - qipc::kHeaderSize));
    w.vector_head(qt::kList, 0, 2).symbol(kEnd).u8(static_cast<uint8_t>(-qt::kDate));
    w.u32(static_cast<uint32_t>(date));
    return w.ok() ? kEndMessageSize : 0;
}

status parse_end(std::span<const uint8_t> body, bool little_endian, int32_t& date) {
    const qipc::walker w(body, little_endian);
    object_view top, f, d;
    const qipc::status qs = w.validate(&top);
    if (!qs) return status{errc::malformed, qs.code, qs.offset};
    if (top.type != qt::kList || top.count == 0) return fail(errc::not_a_call);
    qipc::child_cursor cur(w, top);
    cur.next(f);
    if (callee(f) != kEnd) return fail(errc::wrong_function, f.offset);
    if (top.count != 2) return fail(errc::rank, top.offset);
    cur.next(d);
    if (d.type != -qt::kDate) return fail(errc::bad_data, d.offset);
    date = static_cast<int32_t>(qipc::load_u32(d.bytes.data() + 1, little_endian));
    return {};
}

}  // namespace qgate::pubsub
