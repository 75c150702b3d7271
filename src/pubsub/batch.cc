// Publish-interval batching (batch.h). Design note: add() only validates that an update's
// columns line up with the held ones (number and type) and keeps its reference; flush() walks
// the held updates' columns in lockstep, measuring then writing through the same routine (a
// counting writer vs qipc::body_writer), into one exact-size buffer. A column's payload is
// copied from each update as it is: vector elements and list items concatenate; a row's atom
// contributes its value bytes, a row's string one list item. Attributes are cleared: `s#` or
// `u#` need not hold across updates. Little-endian only (bytes are copied as they are). One
// batcher per table on the publishing shard.

#include "qgate/pubsub/batch.h"

#include "qgate/qipc/frame.h"
#include "qgate/qipc/writer.h"

namespace qgate::pubsub {
namespace {

using qipc::object_view;
namespace qt = qipc::qtype;

constexpr uint8_t kUpdSymbol[] = {0xf5, 'u', 'p', 'd', 0};
constexpr uint64_t kHead = 6;  // type, attribute, count

status fail(errc e, uint64_t offset = 0) { return status{e, qipc::errc::ok, offset}; }

/// The merged column type one item of a row, or one column, contributes to.
int8_t merged_type(const update_view& u, const object_view& col) {
    if (u.shape != data_shape::row) return col.type;
    return col.is_atom() ? static_cast<int8_t>(-col.type) : qt::kList;
}

/// The bytes one column (or row item) adds to the merged column.
std::span<const uint8_t> payload(const update_view& u, const object_view& col) {
    if (u.shape != data_shape::row) return col.bytes.subspan(kHead);
    return col.is_atom() ? col.bytes.subspan(1) : col.bytes;
}

/// body_writer's interface, counting only.
struct counter {
    uint64_t n = 0;
    counter& u8(uint8_t) { return n += 1, *this; }
    counter& bytes(std::span<const uint8_t> b) { return n += b.size(), *this; }
    counter& vector_head(int8_t, uint8_t, uint32_t) { return n += kHead, *this; }
};

struct lockstep {
    std::vector<qipc::walker>& walkers;
    std::vector<qipc::child_cursor>& cursors;
};

template <class Out>
void emit_columns(Out& out, std::span<const update_view* const> views, uint64_t rows,
                  lockstep& ls) {
    ls.walkers.clear();
    ls.cursors.clear();
    ls.walkers.reserve(views.size());  // cursors point at walkers: no reallocation after this
    for (const update_view* u : views) {
        ls.walkers.emplace_back(u->body, true);
        ls.cursors.emplace_back(ls.walkers.back(), u->columns);
    }
    const uint32_t ncols = views.front()->column_count;
    out.vector_head(qt::kList, 0, ncols);
    for (uint32_t c = 0; c < ncols; ++c) {
        object_view col;
        for (size_t i = 0; i < views.size(); ++i) {
            ls.cursors[i].next(col);
            if (i == 0) out.vector_head(merged_type(*views[0], col), 0, uint32_t(rows));
            out.bytes(payload(*views[i], col));
        }
    }
}

template <class Out>
void emit(Out& out, std::span<const update_view* const> views, uint64_t rows,
          std::span<const uint8_t> names, lockstep& ls) {
    const update_view& first = *views.front();
    out.vector_head(qt::kList, 0, 3).bytes(kUpdSymbol).bytes(first.table_sym.bytes);
    if (first.shape == data_shape::table) names = first.names.bytes;
    if (!names.empty()) {
        out.u8(static_cast<uint8_t>(qt::kTable)).u8(0).u8(static_cast<uint8_t>(qt::kDict));
        out.bytes(names);
    }
    emit_columns(out, views, rows, ls);
}

/// Same number of columns, same merged type for each.
bool lines_up(const update_view& a, const update_view& b) {
    if (a.column_count != b.column_count || a.table != b.table) return false;
    const qipc::walker wa(a.body, true), wb(b.body, true);
    qipc::child_cursor ca(wa, a.columns), cb(wb, b.columns);
    object_view x, y;
    while (ca.next(x) && cb.next(y)) {
        if (merged_type(a, x) != merged_type(b, y)) return false;
    }
    return true;
}

}  // namespace

status batcher::add(const update_view& u, update_ref msg) {
    if (!u.little_endian) return fail(errc::big_endian);
    if (!held_.empty() && !lines_up(held_.front().u, u)) return fail(errc::schema_mismatch);
    held_.push_back(held{u, std::move(msg)});
    rows_ += u.rows;
    return {};
}

status batcher::flush(update_ref& out, std::span<const uint8_t> names) {
    out.reset();
    if (held_.empty()) return {};
    std::vector<const update_view*>& views = views_;
    views.clear();
    for (const held& h : held_) views.push_back(&h.u);
    lockstep ls{walkers_, cursors_};
    counter c;
    emit(c, views, rows_, names, ls);
    const uint64_t length = qipc::kHeaderSize + c.n;
    update_builder b(length);
    if (!b.ok()) return fail(errc::no_memory);
    qipc::write_header({true, qipc::msg_type::async, false, length}, b.data().data());
    qipc::body_writer w(b.data().subspan(qipc::kHeaderSize));
    emit(w, views, rows_, names, ls);
    if (!w.ok() || w.size() != c.n) return fail(errc::no_space);  // cannot happen: same routine
    out = std::move(b).freeze();
    held_.clear();
    rows_ = 0;
    return {};
}

}  // namespace qgate::pubsub
