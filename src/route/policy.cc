// Backend picking policies (DESIGN §5.3), shared by both modes. Request mode calls them on
// the client's shard for every request, so each is one pass over the group's members (a
// handful) with relaxed loads of state written by the backends' home shards; its cursor is
// per shard and group (shards rotate independently, as fair as a shared counter without the
// contended line). Session mode calls them once per connect attempt with its own state array
// (open sessions) and a cursor taken from a per-listener ticket (src/proxy/upstreams.cc).
// A member is eligible when it is live, not drained by the admin (backend_state::is_open), and
// its member_bit is clear in `skip`: the skip mask is how a session passes over backends it
// already failed on, under every policy.

#include <limits>

#include <xxhash.h>

#include "qgate/route/policy.h"

namespace qgate::route {
namespace {

bool eligible(std::span<const backend_state> state, uint32_t id, size_t pos, uint64_t skip) {
    return (skip & member_bit(static_cast<uint32_t>(pos))) == 0 && id < state.size() &&
           state[id].is_open();
}

}  // namespace

uint64_t key_hash(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

int32_t pick_least_busy(const backend_group& g, std::span<const backend_state> state,
                        pick_cursor& cursor, uint64_t skip) {
    const std::span<const uint32_t> ids = g.members();
    const size_t n = ids.size();
    if (n == 0) return kNoBackend;
    size_t pos = cursor.next < n ? cursor.next : 0;
    size_t best_pos = n;
    uint32_t best_load = std::numeric_limits<uint32_t>::max();
    // Scan from the cursor: on equal loads the first one seen wins, and the cursor then moves
    // past it, so tied backends take turns.
    for (size_t step = 0; step < n; ++step, ++pos) {
        if (pos == n) pos = 0;
        if (!eligible(state, ids[pos], pos, skip)) continue;
        const uint32_t load = state[ids[pos]].load_now();
        if (best_pos == n || load < best_load) {
            best_pos = pos;
            best_load = load;
            if (load == 0) break;  // nothing beats an idle backend
        }
    }
    if (best_pos == n) return kNoBackend;
    cursor.next = static_cast<uint32_t>(best_pos + 1);
    return static_cast<int32_t>(ids[best_pos]);
}

int32_t pick_round_robin(const backend_group& g, std::span<const backend_state> state,
                         pick_cursor& cursor, uint64_t skip) {
    const std::span<const uint32_t> ids = g.members();
    const size_t n = ids.size();
    size_t pos = cursor.next < n ? cursor.next : 0;
    for (size_t step = 0; step < n; ++step, ++pos) {
        if (pos == n) pos = 0;
        if (eligible(state, ids[pos], pos, skip)) {
            cursor.next = static_cast<uint32_t>(pos + 1);
            return static_cast<int32_t>(ids[pos]);
        }
    }
    return kNoBackend;
}

int32_t pick_first_available(const backend_group& g, std::span<const backend_state> state,
                             uint64_t skip) {
    const std::span<const uint32_t> ids = g.members();
    for (size_t pos = 0; pos < ids.size(); ++pos) {
        if (eligible(state, ids[pos], pos, skip)) return static_cast<int32_t>(ids[pos]);
    }
    return kNoBackend;
}

int32_t pick_consistent(const backend_group& g, std::span<const backend_state> state,
                        uint64_t hash, uint64_t skip) {
    return g.ring_pick(hash, state, skip);
}

int32_t pick(policy p, const backend_group& g, std::span<const backend_state> state,
             pick_cursor& cursor, uint64_t hash, uint64_t skip) {
    switch (p) {
    case policy::least_busy: return pick_least_busy(g, state, cursor, skip);
    case policy::round_robin: return pick_round_robin(g, state, cursor, skip);
    case policy::first_available: return pick_first_available(g, state, skip);
    case policy::consistent_hash: return pick_consistent(g, state, hash, skip);
    }
    return kNoBackend;
}

}  // namespace qgate::route
