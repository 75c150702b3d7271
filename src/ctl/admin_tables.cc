// DESIGN: see admin_tables.h. Each table is written column by column by one function per
// table (its schema in one place); the keyed form splits the first columns off into the key
// table, and an action's one-row answer is the same table turned into a dictionary, so a
// column is declared once whatever the shape. Admin thread; allocation is fine here.
#include "ctl/admin_tables.h"

#include <cstring>
#include <utility>

namespace qgate::ctl {
namespace {

using qipc::value;
namespace qtype = qipc::qtype;

// The columns of one table, appended in order.
class columns {
  public:
    template <typename R, typename F> void longs(std::string name, std::span<const R> rows, F f) {
        std::vector<int64_t> v;
        v.reserve(rows.size());
        for (const R& r : rows) v.push_back(f(r));
        add(std::move(name), value::longs(v));
    }
    template <typename R, typename F> void syms(std::string name, std::span<const R> rows, F f) {
        std::vector<std::string> v;
        v.reserve(rows.size());
        for (const R& r : rows) v.emplace_back(f(r));
        add(std::move(name), value::symbols(std::move(v)));
    }
    template <typename R, typename F>
    void strings(std::string name, std::span<const R> rows, F f) {
        std::vector<value> v;
        v.reserve(rows.size());
        for (const R& r : rows) v.push_back(value::string(f(r)));
        add(std::move(name), value::list(std::move(v)));
    }
    template <typename R, typename F>
    void sym_lists(std::string name, std::span<const R> rows, F f) {
        std::vector<value> v;
        v.reserve(rows.size());
        for (const R& r : rows) v.push_back(value::symbols(f(r)));
        add(std::move(name), value::list(std::move(v)));
    }
    /// Unix nanoseconds as q timestamps (nanoseconds from 2000.01.01).
    template <typename R, typename F>
    void timestamps(std::string name, std::span<const R> rows, F f) {
        std::vector<uint8_t> raw(rows.size() * sizeof(int64_t));
        for (std::size_t i = 0; i < rows.size(); ++i) {
            const int64_t ns = f(rows[i]) - kQEpochUnixNs;
            std::memcpy(raw.data() + i * sizeof ns, &ns, sizeof ns);  // little-endian host
        }
        add(std::move(name), value::fixed(qtype::kTimestamp, std::move(raw)));
    }

    value table() { return value::table(std::move(names_), std::move(cols_)); }
    /// Keyed on the first `keys` columns: (key table)!(value table).
    value keyed(std::size_t keys) {
        const auto k = static_cast<std::ptrdiff_t>(keys);
        std::vector<std::string> kn(names_.begin(), names_.begin() + k);
        std::vector<value> kc(std::make_move_iterator(cols_.begin()),
                              std::make_move_iterator(cols_.begin() + k));
        std::vector<std::string> vn(names_.begin() + k, names_.end());
        std::vector<value> vc(std::make_move_iterator(cols_.begin() + k),
                              std::make_move_iterator(cols_.end()));
        return value::dict(value::table(std::move(kn), std::move(kc)),
                           value::table(std::move(vn), std::move(vc)));
    }
    /// The first row as column name ! value (an atom, or a string / symbol vector).
    value row_dict() {
        std::vector<value> atoms;
        atoms.reserve(cols_.size());
        for (value& c : cols_) atoms.push_back(first(std::move(c)));
        return value::dict(value::symbols(std::move(names_)), value::list(std::move(atoms)));
    }

  private:
    void add(std::string name, value col) {
        names_.push_back(std::move(name));
        cols_.push_back(std::move(col));
    }
    static value first(value col) {
        if (col.type == qtype::kList) return std::move(col.items.front());
        if (col.type == qtype::kSymbol) return value::symbol(std::move(col.syms.front()));
        const auto w = static_cast<std::ptrdiff_t>(qipc::elem_size(col.type));
        return value::fixed(static_cast<int8_t>(-col.type),
                            std::vector<uint8_t>(col.raw.begin(), col.raw.begin() + w));
    }

