// Backend picking policies (DESIGN §5.3). Data plane: no allocation, no locks; the per-backend
// state is read with relaxed atomics, the cursor belongs to the caller (one per shard and group).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/route/group.h"
#include "qgate/route/route_types.h"

namespace qgate::route {

/// XXH3_64bits of a routing key.
uint64_t key_hash(std::string_view key);

/// Live member with the fewest queued + in-flight requests; ties go to the first one at or
/// after the cursor, and the cursor moves past the pick, so equal backends take turns.
int32_t pick_least_busy(const backend_group& g, std::span<const backend_state> state,
                        pick_cursor& cursor);
/// Next live member at or after the cursor.
int32_t pick_round_robin(const backend_group& g, std::span<const backend_state> state,
                         pick_cursor& cursor);
/// First live member in config order.
int32_t pick_first_available(const backend_group& g, std::span<const backend_state> state);
/// The ring owner of `hash`, or the next live member clockwise when it is down.
int32_t pick_consistent(const backend_group& g, std::span<const backend_state> state,
                        uint64_t hash);
/// Dispatch on `p`; `hash` is used by consistent_hash only. kNoBackend when all are down.
int32_t pick(policy p, const backend_group& g, std::span<const backend_state> state,
             pick_cursor& cursor, uint64_t hash);

}  // namespace qgate::route
