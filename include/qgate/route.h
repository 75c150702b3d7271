// The routing core for request mode, in one include: classify a call, match the route table,
// pick a backend. Pure logic, no I/O; see src/route/README.md for the semantics.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "qgate/route/classify.h"
#include "qgate/route/glob.h"
#include "qgate/route/group.h"
#include "qgate/route/policy.h"
#include "qgate/route/route_types.h"
#include "qgate/route/table.h"

namespace qgate::route {

/// The first rule matching a classified call from `user`; nullptr means no route.
inline const route_rule* match_call(const route_table& t, const call_info& call,
                                    std::string_view user) {
    return t.match(call.name, user, call.type);
}

/// Picks a backend of `g` (one of `rule`'s groups) for `call` by the rule's policy. For
/// consistent_hash the key is argument rule.hash_arg; a call without it falls back to
/// least-busy (there is nothing to be sticky on). kNoBackend when every member is down.
int32_t pick_for_call(const route_rule& rule, const backend_group& g,
                      std::span<const backend_state> state, pick_cursor& cursor,
                      const call_info& call);

}  // namespace qgate::route
