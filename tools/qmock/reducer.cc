// qmock as a fan-out reducer: qgate sends a custom join as (join; results), which qmock runs as
// a call of `join` with one argument, the general list of the partial results. Two joins:
//   counts[results]  long vector: the count of each result (a table's row count, a vector's
//                    length, 1 for an atom), i.e. q's `count each`.
// One join is enough to prove the reducer round trip. Also `value x` for the queries qgate
// forwards from string-form `.gw.*` calls (`value "getTrades[`AAPL;3]"`): a char vector runs as
// q text, a general list as a call — the two cases of q's `value` a gateway produces.
#include <cstring>

#include "qgate/qipc/frame.h"
#include "qgate/qipc/walker.h"
#include "request.h"

namespace qmock {

namespace qipc = qgate::qipc;

namespace {

// Count of one object: rows for a table (its first column's length), items for a vector or
// list, 1 otherwise.
int64_t count_of(const qipc::walker& w, const qipc::object_view& v) {
    if (v.type == qipc::qtype::kTable) {
        qipc::child_cursor dict(w, v);
        qipc::object_view d, cols, first;
        if (!dict.next(d)) return 0;
        qipc::child_cursor kv(w, d);
        if (!kv.next(cols) || !kv.next(cols)) return 0;  // keys, then the column list
        qipc::child_cursor c(w, cols);
        return c.next(first) ? static_cast<int64_t>(first.count) : 0;
    }
    if (v.type >= 0 && v.type < 20) return static_cast<int64_t>(v.count);
    return 1;
}

}  // namespace

void fn_value(call& ctx, std::span<const arg> args, reply& out) {
    if (args.size() != 1) return out.set_error("rank");
    run_request(ctx, args[0], out);
}

void fn_counts(call&, std::span<const arg> args, reply& out) {
    if (args.size() != 1) return out.set_error("rank");
    qipc::walker w(args[0], true);
    qipc::object_view top;
    if (!w.at(0, top).ok() || top.type != qipc::qtype::kList) {
        return out.set_error("type");
    }
    std::vector<uint8_t> body(6 + 8 * top.count);
    body[0] = qipc::qtype::kLong;
    qipc::store_u32(body.data() + 2, static_cast<uint32_t>(top.count), true);
    qipc::child_cursor items(w, top);
    qipc::object_view it;
    for (uint64_t i = 0; i < top.count && items.next(it); ++i) {
        const int64_t n = count_of(w, it);
        std::memcpy(body.data() + 6 + 8 * i, &n, 8);
    }
    out.set_owned(std::move(body));
}

}  // namespace qmock
