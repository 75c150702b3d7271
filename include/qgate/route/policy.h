// Backend picking policies (DESIGN §5.3), the one family both modes use: request mode per
// call (route.cc), session mode per session (src/proxy/upstreams.cc). Data plane: no
// allocation, no locks; the per-backend state is read with relaxed atomics, the cursor
// belongs to the caller.
//
// `skip` (default none) holds member_bit(position) of members to pass over as if they were
// down: session mode's backends this session already failed on. Request mode passes none.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/route/group.h"
#include "qgate/route/route_types.h"

namespace qgate::route {

/// XXH3_64bits of a routing key.
uint64_t key_hash(std::string_view key);

/// Live member with the lowest load; ties go to the first one at or after the cursor, and the
/// cursor moves past the pick, so equal backends take turns.
int32_t pick_least_busy(const backend_group& g, std::span<const backend_state> state,
                        pick_cursor& cursor, uint64_t skip = 0);
/// Next live member at or after the cursor.
int32_t pick_round_robin(const backend_group& g, std::span<const backend_state> state,
                         pick_cursor& cursor, uint64_t skip = 0);
/// First live member in config order.
int32_t pick_first_available(const backend_group& g, std::span<const backend_state> state,
                             uint64_t skip = 0);
/// The ring owner of `hash`, or the next live member clockwise when it is down.
int32_t pick_consistent(const backend_group& g, std::span<const backend_state> state,
                        uint64_t hash, uint64_t skip = 0);
/// Dispatch on `p`; `hash` is used by consistent_hash only. kNoBackend when every member is
/// down or skipped.
int32_t pick(policy p, const backend_group& g, std::span<const backend_state> state,
             pick_cursor& cursor, uint64_t hash, uint64_t skip = 0);

}  // namespace qgate::route
