// The routing plane's fixed part: allocated once by run_gateway (control-plane thread,
// allocation allowed) before any shard starts, then read by every shard without locks. Slot
// pools are allocated here, so a slot handed to another shard never outlives its memory (the
// plane outlives every shard thread). The load cells are request mode's own (queued + in
// flight), one per backend id for every id a reload may hand out (generation.h). Groups and
// routes live in the generation.

#include "proxy/generation.h"
#include "proxy/request.h"

namespace qgate::proxy {

void route_plane::build(const config& cfg, uint32_t shards) {
    shards_ = shards == 0 ? 1 : shards;
    nstate_ = kBackendsMax;
    state_ = std::make_unique<route::backend_state[]>(nstate_);
    for (uint32_t b = 0; b < nstate_; ++b) {
        // Optimistic until proven down: a call made while the first connect is in flight
        // waits in the queue instead of failing (ejection makes it false).
        state_[b].live.store(true, std::memory_order_relaxed);
    }
    slots_per_shard_ = cfg.limits.requests_per_shard_max;
    for (uint32_t s = 0; s < shards_; ++s) {
        pools_.push_back(std::make_unique<request[]>(slots_per_shard_));
        for (uint32_t i = 0; i < slots_per_shard_; ++i) {
            pools_.back()[i].index = i;
            pools_.back()[i].origin = s;
        }
    }
}

}  // namespace qgate::proxy
