// Glue between classification, the route table and the policies: the per-request pick for a
// matched rule. Data plane; no allocation.

#include "qgate/route.h"

namespace qgate::route {

int32_t pick_for_call(const route_rule& rule, const backend_group& g,
                      std::span<const backend_state> state, pick_cursor& cursor,
                      const call_info& call) {
    if (rule.pol != policy::consistent_hash) return pick(rule.pol, g, state, cursor, 0);
    std::string_view key;
    if (!call_key(call, rule.hash_arg, key)) return pick_least_busy(g, state, cursor);
    return pick_consistent(g, state, key_hash(key));
}

}  // namespace qgate::route
