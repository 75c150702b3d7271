// Backend table and session mode's picking. Design note: sized once by run_gateway before the
// shards start (kBackendsMax ids) and never resized, so shards index it without
// synchronisation; a record is written once, for a fresh id, before the generation naming it is
// published (hot reload, generation.h). Only the per-backend session counts
// (route::backend_state::load) and the per-listener tickets change, as relaxed atomics.
//
// One backend model for both modes: the groups and load cells are src/route's, and a pick is
// a route::pick call; what is session mode's own is only what it feeds in. Its load cells are
// its own array (a session is not a request: mixing the two counts would unbalance both), and
// liveness is per session: a backend that failed this session's connect is in its `tried`
// mask, passed to the policy as `skip`, so every policy moves on to its next choice
// (consistent-hash: the next member clockwise on the ring, as request mode does for a down
// backend). The rotation cursor is a per-listener ticket taken once per pick, so concurrent
// picks on different shards start at different members, as before.

#include "proxy/upstreams.h"

#include <algorithm>

#include "proxy/generation.h"
#include "qgate/ctl.h"
#include "qgate/route/policy.h"

namespace qgate::proxy {

std::vector<route::group_spec> group_specs(const config& cfg, const std::vector<uint32_t>& ids) {
    std::vector<route::group_spec> out;
    for (uint32_t b = 0; b < cfg.backends.size(); ++b) {
        const backend_conf& bc = cfg.backends[b];
        route::group_spec* g = nullptr;
        for (auto& s : out) {
            if (s.name == bc.group) g = &s;
        }
        if (g == nullptr) {
            out.push_back({bc.group, {}});
            g = &out.back();
        }
        g->members.push_back({ids[b], bc.name});
    }
    for (const std::string& name : ctl::runtime_groups(cfg)) {
        const auto named = [&name](const route::group_spec& s) { return s.name == name; };
        const auto it = std::find_if(out.begin(), out.end(), named);
        if (it != out.end()) {
            it->may_be_empty = true;
        } else {
            out.push_back({name, {}, true});
        }
    }
    return out;
}

route::policy to_route_policy(route_policy p) {
    switch (p) {
    case route_policy::round_robin: return route::policy::round_robin;
    case route_policy::first_available: return route::policy::first_available;
    case route_policy::consistent_hash: return route::policy::consistent_hash;
    case route_policy::least_busy: break;
    }
    return route::policy::least_busy;
}

void upstream_table::build(const config& cfg) {
    all_ = std::make_unique<upstream[]>(kBackendsMax);
    state_ = std::make_unique<route::backend_state[]>(kBackendsMax);
    for (uint32_t b = 0; b < kBackendsMax; ++b) {
        state_[b].live.store(true, std::memory_order_relaxed);
    }
    tickets_ = std::make_unique<std::atomic<uint32_t>[]>(cfg.listeners.size());
    for (const listener_conf& lc : cfg.listeners) group_names_.push_back(lc.group);
}

bool upstream_table::add(const config& cfg, const std::vector<uint32_t>& ids,
                         const std::vector<uint32_t>& added, std::string& error) {
    for (size_t i = 0; i < cfg.backends.size(); ++i) {
        if (std::find(added.begin(), added.end(), ids[i]) == added.end()) continue;
        const backend_conf& b = cfg.backends[i];
        upstream& u = all_[ids[i]];
        state_[ids[i]].drained.store(false, std::memory_order_relaxed);  // a reused id
        u.name = b.name;
        u.group = b.group;
        u.passthrough = b.credentials == kPassthrough;
        u.credentials = b.credentials.empty() || u.passthrough ? "qgate" : b.credentials;
        u.conns = b.conns;
        u.user_links_max = b.user_links_max;
        u.user_pools_max = b.user_pools_max;
        u.user_idle_ms = b.user_idle_ms;
        u.pipeline = b.pipeline;
        const bool v6 = b.addr.host.find(':') != std::string::npos;
        u.where = (v6 ? "[" + b.addr.host + "]" : b.addr.host) + ":" + std::to_string(b.addr.port);
        if (!net::resolve(b.addr, u.addr, error)) {
            error.insert(0, "backend " + b.name + ": ");
            return false;
        }
        u.tls.reset();
        if (b.tls) {
            u.tls = tls_client::make(b, error);
            if (u.tls == nullptr) {
                error.insert(0, "backend " + b.name + ": ");
                return false;
            }
        }
    }
    return true;
}

int upstream_table::pick(const generation& gen, uint32_t l, uint64_t& tried,
                         std::string_view user) {
    const listener_pick& lp = gen.listeners[l];
    if (lp.group < 0) return -1;
    const route::backend_group& g = gen.groups[static_cast<uint32_t>(lp.group)];
    const std::span<const route::backend_state> state{state_.get(), kBackendsMax};
    auto pol = static_cast<route::policy>(lp.pol);
    uint64_t hash = 0;
    if (pol == route::policy::consistent_hash) {
        if (user.empty()) {
            pol = route::policy::least_busy;  // nothing to be sticky on, as request mode
        } else {
            hash = route::key_hash(user);
        }
    }
    route::pick_cursor cursor;
    if (pol == route::policy::least_busy || pol == route::policy::round_robin) {
        const uint32_t ticket = tickets_[l].fetch_add(1, std::memory_order_relaxed);
        cursor.next = static_cast<uint32_t>(ticket % g.members().size());
    }
    const int32_t b = route::pick(pol, g, state, cursor, hash, tried);
    if (b < 0) return -1;
    tried |= route::member_bit(gen.pos[static_cast<size_t>(b)]);
    state_[static_cast<size_t>(b)].load.fetch_add(1, std::memory_order_relaxed);
    return b;
}

}  // namespace qgate::proxy
