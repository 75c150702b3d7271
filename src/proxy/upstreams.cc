// Backend table and selection. Design note: built once by run_gateway before the shards
// start and never resized, so shards index it without synchronisation; only the per-backend
// connection counts and round-robin cursors change, as relaxed atomics.

#include "proxy/upstreams.h"

namespace qgate::proxy {

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
            error = "backend " + b.name + ": " + error;
            return false;
        }
    }
    const size_t nl = cfg.listeners.size();
    members_.resize(nl);
    groups_.resize(nl);
    policy_.resize(nl);
    rr_ = std::make_unique<std::atomic<uint32_t>[]>(nl);
    for (size_t l = 0; l < nl; ++l) {
        groups_[l] = cfg.listeners[l].group;
        policy_[l] = cfg.listeners[l].policy;
        for (size_t i = 0; i < count_; ++i) {
            if (all_[i].group == groups_[l]) members_[l].push_back(static_cast<int>(i));
        }
    }
    return true;
}

int upstream_table::pick(uint32_t l, uint64_t& tried) {
    const std::vector<int>& m = members_[l];
    const size_t n = m.size() < 64 ? m.size() : 64;
    if (n == 0) return -1;
    // Start at a rotating position so ties (and round-robin) spread over the group.
    const size_t start = rr_[l].fetch_add(1, std::memory_order_relaxed) % n;
    int best = -1;
    uint32_t best_load = UINT32_MAX;
    for (size_t k = 0; k < n; ++k) {
        const size_t i = (start + k) % n;
        if ((tried >> i & 1) != 0) continue;
        if (policy_[l] == session_policy::round_robin) {
            best = static_cast<int>(i);
            break;
        }
        const uint32_t load = all_[static_cast<size_t>(m[i])].conns.load(std::memory_order_relaxed);
        if (load < best_load) {
            best_load = load;
            best = static_cast<int>(i);
        }
    }
    if (best < 0) return -1;
    tried |= uint64_t{1} << best;
    const int b = m[static_cast<size_t>(best)];
    all_[static_cast<size_t>(b)].conns.fetch_add(1, std::memory_order_relaxed);
    return b;
}

}  // namespace qgate::proxy