    std::vector<std::string> names_;
    std::vector<value> cols_;
};

void backend_columns(columns& c, std::span<const backend_row> r) {
    c.syms("name", r, [](const backend_row& x) { return x.name; });
    c.syms("group", r, [](const backend_row& x) { return x.group; });
    c.syms("address", r, [](const backend_row& x) { return x.address; });
    c.syms("source", r, [](const backend_row& x) { return x.source; });
    c.syms("state", r, [](const backend_row& x) { return x.state; });
    c.longs("conns", r, [](const backend_row& x) { return x.conns; });
    c.longs("inflight", r, [](const backend_row& x) { return x.inflight; });
    c.longs("queued", r, [](const backend_row& x) { return x.queued; });
    c.longs("calls", r, [](const backend_row& x) { return x.calls; });
    c.longs("errors", r, [](const backend_row& x) { return x.errors; });
    c.longs("p50_us", r, [](const backend_row& x) { return x.p50_us; });
    c.longs("p99_us", r, [](const backend_row& x) { return x.p99_us; });
    c.strings("lasterror", r, [](const backend_row& x) { return x.lasterror; });
}

void client_columns(columns& c, std::span<const client_row> r) {
    c.longs("id", r, [](const client_row& x) { return x.id; });
    c.syms("user", r, [](const client_row& x) { return x.user; });
    c.syms("address", r, [](const client_row& x) { return x.address; });
    c.longs("listener", r, [](const client_row& x) { return x.listener; });
    c.longs("shard", r, [](const client_row& x) { return x.shard; });
    c.timestamps("since", r, [](const client_row& x) { return x.since_ns; });
    c.longs("calls", r, [](const client_row& x) { return x.calls; });
    c.longs("bytesin", r, [](const client_row& x) { return x.bytes_in; });
    c.longs("bytesout", r, [](const client_row& x) { return x.bytes_out; });
    c.longs("inflight", r, [](const client_row& x) { return x.inflight; });
}

}  // namespace

// A histogram is two rows, its count (<flat name>_count) and its sum in µs (_sum): its buckets
// are GET /metrics' business.
value stats_table(const stat_list& list) {
    struct stat_row {
        std::string name;
        std::string_view kind;
        int64_t value;
        std::string help;
    };
    std::vector<stat_row> rows;
    rows.reserve(list.size());
    for (const stat_sample& s : list) {
        const std::string_view kind = kind_name(s.desc.kind);
        const std::string help(s.desc.help);
        if (s.desc.kind != stat_kind::histogram) {
            rows.push_back({s.flat_name(), kind, static_cast<int64_t>(s.value), help});
            continue;
        }
        rows.push_back({s.flat_name() + "_count", kind, static_cast<int64_t>(s.value),
                        help + " (count)"});
        rows.push_back({s.flat_name() + "_sum", kind, static_cast<int64_t>(s.hist.sum_us),
                        help + " (sum, microseconds)"});
    }
    const std::span<const stat_row> r(rows);
    columns c;
    c.syms("name", r, [](const stat_row& x) { return x.name; });
    c.syms("kind", r, [](const stat_row& x) { return std::string(x.kind); });
    c.longs("value", r, [](const stat_row& x) { return x.value; });
    c.strings("help", r, [](const stat_row& x) { return x.help; });
    return c.table();
}

value backends_table(std::span<const backend_row> rows) {
    columns c;
    backend_columns(c, rows);
    return c.keyed(1);
}

value clients_table(std::span<const client_row> rows) {
    columns c;
    client_columns(c, rows);
    return c.keyed(1);
}

value routes_table(std::span<const route_row> r) {
    columns c;
    c.longs("order", r, [](const route_row& x) { return x.order; });
    c.sym_lists("match", r, [](const route_row& x) { return x.match; });
    c.sym_lists("users", r, [](const route_row& x) { return x.users; });
    c.sym_lists("target", r, [](const route_row& x) { return x.target; });
    c.syms("policy", r, [](const route_row& x) { return x.policy; });
    c.longs("hits", r, [](const route_row& x) { return x.hits; });
    return c.table();
}

value listeners_table(std::span<const listener_row> r) {
    columns c;
    c.longs("index", r, [](const listener_row& x) { return x.index; });
    c.syms("address", r, [](const listener_row& x) { return x.address; });
    c.longs("port", r, [](const listener_row& x) { return x.port; });
    c.syms("mode", r, [](const listener_row& x) { return x.mode; });
    c.syms("group", r, [](const listener_row& x) { return x.group; });
    c.longs("shards", r, [](const listener_row& x) { return x.shards; });
    c.longs("conns", r, [](const listener_row& x) { return x.conns; });
    return c.keyed(1);
}

value users_table(std::span<const user_row> r) {
    columns c;
    c.syms("user", r, [](const user_row& x) { return x.user; });
    c.longs("conns", r, [](const user_row& x) { return x.conns; });
    c.longs("inflight", r, [](const user_row& x) { return x.inflight; });
    c.longs("connsmax", r, [](const user_row& x) { return x.conns_max; });
    c.longs("callsmax", r, [](const user_row& x) { return x.calls_max; });
    return c.keyed(1);
}

value backend_dict(const backend_row& row) {
    columns c;
    backend_columns(c, {&row, 1});
    return c.row_dict();
}

value client_dict(const client_row& row) {
    columns c;
    client_columns(c, {&row, 1});
    return c.row_dict();
}

}  // namespace qgate::ctl
