// The routing plane: compiled once by run_gateway (control-plane thread, allocation allowed)
// from the config snapshot, then read by every shard without locks. Slot pools are allocated
// here, before any shard starts, so a slot handed to another shard never outlives its memory
// (the plane outlives every shard thread). Groups and policies come from the backend model
// session mode shares (group_specs, to_route_policy in upstreams.cc); the load cells are
// request mode's own (queued + in flight).

#include <cstdio>

#include "proxy/request.h"
#include "proxy/upstreams.h"

namespace qgate::proxy {

namespace {

route::type_match to_type(route_type t) {
    switch (t) {
    case route_type::sync: return route::type_match::sync;
    case route_type::async: return route::type_match::async;
    case route_type::any: break;
    }
    return route::type_match::any;
}

}  // namespace

bool route_plane::build(const config& cfg, uint32_t shards, std::string& error) {
    shards_ = shards == 0 ? 1 : shards;
    const std::vector<route::group_spec> gs = group_specs(cfg);
    if (!route::group_set::build(gs, groups_, error)) return false;
    std::vector<route::route_spec> specs;
    for (const route_conf& rc : cfg.routes) {
        route::route_spec s;
        s.match = rc.match;
        s.users = rc.users;
        s.type = to_type(rc.type);
        s.groups = rc.groups.empty() ? std::vector<std::string>{rc.group} : rc.groups;
        s.join = rc.join;
        s.pol = to_route_policy(rc.policy);
        s.hash_arg = rc.hash_arg;
        s.timeout_ms = rc.timeout_ms;
        s.queue_max = rc.queue_max;
        s.priority = rc.priority;
        specs.push_back(std::move(s));
    }
    if (!route::route_table::compile(specs, groups_, table_, error)) return false;

    // With no [[route]], each request listener routes everything to its own group.
    fallback_groups_.resize(cfg.listeners.size());
    fallback_.resize(cfg.listeners.size());
    for (size_t l = 0; l < cfg.listeners.size(); ++l) {
        const int32_t g = groups_.find(cfg.listeners[l].group);
        if (g < 0) {
            error = "listener " + std::to_string(l) + ": unknown group " + cfg.listeners[l].group;
            return false;
        }
        fallback_groups_[l] = static_cast<uint16_t>(g);
        fallback_[l].index = UINT32_MAX;
        fallback_[l].groups = {&fallback_groups_[l], 1};
    }

    nbackends_ = static_cast<uint32_t>(cfg.backends.size());
    state_ = std::make_unique<route::backend_state[]>(nbackends_);
    backend_group_.resize(nbackends_);
    for (uint32_t b = 0; b < nbackends_; ++b) {
        // Optimistic until proven down: a call made while the first connect is in flight
        // waits in the queue instead of failing (ejection makes it false).
        state_[b].live.store(true, std::memory_order_relaxed);
        names_.push_back(cfg.backends[b].name);
        backend_group_[b] = static_cast<uint32_t>(groups_.find(cfg.backends[b].group));
    }

    slots_per_shard_ = cfg.limits.requests_per_shard_max;
    for (uint32_t s = 0; s < shards_; ++s) {
        pools_.push_back(std::make_unique<request[]>(slots_per_shard_));
        for (uint32_t i = 0; i < slots_per_shard_; ++i) {
            pools_.back()[i].index = i;
            pools_.back()[i].origin = s;
        }
    }
    return true;
}

}  // namespace qgate::proxy
