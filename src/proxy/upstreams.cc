// Backend table and session mode's picking. Design note: built once by run_gateway before the
// shards start and never resized, so shards index it without synchronisation; only the
// per-backend session counts (route::backend_state::load) and the per-listener tickets change,
// as relaxed atomics, from any shard.
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

#include "qgate/route/policy.h"

namespace qgate::proxy {

std::vector<route::group_spec> group_specs(const config& cfg) {
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
        g->members.push_back({b, bc.name});
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

bool upstream_table::build(const config& cfg, std::string& error) {
    count_ = cfg.backends.size();
    all_ = std::make_unique<upstream[]>(count_);
    for (size_t i = 0; i < count_; ++i) {
        const backend_conf& b = cfg.backends[i];
        upstream& u = all_[i];
        u.name = b.name;
        u.group = b.group;
        u.credentials = b.credentials.empty() ? "qgate" : b.credentials;
        if (!net::resolve(b.addr, u.addr, error)) {
            error.insert(0, "backend " + b.name + ": ");
            return false;
        }
    }
    const std::vector<route::group_spec> specs = group_specs(cfg);
    if (!route::group_set::build(specs, groups_, error)) return false;
    state_ = std::make_unique<route::backend_state[]>(count_);
    pos_.assign(count_, 0);
    for (const route::group_spec& g : specs) {
        for (uint32_t p = 0; p < g.members.size(); ++p) {
            pos_[g.members[p].id] = p;
            state_[g.members[p].id].live.store(true, std::memory_order_relaxed);
        }
    }
    const size_t nl = cfg.listeners.size();
    listeners_.resize(nl);
    tickets_ = std::make_unique<std::atomic<uint32_t>[]>(nl);
    for (size_t l = 0; l < nl; ++l) {
        listeners_[l].group_name = cfg.listeners[l].group;
        listeners_[l].group = groups_.find(cfg.listeners[l].group);
        listeners_[l].pol = to_route_policy(cfg.listeners[l].policy);
    }
    return true;
}

int upstream_table::pick(uint32_t l, uint64_t& tried, std::string_view user) {
    const listener_pick& lp = listeners_[l];
    if (lp.group < 0) return -1;
    const route::backend_group& g = groups_[static_cast<uint32_t>(lp.group)];
    const std::span<const route::backend_state> state{state_.get(), count_};
    route::policy pol = lp.pol;
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
    tried |= route::member_bit(pos_[static_cast<size_t>(b)]);
    state_[static_cast<size_t>(b)].load.fetch_add(1, std::memory_order_relaxed);
    return b;
}

}  // namespace qgate::proxy
