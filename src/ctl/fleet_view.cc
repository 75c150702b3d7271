// DESIGN: see fleet_view.h. Every function is a pure reading of the map, so two instances with
// the same keys apply the same backends, drains and ejections, whatever order the keys came in.
#include "ctl/fleet_view.h"

#include <optional>

#include "ctl/fleet_json.h"
#include "qgate/ctl.h"

namespace qgate::ctl::fleet {
namespace {

constexpr std::string_view kBackends = "backends/";
constexpr std::string_view kDrain = "drain/";
constexpr std::string_view kInstances = "instances/";
constexpr std::string_view kHealth = "health/";

bool starts(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A registered or discovered backend keeps its source on every instance; anything else (the
// admin's .qgate.fleet.add, another name) is `def`.
backend_source source_of(std::string_view name, backend_source def) {
    for (const backend_source s : {backend_source::registered, backend_source::discovery}) {
        if (name == source_name(s)) return s;
    }
    return def;
}

// The keys starting with `p`, as (name after p, value).
template <typename F> void each_under(const kv_map& kv, std::string_view p, F f) {
    for (auto it = kv.lower_bound(std::string(p)); it != kv.end() && starts(it->first, p);
         ++it) {
        f(std::string_view(it->first).substr(p.size()), it->second);
    }
}

}  // namespace

std::vector<backend_conf> backends_of(const kv_map& kv, const backend_conf& defaults,
                                      std::vector<std::string>& bad) {
    std::vector<backend_conf> out;
    each_under(kv, kBackends, [&](std::string_view name, const std::string& value) {
        std::string err;
        const std::optional<json> j = parse_json(value, err);
        backend_conf b = defaults;
        b.name = std::string(name);
        if (!j || j->k != json::kind::object) {
            bad.push_back(b.name + ": " + (err.empty() ? "not an object" : err));
            return;
        }
        b.group = j->str("group");
        if (b.name.empty() || b.group.empty() || !parse_endpoint(j->str("address"), b.addr, err) ||
            b.addr.port == 0) {
            bad.push_back(b.name + ": needs a group and an address host:port" +
                          (err.empty() ? "" : " (" + err + ")"));
            return;
        }
        b.source = source_of(j->str("source"), defaults.source);
        out.push_back(std::move(b));
    });
    return out;
}

std::set<std::string> drained_of(const kv_map& kv) {
    std::set<std::string> out;
    each_under(kv, kDrain, [&](std::string_view name, const std::string&) {
        if (!name.empty()) out.emplace(name);
    });
    return out;
}

std::vector<instance_info> instances_of(const kv_map& kv) {
    std::vector<instance_info> out;
    each_under(kv, kInstances, [&](std::string_view name, const std::string& value) {
        instance_info i;
        i.name = std::string(name);
        std::string err;
        if (const std::optional<json> j = parse_json(value, err); j) {
            i.address = j->str("address");
            i.generation = j->int_of("generation");
            i.seen_ms = j->int_of("seen_ms");
        }
        out.push_back(std::move(i));
    });
    return out;
}

std::set<std::string> down_of(const kv_map& kv, uint32_t quorum) {
    std::set<std::string> out;
    if (quorum == 0) return out;
    std::map<std::string, uint32_t> downs;
    each_under(kv, kHealth, [&](std::string_view rest, const std::string& value) {
        const std::size_t slash = rest.rfind('/');
        if (slash == std::string_view::npos || slash == 0 || value != "down") return;
        ++downs[std::string(rest.substr(0, slash))];
    });
    for (const auto& [name, n] : downs) {
        if (n >= quorum) out.insert(name);
    }
    return out;
}

std::string backend_value(const backend_conf& b, std::string_view instance,
                          std::string_view owner) {
    return "{\"group\":" + quote(b.group) + ",\"address\":" + quote(format_endpoint(b.addr)) +
           ",\"source\":" + quote(source_name(b.source)) + ",\"instance\":" + quote(instance) +
           ",\"owner\":" + quote(owner) + "}";
}

std::string instance_value(const instance_info& i) {
    return "{\"address\":" + quote(i.address) + ",\"generation\":" +
           std::to_string(i.generation) + ",\"seen_ms\":" + std::to_string(i.seen_ms) + "}";
}

void apply_event(kv_map& kv, std::string_view prefix, const std::string& key, bool put,
                 const std::string& value) {
    if (!starts(key, prefix)) return;
    std::string rel = key.substr(prefix.size());
    if (put) {
        kv[std::move(rel)] = value;
    } else {
        kv.erase(rel);
    }
}

}  // namespace qgate::ctl::fleet
