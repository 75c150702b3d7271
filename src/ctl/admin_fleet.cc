// DESIGN: see admin_fleet.h. Admin thread; the writes go to etcd through the hooks (bounded by
// fleet.timeout_ms) and reach this instance, like every other, through its watch.
#include "ctl/admin_fleet.h"

#include <cstring>

#include "ctl/admin_tables.h"
#include "qgate/ctl.h"

namespace qgate::ctl {
namespace {

using qipc::value;
namespace qtype = qipc::qtype;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

std::optional<std::string> one_name(std::string_view t) {
    t = trim(t);
    if (!t.empty() && t.front() == '`') t.remove_prefix(1);
    if (t.size() >= 2 && t.front() == '"' && t.back() == '"') t = t.substr(1, t.size() - 2);
    if (!t.empty() && t.front() == ':') t.remove_prefix(1);  // `:host:port
    if (t.empty() || t.find_first_of(" ;[]`\"") != std::string_view::npos) return std::nullopt;
    return std::string(t);
}

value no_fleet() { return value::error("qgate: no fleet configured"); }

}  // namespace

std::optional<std::vector<std::string>> name_args(const admin_args& a) {
    std::vector<std::string> out;
    if (!a.items.empty()) {
        for (const value& v : a.items) {
            std::optional<std::string> n;
            if (v.type == -qtype::kSymbol && !v.syms.empty()) n = one_name(v.syms.front());
            if (v.type == qtype::kChar) {
                n = one_name({reinterpret_cast<const char*>(v.raw.data()), v.raw.size()});
            }
            if (!n) return std::nullopt;
            out.push_back(std::move(*n));
        }
        return out;
    }
    std::string_view t = a.text;
    while (!t.empty()) {
        const std::size_t semi = t.find(';');
        std::optional<std::string> n = one_name(t.substr(0, semi));
        if (!n) return std::nullopt;
        out.push_back(std::move(*n));
        t = semi == std::string_view::npos ? std::string_view() : t.substr(semi + 1);
    }
    return out;
}

value fleet_table(std::span<const fleet_row> rows) {
    std::vector<std::string> inst;
    std::vector<std::string> addr;
    std::vector<int64_t> gen;
    std::vector<uint8_t> seen(rows.size() * sizeof(int64_t));
    std::vector<uint8_t> self;
    std::vector<value> etcd;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const fleet_row& r = rows[i];
        inst.push_back(r.instance);
        addr.push_back(r.address);
        gen.push_back(r.generation);
        const int64_t ns = r.seen_ns - kQEpochUnixNs;
        std::memcpy(seen.data() + i * sizeof ns, &ns, sizeof ns);  // little-endian host
        self.push_back(r.self ? 1 : 0);
        etcd.push_back(value::string(r.etcd));
    }
    return value::table({"instance", "address", "generation", "seen", "self", "etcd"},
                        {value::symbols(std::move(inst)), value::symbols(std::move(addr)),
                         value::longs(gen), value::fixed(qtype::kTimestamp, std::move(seen)),
                         value::fixed(qtype::kBool, std::move(self)),
                         value::list(std::move(etcd))});
}

value fleet_fn(const admin_args&, const admin_context& ctx) {
    if (ctx.control == nullptr || !ctx.control->fleet_rows) return no_fleet();
    const std::vector<fleet_row> rows = ctx.control->fleet_rows();
    return fleet_table(rows);
}

value fleet_add_fn(const admin_args& a, const admin_context& ctx) {
    if (ctx.control == nullptr || !ctx.control->fleet_add) return no_fleet();
    const std::optional<std::vector<std::string>> args = name_args(a);
    backend_conf b;
    std::string error;
    if (!args || args->size() != 3 || !parse_endpoint((*args)[2], b.addr, error) ||
        b.addr.port == 0) {
        return value::error("qgate: .qgate.fleet.add takes a name, a group and host:port, e.g. "
                            "[`rdb4;`rdb;\"10.0.0.4:5010\"]");
    }
    b.name = (*args)[0];
    b.group = (*args)[1];
    b.source = backend_source::fleet;
    if (!ctx.control->fleet_add(b, error)) return value::error("qgate: fleet: " + error);
    return value::symbol(b.name);
}

value fleet_remove_fn(const admin_args& a, const admin_context& ctx) {
    if (ctx.control == nullptr || !ctx.control->fleet_remove) return no_fleet();
    const std::optional<std::vector<std::string>> args = name_args(a);
    if (!args || args->size() != 1) {
        return value::error("qgate: .qgate.fleet.remove takes a backend name, e.g. [`rdb4]");
    }
    std::string error;
    if (!ctx.control->fleet_remove(args->front(), error)) {
        return value::error("qgate: fleet: " + error);
    }
    return value::symbol(args->front());
}

}  // namespace qgate::ctl
