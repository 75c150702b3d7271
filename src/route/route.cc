// Glue between classification, the route table and the policies: the per-request pick for a
// matched rule, and the `.gw.*` server-type lookup. Data plane; no allocation.

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

int32_t resolve_server_types(const gw_call& call, const group_set& groups,
                             std::span<uint16_t> out, std::string_view& missing) {
    name_list names(call.servertypes);
    if (!names.valid()) return -2;
    size_t n = 0;
    for (std::string_view name; names.next(name);) {
        const int32_t id = groups.find(name);
        if (id < 0) {
            missing = name;
            return -1;
        }
        if (n == out.size()) return -2;
        out[n++] = static_cast<uint16_t>(id);
    }
    return static_cast<int32_t>(n);
}

}  // namespace qgate::route
