// Request mode, the client's shard: the [[acl]] check of a classified call, before it is routed
// (route_body). Owner: the shard's thread. No allocation: the user's rules are a bitmask
// cached in the session and refreshed when the shard's generation moves on (so a reload
// applies at each client's next call), and the rules are globs over the generation's strings.
//
// Decisions a kdb+ user can observe (README "Behaviour decisions"): a refused sync call is
// answered q's own `'access` in its place in the order; a refused async call is dropped (q
// tells an async caller nothing). Both are counted (acl_denied_sync / acl_denied_async). A
// call to several groups (a fan-out route, a `.gw.*` call's server types) needs every one.
#include "proxy/kinds.h"

namespace qgate::proxy {

using shard::bump;

namespace {

bool groups_ok(const generation& gen, const session& ss, const route::acl_call& c,
               const route::call_info& call, const route::route_rule* rule) {
    const route::acl_table& acl = gen.acl;
    if (call.gw != route::gw_kind::none) {
        route::gw_call g;
        if (!route::parse_gw(call, g)) return acl.call_ok(ss.acl_rules, ss.listener, c.kinds,
                                                          c.function, {});
        route::name_list names(g.servertypes);
        std::string_view name;
        bool any = false;
        while (names.next(name)) {
            any = true;
            if (!acl.call_ok(ss.acl_rules, ss.listener, c.kinds, c.function, name)) return false;
        }
        return any || acl.call_ok(ss.acl_rules, ss.listener, c.kinds, c.function, {});
    }
    if (rule == nullptr || rule->groups.empty()) {
        return acl.call_ok(ss.acl_rules, ss.listener, c.kinds, c.function, {});
    }
    for (const uint16_t gid : rule->groups) {
        if (!acl.call_ok(ss.acl_rules, ss.listener, c.kinds, c.function, gen.groups[gid].name())) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool request_clients::acl_refused(session& ss, request& r, const generation& gen,
                                  const route::call_info& call, const route::route_rule* rule) {
    if (!gen.acl.enabled()) return false;
    if (ss.acl_gen != gen.number) {
        ss.acl_rules = gen.acl.rules_for(ss.user);
        ss.acl_gen = gen.number;
    }
    if (groups_ok(gen, ss, route::acl_describe(call, r.sync), call, rule)) return false;
    bump(r.sync ? e_.ctr_.acl_denied_sync : e_.ctr_.acl_denied_async);
    answer_error(ss, r, "access");
    return true;
}

}  // namespace qgate::proxy
